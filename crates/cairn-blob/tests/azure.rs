//! Azure's container-level model on the store: a time-based retention
//! policy, unlocked then locked (one-way, extend-only, five extensions),
//! container legal holds, protected append writes for a digest log, and the
//! Azure error codes of each refusal.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_blob::worm::{DAY_MS, PolicyChange, PolicyState};
use cairn_blob::{Bypass, ManualClock, PutOptions, Refusal, Store, StoreError, Timestamp};

const T0: i64 = 1_800_000_000_000;

fn refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Refused(r) => r,
        other => panic!("expected a WORM refusal, got {other}"),
    }
}

#[test]
fn a_digest_log_under_a_locked_policy_takes_appends_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(T0));
    let store = Store::open(dir.path(), Box::new(clock.clone())).unwrap();
    store
        .create_bucket("digests", false, "Org1MSP/admin")
        .unwrap();
    let first = store
        .put(
            "digests",
            "ledger.log",
            b"digest 1\n",
            PutOptions::default(),
        )
        .unwrap();

    // Unlocked: a test policy that can still be shortened and removed.
    let set = |days, append| PolicyChange::Set {
        days,
        allow_protected_append: append,
    };
    store
        .change_container_policy("digests", set(30, false), "a")
        .unwrap();
    store
        .change_container_policy("digests", set(7, true), "a")
        .unwrap();
    store
        .change_container_policy("digests", PolicyChange::Remove, "a")
        .unwrap();
    store
        .change_container_policy("digests", set(7, true), "a")
        .unwrap();
    let b = store
        .change_container_policy("digests", PolicyChange::Lock, "a")
        .unwrap();
    assert_eq!(b.container_policy.unwrap().state, PolicyState::Locked);

    // Locked: one-way and extend-only.
    for change in [
        PolicyChange::Remove,
        set(30, true),
        PolicyChange::Extend { days: 6 },
    ] {
        let r = refusal(
            store
                .change_container_policy("digests", change, "a")
                .unwrap_err(),
        );
        assert!(
            matches!(r, Refusal::ContainerPolicyLocked { days: 7 }),
            "{r}"
        );
        assert_eq!(r.azure_code(), "ImmutabilityPolicyLocked");
    }
    for days in 8..13 {
        store
            .change_container_policy("digests", PolicyChange::Extend { days }, "a")
            .unwrap();
    }
    let r = refusal(
        store
            .change_container_policy("digests", PolicyChange::Extend { days: 20 }, "a")
            .unwrap_err(),
    );
    assert!(
        matches!(r, Refusal::ExtensionLimit { extensions: 5 }),
        "{r}"
    );

    // The log: appends allowed, overwrite and delete refused, the old version kept.
    let second = store
        .append("digests", "ledger.log", b"digest 2\n", "a")
        .unwrap();
    let (_, bytes) = store.get("digests", "ledger.log", None).unwrap();
    assert_eq!(bytes, b"digest 1\ndigest 2\n");
    let (_, old) = store
        .get("digests", "ledger.log", Some(&first.version_id))
        .unwrap();
    assert_eq!(old, b"digest 1\n");
    let r = refusal(
        store
            .put("digests", "ledger.log", b"rewritten", PutOptions::default())
            .unwrap_err(),
    );
    assert!(
        matches!(r, Refusal::ContainerPolicyActive { days: 12, .. }),
        "{r}"
    );
    assert_eq!(r.azure_code(), "BlobImmutableDueToPolicy");
    assert!(r.to_string().contains("immutable due to a policy"), "{r}");
    for version in [None, Some(second.version_id.as_str())] {
        let r = refusal(
            store
                .delete("digests", "ledger.log", version, Bypass::NONE, "a")
                .unwrap_err(),
        );
        assert!(matches!(r, Refusal::ContainerPolicyActive { .. }), "{r}");
    }
    // A new blob is a create, not an overwrite.
    store
        .put("digests", "other.log", b"x", PutOptions::default())
        .unwrap();

    // A container legal hold blocks appends too, until cleared.
    store
        .set_container_hold("digests", "case42", true, "a")
        .unwrap();
    let r = refusal(
        store
            .append("digests", "ledger.log", b"digest 3\n", "a")
            .unwrap_err(),
    );
    assert_eq!(r.azure_code(), "BlobImmutableDueToLegalHold");
    store
        .set_container_hold("digests", "case42", false, "a")
        .unwrap();
    store
        .append("digests", "ledger.log", b"digest 3\n", "a")
        .unwrap();

    // After the period (counted from each version's write) the first version may go.
    clock.advance(13 * DAY_MS);
    store
        .delete(
            "digests",
            "ledger.log",
            Some(&first.version_id),
            Bypass::NONE,
            "a",
        )
        .unwrap();
    // The bucket's history has every policy change, in order.
    let history: Vec<String> = store
        .bucket("digests")
        .unwrap()
        .history
        .into_iter()
        .map(|e| e.change)
        .collect();
    assert_eq!(history.len(), 1 + 5 + 5 + 2, "{history:#?}");
    assert!(history[5].contains("Locked"), "{history:#?}");
}

#[test]
fn without_protected_appends_an_append_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Box::new(ManualClock::at(Timestamp(T0)))).unwrap();
    store.create_bucket("logs", false, "a").unwrap();
    store.put("logs", "l", b"1", PutOptions::default()).unwrap();
    // Positive control: no policy, appends are fine.
    store.append("logs", "l", b"2", "a").unwrap();
    store
        .change_container_policy(
            "logs",
            PolicyChange::Set {
                days: 1,
                allow_protected_append: false,
            },
            "a",
        )
        .unwrap();
    let r = refusal(store.append("logs", "l", b"3", "a").unwrap_err());
    assert!(matches!(r, Refusal::AppendNotAllowed { .. }), "{r}");
}
