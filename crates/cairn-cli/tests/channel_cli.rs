//! `cairn channel create`: a genesis block from a channel file, as an
//! operator makes one with Fabric's configtxgen, and a clear error for each
//! kind of bad file. (`cairn up` creates its channel through the same code;
//! `up_cli` runs a network from it.)

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::Path;

use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_store::Ledger;
use common::{cairn, text};

fn crypto(dir: &Path) {
    let out = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Org1,Org2,Org3",
        "--out",
        dir.join("crypto").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

const GOOD: &str = r#"
name = "trade"

[[orgs]]
msp = "crypto/org1/msp.json"
orderers = ["https://127.0.0.1:7050"]

[[orgs]]
msp = "crypto/org2/msp.json"
orderers = ["https://127.0.0.1:7051"]

[[orgs]]
msp = "crypto/org3/msp.json"

[policies]
Endorsement = "ANY Endorsement"

[batch]
max_tx_count = 50
timeout_ms = 100
max_bytes = 1048576
"#;

fn create(dir: &Path, file: &str, signer: &str) -> std::process::Output {
    let path = dir.join("channel.toml");
    std::fs::write(&path, file).unwrap();
    cairn(&[
        "channel",
        "create",
        "--config",
        path.to_str().unwrap(),
        "--signer",
        dir.join(signer).to_str().unwrap(),
        "--out",
        dir.join("out/trade.block").to_str().unwrap(),
    ])
}

#[test]
fn a_channel_file_becomes_a_signed_genesis_block() {
    let tmp = tempfile::tempdir().unwrap();
    crypto(tmp.path());
    let out = create(tmp.path(), GOOD, "crypto/org2/orderers/orderer0");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("channel trade: genesis block written"),
        "{}",
        text(&out)
    );

    // A ledger starts from it, with exactly the configuration the file says.
    let bytes = std::fs::read(tmp.path().join("out/trade.block")).unwrap();
    let block = Block::decode(&bytes).unwrap();
    assert_eq!(block.header.number, 0);
    let ledger = Ledger::create(&tmp.path().join("ledger"), &block).unwrap();
    let config = ledger.config();
    assert_eq!(config.name, "trade");
    let orgs: Vec<&str> = config.orgs.iter().map(|o| o.msp_id.as_str()).collect();
    assert_eq!(orgs, ["Org1MSP", "Org2MSP", "Org3MSP"]);
    assert_eq!(config.orderer_orgs, ["Org1MSP", "Org2MSP"]);
    let orderers: Vec<(u64, &str, &str)> = config
        .orderers
        .iter()
        .map(|o| (o.id, o.msp_id.as_str(), o.url.as_str()))
        .collect();
    assert_eq!(
        orderers,
        [
            (1, "Org1MSP", "https://127.0.0.1:7050"),
            (2, "Org2MSP", "https://127.0.0.1:7051")
        ]
    );
    assert_eq!(config.policies["Endorsement"], "ANY Endorsement");
    assert_eq!(
        config.policies["Admins"], "MAJORITY Admins",
        "defaults kept"
    );
    assert_eq!(config.batch.max_tx_count, 50);
    assert!(config.attestation.is_none());
}

#[test]
fn bad_channel_files_are_refused_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    crypto(tmp.path());
    let orderer = "crypto/org1/orderers/orderer0";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            GOOD.replace("ANY Endorsement", "ANY Endorsement)"),
            orderer,
            "Endorsement",
        ),
        (
            GOOD.replace("[policies]", "[policies]\nEverybody = \"ANY Readers\""),
            orderer,
            "unknown channel policy \"Everybody\"",
        ),
        (
            GOOD.replace("crypto/org3/msp.json", "crypto/org9/msp.json"),
            orderer,
            "org9/msp.json",
        ),
        (
            GOOD.replace("crypto/org3/msp.json", "crypto/org1/msp.json"),
            orderer,
            "Org1MSP is listed twice",
        ),
        (
            GOOD.replace("orderers = [\"https://127.0.0.1:7050\"]", "")
                .replace("orderers = [\"https://127.0.0.1:7051\"]", ""),
            orderer,
            "no org lists orderers",
        ),
        (
            GOOD.replace("\"trade\"", "\"Trade Desk\""),
            orderer,
            "channel name",
        ),
        (
            GOOD.replace("max_tx_count = 50", "max_tx_count = 0"),
            orderer,
            "batch",
        ),
        (
            GOOD.to_string(),
            "crypto/org1/peers/peer0",
            "must be signed by an orderer of an orderer org",
        ),
        (
            GOOD.to_string(),
            "crypto/org3/orderers/orderer0",
            "must be signed by an orderer of an orderer org",
        ),
        (
            GOOD.replace("name =", "nom ="),
            orderer,
            "not a valid channel file",
        ),
    ];
    for (file, signer, needle) in cases {
        let out = create(tmp.path(), &file, signer);
        assert!(!out.status.success(), "accepted:\n{file}");
        assert!(
            text(&out).contains(needle),
            "expected {needle:?} in:\n{}",
            text(&out)
        );
        assert!(
            !tmp.path().join("out/trade.block").exists(),
            "a block was written for:\n{file}"
        );
    }
}
