//! The rules, case by case (the model-based property test is tests/worm_model.rs).

use super::*;

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn retained(mode: Mode, days: u32) -> Protection {
    Protection {
        retention: Some(Retention {
            mode,
            until: T0.plus_days(days),
        }),
        ..Protection::default()
    }
}

const ALLOWED: Bypass = Bypass {
    requested: true,
    allowed: true,
};

#[test]
fn compliance_blocks_delete_for_everyone_until_its_date() {
    let p = retained(Mode::Compliance, 1);
    for bypass in [Bypass::NONE, ALLOWED] {
        assert!(matches!(
            check_delete_version(&p, Now::Known(T0), bypass),
            Err(Refusal::ComplianceActive { .. })
        ));
    }
    assert_eq!(
        check_delete_version(&p, Now::Known(T0.plus_days(1)), Bypass::NONE),
        Ok(())
    );
}

#[test]
fn governance_yields_only_to_an_allowed_bypass() {
    let p = retained(Mode::Governance, 1);
    let now = Now::Known(T0);
    assert!(matches!(
        check_delete_version(&p, now, Bypass::NONE),
        Err(Refusal::GovernanceActive { .. })
    ));
    let not_allowed = Bypass {
        requested: true,
        allowed: false,
    };
    assert!(matches!(
        check_delete_version(&p, now, not_allowed),
        Err(Refusal::BypassNotPermitted { .. })
    ));
    let not_requested = Bypass {
        requested: false,
        allowed: true,
    };
    assert!(check_delete_version(&p, now, not_requested).is_err());
    assert_eq!(check_delete_version(&p, now, ALLOWED), Ok(()));
}

#[test]
fn a_legal_hold_blocks_delete_whatever_the_retention_and_bypass() {
    let mut p = Protection {
        legal_hold: true,
        ..Protection::default()
    };
    assert_eq!(
        check_delete_version(&p, Now::Known(T0), ALLOWED),
        Err(Refusal::LegalHold)
    );
    p.legal_hold = false;
    assert_eq!(check_delete_version(&p, Now::Known(T0), ALLOWED), Ok(()));
}

#[test]
fn unknown_time_keeps_every_retention_in_force() {
    let p = retained(Mode::Compliance, 0);
    // Expired by the known clock, but locked when the clock is unknown.
    assert_eq!(
        check_delete_version(&p, Now::Known(T0), Bypass::NONE),
        Ok(())
    );
    assert!(check_delete_version(&p, Now::Unknown { at_least: T0 }, Bypass::NONE).is_err());
}

#[test]
fn compliance_retention_is_extend_only() {
    let cur = Some(Retention {
        mode: Mode::Compliance,
        until: T0.plus_days(10),
    });
    let now = Now::Known(T0);
    let at = |mode, days| {
        Some(Retention {
            mode,
            until: T0.plus_days(days),
        })
    };
    assert_eq!(
        check_set_retention(true, cur, at(Mode::Compliance, 11), now, ALLOWED),
        Ok(())
    );
    assert!(matches!(
        check_set_retention(true, cur, at(Mode::Compliance, 9), now, ALLOWED),
        Err(Refusal::ComplianceShortened { .. })
    ));
    assert!(matches!(
        check_set_retention(true, cur, at(Mode::Governance, 20), now, ALLOWED),
        Err(Refusal::ComplianceModeChange { .. })
    ));
    assert!(matches!(
        check_set_retention(true, cur, None, now, ALLOWED),
        Err(Refusal::ComplianceModeChange { .. })
    ));
    assert!(matches!(
        check_set_retention(true, None, at(Mode::Compliance, 0), now, ALLOWED),
        Err(Refusal::RetainUntilPast { .. })
    ));
    assert_eq!(
        check_set_retention(false, None, at(Mode::Compliance, 1), now, ALLOWED),
        Err(Refusal::LockNotEnabled)
    );
}

#[test]
fn a_locked_container_policy_is_one_way_and_extend_only() {
    let set = PolicyChange::Set {
        days: 10,
        allow_protected_append: false,
    };
    let p = apply_policy_change(None, set).unwrap_or_default();
    assert_eq!(apply_policy_change(p, PolicyChange::Remove), Ok(None));
    let locked = apply_policy_change(p, PolicyChange::Lock).unwrap_or_default();
    assert_eq!(locked.map(|p| p.state), Some(PolicyState::Locked));
    for change in [PolicyChange::Remove, set, PolicyChange::Extend { days: 9 }] {
        assert!(matches!(
            apply_policy_change(locked, change),
            Err(Refusal::ContainerPolicyLocked { days: 10 })
        ));
    }
    let mut cur = locked;
    for i in 0..MAX_EXTENSIONS {
        cur = apply_policy_change(
            cur,
            PolicyChange::Extend {
                days: 11 + u32::from(i),
            },
        )
        .unwrap_or_default();
    }
    assert_eq!(cur.map(|p| p.extensions), Some(MAX_EXTENSIONS));
    assert!(matches!(
        apply_policy_change(cur, PolicyChange::Extend { days: 100 }),
        Err(Refusal::ExtensionLimit { .. })
    ));
}

#[test]
fn a_container_policy_refuses_overwrite_and_allows_only_protected_appends() {
    let policy = apply_policy_change(
        None,
        PolicyChange::Set {
            days: 1,
            allow_protected_append: false,
        },
    )
    .unwrap_or_default();
    let p = Protection {
        container: policy,
        protected_since: Some(T0),
        ..Protection::default()
    };
    assert!(matches!(
        check_overwrite(Some(&p)),
        Err(Refusal::ContainerPolicyActive { .. })
    ));
    assert!(matches!(
        check_append(Some(&p)),
        Err(Refusal::AppendNotAllowed { .. })
    ));
    assert!(check_delete_marker(Some(&p), Now::Known(T0)).is_err());
    assert_eq!(
        check_delete_marker(Some(&p), Now::Known(T0.plus_days(1))),
        Ok(())
    );
    let appendable = Protection {
        container: policy.map(|c| ContainerPolicy {
            allow_protected_append: true,
            ..c
        }),
        ..p
    };
    assert_eq!(check_append(Some(&appendable)), Ok(()));
}

#[test]
fn dates_round_trip_through_rfc3339() {
    let t = Timestamp(1_893_456_000_123);
    assert_eq!(t.rfc3339(), "2030-01-01T00:00:00.123Z");
    assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t));
    assert_eq!(
        Timestamp::parse_rfc3339("2030-01-01T00:00:00Z"),
        Some(Timestamp(1_893_456_000_000))
    );
    assert_eq!(Timestamp::parse_rfc3339("tomorrow"), None);
}
