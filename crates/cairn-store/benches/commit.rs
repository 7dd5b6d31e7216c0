//! Validate+commit throughput for 500-transaction blocks with 2 endorsements
//! each (plus the client signature: 3 Ed25519 verifications per tx), and
//! receipt verifications per second.
//!
//! Run: `cargo bench -p cairn-store --bench commit`

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::time::Duration;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::Envelope;
use cairn_store::Ledger;
use cairn_testkit::{TestNet, now, write_set};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const TXS: usize = 500;

fn block_data(net: &TestNet, round: u64) -> Vec<Vec<u8>> {
    (0..TXS)
        .map(|i| {
            let key = format!("key-{round}-{i}");
            net.endorsed_tx(
                &net.orgs[0].user,
                "asset",
                write_set("asset", &[(key.as_str(), &[7u8; 100])]),
                &[&net.orgs[0].peer, &net.orgs[1].peer],
            )
            .1
        })
        .collect()
}

fn commit(c: &mut Criterion) {
    let net = TestNet::new(3);
    let dir = tempfile::tempdir().unwrap();
    let orderer_ledger = net.ledger(&dir.path().join("orderer"));
    let peer_ledger = Ledger::create(
        &dir.path().join("peer"),
        &orderer_ledger.block(0).unwrap().unwrap(),
    )
    .unwrap();
    let (_, def) = net.define_contract_tx("asset", "MAJORITY Endorsement");
    let b1 = orderer_ledger
        .append(vec![def], now(), net.orderer())
        .unwrap();
    peer_ledger.commit(&b1).unwrap();
    // An orderer follower: applies what its Raft leader sealed.
    let follower = Ledger::create(
        &dir.path().join("follower"),
        &orderer_ledger.block(0).unwrap().unwrap(),
    )
    .unwrap();
    follower.commit_sealed(&b1).unwrap();

    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(TXS as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let mut round = 0u64;
    // The peer's job: check, validate and commit a block sealed by the orderer.
    g.bench_function("validate+commit 500-tx block (2 endorsements/tx)", |b| {
        b.iter_batched(
            || {
                round += 1;
                let block = orderer_ledger
                    .append(block_data(&net, round), now(), net.orderer())
                    .unwrap();
                follower.commit_sealed(&block).unwrap();
                block
            },
            |block| peer_ledger.commit(&block).unwrap(),
            BatchSize::PerIteration,
        )
    });
    // An orderer follower's job: the same, trusting the signatures its own
    // leader found valid (issue 6: followers no longer verify them again).
    g.bench_function("orderer follower: commit sealed 500-tx block", |b| {
        b.iter_batched(
            || {
                round += 1;
                let block = orderer_ledger
                    .append(block_data(&net, round), now(), net.orderer())
                    .unwrap();
                peer_ledger.commit(&block).unwrap();
                block
            },
            |block| follower.commit_sealed(&block).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // Receipts: verify offline against the orderer org's CA.
    let ca = std::fs::read_to_string(net.orgs[0].dir.join("ca/ca.pem")).unwrap();
    let last = peer_ledger
        .block(peer_ledger.height() - 1)
        .unwrap()
        .unwrap();
    let txid = Envelope::decode(&last.data[17])
        .unwrap()
        .transaction()
        .unwrap()
        .header()
        .txid;
    let receipt = peer_ledger.receipt(&txid).unwrap();
    let mut g = c.benchmark_group("receipt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify", |b| b.iter(|| receipt.verify(&ca).unwrap()));
    g.finish();
}

criterion_group!(benches, commit);
criterion_main!(benches);
