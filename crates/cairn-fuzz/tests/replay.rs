//! Replays every committed corpus file through its fuzz body, so CI checks on
//! stable that no input the fuzzer kept (or any crash turned regression) panics.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;

#[test]
fn every_corpus_file_runs_through_its_target_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, body) in cairn_fuzz::TARGETS {
        let dir = root.join(name);
        let mut files = 0;
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()))
        {
            let path = entry.unwrap().path();
            body(&std::fs::read(&path).unwrap());
            files += 1;
        }
        // Positive control: each target has a corpus to replay.
        assert!(files > 0, "corpus {name} is empty");
    }
}

#[test]
fn valid_inputs_pass_the_round_trip_checks_and_garbage_returns_normally() {
    // A valid policy and a valid block pass; the round-trip checks run on them.
    cairn_fuzz::policy(b"AND('Org1MSP.member', OR('Org2MSP.peer', 'Org3MSP.admin'))");
    cairn_fuzz::policy(b"MAJORITY Endorsement");
    let net = cairn_testkit::TestNet::new(1);
    let genesis = cairn_ledger::encoding::Canonical::encode(&net.genesis()).unwrap();
    cairn_fuzz::block(&genesis);
    // Garbage and truncations return normally (errors, not panics).
    cairn_fuzz::block(&genesis[..genesis.len() / 2]);
    cairn_fuzz::policy(&[0xff, 0xfe]);
    cairn_fuzz::receipt_json(b"{\"kind\":1}");
}

#[test]
fn the_later_targets_seeds_reach_their_round_trip_checks() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let read = |t: &str, f: &str| std::fs::read(corpus.join(t).join(f)).unwrap();
    // Valid seeds parse, so the bodies run their round trips on them, not just errors.
    let collections = read("collections_json", "health-records");
    assert!(cairn_ledger::private::parse_collections_config(&collections).is_ok());
    let def = read("definition_json", "with-collections");
    assert!(serde_json::from_slice::<cairn_contract::DefinitionArgs>(&def).is_ok());
    let set = read("private_write_set", "two-writes");
    assert!(
        <cairn_ledger::private::PrivateWriteSet as cairn_ledger::encoding::Canonical>::decode(&set)
            .is_ok()
    );
    assert!(cairn_attest::Jwks::parse(cairn_fuzz::FUZZ_JWKS.as_bytes()).is_ok());
    assert!(cairn_attest::AppraisalPolicy::parse(&read("attestation_policy", "virtual")).is_ok());
    let package = read("contract_package", "health-records");
    assert!(cairn_contract::ContractPackage::from_archive(&package).is_ok());
    let signed = read("peer_json", "signed-transaction");
    let doc: cairn_peer::http::SignedTransactionDoc = serde_json::from_slice(&signed).unwrap();
    let tx = hex::decode(&doc.transaction).unwrap();
    assert!(
        <cairn_ledger::tx::Transaction as cairn_ledger::encoding::Canonical>::decode(&tx).is_ok()
    );
    assert!(!read("snp_report", "virtee-milan-vcek-with-vcek").is_empty());
    let signed = read("peer_json", "signed-transaction");
    let doc: cairn_peer::http::SignedTransactionDoc = serde_json::from_slice(&signed).unwrap();
    let tx = hex::decode(&doc.transaction).unwrap();
    assert!(
        <cairn_ledger::tx::Transaction as cairn_ledger::encoding::Canonical>::decode(&tx).is_ok()
    );
    assert!(!read("snp_report", "virtee-milan-vcek-with-vcek").is_empty());
    for (name, body) in cairn_fuzz::TARGETS {
        body(&[]);
        body(b"\xff\x00{");
        assert!(!name.is_empty());
    }
}
