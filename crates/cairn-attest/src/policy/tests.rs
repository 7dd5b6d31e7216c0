use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::evidence::TcbState;

const M: &str = "aa";

fn m48(b: u8) -> String {
    hex::encode([b; 48])
}

fn key() -> String {
    hex::encode([0x11; 32])
}

fn virtual_policy(extra: serde_json::Value) -> AppraisalPolicy {
    let mut p = json!({
        "id": "dev",
        "platform": "virtual",
        "allowed_measurements": [m48(1)],
        "trusted_platform_keys": [key()],
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    AppraisalPolicy::parse(p.to_string().as_bytes()).unwrap()
}

fn evidence() -> VerifiedEvidence {
    VerifiedEvidence {
        platform: Platform::Virtual,
        hardware: false,
        measurement: m48(1),
        registers: BTreeMap::from([("platform_key".into(), key())]),
        report_data: ReportData([3; 64]),
        debug: false,
        tcb: TcbState {
            svn: BTreeMap::from([("svn".into(), 2)]),
            ..TcbState::default()
        },
        flags: BTreeMap::new(),
    }
}

#[test]
fn accepts_matching_evidence_and_names_the_policy() {
    let p = virtual_policy(json!({}));
    let a = p.appraise(&evidence(), Some(&ReportData([3; 64]))).unwrap();
    assert_eq!(a.policy.id, "dev");
    assert!(a.policy.hash.starts_with("sha256:") && a.policy.hash.len() == 71);
    assert_eq!(a.token_ttl_secs, 300);
}

#[test]
fn each_rule_refuses_with_its_reason() {
    let p = virtual_policy(json!({"tcb": {"min_svn": {"svn": 3}}}));
    assert_eq!(
        p.appraise(&evidence(), Some(&ReportData([3; 64]))),
        Err(AppraisalError::TcbTooLow {
            component: "svn".into(),
            minimum: 3,
            actual: 2
        })
    );
    let p = virtual_policy(json!({}));
    let mut ev = evidence();
    ev.measurement = m48(2);
    assert!(matches!(
        p.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::MeasurementNotAllowed { .. })
    ));
    let mut ev = evidence();
    ev.debug = true;
    assert!(matches!(
        p.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::DebugForbidden { .. })
    ));
    let mut ev = evidence();
    ev.registers
        .insert("platform_key".into(), hex::encode([0x22; 32]));
    assert!(matches!(
        p.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::PlatformKeyNotTrusted { .. })
    ));
    assert_eq!(
        p.appraise(&evidence(), Some(&ReportData([4; 64]))),
        Err(AppraisalError::BindingMismatch)
    );
    assert!(matches!(
        p.appraise(&evidence(), None),
        Err(AppraisalError::BindingMissing { .. })
    ));
    let lax = virtual_policy(json!({"require_binding": false, "allow_debug": true}));
    let mut ev = evidence();
    ev.debug = true;
    assert!(lax.appraise(&ev, None).is_ok());
    // Even a lax policy never accepts runtime data that the report does not bind.
    assert_eq!(
        lax.appraise(&ev, Some(&ReportData([9; 64]))),
        Err(AppraisalError::BindingMismatch)
    );
}

#[test]
fn hardware_policy_never_accepts_virtual_evidence() {
    let snp = AppraisalPolicy::parse(
        json!({"id": "snp", "platform": "sev-snp", "allowed_measurements": [m48(1)]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        snp.appraise(&evidence(), Some(&ReportData([3; 64]))),
        Err(AppraisalError::PlatformMismatch { .. })
    ));
    // Virtual evidence dressed up as SNP is still refused: hardware=false.
    let mut ev = evidence();
    ev.platform = Platform::SevSnp;
    assert!(matches!(
        snp.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::PlatformMismatch { .. })
    ));
}

#[test]
fn snp_refuses_migration_agents_by_default_and_dcap_requires_up_to_date() {
    let snp = AppraisalPolicy::parse(
        json!({"id": "snp", "platform": "sev-snp", "allowed_measurements": [m48(1)]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let mut ev = evidence();
    ev.platform = Platform::SevSnp;
    ev.hardware = true;
    ev.flags.insert("migrate_ma".into(), true);
    assert!(matches!(
        snp.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::FlagMismatch { .. })
    ));
    ev.flags.insert("migrate_ma".into(), false);
    // Verified without a current AMD CRL: refused by default.
    match snp.appraise(&ev, Some(&ReportData([3; 64]))) {
        Err(AppraisalError::FlagMismatch { flag, expected, .. }) => {
            assert_eq!((flag.as_str(), expected), ("amd_crl_checked", true));
        }
        other => panic!("expected the CRL flag to be required, got {other:?}"),
    }
    ev.flags.insert("amd_crl_checked".into(), true);
    assert!(snp.appraise(&ev, Some(&ReportData([3; 64]))).is_ok());
    // A policy listing its own flags replaces the default.
    let own = AppraisalPolicy::parse(
        json!({"id": "snp", "platform": "sev-snp", "allowed_measurements": [m48(1)],
               "required_flags": {"migrate_ma": false}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    ev.flags.insert("amd_crl_checked".into(), false);
    assert!(own.appraise(&ev, Some(&ReportData([3; 64]))).is_ok());

    let sgx = AppraisalPolicy::parse(
        json!({"id": "sgx", "platform": "sgx", "allowed_measurements": [hex::encode([1u8; 32])]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let mut ev = evidence();
    ev.platform = Platform::Sgx;
    ev.hardware = true;
    ev.measurement = hex::encode([1u8; 32]);
    ev.tcb.status = Some("SWHardeningNeeded".into());
    assert!(matches!(
        sgx.appraise(&ev, Some(&ReportData([3; 64]))),
        Err(AppraisalError::TcbStatusNotAccepted { .. })
    ));
}

#[test]
fn malformed_policies_are_refused_with_the_field() {
    let cases = [
        json!({"id": "x", "platform": "virtual", "allowed_measurements": [m48(1)]}),
        json!({"id": "x", "platform": "sev-snp", "allowed_measurements": [M]}),
        json!({"id": "x", "platform": "sev-snp", "allowed_measurements": []}),
        json!({"id": "x", "platform": "sev-snp", "allowed_measurements": [m48(1)], "trusted_platform_keys": [key()]}),
        json!({"id": "x", "platform": "sev-snp", "allowed_measurements": [m48(1)], "tcb": {"accepted_statuses": ["UpToDate"]}}),
        json!({"id": "x", "platform": "sgx", "allowed_measurements": [hex::encode([1u8; 32])], "token_ttl_secs": 0}),
        json!({"id": "x", "platform": "sgx", "allowed_measurements": [hex::encode([1u8; 32])], "alow_debug": true}),
        json!({"id": "", "platform": "sgx", "allowed_measurements": [hex::encode([1u8; 32])]}),
        json!({"id": "x", "platform": "sev", "allowed_measurements": [m48(1)]}),
    ];
    for case in cases {
        assert!(
            AppraisalPolicy::parse(case.to_string().as_bytes()).is_err(),
            "{case}"
        );
    }
}

#[test]
fn hash_covers_the_exact_bytes() {
    let a = virtual_policy(json!({}));
    let b = virtual_policy(json!({"allow_debug": false}));
    assert_ne!(a.reference().hash, b.reference().hash);
    assert_eq!(
        AppraisalPolicy::parse(a.raw()).unwrap().reference(),
        a.reference()
    );
}
