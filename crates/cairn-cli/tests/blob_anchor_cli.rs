//! Blobs anchored on a Cairn channel: `cairn blob serve --anchor` records each
//! version's SHA-256 and size and each policy change through the
//! `blob-anchor` contract; `cairn blob verify --network` checks the bytes
//! against the ledger's record, prints the ledger's policy history and writes
//! the receipt, which `cairn receipt verify --show-writes` checks offline; one
//! flipped byte is reported against both the local record and the ledger.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_blob::client::BlobClient;
use common::{cairn, deploy, stdout, text};
use serde_json::Value;

const ANY_PEER: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')";

struct Cleanup {
    net: PathBuf,
    children: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = cairn(&["down", "--dir", self.net.to_str().unwrap()]);
    }
}

/// `cairn blob serve --anchor NET` → (process, url, store id).
fn serve(store: &Path, net: &Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["blob", "serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(store)
        .arg("--anchor")
        .arg(net)
        .env_remove("CAIRN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "listening on http://ADDR (store ID)"
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 5, "unexpected first line {line:?}");
    let id = words[4].trim_end_matches(')').to_owned();
    (child, words[2].to_owned(), id)
}

/// Polls the ledger until `GetVersion` shows the version with `policies` policy entries.
fn wait_anchored(net: &str, args: &[&str], policies: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut call = vec![
            "query",
            "--dir",
            net,
            "--contract",
            "blob-anchor",
            "GetVersion",
        ];
        call.extend_from_slice(args);
        let out = cairn(&call);
        if out.status.success() {
            let doc: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
            if doc["policy"].as_array().map_or(0, Vec::len) >= policies {
                return doc;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not anchored in time: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn anchored_blobs_verify_against_the_ledger_with_a_receipt_and_tampering_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net");
    let d = net.to_str().unwrap().to_owned();
    let mut cleanup = Cleanup {
        net: net.clone(),
        children: vec![],
    };
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&["up", "--dir", &d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/blob-anchor");
    deploy(&d, "blob-anchor", contract, ANY_PEER, "[]", 3);

    let store = tmp.path().join("store");
    let key = cairn(&[
        "blob",
        "key",
        "issue",
        "--org",
        "Org1MSP",
        "--identity",
        "lab",
        "--dir",
        store.to_str().unwrap(),
    ]);
    assert!(key.status.success(), "{}", text(&key));
    let key: Value = serde_json::from_str(&stdout(&key)).unwrap();
    let (server, url, store_id) = serve(&store, &net);
    cleanup.children.push(server);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = BlobClient::new(
        &url,
        key["access_key_id"].as_str().unwrap(),
        key["secret_access_key"].as_str().unwrap(),
    )
    .unwrap();
    rt.block_on(client.create_bucket("evidence", true)).unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let ack = rt
        .block_on(client.put("evidence", "scan.bin", body))
        .unwrap();
    rt.block_on(client.set_legal_hold("evidence", "scan.bin", Some(&ack.version_id), true))
        .unwrap();

    let doc = wait_anchored(&d, &[&store_id, "evidence", "scan.bin", &ack.version_id], 1);
    assert_eq!(doc["version"]["sha256"], ack.sha256.as_str());
    assert_eq!(doc["version"]["size"], 300_000);
    assert_eq!(doc["version"]["recordedBy"], "Org1MSP");
    assert_eq!(doc["policy"][0]["change"], "legal hold ON");
    assert_eq!(doc["policy"][0]["by"], "Org1MSP/lab");
    // Give the server a moment to mark what it anchored, then stop it: the store is one process's.
    std::thread::sleep(Duration::from_secs(1));
    for c in &mut cleanup.children {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    cleanup.children.clear();

    let target = format!("evidence/scan.bin?versionId={}", ack.version_id);
    let receipt = tmp.path().join("anchor-receipt.json");
    let verify = |receipt: &Path| {
        cairn(&[
            "blob",
            "verify",
            &target,
            "--dir",
            store.to_str().unwrap(),
            "--network",
            &d,
            "--receipt-out",
            receipt.to_str().unwrap(),
        ])
    };
    let out = verify(&receipt);
    assert!(out.status.success(), "{}", text(&out));
    let report = stdout(&out);
    assert!(report.contains("the bytes match the ledger"), "{report}");
    assert!(report.contains(&ack.sha256), "{report}");
    assert!(report.contains("legal hold ON"), "{report}");
    let anchor_tx = doc["version"]["txid"].as_str().unwrap();
    assert!(report.contains(anchor_tx), "{report}");

    // The receipt proves the anchor offline, with the ordering org's CA only.
    let writes = common::proven_writes(&net, &receipt);
    let write = writes
        .iter()
        .find(|w| w["namespace"] == "blob-anchor")
        .unwrap_or_else(|| panic!("no blob-anchor write proven: {writes:?}"));
    let proven: Value = serde_json::from_str(write["value"].as_str().unwrap()).unwrap();
    assert_eq!(proven["sha256"], ack.sha256.as_str());
    assert_eq!(proven["versionId"], ack.version_id.as_str());

    // One flipped byte: the local record and the ledger both disagree with the bytes.
    let file = store
        .join("objects")
        .join(&ack.sha256[..2])
        .join(&ack.sha256);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[4321] ^= 0x80;
    std::fs::write(&file, &bytes).unwrap();
    let out = verify(&tmp.path().join("again.json"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = stdout(&out);
    assert!(report.contains("TAMPERED"), "{report}");
    assert!(report.contains("LEDGER MISMATCH"), "{report}");
}
