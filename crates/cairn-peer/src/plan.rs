//! Endorsement planning: which peers to ask so that every policy a
//! transaction must satisfy is satisfied, preferring the gateway's own peer
//! and as few peers as possible. Pure: no I/O.
//!
//! Each candidate peer counts as one distinct peer signer of its org, so
//! `AND('A.peer','A.peer')` needs two of A's peers, as validation does.

use std::sync::Arc;

use cairn_ledger::validate::ChannelContext;
use cairn_policy::{ChannelOrgs, ChannelPolicy, Role, Signer, SignerSet};

/// Above this many candidates the search would be too costly; the first
/// ones (the local peer comes first) are used.
pub(crate) const MAX_CANDIDATES: usize = 16;

/// Policies evaluated over candidate sets: parsed once per channel config
/// and shared ([`ChannelContext::policy`]), over the config's orgs.
pub(crate) struct Planner<'c> {
    orgs: &'c ChannelOrgs,
    policies: Vec<Arc<ChannelPolicy>>,
}

impl<'c> Planner<'c> {
    /// A planner for `policies` (Fabric policy text) over the channel's orgs.
    pub(crate) fn new(ctx: &'c ChannelContext, policies: &[String]) -> Result<Planner<'c>, String> {
        let policies = policies
            .iter()
            .map(|text| {
                ctx.policy(text)
                    .map_err(|e| format!("endorsement policy {text:?} does not parse: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Planner {
            orgs: ctx.orgs(),
            policies,
        })
    }

    /// Whether peers of these orgs (one signer each) satisfy every policy.
    pub(crate) fn satisfied_by(&self, msp_ids: &[&str]) -> bool {
        let signers: SignerSet = msp_ids
            .iter()
            .enumerate()
            .map(|(i, msp)| Signer::new(*msp, Role::Peer, format!("candidate-{i}").into_bytes()))
            .collect();
        self.policies
            .iter()
            .all(|p| p.is_satisfied_by(self.orgs, &signers))
    }

    /// The smallest set of candidate indexes that includes every index in
    /// `must`, avoids every index `excluded`, and satisfies the policies.
    /// Among sets of one size, those with `preferred` win, then the lowest
    /// indexes (candidates are listed in order of preference).
    pub(crate) fn plan(
        &self,
        candidates: &[String],
        must: &[usize],
        excluded: &[usize],
        preferred: Option<usize>,
    ) -> Option<Vec<usize>> {
        let n = candidates.len().min(MAX_CANDIDATES);
        let must_mask = must
            .iter()
            .filter(|i| **i < n)
            .fold(0u32, |m, i| m | (1 << i));
        let excluded_mask = excluded
            .iter()
            .filter(|i| **i < n)
            .fold(0u32, |m, i| m | (1 << i));
        if must_mask & excluded_mask != 0 {
            return None;
        }
        let pref_bit = preferred.filter(|p| *p < n).map_or(0, |p| 1u32 << p);
        for size in must_mask.count_ones() as usize..=n {
            let mut best: Option<u32> = None;
            for mask in 0u32..(1u32 << n) {
                if mask.count_ones() as usize != size
                    || mask & must_mask != must_mask
                    || mask & excluded_mask != 0
                {
                    continue;
                }
                let orgs: Vec<&str> = (0..n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| candidates[i].as_str())
                    .collect();
                if !self.satisfied_by(&orgs) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (has, had) = (mask & pref_bit != 0, b & pref_bit != 0);
                        (has && !had) || (has == had && lower_indexes(mask, b))
                    }
                };
                if better {
                    best = Some(mask);
                }
            }
            if let Some(mask) = best {
                return Some((0..n).filter(|i| mask & (1 << i) != 0).collect());
            }
        }
        None
    }
}

/// Whether `a`'s members, listed in order, come lexicographically before `b`'s.
fn lower_indexes(a: u32, b: u32) -> bool {
    // The lowest differing bit belongs to the set that uses the lower index.
    let diff = a ^ b;
    diff != 0 && a & (diff & diff.wrapping_neg()) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel of Org1MSP, Org2MSP and Org3MSP.
    fn ctx() -> ChannelContext {
        ChannelContext::new(cairn_testkit::TestNet::new(3).config.clone()).unwrap()
    }

    fn cands(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn majority_prefers_the_local_peer() {
        let ctx = ctx();
        let p = Planner::new(&ctx, &["MAJORITY Endorsement".into()]).unwrap();
        let c = cands(&["Org3MSP", "Org1MSP", "Org2MSP"]);
        assert_eq!(p.plan(&c, &[], &[], Some(0)), Some(vec![0, 1]));
        // Without a preference the lowest indexes win.
        assert_eq!(p.plan(&c, &[], &[], None), Some(vec![0, 1]));
        // Local excluded (e.g. failed): the other two.
        assert_eq!(p.plan(&c, &[], &[0], Some(0)), Some(vec![1, 2]));
        // Two excluded: impossible.
        assert_eq!(p.plan(&c, &[], &[0, 1], Some(0)), None);
    }

    #[test]
    fn signature_policy_picks_only_named_orgs() {
        let ctx = ctx();
        let p = Planner::new(&ctx, &["AND('Org2MSP.peer', 'Org3MSP.peer')".into()]).unwrap();
        let c = cands(&["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(p.plan(&c, &[], &[], Some(0)), Some(vec![1, 2]));
        // A required member is kept even if not needed.
        assert_eq!(p.plan(&c, &[0], &[], Some(0)), Some(vec![0, 1, 2]));
    }

    #[test]
    fn several_policies_at_once_and_two_peers_of_one_org() {
        let ctx = ctx();
        let p = Planner::new(
            &ctx,
            &[
                "OR('Org1MSP.peer')".into(),
                "AND('Org2MSP.peer', 'Org2MSP.peer')".into(),
            ],
        )
        .unwrap();
        let c = cands(&["Org1MSP", "Org2MSP", "Org3MSP", "Org2MSP"]);
        assert_eq!(p.plan(&c, &[], &[], Some(0)), Some(vec![0, 1, 3]));
        let none = Planner::new(&ctx, &["AND('Org2MSP.peer', 'Org2MSP.peer')".into()]).unwrap();
        assert_eq!(none.plan(&cands(&["Org2MSP"]), &[], &[], None), None);
    }

    #[test]
    fn no_policy_needs_nobody_and_bad_policies_are_reported() {
        let ctx = ctx();
        let p = Planner::new(&ctx, &[]).unwrap();
        assert_eq!(
            p.plan(&cands(&["Org1MSP"]), &[], &[], Some(0)),
            Some(vec![])
        );
        let e = Planner::new(&ctx, &["AND(".into()]).err().unwrap();
        assert!(e.contains("does not parse"), "{e}");
    }

    #[test]
    fn policies_are_parsed_once_per_channel_config() {
        let ctx = ctx();
        let text = "AND('Org2MSP.peer', 'Org3MSP.peer')".to_string();
        let a = Planner::new(&ctx, std::slice::from_ref(&text)).unwrap();
        let b = Planner::new(&ctx, std::slice::from_ref(&text)).unwrap();
        assert!(
            Arc::ptr_eq(&a.policies[0], &b.policies[0]),
            "one parse, shared"
        );
        assert!(
            std::ptr::eq(a.orgs, ctx.orgs()),
            "the config's orgs, not a copy"
        );
        // Another config parses for itself.
        let other = self::ctx();
        let c = Planner::new(&other, &[text]).unwrap();
        assert!(!Arc::ptr_eq(&a.policies[0], &c.policies[0]));
        // A text that does not parse fails the same way every time.
        for _ in 0..2 {
            let e = ctx.policy("OR(").unwrap_err();
            assert!(!e.is_empty());
        }
    }
}
