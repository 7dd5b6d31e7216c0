//! Policy evaluation cost: endorsement validation runs it for every transaction.

use std::hint::black_box;

use cairn_policy::{ChannelOrgs, ChannelPolicy, SignaturePolicy, Signer, SignerSet};
use criterion::{Criterion, criterion_group, criterion_main};

fn signers(specs: &[&str]) -> SignerSet {
    specs
        .iter()
        .map(|s| s.parse::<Signer>().expect("valid signer"))
        .collect()
}

fn bench_eval(c: &mut Criterion) {
    let majority: SignaturePolicy = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
        .parse()
        .expect("valid policy");
    let two = signers(&["Org1MSP.peer", "Org3MSP.peer"]);
    assert!(majority.is_satisfied_by(&two));
    c.bench_function("outof_2_of_3_peers_2_signers", |b| {
        b.iter(|| black_box(&majority).is_satisfied_by(black_box(&two)))
    });

    let specs = ["Org1MSP.peer", "Org3MSP.peer"];
    c.bench_function("outof_2_of_3_peers_2_signers_with_signer_set", |b| {
        b.iter(|| {
            let set = signers(black_box(&specs));
            majority.is_satisfied_by(&set)
        })
    });

    let orgs =
        ChannelOrgs::with_fabric_defaults(["Org1MSP", "Org2MSP", "Org3MSP"]).expect("valid orgs");
    let meta: ChannelPolicy = "MAJORITY Endorsement".parse().expect("valid policy");
    c.bench_function("majority_endorsement_3_orgs_2_signers", |b| {
        b.iter(|| black_box(&meta).is_satisfied_by(&orgs, black_box(&two)))
    });

    // Contended: every leaf competes for the same org's identities.
    let contended: SignaturePolicy =
        "AND('Org1MSP.member', 'Org1MSP.member', 'Org1MSP.admin', OR('Org1MSP.peer', 'Org2MSP.peer'))"
            .parse()
            .expect("valid policy");
    let four = signers(&[
        "Org1MSP.admin#1",
        "Org1MSP.admin#2",
        "Org1MSP.peer",
        "Org1MSP.client",
    ]);
    assert!(contended.is_satisfied_by(&four));
    c.bench_function("contended_same_org_4_signers", |b| {
        b.iter(|| black_box(&contended).is_satisfied_by(black_box(&four)))
    });

    // Realistic upper size: 16 signers, 32 principals, many contested classes.
    let leaves: Vec<String> = (0..16)
        .flat_map(|i| [format!("'Org{i}MSP.member'"), format!("'Org{i}MSP.peer'")])
        .collect();
    let big: SignaturePolicy = format!("OutOf(24, {})", leaves.join(", "))
        .parse()
        .expect("valid policy");
    let sixteen_specs: Vec<String> = (0..16).map(|i| format!("Org{i}MSP.peer")).collect();
    let sixteen: SignerSet = sixteen_specs
        .iter()
        .map(|s| s.parse::<Signer>().expect("valid signer"))
        .collect();
    assert!(!big.is_satisfied_by(&sixteen));
    c.bench_function("outof_24_of_32_16_signers_unsatisfied", |b| {
        b.iter(|| black_box(&big).is_satisfied_by(black_box(&sixteen)))
    });
}

fn bench_large_satisfiable(c: &mut Criterion) {
    // 16 signers, 32 principals, every class contested, and satisfiable: the
    // search has to pair each org's peer with one of its two leaves.
    let leaves: Vec<String> = (0..16)
        .flat_map(|i| [format!("'Org{i}MSP.member'"), format!("'Org{i}MSP.peer'")])
        .collect();
    let policy: SignaturePolicy = format!("OutOf(16, {})", leaves.join(", "))
        .parse()
        .expect("valid policy");
    let specs: Vec<String> = (0..16).map(|i| format!("Org{i}MSP.peer")).collect();
    let set: SignerSet = specs
        .iter()
        .map(|s| s.parse::<Signer>().expect("valid signer"))
        .collect();
    assert!(policy.is_satisfied_by(&set));
    c.bench_function("outof_16_of_32_16_signers_satisfied", |b| {
        b.iter(|| black_box(&policy).is_satisfied_by(black_box(&set)))
    });
}

criterion_group!(benches, bench_eval, bench_large_satisfiable);
criterion_main!(benches);
