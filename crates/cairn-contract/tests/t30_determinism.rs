//! Determinism and isolation: two runtime instances executing the same
//! proposal produce identical read/write set bytes, also when the contract
//! calls `Date` and `Math.random`, whatever the time zone; and nothing one
//! invocation does is visible to the next on a warm runtime.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::sync::Arc;

use cairn_contract::{ContractPackage, CreatorInfo, RuntimeConfig};
use cairn_crypto::Role;
use cairn_ledger::encoding::Canonical;
use support::*;

const NAME: &str = "sandbox";

fn peer_with(org: &Org) -> Peer {
    let package =
        Arc::new(ContractPackage::load(&contract_dir("sandbox-test"), "sandbox_1").unwrap());
    let resolver = FixedResolver::with(NAME, package);
    let kv = Arc::new(ContractPackage::load(&contract_dir("kv"), "kv_1").unwrap());
    resolver.add("kv", kv, false);
    Peer::new("Org1MSP", channel(&[org]), resolver)
}

fn entropy(peer: &Peer, who: &CreatorInfo, nonce: u64) -> (Vec<u8>, serde_json::Value) {
    let sim = peer
        .simulate(&proposal(who, NAME, "Entropy", &[], nonce), who)
        .unwrap();
    (sim.rwset.encode().unwrap(), payload_json(&sim))
}

#[test]
fn two_runtimes_produce_identical_rwset_bytes() {
    let org = Org::new("Org1");
    let who = org.identity("user@org1.cairn", Role::Client, &[]);
    let (a, b) = (peer_with(&org), peer_with(&org));
    // Different histories: peer A served other calls first (warm), B is cold.
    for n in 100..105 {
        let p = proposal(&who, NAME, "Put", &["other", "x"], n);
        let sim = a.submit(&p, &who);
        b.state
            .commit(&sim.rwset, p.header.txid, p.header.timestamp)
            .unwrap();
    }
    let (bytes_a, values) = entropy(&a, &who, 1);
    let (bytes_b, values_b) = entropy(&b, &who, 1);
    assert_eq!(bytes_a, bytes_b, "same proposal, same bytes");
    assert_eq!(values, values_b);

    // The clock is the transaction's timestamp, in UTC.
    assert_eq!(values["now"], 1_700_000_000_123i64);
    assert_eq!(values["date"], "2023-11-14T22:13:20.123Z");
    assert_eq!(values["txTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(values["seconds"], 1_700_000_000);
    assert_eq!(
        values["called"],
        "Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal Time)"
    );
    assert_eq!(
        values["dateString"],
        "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
    );
    assert_eq!(values["localParse"], "2024-03-01T12:00:00.000Z");
    assert_eq!(values["components"], "2024-03-01T12:00:00.000Z");
    assert_eq!(values["hours"], 23);
    assert_eq!(values["offset"], 0);
    let random: Vec<f64> = serde_json::from_value(values["random"].clone()).unwrap();
    assert!(
        random.iter().all(|r| (0.0..1.0).contains(r)) && random[0] != random[1],
        "{random:?}"
    );

    // Another transaction id seeds other numbers; the same id the same ones.
    let (_, other) = entropy(&a, &who, 2);
    assert_ne!(other["random"], values["random"]);
    let (again, _) = entropy(&a, &who, 1);
    assert_eq!(again, bytes_a);
}

/// Runs the Entropy call in a child process with another time zone (the
/// engine reads TZ through libc); the results must not change.
#[test]
fn results_do_not_depend_on_the_time_zone() {
    let org = Org::new("Org1");
    let who = org.identity("user@org1.cairn", Role::Client, &[]);
    if std::env::var_os("CAIRN_TZ_CHILD").is_some() {
        let (bytes, values) = entropy(&peer_with(&org), &who, 7);
        println!("VALUES:{values}");
        println!("BYTES:{}", bytes.len());
        return;
    }
    let here = entropy(&peer_with(&org), &who, 7).1;
    let zoned = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "results_do_not_depend_on_the_time_zone",
            "--exact",
            "--nocapture",
        ])
        .env("CAIRN_TZ_CHILD", "1")
        .env("TZ", "JST-9")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&zoned.stdout);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("VALUES:"))
        .unwrap_or_else(|| panic!("child said: {out}"));
    let there: serde_json::Value = serde_json::from_str(line).unwrap();
    // The identity differs (new certificate), so compare the time fields only.
    for field in [
        "now",
        "date",
        "called",
        "dateString",
        "localParse",
        "components",
        "hours",
        "offset",
    ] {
        assert_eq!(here[field], there[field], "{field} differs at TZ=JST-9");
    }
}

#[test]
fn nothing_leaks_between_invocations_on_a_warm_runtime() {
    let org = Org::new("Org1");
    let who = org.identity("user@org1.cairn", Role::Client, &[]);
    let mut peer = peer_with(&org);
    // One warm instance, so every call below runs in the same realm.
    let mut config = RuntimeConfig::new("Org1MSP");
    config.max_idle_per_package = 1;
    peer.runtime = cairn_contract::ContractRuntime::new(config);

    let clean = payload_json(&peer.submit(&proposal(&who, NAME, "Probe", &[], 1), &who));
    assert_eq!(
        payload_str(&peer.submit(&proposal(&who, NAME, "Leak", &[], 2), &who)),
        "1"
    );
    assert_eq!(
        payload_str(&peer.submit(&proposal(&who, NAME, "Leak", &[], 3), &who)),
        "1",
        "module state is fresh"
    );
    let after = payload_json(&peer.submit(&proposal(&who, NAME, "Probe", &[], 4), &who));
    assert_eq!(after, clean);
    assert_eq!(
        after,
        serde_json::json!({
            "calls": 0, "leaked": "undefined", "sloppy": "undefined", "proto": "clean", "toString": "clean",
            "json": "clean", "prepare": "clean", "stub": "clean", "buffer": "clean"
        })
    );
    // Shadowing frozen built-ins on one's own objects still works.
    assert_eq!(
        payload_str(&peer.submit(&proposal(&who, NAME, "Override", &[], 5), &who)),
        "MyError,custom,legacy"
    );

    // A stub kept past the end of its transaction is dead.
    let stashed = peer.submit(&proposal(&who, NAME, "Stash", &[], 6), &who);
    assert_eq!(payload_str(&stashed), "stashed");
    let ns = stashed
        .rwset
        .namespaces
        .iter()
        .find(|n| n.namespace == NAME);
    assert!(ns.is_none_or(|n| n.writes.is_empty()), "no late write");
}

#[test]
fn invoke_chaincode_joins_the_callees_reads_and_writes() {
    let org = Org::new("Org1");
    let who = org.identity("user@org1.cairn", Role::Client, &[]);
    let peer = peer_with(&org);
    let sim = peer.submit(
        &proposal(&who, NAME, "Call", &["kv", "Put", "k1", "v1"], 1),
        &who,
    );
    assert_eq!(
        payload_json(&sim),
        serde_json::json!({ "status": 200, "message": "", "payload": "" })
    );
    let kv = sim
        .rwset
        .namespaces
        .iter()
        .find(|n| n.namespace == "kv")
        .unwrap();
    assert_eq!(
        (kv.writes[0].key.as_str(), kv.writes[0].value.as_slice()),
        ("k1", b"v1".as_slice())
    );
    let got = peer.submit(&proposal(&who, NAME, "Call", &["kv", "Get", "k1"], 2), &who);
    assert_eq!(payload_json(&got)["payload"], "v1");
    let missing = peer.submit(&proposal(&who, NAME, "Call", &["nope", "Get"], 3), &who);
    assert!(
        missing
            .response
            .message
            .contains("contract \"nope\" is not available"),
        "{:?}",
        missing.response
    );
}

/// One runtime serves endorsing threads concurrently (its pools are shared).
#[test]
fn one_runtime_serves_many_threads() {
    fn is_shareable<T: Send + Sync>(_: &T) {}
    let org = Org::new("Org1");
    let peer = peer_with(&org);
    is_shareable(&peer.runtime);
    let who = org.identity("user@org1.cairn", Role::Client, &[]);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (peer, who) = (&peer, &who);
            s.spawn(move || {
                for i in 0..20u64 {
                    let key = format!("t{t}-{i}");
                    let p = proposal(who, NAME, "Put", &[&key, "v"], 1000 * (t + 1) + i);
                    let sim = peer.simulate(&p, who).unwrap();
                    assert_eq!(payload_str(&sim), "v");
                    let ns = sim
                        .rwset
                        .namespaces
                        .iter()
                        .find(|n| n.namespace == NAME)
                        .unwrap();
                    assert_eq!(ns.writes[0].key, key);
                }
            });
        }
    });
}
