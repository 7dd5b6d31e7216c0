//! Writes the seed corpora into `fuzz/corpus/<target>/` (run once; the seeds are
//! committed): `cargo run -p cairn-fuzz --example seeds`.
//!
//! - policy: every policy string of `testdata/policy_cases.json` (valid and malformed);
//! - block: a channel's genesis block;
//! - envelope, signed_proposal, proposal_response: endorsed transactions and a
//!   lifecycle definition, as the test network's identities sign them;
//! - receipt_json: the receipts `cairn demo` writes are made by the ledger tests;
//!   here, a receipt-shaped JSON document and a few near misses.

#![allow(clippy::unwrap_used, reason = "a seed writer that fails says so")]

use std::path::{Path, PathBuf};

use cairn_ledger::encoding::Canonical;

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(corpus(target).join(name), bytes).unwrap();
}

fn main() {
    let cases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/policy_cases.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut n = 0;
    for kind in ["signature_cases", "meta_cases", "malformed"] {
        for c in cases[kind].as_array().unwrap() {
            write(
                "policy",
                &format!("{kind}-{n}"),
                c["policy"].as_str().unwrap().as_bytes(),
            );
            n += 1;
        }
    }

    let net = cairn_testkit::TestNet::new(3);
    write("block", "genesis", &net.genesis().encode().unwrap());
    let org = &net.orgs[0];
    let (_, tx) = net.endorsed_tx(
        &org.user,
        "basic",
        cairn_testkit::write_set("basic", &[("asset1", b"{\"color\":\"blue\"}")]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    let (_, def) = net.define_contract_tx("basic", "MAJORITY Endorsement");
    for target in ["envelope", "signed_proposal", "proposal_response"] {
        write(target, "endorsed-tx", &tx);
        write(target, "lifecycle-definition", &def);
    }
    write(
        "receipt_json",
        "shape",
        br#"{"channel":"mychannel","block":1,"txid":"00","code":"VALID"}"#,
    );
    write("receipt_json", "empty-object", b"{}");
    write("receipt_json", "not-json", b"receipt");
    println!("wrote {n} policy seeds and the ledger seeds under fuzz/corpus/");
}
