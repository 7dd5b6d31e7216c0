//! Runs every case of `testdata/policy_cases.json` (Fabric's documented
//! behaviour and its cauthdsl/policydsl/implicitmeta tests, see the file's
//! `source` notes).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use cairn_policy::{ChannelOrgs, ChannelPolicy, OrgPolicies, SignaturePolicy, Signer, SignerSet};
use serde::Deserialize;

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/policy_cases.json"
));

#[derive(Deserialize)]
struct Table {
    signature_cases: Vec<SignatureCase>,
    meta_cases: Vec<MetaCase>,
    malformed: Vec<Malformed>,
}

#[derive(Deserialize)]
struct SignatureCase {
    name: String,
    policy: String,
    signers: Vec<String>,
    expected: bool,
    source: String,
}

#[derive(Deserialize)]
struct MetaCase {
    name: String,
    policy: String,
    orgs: Vec<String>,
    signers: Vec<String>,
    expected: bool,
    source: String,
    #[serde(default)]
    overrides: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct Malformed {
    policy: String,
    error: String,
    position: usize,
    source: String,
}

fn table() -> Table {
    serde_json::from_str(CASES).unwrap()
}

fn signer_set(specs: &[String]) -> SignerSet {
    specs.iter().map(|s| s.parse::<Signer>().unwrap()).collect()
}

/// The variant name of an error, from its `Debug` form (`UnknownRole { .. }`).
fn variant(kind: &impl std::fmt::Debug) -> String {
    format!("{kind:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

#[test]
fn signature_cases() {
    let table = table();
    assert!(table.signature_cases.len() >= 40);
    let mut failures = Vec::new();
    for case in &table.signature_cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let policy: SignaturePolicy = case.policy.parse().unwrap();
        let got = policy.is_satisfied_by(&signer_set(&case.signers));
        if got != case.expected {
            failures.push(format!(
                "{}: {} with {:?} gave {got}",
                case.name, case.policy, case.signers
            ));
        }
        // The canonical form means the same thing.
        let again: SignaturePolicy = policy.to_string().parse().unwrap();
        assert_eq!(again, policy, "{}", case.name);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn meta_cases() {
    let table = table();
    let mut failures = Vec::new();
    for case in &table.meta_cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let mut orgs = ChannelOrgs::with_fabric_defaults(&case.orgs).unwrap();
        for (org, names) in &case.overrides {
            let mut policies = orgs.policies(org).cloned().unwrap_or_default();
            for (name, policy) in names {
                match policy {
                    Some(text) => {
                        policies.insert(name.clone(), text.parse().unwrap());
                    }
                    None => {
                        policies.remove(name);
                    }
                }
            }
            orgs.insert_org(org.as_str(), policies).unwrap();
        }
        assert_eq!(orgs.orgs().count(), case.orgs.len(), "{}", case.name);
        let policy: ChannelPolicy = case.policy.parse().unwrap();
        assert_eq!(policy.to_string().parse::<ChannelPolicy>().unwrap(), policy);
        let got = policy.is_satisfied_by(&orgs, &signer_set(&case.signers));
        if got != case.expected {
            failures.push(format!(
                "{}: {} with {:?} gave {got}",
                case.name, case.policy, case.signers
            ));
        }
        if let ChannelPolicy::ImplicitMeta(meta) = &policy {
            let outcome = meta.evaluate(&orgs, &signer_set(&case.signers));
            assert_eq!(outcome.is_satisfied(), case.expected, "{}", case.name);
            assert_eq!(outcome.total, case.orgs.len(), "{}", case.name);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn malformed_cases() {
    let table = table();
    assert!(table.malformed.len() >= 20);
    let mut failures = Vec::new();
    for case in &table.malformed {
        assert!(!case.source.is_empty(), "{:?} has no source", case.policy);
        match case.policy.parse::<ChannelPolicy>() {
            Ok(p) => failures.push(format!("{:?} parsed as {p}", case.policy)),
            Err(e) => {
                let got = (variant(&e.kind), e.position);
                if got != (case.error.clone(), case.position) {
                    failures.push(format!(
                        "{:?}: expected {} at {}, got {} at {} ({e})",
                        case.policy, case.error, case.position, got.0, got.1
                    ));
                }
                assert!(
                    e.to_string()
                        .contains(&format!("at byte {}", case.position))
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
