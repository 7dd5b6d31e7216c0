//! Exact evaluation of a signature policy against a set of signers.
//!
//! # The question
//!
//! Is there an assignment of distinct signers to principal leaves such that the
//! gates, counting their assigned leaves bottom-up, make the root true? One
//! signer may satisfy at most one leaf in the whole tree.
//!
//! # How
//!
//! Signers of the same `(msp_id, role)` are interchangeable, so only the count
//! per such *class* matters. A class is *contested* when fewer signers are in it
//! than leaves that could use it; a class that is not contested can never run
//! out, so leaves using it are free. When no class is contested (the usual case:
//! one principal per organization), the policy is a plain boolean formula.
//!
//! Otherwise each subtree is summarised by the set of its minimal *demands*: a
//! vector of how many signers of each contested class one way of satisfying it
//! consumes. A gate combines its children's sets like a 0/1 knapsack over "how
//! many children satisfied so far", dropping demands that exceed the supply and
//! demands that another one undercuts in every class (needing less never hurts).
//! The root is satisfied iff its set is non-empty. This is exact, and its cost
//! is bounded by the number of demand vectors under the supply of the contested
//! classes, which stays tiny for real policies.

use crate::policy::{Rule, SignaturePolicy};
use crate::principal::Principal;
use crate::signer::{SignerClass, SignerSet};

/// Signers needed per contested class.
type Demand = Vec<u32>;

/// What a subtree can be satisfied with, and which contested classes its leaves touch.
struct Summary {
    /// Minimal demands, with classes no leaf outside the subtree uses zeroed out.
    demands: Vec<Demand>,
    /// Per contested class, how many leaves of the subtree accept it.
    uses: Vec<u32>,
}

struct Context<'a> {
    classes: &'a [SignerClass],
    /// For each class: its dimension in a demand vector, or `None` if not contested.
    dim: Vec<Option<usize>>,
    supply: Vec<u32>,
    /// Per contested class, how many leaves of the whole policy accept it.
    total_uses: Vec<u32>,
}

impl Context<'_> {
    fn width(&self) -> usize {
        self.supply.len()
    }

    fn leaf(&self, p: &Principal) -> Summary {
        let mut uses = vec![0; self.width()];
        let mut demands = Vec::new();
        let mut free = false;
        for (class, c) in self.classes.iter().enumerate() {
            if c.count == 0 || !p.accepts(&c.msp_id, c.role) {
                continue;
            }
            match self.dim[class] {
                None => free = true,
                Some(d) => {
                    uses[d] += 1;
                    let mut demand = vec![0; self.width()];
                    demand[d] = 1;
                    demands.push(demand);
                }
            }
        }
        if free {
            demands = vec![vec![0; self.width()]];
        }
        Summary { demands, uses }
    }

    fn summary(&self, rule: &Rule) -> Summary {
        let rules = match rule {
            Rule::SignedBy(p) => return self.leaf(p),
            gate => gate.rules(),
        };
        let width = self.width();
        let need = rule.threshold();
        let children: Vec<Summary> = rules.iter().map(|r| self.summary(r)).collect();
        let mut uses = vec![0; width];
        for child in &children {
            for (u, c) in uses.iter_mut().zip(&child.uses) {
                *u += c;
            }
        }
        let mut free = 0;
        let mut costly: Vec<&Summary> = Vec::new();
        for child in &children {
            if child.demands.iter().any(|d| d.iter().all(|&x| x == 0)) {
                free += 1;
            } else if !child.demands.is_empty() {
                costly.push(child);
            }
        }
        let demands = if need == 0 {
            vec![vec![0; width]]
        } else if free + costly.len() < need {
            Vec::new()
        } else {
            self.combine(need, free, costly, &uses)
        };
        Summary { demands, uses }
    }

    /// The 0/1 knapsack over children described in the module docs. Children
    /// touching the same classes are processed next to each other, and a class
    /// is zeroed out as soon as no later leaf (here or outside this gate) can use
    /// it, which keeps the demand sets small.
    fn combine(
        &self,
        need: usize,
        free: usize,
        mut costly: Vec<&Summary>,
        uses: &[u32],
    ) -> Vec<Demand> {
        let width = self.width();
        costly.sort_by_key(|child| child.uses.iter().position(|&u| u > 0));
        // Uses already accounted for: free and empty children never touch the vectors.
        let mut done: Vec<u32> = uses.to_vec();
        for child in &costly {
            for (d, c) in done.iter_mut().zip(&child.uses) {
                *d -= c;
            }
        }
        let mut layers: Vec<Vec<Demand>> = vec![Vec::new(); need + 1];
        // Satisfying a free child costs nothing, so take all of them first.
        let start = free.min(need);
        layers[start].push(vec![0; width]);
        for (seen, child) in costly.iter().enumerate() {
            let top = (start + seen).min(need - 1);
            for k in (start..=top).rev() {
                let mut next = Vec::new();
                for base in &layers[k] {
                    for add in &child.demands {
                        if let Some(sum) = self.add_within_supply(base, add) {
                            next.push(sum);
                        }
                    }
                }
                for demand in next {
                    insert_minimal(&mut layers[k + 1], demand);
                }
            }
            let mut closed = Vec::new();
            for (d, c) in child.uses.iter().enumerate() {
                if *c > 0 {
                    done[d] += c;
                    if done[d] == self.total_uses[d] {
                        closed.push(d);
                    }
                }
            }
            if !closed.is_empty() {
                for layer in &mut layers[start..] {
                    let old = std::mem::take(layer);
                    for mut demand in old {
                        for &d in &closed {
                            demand[d] = 0;
                        }
                        insert_minimal(layer, demand);
                    }
                }
            }
        }
        layers.swap_remove(need)
    }

    fn add_within_supply(&self, a: &[u32], b: &[u32]) -> Option<Demand> {
        a.iter()
            .zip(b)
            .zip(&self.supply)
            .map(|((x, y), cap)| {
                let sum = x + y;
                (sum <= *cap).then_some(sum)
            })
            .collect()
    }
}

/// Adds `demand` to the antichain `set` unless something there needs no more in
/// every class; removes what `demand` undercuts.
fn insert_minimal(set: &mut Vec<Demand>, demand: Demand) {
    let le = |a: &[u32], b: &[u32]| a.iter().zip(b).all(|(x, y)| x <= y);
    if set.iter().any(|d| le(d, &demand)) {
        return;
    }
    set.retain(|d| !le(&demand, d));
    set.push(demand);
}

/// Boolean evaluation when no class is contested.
fn boolean(rule: &Rule, classes: &[SignerClass]) -> bool {
    match rule {
        Rule::SignedBy(p) => classes
            .iter()
            .any(|c| c.count > 0 && p.accepts(&c.msp_id, c.role)),
        gate => {
            let need = gate.threshold();
            let mut got = 0;
            for child in gate.rules() {
                if got >= need {
                    break;
                }
                if boolean(child, classes) {
                    got += 1;
                }
            }
            got >= need
        }
    }
}

fn count_leaf_demand(rule: &Rule, classes: &[SignerClass], demand: &mut [usize]) {
    match rule {
        Rule::SignedBy(p) => {
            for (i, c) in classes.iter().enumerate() {
                if p.accepts(&c.msp_id, c.role) {
                    demand[i] += 1;
                }
            }
        }
        gate => gate
            .rules()
            .iter()
            .for_each(|child| count_leaf_demand(child, classes, demand)),
    }
}

/// The fewest signers that could satisfy `rule` (`usize::MAX` if none can).
fn min_signers(rule: &Rule) -> usize {
    match rule {
        Rule::SignedBy(_) => 1,
        gate => {
            let need = gate.threshold();
            let mut mins: Vec<usize> = gate.rules().iter().map(min_signers).collect();
            if need > mins.len() {
                return usize::MAX;
            }
            mins.sort_unstable();
            mins.into_iter()
                .take(need)
                .fold(0, |total, m| total.saturating_add(m))
        }
    }
}

impl SignaturePolicy {
    /// Whether `signers` satisfy this policy, each distinct signer counting for at
    /// most one principal in the whole policy (see the crate docs for how this
    /// differs from Fabric's greedy evaluator).
    pub fn is_satisfied_by(&self, signers: &SignerSet) -> bool {
        let classes = signers.classes();
        let mut leaf_demand = vec![0usize; classes.len()];
        count_leaf_demand(self.root(), classes, &mut leaf_demand);
        let usable: usize = classes
            .iter()
            .zip(&leaf_demand)
            .filter(|(_, demand)| **demand > 0)
            .map(|(c, _)| c.count)
            .sum();
        // Cheap rejection before any search: too few signers that any leaf accepts.
        if usable < min_signers(self.root()) {
            return false;
        }
        let mut dim = vec![None; classes.len()];
        let mut supply = Vec::new();
        let mut total_uses = Vec::new();
        for (i, class) in classes.iter().enumerate() {
            if class.count < leaf_demand[i] {
                dim[i] = Some(supply.len());
                // count < leaf_demand <= MAX_PRINCIPALS, so both fit.
                supply.push(u32::try_from(class.count).unwrap_or(u32::MAX));
                total_uses.push(u32::try_from(leaf_demand[i]).unwrap_or(u32::MAX));
            }
        }
        if supply.is_empty() {
            return boolean(self.root(), classes);
        }
        let ctx = Context {
            classes,
            dim,
            supply,
            total_uses,
        };
        !ctx.summary(self.root()).demands.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::signer::Signer;

    fn policy(s: &str) -> SignaturePolicy {
        s.parse().unwrap()
    }

    fn signers(specs: &[&str]) -> SignerSet {
        specs.iter().map(|s| s.parse::<Signer>().unwrap()).collect()
    }

    #[test]
    fn one_signature_cannot_fill_two_leaves() {
        let p = policy("AND('Org1MSP.member', 'Org1MSP.member')");
        assert!(!p.is_satisfied_by(&signers(&["Org1MSP.peer"])));
        assert!(!p.is_satisfied_by(&signers(&["Org1MSP.peer", "Org1MSP.peer"])));
        assert!(p.is_satisfied_by(&signers(&["Org1MSP.peer#1", "Org1MSP.peer#2"])));
        assert!(p.is_satisfied_by(&signers(&["Org1MSP.peer", "Org1MSP.admin"])));
    }

    #[test]
    fn exact_where_fabric_greedy_fails() {
        // Fabric's cauthdsl gives the admin to 'member' first, then has nobody for
        // 'admin'. Assigning the peer to 'member' satisfies both.
        let p = policy("AND('Org1MSP.member', 'Org1MSP.admin')");
        assert!(p.is_satisfied_by(&signers(&["Org1MSP.admin", "Org1MSP.peer"])));
        // The same trap one level down: OR takes the first satisfiable branch.
        let p = policy("AND(OR('A.member', 'B.member'), 'A.peer')");
        assert!(p.is_satisfied_by(&signers(&["A.peer", "B.client"])));
        assert!(!p.is_satisfied_by(&signers(&["A.peer"])));
    }

    #[test]
    fn out_of_counts_distinct_children() {
        let p = policy("OutOf(2, 'A.peer', 'A.peer', 'B.peer')");
        assert!(!p.is_satisfied_by(&signers(&["A.peer"])));
        assert!(p.is_satisfied_by(&signers(&["A.peer#1", "A.peer#2"])));
        assert!(p.is_satisfied_by(&signers(&["A.peer", "B.peer"])));
        let never = policy("OutOf(3, 'A.peer', 'B.peer')");
        assert!(!never.is_satisfied_by(&signers(&["A.peer", "B.peer"])));
        let always = policy("OutOf(0, 'A.peer')");
        assert!(always.is_satisfied_by(&SignerSet::new()));
    }

    #[test]
    fn nested_contention() {
        // AND(OR(AND(a, b), AND(a, a)), a) with a = Org1 member, b = Org2 member.
        let p = policy(
            "AND(OR(AND('O1.member', 'O2.member'), AND('O1.member', 'O1.member')), 'O1.member')",
        );
        assert!(p.is_satisfied_by(&signers(&["O1.peer#1", "O2.peer", "O1.peer#2"])));
        assert!(p.is_satisfied_by(&signers(&["O1.peer#1", "O1.peer#2", "O1.peer#3"])));
        assert!(!p.is_satisfied_by(&signers(&["O1.peer", "O2.peer"])));
        assert!(!p.is_satisfied_by(&signers(&["O1.peer", "O2.peer#1", "O2.peer#2"])));
    }

    #[test]
    fn larger_contended_policy_is_exact() {
        // Eight orgs, each needed twice by 'member' leaves but with one admin and
        // one peer each: needs the solver to pair classes correctly.
        let orgs: Vec<String> = (0..8).map(|i| format!("O{i}")).collect();
        let leaves: Vec<String> = orgs
            .iter()
            .flat_map(|o| [format!("'{o}.member'"), format!("'{o}.admin'")])
            .collect();
        let p = policy(&format!("OutOf(16, {})", leaves.join(", ")));
        let mut specs: Vec<String> = orgs
            .iter()
            .flat_map(|o| [format!("{o}.admin"), format!("{o}.peer")])
            .collect();
        let set: SignerSet = specs.iter().map(|s| s.parse::<Signer>().unwrap()).collect();
        assert!(p.is_satisfied_by(&set));
        specs.retain(|s| s != "O7.peer");
        let set: SignerSet = specs.iter().map(|s| s.parse::<Signer>().unwrap()).collect();
        assert!(!p.is_satisfied_by(&set));
    }
}
