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
    more_seeds();
    println!("wrote {n} policy seeds and the ledger and attestation seeds under fuzz/corpus/");
}

/// The seeds of the later targets: private write sets, collection and definition
/// JSON, JWKS, JWTs and attestation policies.
fn more_seeds() {
    use cairn_ledger::private::{
        CollectionPrivateWrites, NsPrivateWrites, PrivateWrite, PrivateWriteSet,
    };
    let set = PrivateWriteSet {
        namespaces: vec![NsPrivateWrites {
            namespace: "health-records".into(),
            collections: vec![CollectionPrivateWrites {
                collection: "hospitalPlatform".into(),
                writes: vec![
                    PrivateWrite {
                        key: "patient\u{0}pt_AAAAAAAAAAAAAAAAAAAAAA".into(),
                        is_delete: false,
                        is_purge: false,
                        value: br#"{"familyName":"Byron"}"#.to_vec(),
                    },
                    PrivateWrite {
                        key: "stale".into(),
                        is_delete: true,
                        is_purge: true,
                        value: vec![],
                    },
                ],
            }],
        }],
    };
    write("private_write_set", "two-writes", &set.encode().unwrap());
    write(
        "private_write_set",
        "empty",
        &PrivateWriteSet::default().encode().unwrap(),
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for entry in std::fs::read_dir(root.join("testdata/collections")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            write("collections_json", &name, &std::fs::read(&path).unwrap());
        }
    }
    write(
        "collections_json",
        "health-records",
        &std::fs::read(root.join("contracts/health-records/collections.json")).unwrap(),
    );
    let def = serde_json::json!({
        "name": "health-records", "version": "1.0", "sequence": 1,
        "packageId": "health-records_1.0:0b1f5c7e3a9d2486f0e1c2b3a4958677a6b5c4d3e2f10987654321fedcba9870",
        "endorsementPolicy": "OR('Org1MSP.peer','Org2MSP.peer')",
        "collections": serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(root.join("contracts/health-records/collections.json")).unwrap()
        ).unwrap(),
    });
    write(
        "definition_json",
        "with-collections",
        def.to_string().as_bytes(),
    );
    write(
        "definition_json",
        "plain",
        br#"{"name":"basic","version":"1.0","sequence":1,"packageId":"basic_1.0:00","endorsementPolicy":"MAJORITY Endorsement"}"#,
    );

    for name in ["health-records", "model-registry", "private-kv"] {
        let archive =
            cairn_contract::package_dir(&root.join("contracts").join(name), &format!("{name}_1.0"))
                .unwrap();
        write("contract_package", name, &archive);
    }
    write("contract_package", "not-gzip", b"package");
    use base64::Engine as _;
    let snp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("testdata/sev_snp.json")).unwrap())
            .unwrap();
    for c in snp["cases"].as_array().unwrap() {
        let Some(report) = c["report_hex"].as_str() else {
            continue;
        };
        let mut bytes = hex::decode(report).unwrap();
        write(
            "snp_report",
            &format!("{}-report", c["id"].as_str().unwrap()),
            &bytes,
        );
        if let Some(der) = c["vcek"]["der_b64"].as_str() {
            bytes.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(der)
                    .unwrap(),
            );
            write(
                "snp_report",
                &format!("{}-with-vcek", c["id"].as_str().unwrap()),
                &bytes,
            );
        }
    }
    let dcap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("testdata/dcap.json")).unwrap()).unwrap();
    for c in dcap["cases"].as_array().unwrap() {
        let quote = hex::decode(c["quote_hex"].as_str().unwrap()).unwrap();
        write("dcap_quote", c["id"].as_str().unwrap(), &quote);
    }
    write(
        "peer_json",
        "invoke",
        br#"{"contract":"basic","function":"CreateAsset","args":["asset9","red","3","Ana","100"],"transient":{"secret":"v"}}"#,
    );
    let net = cairn_testkit::TestNet::new(2);
    let (_, env) = net.endorsed_tx(
        &net.orgs[0].user,
        "basic",
        cairn_testkit::write_set("basic", &[("asset1", b"{}")]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    let envelope = cairn_ledger::tx::Envelope::decode(&env).unwrap();
    let signed = serde_json::json!({
        "transaction": hex::encode(&envelope.payload),
        "signature": hex::encode(&envelope.signature),
    });
    write(
        "peer_json",
        "signed-transaction",
        signed.to_string().as_bytes(),
    );
    write(
        "peer_json",
        "signed-proposal-shape",
        br#"{"proposal":"00","signature":"00","endorsing_orgs":["Org1MSP"]}"#,
    );
    let jwt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("testdata/jwt.json")).unwrap()).unwrap();
    write(
        "jwks",
        "rfc7517-a1",
        jwt["jwks"]["rfc7517_a1_public_keys"].to_string().as_bytes(),
    );
    write("jwks", "fuzz-jwks", cairn_fuzz::FUZZ_JWKS.as_bytes());
    for (i, v) in jwt["vectors"].as_array().unwrap().iter().enumerate() {
        if let Some(compact) = v["compact"].as_str() {
            write("jwt", &format!("vector-{i}"), compact.as_bytes());
        }
    }
    write(
        "jwt",
        "kid-es256-claims",
        b"eyJhbGciOiJFUzI1NiIsImtpZCI6InJmYzc1MTUtYTMifQ.eyJpc3MiOiJodHRwczovL2F0dGVzdC5mdXp6IiwiZXhwIjoxMzAwODE5MzgwfQ.AAAA",
    );
    let virtual_policy = serde_json::json!({
        "id": "infer-virtual", "platform": "virtual",
        "allowed_measurements": ["ab".repeat(48)],
        "trusted_platform_keys": ["cd".repeat(32)],
        "token_ttl_secs": 300,
    });
    write(
        "attestation_policy",
        "virtual",
        virtual_policy.to_string().as_bytes(),
    );
    write(
        "attestation_policy",
        "sev-snp",
        br#"{"id":"snp","platform":"sev-snp","allowed_measurements":["aa"],"min_tcb":{"bootloader":3},"allow_debug":false}"#,
    );
    write("attestation_policy", "not-json", b"policy");
}
