//! What the one-form check costs: `Canonical::decode` (postcard, then a
//! re-encoding compared with the input) against postcard's decoding alone,
//! for a block of 100 endorsed transactions and for one transaction.
//!
//! Run: `cargo bench -p cairn-ledger --bench decode`

#![allow(
    clippy::unwrap_used,
    reason = "bench code: a panic is the failure report"
)]

use std::hint::black_box;

use cairn_crypto::sha256;
use cairn_ledger::block::{Block, BlockHeader, BlockMetadata, HeaderSignature};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId, Version};
use cairn_ledger::rwset::{KvRead, KvWrite, NsRwSet, TxRwSet};
use cairn_ledger::tx::{
    ContractId, EndorsedTx, Endorsement, Envelope, Invocation, ProposalResponsePayload, Response,
    Transaction, TxHeader,
};
use cairn_ledger::validation::ValidationCode;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Certificate-sized and signature-sized filler, as in real envelopes.
const CERT: [u8; 520] = [0x30; 520];
const SIG: [u8; 64] = [0x5a; 64];

fn transaction(i: u64) -> Transaction {
    let payload = ProposalResponsePayload {
        proposal_hash: sha256(&i.to_be_bytes()),
        contract: ContractId {
            name: "asset".into(),
            version: "1.0".into(),
        },
        rwset: TxRwSet {
            namespaces: vec![NsRwSet {
                namespace: "asset".into(),
                reads: vec![KvRead {
                    key: format!("key-{i}"),
                    version: Some(Version { block: 7, tx: 3 }),
                }],
                writes: vec![KvWrite {
                    key: format!("key-{i}"),
                    is_delete: false,
                    value: vec![7; 100],
                }],
                ..NsRwSet::default()
            }],
        },
        events: vec![],
        response: Response {
            status: 200,
            message: String::new(),
            payload: vec![],
        },
    };
    let endorsement = Endorsement {
        endorser: CERT.to_vec(),
        signature: SIG.to_vec(),
    };
    Transaction::Endorsed(EndorsedTx {
        header: TxHeader {
            channel: "mychannel".into(),
            txid: TxId(sha256(&i.to_le_bytes())),
            creator: CERT.to_vec(),
            nonce: vec![1; 24],
            timestamp: Timestamp::now(),
        },
        invocation: Invocation {
            contract: "asset".into(),
            function: "put".into(),
            args: vec![format!("key-{i}").into_bytes(), vec![7; 100]],
            is_init: false,
        },
        response_payload: payload.encode().unwrap(),
        endorsements: vec![endorsement.clone(), endorsement],
    })
}

fn block(txs: u64) -> Block {
    let data: Vec<Vec<u8>> = (0..txs)
        .map(|i| {
            Envelope {
                payload: transaction(i).encode().unwrap(),
                signature: SIG.to_vec(),
            }
            .encode()
            .unwrap()
        })
        .collect();
    Block {
        header: BlockHeader {
            channel: "mychannel".into(),
            number: 42,
            previous_hash: sha256(b"p"),
            data_hash: Block::compute_data_hash(&data),
            timestamp: Timestamp::now(),
            tree_size: 4200,
            tree_root: sha256(b"r"),
        },
        metadata: BlockMetadata {
            validation_codes: vec![ValidationCode::Valid; data.len()],
            signatures: vec![HeaderSignature {
                signer: CERT.to_vec(),
                signature: SIG.to_vec(),
            }],
            last_config: 0,
        },
        data,
    }
}

fn decode(c: &mut Criterion) {
    let block_bytes = block(100).encode().unwrap();
    let tx_bytes = transaction(1).encode().unwrap();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(block_bytes.len() as u64));
    g.bench_function("block_100_txs/canonical", |b| {
        b.iter(|| Block::decode(black_box(&block_bytes)).unwrap())
    });
    g.bench_function("block_100_txs/postcard_only", |b| {
        b.iter(|| postcard::from_bytes::<Block>(black_box(&block_bytes)).unwrap())
    });
    g.throughput(Throughput::Bytes(tx_bytes.len() as u64));
    g.bench_function("transaction/canonical", |b| {
        b.iter(|| Transaction::decode(black_box(&tx_bytes)).unwrap())
    });
    g.bench_function("transaction/postcard_only", |b| {
        b.iter(|| postcard::from_bytes::<Transaction>(black_box(&tx_bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
