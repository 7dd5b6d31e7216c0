//! Which sets of organizations can satisfy a policy (for picking endorsers).

use std::collections::BTreeSet;

use crate::policy::{Rule, SignaturePolicy};

/// A set of organizations as a bitset over the policy's sorted org list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OrgBits(Vec<u64>);

impl OrgBits {
    fn empty(width: usize) -> Self {
        OrgBits(vec![0; width.div_ceil(64)])
    }

    fn single(width: usize, i: usize) -> Self {
        let mut bits = Self::empty(width);
        bits.0[i / 64] |= 1 << (i % 64);
        bits
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    fn without(&self, i: usize) -> Self {
        let mut bits = self.clone();
        bits.0[i / 64] &= !(1 << (i % 64));
        bits
    }

    fn union(&self, other: &Self) -> Self {
        OrgBits(self.0.iter().zip(&other.0).map(|(a, b)| a | b).collect())
    }

    fn is_subset(&self, other: &Self) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }

    fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

struct Solver<'a> {
    orgs: Vec<&'a str>,
    limit: usize,
}

impl Solver<'_> {
    fn index(&self, msp_id: &str) -> usize {
        // Every principal's org is in `orgs` (built from the same policy).
        self.orgs.binary_search(&msp_id).unwrap_or(0)
    }

    /// Whether the orgs in `bits`, with as many signers as needed, satisfy `rule`.
    fn satisfied(&self, rule: &Rule, bits: &OrgBits) -> bool {
        match rule {
            Rule::SignedBy(p) => bits.contains(self.index(p.msp_id())),
            gate => {
                let got = gate
                    .rules()
                    .iter()
                    .filter(|r| self.satisfied(r, bits))
                    .count();
                got >= gate.threshold()
            }
        }
    }

    /// Up to `limit` small, pairwise incomparable org sets that satisfy `rule`.
    fn sets(&self, rule: &Rule) -> Vec<OrgBits> {
        let width = self.orgs.len();
        let rules = match rule {
            Rule::SignedBy(p) => return vec![OrgBits::single(width, self.index(p.msp_id()))],
            gate => gate.rules(),
        };
        let need = rule.threshold();
        if need == 0 {
            return vec![OrgBits::empty(width)];
        }
        let mut layers: Vec<Vec<OrgBits>> = vec![Vec::new(); need + 1];
        layers[0].push(OrgBits::empty(width));
        for (seen, child) in rules.iter().enumerate() {
            let child_sets = self.sets(child);
            for k in (0..=seen.min(need - 1)).rev() {
                let mut next = Vec::new();
                for base in &layers[k] {
                    for add in &child_sets {
                        next.push(base.union(add));
                    }
                }
                for set in next {
                    insert_minimal(&mut layers[k + 1], set);
                }
                truncate(&mut layers[k + 1], self.limit);
            }
        }
        layers.swap_remove(need)
    }
}

fn insert_minimal(layer: &mut Vec<OrgBits>, set: OrgBits) {
    if layer.iter().any(|s| s.is_subset(&set)) {
        return;
    }
    layer.retain(|s| !set.is_subset(s));
    layer.push(set);
}

/// Keeps the `limit` smallest sets (ties in a fixed order) so work stays bounded.
fn truncate(layer: &mut Vec<OrgBits>, limit: usize) {
    if layer.len() > limit {
        layer.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        layer.truncate(limit);
    }
}

impl SignaturePolicy {
    /// Up to `limit` minimal sets of organizations that can satisfy the policy,
    /// smallest first, assuming each organization can supply as many distinct
    /// signers of each role as the policy asks for (so `AND('A.peer','A.peer')`
    /// gives `{A}`, and needs two of A's peers).
    ///
    /// Every set returned satisfies the policy and loses that property if any
    /// organization is removed. When there are more than `limit` such sets, the
    /// search keeps only the smallest candidates at each gate, so the ones
    /// returned are a sample biased toward small sets, not necessarily all of
    /// the smallest.
    pub fn minimal_org_sets(&self, limit: usize) -> Vec<BTreeSet<&str>> {
        if limit == 0 {
            return Vec::new();
        }
        let orgs: Vec<&str> = self.orgs().into_iter().collect();
        let solver = Solver { orgs, limit };
        let mut found: Vec<OrgBits> = Vec::new();
        for candidate in solver.sets(self.root()) {
            // Truncation may have dropped a subset of this candidate, so shrink it.
            let mut set = candidate;
            for i in 0..solver.orgs.len() {
                if set.contains(i) {
                    let smaller = set.without(i);
                    if solver.satisfied(self.root(), &smaller) {
                        set = smaller;
                    }
                }
            }
            if !found.contains(&set) {
                found.push(set);
            }
        }
        found.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        found.truncate(limit);
        found
            .iter()
            .map(|bits| {
                (0..solver.orgs.len())
                    .filter(|&i| bits.contains(i))
                    .map(|i| solver.orgs[i])
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn sets(policy: &str, limit: usize) -> Vec<Vec<String>> {
        let p: SignaturePolicy = policy.parse().unwrap();
        p.minimal_org_sets(limit)
            .into_iter()
            .map(|s| s.into_iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn majority_of_three() {
        assert_eq!(
            sets("OutOf(2, 'A.peer', 'B.peer', 'C.peer')", 10),
            [["A", "B"], ["A", "C"], ["B", "C"]]
        );
    }

    #[test]
    fn nested_and_redundant() {
        assert_eq!(
            sets("OR('A.member', AND('B.member', 'C.member'))", 10),
            vec![vec!["A"], vec!["B", "C"]]
        );
        // {A, B} is not minimal: {A} alone satisfies.
        assert_eq!(sets("OR(AND('A.peer', 'B.peer'), 'A.admin')", 10), [["A"]]);
        assert_eq!(sets("AND('A.peer', 'A.admin')", 10), [["A"]]);
    }

    #[test]
    fn limit_bounds_the_answer_and_results_stay_minimal() {
        let leaves: Vec<String> = (0..30).map(|i| format!("'O{i:02}.peer'")).collect();
        let p: SignaturePolicy = format!("OutOf(15, {})", leaves.join(", ")).parse().unwrap();
        let found = p.minimal_org_sets(5);
        assert_eq!(found.len(), 5);
        for set in found {
            assert_eq!(set.len(), 15);
        }
        assert!(sets("OR('A.peer')", 0).is_empty());
    }
}
