//! Property tests: printing round-trips, evaluation is monotone, ignores
//! unmentioned organizations, matches a brute-force search, and accepts
//! everything Fabric's greedy evaluator accepts.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_policy::{Principal, PrincipalRole, Role, Rule, SignaturePolicy, Signer, SignerSet};
use proptest::prelude::*;

const ORGS: [&str; 3] = ["Org1MSP", "Org2.MSP", "Org-3"];
const SIGNER_ORGS: [&str; 4] = ["Org1MSP", "Org2.MSP", "Org-3", "Org4MSP"];

fn principal() -> impl Strategy<Value = Rule> {
    (0..ORGS.len(), 0..PrincipalRole::ALL.len())
        .prop_map(|(o, r)| Rule::SignedBy(Principal::new(ORGS[o], PrincipalRole::ALL[r]).unwrap()))
}

fn gate(inner: impl Strategy<Value = Rule> + Clone) -> impl Strategy<Value = Rule> {
    prop_oneof![
        prop::collection::vec(inner.clone(), 1..4).prop_map(Rule::And),
        prop::collection::vec(inner.clone(), 1..4).prop_map(Rule::Or),
        prop::collection::vec(inner, 1..5)
            .prop_flat_map(|rules| (0..=rules.len() + 1, Just(rules)))
            .prop_map(|(n, rules)| Rule::OutOf(n, rules)),
    ]
}

fn policy() -> impl Strategy<Value = SignaturePolicy> {
    let rule = principal().prop_recursive(3, 12, 4, gate);
    gate(rule).prop_map(|root| SignaturePolicy::new(root).unwrap())
}

fn signer() -> impl Strategy<Value = Signer> {
    (0..SIGNER_ORGS.len(), 0..Role::ALL.len(), 0..3u8)
        .prop_map(|(o, r, id)| Signer::new(SIGNER_ORGS[o], Role::ALL[r], vec![id]))
}

fn signers() -> impl Strategy<Value = Vec<Signer>> {
    prop::collection::vec(signer(), 0..6)
}

/// Prints with Fabric's other accepted spellings, double quotes and odd spacing.
fn print_loosely(rule: &Rule, out: &mut String) {
    match rule {
        Rule::SignedBy(p) => out.push_str(&format!("\"{p}\"")),
        gate => {
            match gate {
                Rule::And(_) => out.push_str("and ( "),
                Rule::Or(_) => out.push_str("Or("),
                Rule::OutOf(n, _) => out.push_str(&format!("outof(\t'{n}' ,")),
                Rule::SignedBy(_) => unreachable!(),
            }
            for (i, child) in gate.rules().iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,\n");
                }
                print_loosely(child, out);
            }
            out.push_str(" )");
        }
    }
}

fn leaves(rule: &Rule) -> Vec<&Principal> {
    match rule {
        Rule::SignedBy(p) => vec![p],
        gate => gate.rules().iter().flat_map(leaves).collect(),
    }
}

fn eval_with(rule: &Rule, truth: &[bool], next: &mut usize) -> bool {
    match rule {
        Rule::SignedBy(_) => {
            *next += 1;
            truth[*next - 1]
        }
        gate => {
            // Evaluate every child so leaf numbering stays in step.
            let got = gate
                .rules()
                .iter()
                .map(|child| eval_with(child, truth, next))
                .filter(|t| *t)
                .count();
            got >= gate.threshold()
        }
    }
}

/// Tries every assignment of distinct signers to leaves.
fn brute_force(policy: &SignaturePolicy, set: &SignerSet) -> bool {
    let signers: Vec<(&str, Role)> = set.iter().map(|(m, r, _)| (m, r)).collect();
    let leaves = leaves(policy.root());
    fn go(
        i: usize,
        leaves: &[&Principal],
        signers: &[(&str, Role)],
        used: &mut Vec<bool>,
        truth: &mut Vec<bool>,
        root: &Rule,
    ) -> bool {
        if i == leaves.len() {
            return eval_with(root, truth, &mut 0);
        }
        truth[i] = false;
        if go(i + 1, leaves, signers, used, truth, root) {
            return true;
        }
        for (s, (msp, role)) in signers.iter().enumerate() {
            if !used[s] && leaves[i].accepts(msp, *role) {
                used[s] = true;
                truth[i] = true;
                let ok = go(i + 1, leaves, signers, used, truth, root);
                used[s] = false;
                truth[i] = false;
                if ok {
                    return true;
                }
            }
        }
        false
    }
    go(
        0,
        &leaves,
        &signers,
        &mut vec![false; signers.len()],
        &mut vec![false; leaves.len()],
        policy.root(),
    )
}

/// Fabric's cauthdsl: children in order, each leaf takes the first unused match.
fn fabric_greedy(rule: &Rule, signers: &[(&str, Role)], used: &mut Vec<bool>) -> bool {
    match rule {
        Rule::SignedBy(p) => {
            for (s, (msp, role)) in signers.iter().enumerate() {
                if !used[s] && p.accepts(msp, *role) {
                    used[s] = true;
                    return true;
                }
            }
            false
        }
        gate => {
            let mut verified = 0;
            for child in gate.rules() {
                let mut trial = used.clone();
                if fabric_greedy(child, signers, &mut trial) {
                    verified += 1;
                    *used = trial;
                }
            }
            verified >= gate.threshold()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_parse_round_trip(p in policy()) {
        let text = p.to_string();
        let back: SignaturePolicy = text.parse().unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_string(), text);
        let mut loose = String::new();
        print_loosely(p.root(), &mut loose);
        prop_assert_eq!(loose.parse::<SignaturePolicy>().unwrap(), p);
    }

    #[test]
    fn adding_a_signer_never_breaks_satisfaction(p in policy(), list in signers(), extra in signer()) {
        let before: SignerSet = list.iter().collect();
        let mut after = before.clone();
        after.insert(extra);
        if p.is_satisfied_by(&before) {
            prop_assert!(p.is_satisfied_by(&after));
        }
    }

    #[test]
    fn unmentioned_orgs_do_not_matter(p in policy(), list in signers()) {
        let all: SignerSet = list.iter().collect();
        let mentioned = p.orgs();
        let kept: SignerSet = list.iter().filter(|s| mentioned.contains(s.msp_id.as_str())).collect();
        prop_assert_eq!(p.is_satisfied_by(&all), p.is_satisfied_by(&kept));
        for org in SIGNER_ORGS.iter().filter(|o| !mentioned.contains(*o)) {
            let without: SignerSet = list.iter().filter(|s| s.msp_id != *org).collect();
            prop_assert_eq!(p.is_satisfied_by(&all), p.is_satisfied_by(&without));
        }
    }

    #[test]
    fn exact_search_agrees_with_brute_force(p in policy(), list in signers()) {
        let set: SignerSet = list.iter().collect();
        prop_assert_eq!(p.is_satisfied_by(&set), brute_force(&p, &set), "{}", p);
    }

    #[test]
    fn accepts_whatever_fabric_greedy_accepts(p in policy(), list in signers()) {
        let set: SignerSet = list.iter().collect();
        let flat: Vec<(&str, Role)> = set.iter().map(|(m, r, _)| (m, r)).collect();
        if fabric_greedy(p.root(), &flat, &mut vec![false; flat.len()]) {
            prop_assert!(p.is_satisfied_by(&set), "{}", p);
        }
    }

    #[test]
    fn minimal_org_sets_satisfy_and_are_minimal(p in policy()) {
        for set in p.minimal_org_sets(8) {
            // Enough signers of every role in the chosen orgs satisfy the policy...
            let full: SignerSet = set
                .iter()
                .flat_map(|org| Role::ALL.into_iter().flat_map(move |role| {
                    (0..16u8).map(move |i| Signer::new(*org, role, vec![i, role as u8]))
                }))
                .collect();
            prop_assert!(p.is_satisfied_by(&full), "{} {:?}", p, set);
            // ...and dropping any org breaks it.
            for org in &set {
                let less: SignerSet = full.iter()
                    .filter(|(m, _, _)| m != org)
                    .map(|(m, r, id)| Signer::new(m, r, id))
                    .collect();
                prop_assert!(!p.is_satisfied_by(&less), "{} {:?} without {}", p, set, org);
            }
        }
    }
}
