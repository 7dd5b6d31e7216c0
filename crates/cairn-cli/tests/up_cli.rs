//! `cairn up` / `status` / `invoke` / `query` / `down` as a user runs them:
//! 3 orderers and 3 peers as separate processes on loopback over mutual
//! TLS, the sample contract deployed, transactions through the gateway, a
//! policy failure recorded, no process left behind, and data that survives
//! `down` then `up`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::Path;

use common::{Down, cairn, text};

/// Pids of `cairn node` processes whose command line mentions `dir`.
fn node_processes(dir: &Path) -> Vec<u32> {
    let want = dir.to_str().unwrap().as_bytes().to_vec();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        let is_node = cmd.split(|b| *b == 0).any(|a| a == b"node");
        if !zombie && is_node && cmd.windows(want.len()).any(|w| w == want.as_slice()) {
            pids.push(pid);
        }
    }
    pids
}

/// Stops the network even when an assertion fails half way.
#[test]
fn up_runs_a_network_of_processes_and_down_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let _guard = Down(dir.clone());

    let up = cairn(&["up", "--dir", d, "--base-port", &port, "--detach"]);
    let t = text(&up);
    assert!(up.status.success(), "{t}");
    for line in [
        "generating identities for Org1, Org2, Org3",
        "peers join channel mychannel",
        "endorsed by Org1MSP, Org2MSP",
        "peer0.org3 reads asset1",
        "cairn down --dir",
    ] {
        assert!(t.contains(line), "missing {line:?} in:\n{t}");
    }
    assert_eq!(node_processes(&dir).len(), 6, "{t}");

    let st = cairn(&["status", "--dir", d]);
    let st_text = text(&st);
    assert!(st.status.success(), "{st_text}");
    assert_eq!(
        st_text.lines().filter(|l| l.contains("https://")).count(),
        6
    );
    assert!(!st_text.contains(" down "), "{st_text}");

    // Submit through Org2's gateway, read on Org3's peer.
    let inv = cairn(&[
        "invoke",
        "--dir",
        d,
        "--org",
        "Org2",
        "CreateAsset",
        "asset7",
        "green",
        "4",
        "Mia",
        "70",
    ]);
    assert!(inv.status.success(), "{}", text(&inv));
    assert!(text(&inv).contains("committed: tx"), "{}", text(&inv));
    let mut read = String::new();
    for _ in 0..50 {
        let q = cairn(&["query", "--dir", d, "--org", "Org3", "ReadAsset", "asset7"]);
        read = text(&q);
        if q.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(read.contains("\"Owner\":\"Mia\""), "{read}");

    // Endorsed by Org3 alone: ordered, but recorded invalid; state unchanged.
    let bad = cairn(&[
        "invoke",
        "--dir",
        d,
        "--endorsing-org",
        "Org3MSP",
        "TransferAsset",
        "asset7",
        "Eve",
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("ENDORSEMENT_POLICY_FAILURE"),
        "{}",
        text(&bad)
    );
    let q = cairn(&["query", "--dir", d, "ReadAsset", "asset7"]);
    assert!(text(&q).contains("\"Owner\":\"Mia\""), "{}", text(&q));

    // A client of an org the network does not have is refused before anything runs.
    let alien = cairn(&["query", "--dir", d, "--org", "Org9", "ReadAsset", "asset7"]);
    assert!(!alien.status.success());
    assert!(text(&alien).contains("no org Org9"), "{}", text(&alien));

    // A receipt from a peer verifies offline against the sealing orderer org's CA only.
    let txid = text(&inv).split_whitespace().nth(2).unwrap().to_string();
    let receipt = tmp.path().join("receipt.json");
    let r = cairn(&[
        "receipt",
        "get",
        "--dir",
        d,
        &txid,
        "--out",
        receipt.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", text(&r));
    let verdicts: Vec<bool> = ["org1", "org2", "org3"]
        .iter()
        .map(|o| {
            let ca = dir.join("crypto").join(o).join("ca/ca.pem");
            cairn(&[
                "receipt",
                "verify",
                receipt.to_str().unwrap(),
                "--ca",
                ca.to_str().unwrap(),
            ])
            .status
            .success()
        })
        .collect();
    assert_eq!(verdicts.iter().filter(|v| **v).count(), 1, "{verdicts:?}");

    // A config update signed by one admin is refused; by a majority it applies:
    // revoking Org2's user locks it out of every peer.
    let one = cairn(&[
        "channel",
        "update",
        "--dir",
        d,
        "--signer-org",
        "Org1",
        "--set-policy",
        "Endorsement=ANY Endorsement",
    ]);
    assert!(!one.status.success());
    assert!(text(&one).contains("MAJORITY Admins"), "{}", text(&one));
    let cert = dir.join("crypto/org2/users/user1/cert.pem");
    let revoke = format!("Org2={}", cert.display());
    let up2 = cairn(&["channel", "update", "--dir", d, "--revoke", &revoke]);
    assert!(up2.status.success(), "{}", text(&up2));
    let mut refused = false;
    for _ in 0..50 {
        let q = cairn(&["query", "--dir", d, "--org", "Org2", "ReadAsset", "asset7"]);
        if !q.status.success() {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(refused, "a revoked user can still query");

    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(text(&down).contains("stopped 6 node(s)"), "{}", text(&down));
    assert!(node_processes(&dir).is_empty());

    // Data survives down then up.
    let again = cairn(&["up", "--dir", d, "--detach"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("exists: starting its nodes"));
    let mut read = String::new();
    for _ in 0..50 {
        let q = cairn(&["query", "--dir", d, "--org", "Org3", "ReadAsset", "asset7"]);
        read = text(&q);
        if q.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(read.contains("\"Owner\":\"Mia\""), "{read}");
    // The revocation survived the restart too.
    let q = cairn(&["query", "--dir", d, "--org", "Org2", "ReadAsset", "asset7"]);
    assert!(!q.status.success(), "{}", text(&q));
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success());
    assert!(node_processes(&dir).is_empty());
}
