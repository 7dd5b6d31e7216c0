//! Attested nodes as an operator runs them (issue 5 part 5): `cairn up
//! --attest` starts an attestation service and every node with `--attest`;
//! the channel admits only the nodes' measurements. A peer restarted with a
//! changed config (another measurement, which the attestation service
//! vouches for) gets a token but is refused by the orderers and falls
//! behind; a config update signed by a majority of admins lists it, and it
//! catches up. `cairn down` stops the service too.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{cairn, deploy, files_containing, stdout, text};
use rand::Rng;

/// Stops the network (and the extra node) even when an assertion fails.
struct Down(PathBuf, Option<Child>);
impl Drop for Down {
    fn drop(&mut self) {
        if let Some(c) = self.1.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = cairn(&["down", "--dir", self.0.to_str().unwrap()]);
    }
}

/// Heights by node name, from `cairn status`.
fn heights(d: &str) -> Vec<(String, String)> {
    let st = cairn(&["status", "--dir", d]);
    text(&st)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5).then(|| (f[0].to_string(), f[4].to_string()))
        })
        .collect()
}

fn height_of(d: &str, node: &str) -> Option<u64> {
    heights(d)
        .into_iter()
        .find(|(n, _)| n == node)
        .and_then(|(_, h)| h.parse().ok())
}

fn measurement(config: &Path) -> String {
    let out = cairn(&["attest", "measure", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    v["measurement"].as_str().unwrap().to_string()
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn logs_containing(dir: &Path, prefix: &str, needle: &str) -> bool {
    std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .any(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains(needle)
        })
}

#[test]
fn up_attest_admits_listed_nodes_and_refuses_a_changed_one_until_an_admin_update() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let mut guard = Down(dir.clone(), None);

    let up = cairn(&[
        "up",
        "--attest",
        "--dir",
        d,
        "--base-port",
        &port,
        "--detach",
    ]);
    let t = text(&up);
    assert!(up.status.success(), "{t}");
    assert!(t.contains("attestation service"), "{t}");
    assert!(t.contains("peer0.org3 reads asset1"), "{t}");
    // Every node obtained a token; nobody was refused.
    for node in [
        "orderer0.org1",
        "orderer0.org2",
        "orderer0.org3",
        "peer0.org1",
        "peer0.org2",
        "peer0.org3",
    ] {
        assert!(
            logs_containing(&dir, node, "attestation token obtained"),
            "{node} has no token"
        );
    }
    assert!(!logs_containing(&dir, "orderer", "refuses this node"));
    let cfg = cairn(&["channel", "config", "--dir", d]);
    assert!(text(&cfg).contains("attestation"), "{}", text(&cfg));

    // Private data of Org1 and Org2, between attested peers only.
    let pkv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/private-kv");
    let pdc1 = r#"[{"name": "PDC1", "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
        "requiredPeerCount": 0, "maxPeerCount": 2, "blockToLive": 0,
        "memberOnlyRead": false, "memberOnlyWrite": false}]"#;
    let any_peer = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')";
    deploy(d, "pkv", pkv, any_peer, pdc1, 3);

    // Peer0.org2 is stopped, and its config changed: another build.
    let pid = common::node_pid(&dir, "peer0.org2");
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    wait_until("peer0.org2 is down", Duration::from_secs(15), || {
        heights(d)
            .iter()
            .any(|(n, h)| n == "peer0.org2" && h == "-")
    });
    let config = dir.join("nodes/peer0.org2/node.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("\n# rebuilt with extra debugging\n");
    std::fs::write(&config, toml).unwrap();
    let rogue = measurement(&config);

    // The operator of the attestation service vouches for the new build
    // (its policy lists it) but the channel's list does not have it.
    let mut listed: Vec<String> = std::fs::read_dir(dir.join("nodes"))
        .unwrap()
        .flatten()
        .map(|e| measurement(&e.path().join("node.toml")))
        .collect();
    assert!(listed.contains(&rogue));
    listed.sort();
    let platform = cairn(&[
        "attest",
        "platform-key",
        "--file",
        dir.join("attest/platform.key").to_str().unwrap(),
    ]);
    let policy = serde_json::json!({
        "id": "cairn-up-2",
        "platform": "virtual",
        "allowed_measurements": listed,
        "trusted_platform_keys": [stdout(&platform).trim()],
        "token_ttl_secs": 3600,
    });
    let policy_file = tmp.path().join("policy.json");
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    let service = format!("https://127.0.0.1:{}", port.parse::<u16>().unwrap() + 300);
    let ca = dir.join("attest/state/tls/cert.pem");
    let set = cairn(&[
        "attest",
        "set-policy",
        "--service",
        &service,
        "--ca",
        ca.to_str().unwrap(),
        "--admin-token-file",
        dir.join("attest/admin.token").to_str().unwrap(),
        policy_file.to_str().unwrap(),
    ]);
    assert!(set.status.success(), "{}", text(&set));

    // Restart it with --attest, as `cairn up` would.
    let log = std::fs::File::create(tmp.path().join("rogue.log")).unwrap();
    guard.1 = Some(
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args([
                "node",
                "--config",
                config.to_str().unwrap(),
                "--attest",
                &service,
            ])
            .args(["--attest-ca", ca.to_str().unwrap()])
            .args([
                "--platform-key",
                dir.join("attest/platform.key").to_str().unwrap(),
            ])
            .env("CAIRN_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Its pid file, as `cairn up` writes it, so `status` and `down` see it.
    let child_pid = guard.1.as_ref().unwrap().id();
    std::fs::write(dir.join("run/peer0.org2.pid"), child_pid.to_string()).unwrap();
    let refusal = format!("measurement {rogue} is not one of the expected measurements");
    wait_until(
        "the orderers refuse the changed peer",
        Duration::from_secs(30),
        || logs_containing(&dir, "orderer", &refusal),
    );
    let rogue_log = std::fs::read_to_string(tmp.path().join("rogue.log")).unwrap();
    assert!(
        rogue_log.contains("attestation token obtained"),
        "{rogue_log}"
    );

    // Org1 writes PDC1: the changed peer is a member, but not admitted, so
    // Org1's peer does not push the value to it.
    let secret = format!("attested-only-{}", rand::rng().random::<u64>());
    let transient = format!("value={secret}");
    let w = cairn(&[
        "invoke",
        "--dir",
        d,
        "--contract",
        "pkv",
        "--transient",
        &transient,
        "writePDC1",
        "p1",
    ]);
    assert!(w.status.success(), "{}", text(&w));
    wait_until(
        "Org1's peer refuses to push",
        Duration::from_secs(20),
        || {
            logs_containing(
                &dir,
                "peer0.org1",
                "private data not sent to a peer that is not admitted",
            )
        },
    );
    assert!(files_containing(&dir.join("nodes/peer0.org2"), secret.as_bytes()).is_empty());

    // Nor does Org1's gateway forward a proposal (with its transient data)
    // to it, even when the client names it as an endorser...
    let secret2 = format!("attested-proposal-{}", rand::rng().random::<u64>());
    let w = cairn(&[
        "invoke",
        "--dir",
        d,
        "--contract",
        "pkv",
        "--endorsing-org",
        "Org1MSP",
        "--endorsing-org",
        "Org2MSP",
        "--transient",
        &format!("value={secret2}"),
        "writePDC1",
        "p2",
    ]);
    assert!(!w.status.success());
    assert!(
        text(&w).contains("proposal not sent to a peer that is not admitted"),
        "{}",
        text(&w)
    );
    let rogue_log = std::fs::read_to_string(tmp.path().join("rogue.log")).unwrap();
    assert!(!rogue_log.contains(&secret2));
    assert!(files_containing(&dir.join("nodes/peer0.org2"), secret2.as_bytes()).is_empty());
    // ... and Org1's peer does not endorse for it as a gateway.
    let w = cairn(&[
        "invoke",
        "--dir",
        d,
        "--org",
        "Org2",
        "--endorsing-org",
        "Org1MSP",
        "CreateAsset",
        "asset9",
        "red",
        "2",
        "Kim",
        "20",
    ]);
    assert!(!w.status.success());
    assert!(text(&w).contains(&refusal), "{}", text(&w));
    assert!(logs_containing(
        &dir,
        "peer0.org1",
        "call of a node that is not admitted refused"
    ));

    // The channel moves on without it.
    let before = height_of(d, "peer0.org2").unwrap();
    let inv = cairn(&[
        "invoke",
        "--dir",
        d,
        "--endorsing-org",
        "Org1MSP",
        "--endorsing-org",
        "Org3MSP",
        "CreateAsset",
        "asset8",
        "red",
        "2",
        "Kim",
        "20",
    ]);
    assert!(inv.status.success(), "{}", text(&inv));
    let org1 = height_of(d, "peer0.org1").unwrap();
    assert!(org1 > before);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(height_of(d, "peer0.org2"), Some(before), "{:?}", heights(d));

    // A majority of admins lists the new build: the peer catches up.
    let upd = cairn(&[
        "channel",
        "update",
        "--dir",
        d,
        "--allow-measurement",
        &rogue,
    ]);
    assert!(upd.status.success(), "{}", text(&upd));
    wait_until("peer0.org2 catches up", Duration::from_secs(60), || {
        let h = heights(d);
        let org1 = h
            .iter()
            .find(|(n, _)| n == "peer0.org1")
            .map(|x| x.1.clone());
        let org2 = h
            .iter()
            .find(|(n, _)| n == "peer0.org2")
            .map(|x| x.1.clone());
        org1.is_some() && org1 == org2
    });
    let q = cairn(&["query", "--dir", d, "--org", "Org2", "ReadAsset", "asset8"]);
    assert!(text(&q).contains("\"Owner\":\"Kim\""), "{}", text(&q));
    // Admitted now: it reconciles the private value from Org1's peer.
    // Its reconciliation backed off while refused (up to 60 s between rounds).
    wait_until("peer0.org2 reconciles p1", Duration::from_secs(150), || {
        stdout(&cairn(&[
            "query",
            "--dir",
            d,
            "--org",
            "Org2",
            "--contract",
            "pkv",
            "readPDC1",
            "p1",
        ]))
        .contains(&secret)
    });

    // Down stops every node and the attestation service.
    let mut rogue_child = guard.1.take().unwrap();
    let _ = rogue_child.kill();
    let _ = rogue_child.wait();
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    let st = text(&cairn(&["status", "--dir", d]));
    assert!(st.lines().skip(1).all(|l| l.contains(" down ")), "{st}");
}
