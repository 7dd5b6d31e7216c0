//! The benchmark contract `contracts/bench-kv`: `put` keeps its 100-byte
//! check when no size is named and accepts the sizes the sweep's value axis
//! uses when one is; `putBatch` writes the many keys the state axis preloads.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::sync::Arc;

use cairn_contract::ContractPackage;
use cairn_crypto::Role;
use support::*;

const NAME: &str = "benchkv";

struct World {
    peer: Peer,
    user: cairn_contract::CreatorInfo,
    nonce: std::cell::Cell<u64>,
}

impl World {
    fn new() -> World {
        let org1 = Org::new("Org1");
        let package =
            Arc::new(ContractPackage::load(&contract_dir("bench-kv"), "benchkv_1.0").unwrap());
        let peer = Peer::new(
            "Org1MSP",
            channel(&[&org1]),
            FixedResolver::with(NAME, package),
        );
        let user = org1.identity("user1@org1.cairn", Role::Client, &[]);
        World {
            peer,
            user,
            nonce: std::cell::Cell::new(1),
        }
    }

    /// Calls `function` and answers (status, message).
    fn call(&self, function: &str, args: &[&str]) -> (u32, String) {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        let sim = self
            .peer
            .submit(&proposal(&self.user, NAME, function, args, n), &self.user);
        (sim.response.status, sim.response.message)
    }
}

#[test]
fn put_without_a_size_still_wants_exactly_100_bytes() {
    let w = World::new();
    let v100 = "a".repeat(100);
    assert_eq!(w.call("put", &["k1", &v100]).0, 200);
    assert_eq!(w.peer.state.get(NAME, "k1").unwrap(), v100.as_bytes());
    let (status, message) = w.call("put", &["k2", &"a".repeat(101)]);
    assert_eq!(status, 500);
    assert!(message.contains("100-byte value, got 101"), "{message}");
    assert!(w.peer.state.get(NAME, "k2").is_none());
}

#[test]
fn put_with_a_size_checks_the_value_against_it() {
    let w = World::new();
    for size in [1usize, 1024, 4096, 16384, 65536] {
        let key = format!("k{size}");
        let value = "b".repeat(size);
        let (status, message) = w.call("put", &[&key, &value, &size.to_string()]);
        assert_eq!(status, 200, "{size}: {message}");
        assert_eq!(w.peer.state.get(NAME, &key).unwrap().len(), size);
    }
    let (status, message) = w.call("put", &["short", &"c".repeat(100), "1024"]);
    assert_eq!(status, 500);
    assert!(message.contains("1024-byte value, got 100"), "{message}");
    for bad in ["0", "65537", "1e3", "-5", "12x"] {
        let (status, message) = w.call("put", &["bad", "x", bad]);
        assert_eq!(status, 500, "size {bad:?} accepted");
        assert!(message.contains("value size"), "{bad}: {message}");
    }
}

#[test]
fn put_batch_writes_count_keys_of_the_size() {
    let w = World::new();
    let (status, message) = w.call("putBatch", &["s1", "10", "500", "100"]);
    assert_eq!(status, 200, "{message}");
    for i in [10u64, 250, 509] {
        let value = w.peer.state.get(NAME, &format!("pre-s1-{i:012}")).unwrap();
        assert_eq!(value.len(), 100);
        assert!(value.starts_with(format!("pre-s1-{i:012};").as_bytes()));
    }
    assert!(
        w.peer
            .state
            .get(NAME, &format!("pre-s1-{:012}", 9))
            .is_none()
    );
    assert!(
        w.peer
            .state
            .get(NAME, &format!("pre-s1-{:012}", 510))
            .is_none()
    );

    let (status, message) = w.call("putBatch", &["s1", "0", "2001", "100"]);
    assert_eq!(status, 500);
    assert!(message.contains("count must be"), "{message}");
    let (status, message) = w.call("putBatch", &["bad seed", "0", "1", "100"]);
    assert_eq!(status, 500);
    assert!(message.contains("seed"), "{message}");
}
