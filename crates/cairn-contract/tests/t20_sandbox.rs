//! The sandbox: an infinite loop, a 1 GiB allocation, unbounded recursion
//! and a 100 MiB return value each fail with a clear error within the
//! configured limits, no writes are endorsed, and the next invocation on the
//! same runtime pool succeeds.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_contract::{ContractError, ContractPackage, CreatorInfo, Limits};
use cairn_crypto::Role;
use support::*;

const NAME: &str = "sandbox";

fn setup() -> (Peer, CreatorInfo, cairn_contract::PackageId) {
    let org1 = Org::new("Org1");
    let package =
        Arc::new(ContractPackage::load(&contract_dir("sandbox-test"), "sandbox_1").unwrap());
    let id = package.id().clone();
    let peer = Peer::new(
        "Org1MSP",
        channel(&[&org1]),
        FixedResolver::with(NAME, package),
    );
    let client = org1.identity("user@org1.cairn", Role::Client, &[]);
    (peer, client, id)
}

fn limits() -> Limits {
    Limits {
        time: Duration::from_millis(300),
        memory_bytes: 32 << 20,
        ..Limits::default()
    }
}

/// After a failure, the same pool serves the next call normally.
fn assert_still_serves(peer: &Peer, who: &CreatorInfo, nonce: u64) {
    let sim = peer
        .simulate(&proposal(who, NAME, "Put", &["k", "v"], nonce), who)
        .unwrap();
    assert_eq!(sim.response.status, 200, "{:?}", sim.response);
    let ns = sim
        .rwset
        .namespaces
        .iter()
        .find(|n| n.namespace == NAME)
        .unwrap();
    assert_eq!(ns.writes[0].key, "k");
}

#[test]
fn infinite_loop_stops_at_the_time_budget() {
    let (peer, who, id) = setup();
    assert_still_serves(&peer, &who, 1);
    assert_eq!(peer.runtime.warm_instances(&id), 1);
    for (nonce, function) in [(2, "Loop"), (3, "LoopAfterAwait")] {
        let started = Instant::now();
        let err = peer
            .simulate_with(&proposal(&who, NAME, function, &[], nonce), &who, &limits())
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, ContractError::TimeLimit { limit } if limit == Duration::from_millis(300)),
            "{err}"
        );
        assert!(
            err.to_string().contains("execution budget of 300 ms"),
            "{err}"
        );
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{function} took {took:?}"
        );
    }
    // The instance that hit the limit was dropped; a fresh one serves.
    assert_still_serves(&peer, &who, 4);
    assert_eq!(peer.runtime.warm_instances(&id), 1);
}

#[test]
fn one_gib_allocation_hits_the_memory_limit() {
    let (peer, who, _) = setup();
    for (nonce, function) in [(1, "Allocate"), (2, "AllocateOnce")] {
        let started = Instant::now();
        let err = peer
            .simulate_with(
                &proposal(&who, NAME, function, &["1024"], nonce),
                &who,
                &limits(),
            )
            .unwrap_err();
        assert!(
            matches!(err, ContractError::MemoryLimit { limit_bytes } if limit_bytes == 32 << 20),
            "{function}: {err}"
        );
        assert!(err.to_string().contains("memory limit of 33554432 bytes"));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_still_serves(&peer, &who, 3);
}

#[test]
fn unbounded_recursion_hits_the_stack_limit() {
    let (peer, who, _) = setup();
    let err = peer
        .simulate_with(&proposal(&who, NAME, "Recurse", &[], 1), &who, &limits())
        .unwrap_err();
    assert!(
        matches!(err, ContractError::StackLimit { limit_bytes } if limit_bytes == 512 << 10),
        "{err}"
    );
    assert!(err.to_string().contains("unbounded recursion"));
    assert_still_serves(&peer, &who, 2);
}

#[test]
fn a_100_mib_return_value_is_refused() {
    let (peer, who, _) = setup();
    // Under the default heap limit the string cannot even be built.
    let err = peer
        .simulate_with(
            &proposal(&who, NAME, "BigReturn", &["100"], 1),
            &who,
            &limits(),
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::MemoryLimit { .. }), "{err}");
    // With room for it, the response limit refuses it.
    let roomy = Limits {
        memory_bytes: 512 << 20,
        time: Duration::from_secs(10),
        ..Limits::default()
    };
    let err = peer
        .simulate_with(
            &proposal(&who, NAME, "BigReturn", &["100"], 2),
            &who,
            &roomy,
        )
        .unwrap_err();
    match err {
        ContractError::ResponseTooLarge {
            size_bytes,
            limit_bytes,
        } => {
            assert_eq!(limit_bytes, 16 << 20);
            assert!(size_bytes >= 100 << 20, "{size_bytes}");
        }
        other => panic!("expected ResponseTooLarge, got {other}"),
    }
    // A return value under the limit is fine.
    let ok = peer
        .simulate_with(&proposal(&who, NAME, "BigReturn", &["1"], 3), &who, &roomy)
        .unwrap();
    assert_eq!(ok.response.payload.len(), 1 << 20);
    assert_still_serves(&peer, &who, 4);
}

#[test]
fn a_promise_that_never_settles_is_reported() {
    let (peer, who, _) = setup();
    let err = peer
        .simulate_with(
            &proposal(&who, NAME, "NeverSettles", &[], 1),
            &who,
            &limits(),
        )
        .unwrap_err();
    assert!(matches!(err, ContractError::NeverSettled), "{err}");
    assert_still_serves(&peer, &who, 2);
}

#[test]
fn no_node_or_host_facilities() {
    let (peer, who, _) = setup();
    let globals = payload_str(&peer.submit(&proposal(&who, NAME, "Globals", &[], 1), &who));
    assert_eq!(
        globals,
        "process:undefined,setTimeout:undefined,setInterval:undefined,fetch:undefined,performance:undefined,\
         WeakRef:undefined,FinalizationRegistry:undefined,SharedArrayBuffer:undefined,require:undefined,\
         Buffer:function,TextEncoder:function,console:object"
    );
    let fs = payload_str(&peer.submit(&proposal(&who, NAME, "Require", &["fs"], 2), &who));
    assert!(
        fs.starts_with("MODULE_NOT_FOUND: Cannot find module 'fs': it is a Node.js core module"),
        "{fs}"
    );
    let up = payload_str(&peer.submit(
        &proposal(&who, NAME, "Require", &["../../../etc/passwd"], 3),
        &who,
    ));
    assert!(up.contains("leaves the contract package"), "{up}");
    let shim =
        payload_str(&peer.submit(&proposal(&who, NAME, "Require", &["fabric-shim"], 4), &who));
    assert_eq!(shim, "loaded");
}

#[test]
fn private_data_of_an_undefined_collection_fails_clearly() {
    let (peer, who, _) = setup();
    let sim = peer.submit(&proposal(&who, NAME, "Private", &[], 1), &who);
    assert_eq!(sim.response.status, 500);
    assert!(
        sim.response.message.starts_with(&format!(
            "collection collectionA is not defined for contract {NAME}:"
        )),
        "{}",
        sim.response.message
    );
}

/// Buffer, TextEncoder/TextDecoder and util behave as in Node.js: the probe
/// returns exactly what Node 20 returned (recorded in probe.node.json).
#[test]
fn node_compatible_buffer_text_and_util() {
    let (peer, who, _) = setup();
    let got = payload_json(&peer.submit(&proposal(&who, NAME, "NodeProbe", &[], 1), &who));
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(contract_dir("sandbox-test/lib/probe.node.json")).unwrap(),
    )
    .unwrap();
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&got[key], want, "{key}");
    }
    assert_eq!(got, expected);
}

/// The stub's arguments as bytes and as strings, as fabric-shim gives them:
/// invalid UTF-8 becomes U+FFFD in the strings only; every buffer is a
/// Buffer of its own, so changing one changes neither the strings nor the
/// next invocation's arguments; the creator's certificate reaches
/// `getCreator()` and `clientIdentity` as equal, separate Buffers.
#[test]
fn arguments_reach_the_stub_as_buffers_and_strings() {
    let (peer, who, _) = setup();
    for nonce in 1..=2 {
        let mut p = proposal(&who, NAME, "Args", &["x", "y"], nonce);
        p.invocation.args[0] = vec![b'a', 0xff, b'b'];
        let out = payload_json(&peer.submit(&p, &who));
        let strings = serde_json::json!(["Args", "a\u{fffd}b", "y"]);
        let buffers = serde_json::json!([b"Args".to_vec(), [97, 255, 98], [121]]);
        assert_eq!(out["params"], serde_json::json!(["a\u{fffd}b", "y"]));
        assert_eq!(out["before"]["strings"], strings);
        assert_eq!(out["before"]["buffers"], buffers);
        assert_eq!(
            out["after"]["strings"], strings,
            "strings do not share the buffers"
        );
        assert_eq!(
            out["after"]["buffers"][1],
            serde_json::json!([0x21, 255, 98])
        );
        assert_eq!(out["creatorPem"], "-----BEGIN CERTIFICATE-----");
        assert_eq!(out["identityPem"], true);
        assert_eq!(out["nonce"], 8);
    }
}
