//! Faults on a real multi-process network (`cairn up`): the Raft leader is
//! SIGKILLed while clients submit 10,000 transactions; a peer is SIGKILLed
//! and restarted. Afterwards every transaction reported committed is on
//! every peer, no block number holds two different blocks on any node,
//! submissions succeed again within 5 s of the kill, and the restarted
//! peer's state equals the others'.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::ids::TxId;
use cairn_ledger::state::StateView;
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_peer::GatewayClient;
use cairn_store::Ledger;
use common::{Down, cairn, text};
use serde_json::Value;

const TXS: usize = 10_000;
const CLIENTS: usize = 200;

/// The network directory as the test sees it.
struct Net {
    dir: PathBuf,
    layout: Value,
    msps: Vec<MspConfig>,
}

impl Net {
    fn load(dir: &Path) -> Net {
        let layout: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("network.json")).unwrap())
                .unwrap();
        let msps = layout["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let org = o.as_str().unwrap().to_lowercase();
                MspConfig::load(&dir.join("crypto").join(org).join("msp.json")).unwrap()
            })
            .collect();
        Net {
            dir: dir.to_path_buf(),
            layout,
            msps,
        }
    }
    fn nodes(&self, role: &str) -> Vec<(String, String, String)> {
        self.layout["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["role"] == role)
            .map(|n| {
                (
                    n["name"].as_str().unwrap().to_string(),
                    n["org_dir"].as_str().unwrap().to_string(),
                    format!("https://127.0.0.1:{}", n["port"]),
                )
            })
            .collect()
    }
    fn user(&self, org_dir: &str) -> SigningIdentity {
        SigningIdentity::from_dir(&self.dir.join("crypto").join(org_dir).join("users/user1"))
            .unwrap()
    }
    fn pid(&self, name: &str) -> i32 {
        common::node_pid(&self.dir, name)
    }
    /// Starts a node again as `cairn up` would; `cairn down` stops it.
    fn restart(&self, name: &str) -> std::process::Child {
        let config = self.dir.join("nodes").join(name).join("node.toml");
        let log = std::fs::File::options()
            .append(true)
            .open(self.dir.join("logs").join(format!("{name}.log")))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["node", "--config", config.to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(
            self.dir.join("run").join(format!("{name}.pid")),
            child.id().to_string(),
        )
        .unwrap();
        child
    }
}

/// Hash of every key, value and version of the sample contract's state.
fn state_hash(ledger: &Ledger) -> String {
    let snap = ledger.snapshot().unwrap();
    let all = snap.range("basic", "", "", 0).unwrap();
    let mut h = Vec::new();
    for (k, v) in all {
        h.extend_from_slice(k.as_bytes());
        h.extend_from_slice(&v.value);
        h.extend_from_slice(format!("{:?}", v.version).as_bytes());
    }
    cairn_crypto::sha256(&h).to_string()
}

#[test]
fn leader_and_peer_kills_lose_nothing_and_fork_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let _guard = Down(dir.clone());
    let up = cairn(&["up", "--dir", d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let net = Net::load(&dir);
    let peers = net.nodes("peer");
    let orderers = net.nodes("orderer");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // Clients of every org, each through its own org's peer.
    // (txid, submission start, commit reported)
    let committed = Arc::new(Mutex::new(Vec::<(TxId, Instant, Instant)>::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (_, org, url) = peers[c % peers.len()].clone();
        let gw = GatewayClient::new(net.user(&org), &net.msps, &url, "mychannel")
            .unwrap()
            .with_commit_wait(Duration::from_secs(60));
        let (committed, next) = (committed.clone(), next.clone());
        tasks.push(rt.spawn(async move {
            let mut failures = 0u32;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= TXS {
                    return failures;
                }
                let id = format!("k{i}");
                // Retry an id until it commits: the leader's death may fail a submission.
                loop {
                    let start = Instant::now();
                    match gw
                        .submit("basic", "CreateAsset", &[&id, "c", "1", "o", "1"])
                        .await
                    {
                        Ok(done) => {
                            committed
                                .lock()
                                .unwrap()
                                .push((done.txid, start, Instant::now()));
                            break;
                        }
                        Err(e) if e.to_string().contains("already exists") => break,
                        Err(_) => {
                            failures += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }));
    }

    // Let load build up, then SIGKILL the Raft leader.
    while committed.lock().unwrap().len() < 1_000 {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    let tls = TlsIdentity::new(net.user("org1"), Trust::new(&net.msps).unwrap()).unwrap();
    let admin = Client::with_timeout(&tls, Duration::from_secs(3)).unwrap();
    let leader = rt
        .block_on(cairn_orderer::api::status(&admin, &orderers[0].2))
        .unwrap()
        .leader
        .unwrap();
    let leader_name = orderers[leader as usize - 1].0.clone();
    let killed_at = Instant::now();
    common::sigkill(net.pid(&leader_name));

    let mut failures = 0;
    for t in tasks {
        failures += rt.block_on(t).unwrap();
    }
    let committed = committed.lock().unwrap().clone();
    // Submissions made after the kill succeed within 5 s of it.
    let first_after = committed
        .iter()
        .filter(|(_, start, _)| *start > killed_at)
        .map(|(_, _, end)| *end)
        .min()
        .unwrap();
    let gap = first_after - killed_at;
    assert!(
        gap < Duration::from_secs(5),
        "no commit for {gap:?} after the kill"
    );
    assert!(committed.len() <= TXS);
    eprintln!(
        "{} committed, {failures} failed attempts retried, first commit {gap:?} after killing {leader_name}",
        committed.len()
    );

    // Kill a peer, commit more without it, restart it: it catches up.
    let (victim, _, _) = peers[peers.len() - 1].clone();
    common::sigkill(net.pid(&victim));
    let (_, org, url) = peers[0].clone();
    let gw = GatewayClient::new(net.user(&org), &net.msps, &url, "mychannel").unwrap();
    let mut late = Vec::new();
    for i in 0..20 {
        let id = format!("late{i}");
        let done = rt
            .block_on(gw.submit_invocation(
                cairn_peer::invocation("basic", "CreateAsset", &[&id, "c", "1", "o", "1"]),
                Default::default(),
                &["Org1MSP".to_string(), "Org2MSP".to_string()],
            ))
            .unwrap();
        late.push(done.txid);
    }
    let restarted = [net.restart(&victim), net.restart(&leader_name)];
    let target = rt
        .block_on(cairn_peer::api::channels(gw.transport(), &url))
        .unwrap()[0]
        .height;
    let deadline = Instant::now() + Duration::from_secs(60);
    for (name, org, url) in &peers {
        let tls = TlsIdentity::new(net.user(org), Trust::new(&net.msps).unwrap()).unwrap();
        let c = Client::with_timeout(&tls, Duration::from_secs(3)).unwrap();
        loop {
            let h = rt
                .block_on(cairn_peer::api::channels(&c, url))
                .ok()
                .and_then(|v| v.first().map(|i| i.height))
                .unwrap_or(0);
            if h >= target {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stuck at height {h} < {target}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    drop(rt);
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    for mut c in restarted {
        // Reap: `down` stopped them.
        assert!(c.wait().unwrap().code().is_some_and(|code| code == 0));
    }

    // Every node's ledger: reported-committed txs present, one block per number.
    let names: Vec<String> = peers
        .iter()
        .chain(&orderers)
        .map(|(n, _, _)| n.clone())
        .collect();
    let ledgers = common::node_ledgers(&dir, names.iter().map(String::as_str));
    let txids: Vec<TxId> = committed.iter().map(|(t, _, _)| *t).chain(late).collect();
    common::assert_committed_and_one_chain(&ledgers, &txids);
    let hashes: BTreeSet<String> = ledgers
        .iter()
        .filter(|(n, _)| n.starts_with("peer"))
        .map(|(_, l)| state_hash(l))
        .collect();
    assert_eq!(hashes.len(), 1, "peers' states differ: {hashes:?}");
}
