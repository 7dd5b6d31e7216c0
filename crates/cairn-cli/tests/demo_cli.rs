//! `cairn demo` end to end: the run reports the validation codes Fabric would,
//! every ledger it leaves verifies, every peer holds the same state, the
//! receipt checks out offline, and an existing directory is never clobbered
//! without `--force`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use common::{cairn, text};

#[test]
fn demo_runs_execute_order_validate_and_leaves_verifiable_ledgers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let out = cairn(&["demo", "--dir", d]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for line in [
        "block 1 committed on the orderer and 3 peers: 3/3 valid",
        "block 3 committed on the orderer and 3 peers: 3/3 valid",
        "block 4 committed on the orderer and 3 peers: 1/3 valid",
        "tx 0: VALID",
        "tx 1: MVCC_READ_CONFLICT",
        "tx 2: ENDORSEMENT_POLICY_FAILURE",
    ] {
        assert!(t.contains(line), "missing {line:?} in:\n{t}");
    }
    // The query on Org3's peer sees the winning transfer only.
    assert!(t.contains("\"Owner\":\"Max\""), "{t}");
    assert!(!t.contains("\"Owner\":\"Ana\""), "{t}");

    let mut roots = Vec::new();
    for p in ["orderer", "org1", "org2", "org3"] {
        let ledger = dir.join("ledgers").join(p);
        let v = cairn(&["ledger", "verify", ledger.to_str().unwrap()]);
        let vt = text(&v);
        assert!(v.status.success(), "{p}: {vt}");
        assert!(
            vt.contains("5 blocks, 11 transactions (9 valid)"),
            "{p}: {vt}"
        );
        roots.push(vt.rsplit("tree root ").next().unwrap().trim().to_string());
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");

    let receipt = dir.join("receipt.json");
    let ca = dir.join("crypto/org1/ca/ca.pem");
    let r = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("in block 4 of channel demo with code VALID"));

    // A receipt does not verify against another org's CA.
    let other = dir.join("crypto/org2/ca/ca.pem");
    let r = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        other.to_str().unwrap(),
    ]);
    assert!(!r.status.success(), "{}", text(&r));

    // A second run refuses to replace the directory unless asked to.
    let again = cairn(&["demo", "--dir", d]);
    assert!(!again.status.success());
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert!(receipt.exists(), "refused run must not delete anything");
}
