//! Private data collections on a real multi-process network (issue 4), as
//! a user drives it with the CLI: `cairn up --orgs 4`, the `private-kv`
//! contract committed with the seed's AcmeChain collections, values passed
//! as transient data.
//!
//! - AcmeChain: a client of Org1 writes PDC2 (Org3, Org4) through Org1's
//!   peer; Org3 and Org4 read it; a unique marker is nowhere in the bytes of
//!   Org1's or Org2's peer directories, any orderer's directory, their logs,
//!   or their answers; Org1 reads only the hash, which matches;
//!   memberOnlyWrite refuses Org1.
//! - requiredPeerCount unreachable: refused with the counts; maxPeerCount:
//!   deliveries counted from the peers' metrics.
//! - a member peer down during a write reconciles it after its restart.
//! - blockToLive = 3: gone on every member three blocks later, the hash
//!   stays, and a restart of the whole network does not bring it back.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{cairn, deploy, files_containing, stdout, text};
use rand::Rng;

const COLLECTIONS: &str = r#"[
 {"name": "PDC1", "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
  "requiredPeerCount": 0, "maxPeerCount": 3, "blockToLive": 0,
  "memberOnlyRead": false, "memberOnlyWrite": false},
 {"name": "PDC2", "policy": "OR('Org3MSP.member', 'Org4MSP.member')",
  "requiredPeerCount": 1, "maxPeerCount": 1, "blockToLive": 0,
  "memberOnlyRead": false, "memberOnlyWrite": false},
 {"name": "PDC3", "policy": "OR('Org3MSP.member', 'Org4MSP.member')",
  "requiredPeerCount": 0, "maxPeerCount": 2, "blockToLive": 3,
  "memberOnlyRead": false, "memberOnlyWrite": false},
 {"name": "PDC4", "policy": "OR('Org3MSP.member', 'Org4MSP.member')",
  "requiredPeerCount": 0, "maxPeerCount": 2, "blockToLive": 0,
  "memberOnlyRead": false, "memberOnlyWrite": true}
]"#;

const ANY_PEER: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')";

/// A network directory; dropping it stops every node (those started by
/// hand too, through their pid files) even when an assertion fails.
struct Net {
    dir: PathBuf,
    started: std::cell::RefCell<Vec<std::process::Child>>,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = cairn(&["down", "--dir", self.dir.to_str().unwrap()]);
        for mut c in self.started.borrow_mut().drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Net {
    fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// `cairn invoke` of contract pkv as `org`'s user through its peer.
    fn invoke(&self, org: &str, args: &[&str], value: Option<&str>) -> Output {
        let transient = value.map(|v| format!("value={v}"));
        let mut a = vec![
            "invoke",
            "--dir",
            self.d(),
            "--org",
            org,
            "--contract",
            "pkv",
        ];
        if let Some(t) = &transient {
            a.extend(["--transient", t.as_str()]);
        }
        a.extend(args);
        cairn(&a)
    }

    fn query(&self, org: &str, args: &[&str]) -> Output {
        let mut a = vec![
            "query",
            "--dir",
            self.d(),
            "--org",
            org,
            "--contract",
            "pkv",
        ];
        a.extend(args);
        cairn(&a)
    }

    fn pid(&self, node: &str) -> i32 {
        common::node_pid(&self.dir, node)
    }

    fn stop(&self, node: &str) {
        let pid = self.pid(node);
        Command::new("kill").arg(pid.to_string()).status().unwrap();
        wait_until(&format!("{node} exits"), Duration::from_secs(20), || {
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| {
                        s.rsplit(')')
                            .next()
                            .unwrap_or("")
                            .trim_start()
                            .starts_with('Z')
                    })
                    .unwrap_or(true)
        });
    }

    /// Starts a node as `cairn up` does (its log appended, its pid file written).
    #[allow(
        clippy::zombie_processes,
        reason = "the child is waited for in Net's Drop"
    )]
    fn start(&self, node: &str) {
        let log = std::fs::File::options()
            .append(true)
            .create(true)
            .open(self.dir.join(format!("logs/{node}.log")))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["node", "--config"])
            .arg(self.dir.join(format!("nodes/{node}/node.toml")))
            .env("CAIRN_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(
            self.dir.join(format!("run/{node}.pid")),
            child.id().to_string(),
        )
        .unwrap();
    }

    /// A peer's Prometheus text.
    fn metrics(&self, node: &str) -> String {
        let layout: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("network.json")).unwrap())
                .unwrap();
        let port = layout["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .unwrap()["ops_port"]
            .as_u64()
            .unwrap();
        // Plain HTTP on loopback: a request by hand keeps the test free of tools.
        use std::io::{Read as _, Write as _};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
        write!(conn, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    }
}

/// Sum of a counter's samples whose labels contain every one of `labels`.
fn counter(metrics: &str, name: &str, labels: &[&str]) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn sha256_hex(data: &[u8]) -> String {
    cairn_crypto::sha256(data).to_string()
}

#[test]
fn acmechain_on_a_multi_process_network() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let net = Net {
        dir: dir.clone(),
        started: Default::default(),
    };
    let d = net.d().to_string();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&[
        "up",
        "--orgs",
        "4",
        "--dir",
        &d,
        "--base-port",
        &port,
        "--detach",
    ]);
    assert!(up.status.success(), "{}", text(&up));

    let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/private-kv");
    deploy(net.d(), "pkv", contract, ANY_PEER, COLLECTIONS, 4);

    // AcmeChain: Org1's client writes PDC2 (Org3, Org4) through Org1's peer.
    let marker = format!("acme-secret-{}", rand::rng().random::<u64>());
    let w = net.invoke("Org1", &["writePDC2", "k1"], Some(&marker));
    assert!(w.status.success(), "{}", text(&w));
    for org in ["Org3", "Org4"] {
        wait_until(&format!("{org} reads k1"), Duration::from_secs(40), || {
            stdout(&net.query(org, &["readPDC2", "k1"])).contains(&marker)
        });
    }
    // Org1's peer holds only the hash, and says why it cannot read.
    let r = net.query("Org1", &["readPDC2", "k1"]);
    assert!(!r.status.success());
    assert!(
        text(&r).contains("Org1MSP is not a member of collection PDC2"),
        "{}",
        text(&r)
    );
    assert!(!text(&r).contains(&marker));
    let h = net.query("Org1", &["hash", "PDC2", "k1"]);
    assert!(h.status.success(), "{}", text(&h));
    assert!(
        stdout(&h).contains(&sha256_hex(marker.as_bytes())),
        "{}",
        text(&h)
    );
    // memberOnlyWrite: Org1's client may not write PDC4.
    let mow = net.invoke("Org1", &["put", "PDC4", "k2"], Some("x"));
    assert!(!mow.status.success());
    assert!(
        text(&mow).contains("may not write collection PDC4 (memberOnlyWrite"),
        "{}",
        text(&mow)
    );

    // Private data events: each org's client gets the writes of its own
    // collections only.
    let pdc1 = format!("pdc1-secret-{}", rand::rng().random::<u64>());
    let w1 = net.invoke("Org2", &["writePDC1", "k9"], Some(&pdc1));
    assert!(w1.status.success(), "{}", text(&w1));
    let block_of = |out: &Output| -> String {
        let t = stdout(out);
        let at = t.find(" in block ").unwrap() + " in block ".len();
        t[at..].split(',').next().unwrap().trim().to_string()
    };
    let (b2, b1) = (block_of(&w), block_of(&w1));
    let events = |org: &str, from: &str| {
        let out = cairn(&[
            "events",
            "--dir",
            &d,
            "--org",
            org,
            "--private",
            "--from",
            from,
            "--count",
            "1",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out)
    };
    assert!(events("Org3", &b2).contains(&format!("pkv/PDC2 k1 = {marker}")));
    assert!(!events("Org1", &b2).contains(&marker));
    assert!(events("Org1", &b1).contains(&format!("pkv/PDC1 k9 = {pdc1}")));
    assert!(!events("Org4", &b1).contains(&pdc1));

    // The marker is nowhere Org1, Org2 or the orderers keep anything.
    for node in [
        "peer0.org1",
        "peer0.org2",
        "orderer0.org1",
        "orderer0.org2",
        "orderer0.org3",
        "orderer0.org4",
    ] {
        let found = files_containing(&dir.join("nodes").join(node), marker.as_bytes());
        assert!(
            found.is_empty(),
            "{node} stores the private value: {found:?}"
        );
        let log = std::fs::read(dir.join(format!("logs/{node}.log"))).unwrap();
        assert!(
            !log.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{node} logged it"
        );
    }
    assert!(
        !files_containing(&dir.join("nodes/peer0.org3"), marker.as_bytes()).is_empty(),
        "the search finds what is there"
    );
    for node in ["peer0.org3", "peer0.org4"] {
        let log = std::fs::read(dir.join(format!("logs/{node}.log"))).unwrap();
        assert!(
            !log.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{node} logged it"
        );
    }

    // maxPeerCount 1: no endorsement of PDC2 was pushed to more than one peer.
    let pushes: u64 = ["peer0.org1", "peer0.org2", "peer0.org3", "peer0.org4"]
        .iter()
        .map(|p| {
            counter(
                &net.metrics(p),
                "cairn_peer_private_data_pushes_total",
                &["PDC2", "delivered"],
            )
        })
        .sum();
    assert_eq!(pushes, 1, "one write to PDC2, maxPeerCount 1");

    // requiredPeerCount 1 with every member peer down: refused, with the counts.
    net.stop("peer0.org3");
    net.stop("peer0.org4");
    let refused = net.invoke("Org1", &["writePDC2", "k3"], Some("nobody-gets-this"));
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("collection PDC2"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("requiredPeerCount"),
        "{}",
        text(&refused)
    );

    // Org3 back, Org4 still down: a write reaches Org3; Org4 reconciles it after its restart.
    net.start("peer0.org3");
    let late = format!("late-{}", rand::rng().random::<u64>());
    let mut wrote = false;
    for _ in 0..40 {
        if net
            .invoke("Org1", &["writePDC2", "k4"], Some(&late))
            .status
            .success()
        {
            wrote = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(wrote, "no write once Org3's peer was back");
    net.start("peer0.org4");
    wait_until("Org4 reconciles k4", Duration::from_secs(60), || {
        stdout(&net.query("Org4", &["readPDC2", "k4"])).contains(&late)
    });
    for key in ["k1", "k4"] {
        assert_eq!(
            stdout(&net.query("Org3", &["readPDC2", key])),
            stdout(&net.query("Org4", &["readPDC2", key])),
            "Org3 and Org4 hold the same {key}"
        );
    }

    // blockToLive 3: written by Org3 in block b, gone once block b+4 commits (Fabric's count).
    let short = format!("short-lived-{}", rand::rng().random::<u64>());
    let w = net.invoke("Org3", &["put", "PDC3", "k5"], Some(&short));
    assert!(w.status.success(), "{}", text(&w));
    wait_until("Org4 reads k5", Duration::from_secs(40), || {
        stdout(&net.query("Org4", &["get", "PDC3", "k5"])).contains(&short)
    });
    let hash_before = stdout(&net.query("Org1", &["hash", "PDC3", "k5"]));
    assert!(
        hash_before.contains(&sha256_hex(short.as_bytes())),
        "{hash_before}"
    );
    for i in 0..4 {
        let out = net.invoke("Org3", &["setPublic", &format!("filler{i}"), "x"], None);
        assert!(out.status.success(), "{}", text(&out));
    }
    for org in ["Org3", "Org4"] {
        wait_until(
            &format!("k5 purged on {org}"),
            Duration::from_secs(30),
            || text(&net.query(org, &["get", "PDC3", "k5"])).contains("k5 does not exist in PDC3"),
        );
    }
    assert_eq!(
        stdout(&net.query("Org1", &["hash", "PDC3", "k5"])),
        hash_before,
        "the hash stays"
    );

    // A restart of every node does not bring it back.
    let down = cairn(&["down", "--dir", &d]);
    assert!(down.status.success(), "{}", text(&down));
    let again = cairn(&["up", "--dir", &d, "--detach"]);
    assert!(again.status.success(), "{}", text(&again));
    for org in ["Org3", "Org4"] {
        let mut last = String::new();
        wait_until(
            &format!("{org} answers after the restart"),
            Duration::from_secs(30),
            || {
                last = text(&net.query(org, &["get", "PDC3", "k5"]));
                last.contains("does not exist")
            },
        );
        assert!(!last.contains(&short), "{last}");
        assert!(stdout(&net.query(org, &["readPDC2", "k1"])).contains(&marker));
    }
}

/// The issue's transfer flow with Fabric's JavaScript API (the contract
/// tests' `private-transfer`, unmodified): the asset's shared part in
/// `assetCollection` (Org1, Org2), each owner's valuation in its implicit
/// org collection, and the hand-over decided by comparing the buyer's hash
/// on the ledger with the seller's own valuation.
#[test]
fn transfer_by_hash_on_a_multi_process_network() {
    let tmp = tempfile::tempdir().unwrap();
    let net = Net {
        dir: tmp.path().join("net"),
        started: Default::default(),
    };
    let d = net.d().to_string();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&["up", "--dir", &d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let contract = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cairn-contract/tests/contracts/private-transfer"
    );
    let collections = r#"[{"name": "assetCollection",
        "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
        "requiredPeerCount": 0, "maxPeerCount": 1, "blockToLive": 0,
        "memberOnlyRead": true, "memberOnlyWrite": true}]"#;
    deploy(
        net.d(),
        "transfer",
        contract,
        "OR('Org1MSP.peer','Org2MSP.peer')",
        collections,
        3,
    );
    let call = |verb: &str, org: &str, args: &[&str], transient: Option<(&str, &str)>| {
        let t = transient.map(|(k, v)| format!("{k}={v}"));
        let mut a = vec![
            verb,
            "--dir",
            d.as_str(),
            "--org",
            org,
            "--contract",
            "transfer",
        ];
        if let Some(t) = &t {
            a.extend(["--transient", t.as_str()]);
        }
        a.extend(args);
        cairn(&a)
    };

    let color = format!("color-{}", rand::rng().random::<u64>());
    let props = format!(
        r#"{{"objectType":"asset","assetID":"asset1","color":"{color}","size":5,"appraisedValue":300}}"#
    );
    let created = call(
        "invoke",
        "Org1",
        &["CreateAsset"],
        Some(("asset_properties", &props)),
    );
    assert!(created.status.success(), "{}", text(&created));
    let mut asset = String::new();
    wait_until("Org2 reads asset1", Duration::from_secs(30), || {
        asset = stdout(&call("query", "Org2", &["ReadAsset", "asset1"], None));
        asset.contains(&color)
    });
    assert!(asset.contains(r#""ownerOrg":"Org1MSP""#), "{asset}");
    // Org3 is not in assetCollection: nothing of the asset on its peer.
    assert!(files_containing(&net.dir.join("nodes/peer0.org3"), color.as_bytes()).is_empty());

    // The buyer checks what the seller told it against the ledger's hash.
    let told = r#"{"assetID":"asset1","appraisedValue":300}"#;
    let check = call(
        "query",
        "Org2",
        &["VerifyValuation", "Org1MSP"],
        Some(("valuation", told)),
    );
    assert_eq!(stdout(&check).trim(), "true", "{}", text(&check));

    // The buyer values it differently: the seller's transfer is refused.
    let low = r#"{"assetID":"asset1","appraisedValue":250}"#;
    let agreed = call(
        "invoke",
        "Org2",
        &["AgreeToTransfer"],
        Some(("asset_value", low)),
    );
    assert!(agreed.status.success(), "{}", text(&agreed));
    let owner = r#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#;
    let mut refused = String::new();
    wait_until("the mismatch is seen", Duration::from_secs(30), || {
        refused = text(&call(
            "invoke",
            "Org1",
            &["TransferAsset"],
            Some(("asset_owner", owner)),
        ));
        refused.contains("valuations of asset1 by Org1MSP and Org2MSP differ")
    });

    // The same valuation: the hashes match and the asset moves.
    let same = r#"{"assetID":"asset1","appraisedValue":300}"#;
    let agreed = call(
        "invoke",
        "Org2",
        &["AgreeToTransfer"],
        Some(("asset_value", same)),
    );
    assert!(agreed.status.success(), "{}", text(&agreed));
    let mut moved = String::new();
    wait_until("the asset moves", Duration::from_secs(30), || {
        let out = call(
            "invoke",
            "Org1",
            &["TransferAsset"],
            Some(("asset_owner", owner)),
        );
        moved = text(&out);
        out.status.success()
    });
    assert!(moved.contains("endorsed by Org1MSP"), "{moved}");
    wait_until("Org2 owns asset1", Duration::from_secs(30), || {
        stdout(&call("query", "Org2", &["ReadAsset", "asset1"], None))
            .contains(r#""ownerOrg":"Org2MSP""#)
    });
    // Org2's first valuation never reached Org1's peer.
    assert!(
        files_containing(
            &net.dir.join("nodes/peer0.org1"),
            br#""appraisedValue":250"#
        )
        .is_empty()
    );
    assert!(
        !files_containing(
            &net.dir.join("nodes/peer0.org2"),
            br#""appraisedValue":250"#
        )
        .is_empty()
    );
}
