//! Time that fails closed, through the store: a failed time source keeps
//! every retention in force, and a clock set back (across a restart) never
//! moves the store's time back.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_blob::worm::DAY_MS;
use cairn_blob::{
    Bypass, ManualClock, Mode, Now, PutOptions, Refusal, Retention, Store, StoreError, Timestamp,
};

const T0: i64 = 1_800_000_000_000;

fn governance(days: i64) -> PutOptions {
    PutOptions {
        retention: Some(Retention {
            mode: Mode::Governance,
            until: Timestamp(T0 + days * DAY_MS),
        }),
        owner: "Org1MSP/t".to_owned(),
        ..PutOptions::default()
    }
}

#[test]
fn a_failed_time_source_keeps_expired_retention_locked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(T0));
    let store = Store::open(dir.path(), Box::new(clock.clone())).unwrap();
    store.create_bucket("bkt", true, "t").unwrap();
    let a = store.put("bkt", "a", b"a", governance(1)).unwrap();
    let b = store.put("bkt", "bkt", b"bkt", governance(1)).unwrap();
    clock.advance(2 * DAY_MS);
    // Positive control: with the time known, the expired retention lets go.
    store
        .delete("bkt", "a", Some(&a.version_id), Bypass::NONE, "t")
        .unwrap();
    // The same state with the time source failing: locked.
    clock.set(None);
    assert!(matches!(store.now(), Now::Unknown { .. }));
    let err = store
        .delete("bkt", "bkt", Some(&b.version_id), Bypass::NONE, "t")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Refused(Refusal::GovernanceActive { .. })),
        "{err}"
    );
    assert_eq!(err.s3_code(), ("AccessDenied", 403));
    // Time back: unlocked again.
    clock.set(Some(Timestamp(T0 + 2 * DAY_MS)));
    store
        .delete("bkt", "bkt", Some(&b.version_id), Bypass::NONE, "t")
        .unwrap();
}

#[test]
fn the_clock_does_not_go_back_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(T0));
    {
        let store = Store::open(dir.path(), Box::new(clock.clone())).unwrap();
        store.create_bucket("bkt", true, "t").unwrap();
        store.put("bkt", "k", b"x", governance(5)).unwrap();
        clock.advance(10 * DAY_MS);
        // Any write persists the time seen.
        store.set_container_hold("bkt", "tag1", false, "t").unwrap();
    }
    // Restart with the clock set back to before the retention's end.
    let back = ManualClock::at(Timestamp(T0 + DAY_MS));
    let store = Store::open(dir.path(), Box::new(back)).unwrap();
    assert_eq!(store.now(), Now::Known(Timestamp(T0 + 10 * DAY_MS)));
    // A new version's date comes from the high-water mark, not the set-back clock.
    let v = store.put("bkt", "k2", b"y", PutOptions::default()).unwrap();
    assert_eq!(v.created, Timestamp(T0 + 10 * DAY_MS));
    // And a retention date before the mark is in the past.
    let err = store.put("bkt", "k3", b"z", governance(6)).unwrap_err();
    assert!(
        matches!(err, StoreError::Refused(Refusal::RetainUntilPast { .. })),
        "{err}"
    );
}
