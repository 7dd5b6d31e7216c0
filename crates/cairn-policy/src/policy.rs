//! The signature-policy tree ([`Rule`]), the validated policy
//! ([`SignaturePolicy`]) and its canonical text.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ParseError, PolicyError};
use crate::limits::{MAX_DEPTH, MAX_PRINCIPALS};
use crate::principal::{Principal, PrincipalRole};

/// One node of a signature policy: a gate over sub-rules, or a principal.
///
/// AND and OR are kept as written (Fabric turns both into `NOutOf`) so that
/// printing gives back what people wrote.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `AND(r, ...)`: every sub-rule must be satisfied.
    And(Vec<Rule>),
    /// `OR(r, ...)`: at least one sub-rule must be satisfied.
    Or(Vec<Rule>),
    /// `OutOf(n, r, ...)`: at least `n` sub-rules must be satisfied.
    OutOf(usize, Vec<Rule>),
    /// A signature from an identity matching the principal.
    SignedBy(Principal),
}

impl Rule {
    /// A `SignedBy` leaf for `msp_id` and `role`.
    pub fn signed_by(msp_id: impl Into<String>, role: PrincipalRole) -> Result<Self, PolicyError> {
        Ok(Rule::SignedBy(Principal::new(msp_id, role)?))
    }

    /// How many sub-rules must be satisfied (1 for a principal).
    pub fn threshold(&self) -> usize {
        match self {
            Rule::And(rules) => rules.len(),
            Rule::Or(_) | Rule::SignedBy(_) => 1,
            Rule::OutOf(n, _) => *n,
        }
    }

    /// The sub-rules of a gate (empty for a principal).
    pub fn rules(&self) -> &[Rule] {
        match self {
            Rule::And(rules) | Rule::Or(rules) | Rule::OutOf(_, rules) => rules,
            Rule::SignedBy(_) => &[],
        }
    }

    /// The gate's keyword as printed, or `None` for a principal.
    pub fn gate_name(&self) -> Option<&'static str> {
        match self {
            Rule::And(_) => Some("AND"),
            Rule::Or(_) => Some("OR"),
            Rule::OutOf(..) => Some("OutOf"),
            Rule::SignedBy(_) => None,
        }
    }

    /// Checks the invariants [`SignaturePolicy`] guarantees for this subtree.
    fn check(&self, depth: usize, principals: &mut usize) -> Result<(), PolicyError> {
        match self {
            Rule::SignedBy(_) => {
                *principals += 1;
                if *principals > MAX_PRINCIPALS {
                    return Err(PolicyError::TooManyPrincipals);
                }
                Ok(())
            }
            gate => {
                if depth > MAX_DEPTH {
                    return Err(PolicyError::TooDeep);
                }
                let rules = gate.rules();
                if rules.is_empty() {
                    return Err(PolicyError::EmptyGate {
                        gate: gate.gate_name().unwrap_or_default().to_owned(),
                    });
                }
                if let Rule::OutOf(n, _) = gate
                    && *n > rules.len() + 1
                {
                    return Err(PolicyError::ThresholdOutOfRange {
                        n: i64::try_from(*n).unwrap_or(i64::MAX),
                        rules: rules.len(),
                    });
                }
                rules
                    .iter()
                    .try_for_each(|rule| rule.check(depth + 1, principals))
            }
        }
    }

    fn collect_principals<'a>(&'a self, out: &mut Vec<&'a Principal>) {
        match self {
            Rule::SignedBy(p) => out.push(p),
            gate => gate
                .rules()
                .iter()
                .for_each(|rule| rule.collect_principals(out)),
        }
    }
}

/// Prints canonical text: `AND(...)`, `OR(...)`, `OutOf(n, ...)`, principals in
/// single quotes, arguments separated by `", "`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, rules) = match self {
            Rule::SignedBy(p) => return write!(f, "'{p}'"),
            Rule::And(rules) => ("AND(", rules),
            Rule::Or(rules) => ("OR(", rules),
            Rule::OutOf(n, rules) => {
                write!(f, "OutOf({n}")?;
                for rule in rules {
                    write!(f, ", {rule}")?;
                }
                return f.write_str(")");
            }
        };
        f.write_str(name)?;
        for (i, rule) in rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{rule}")?;
        }
        f.write_str(")")
    }
}

/// A signature policy that Fabric would accept: the root is a gate, every gate
/// has at least one rule, every `OutOf(n, ...)` has `n <= rules + 1` (Fabric's
/// bound; `rules + 1` can never be satisfied), nesting is at most
/// [`MAX_DEPTH`] and there are at most [`MAX_PRINCIPALS`] principals.
///
/// Text form: parse with [`str::parse`], print with `Display`; `serde` uses the
/// same canonical string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignaturePolicy {
    root: Rule,
}

impl SignaturePolicy {
    /// Validates `root` (see the type's invariants).
    pub fn new(root: Rule) -> Result<Self, PolicyError> {
        if let Rule::SignedBy(p) = &root {
            return Err(PolicyError::PrincipalAtRoot {
                principal: p.to_string(),
            });
        }
        root.check(1, &mut 0)?;
        Ok(Self { root })
    }

    /// Wraps a tree the parser already checked.
    pub(crate) fn from_checked(root: Rule) -> Self {
        debug_assert!(Self::new(root.clone()).is_ok());
        Self { root }
    }

    /// `OR('<msp_id>.<role>')`: one signature of that role, the shape of Fabric's
    /// default organization policies.
    pub fn signed_by_one(msp_id: &str, role: PrincipalRole) -> Result<Self, PolicyError> {
        Ok(Self {
            root: Rule::Or(vec![Rule::signed_by(msp_id, role)?]),
        })
    }

    /// The root gate.
    pub fn root(&self) -> &Rule {
        &self.root
    }

    /// Gives back the root gate.
    pub fn into_root(self) -> Rule {
        self.root
    }

    /// Every principal leaf, left to right (repeats included).
    pub fn principals(&self) -> Vec<&Principal> {
        let mut out = Vec::new();
        self.root.collect_principals(&mut out);
        out
    }

    /// The MSP ids the policy mentions, sorted, each once: the organizations
    /// whose signatures can count toward it (e.g. to pick endorsers).
    pub fn orgs(&self) -> BTreeSet<&str> {
        self.principals()
            .into_iter()
            .map(Principal::msp_id)
            .collect()
    }
}

impl fmt::Display for SignaturePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl FromStr for SignaturePolicy {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::parser::parse_signature_policy(s)
    }
}

impl TryFrom<Rule> for SignaturePolicy {
    type Error = PolicyError;

    fn try_from(root: Rule) -> Result<Self, Self::Error> {
        SignaturePolicy::new(root)
    }
}

impl Serialize for SignaturePolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SignaturePolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn leaf(s: &str) -> Rule {
        Rule::SignedBy(s.parse().unwrap())
    }

    #[test]
    fn prints_canonical_text() {
        let p = SignaturePolicy::new(Rule::And(vec![
            leaf("Org1MSP.peer"),
            Rule::Or(vec![leaf("Org2MSP.admin"), leaf("Org3MSP.member")]),
        ]))
        .unwrap();
        assert_eq!(
            p.to_string(),
            "AND('Org1MSP.peer', OR('Org2MSP.admin', 'Org3MSP.member'))"
        );
        let p = SignaturePolicy::new(Rule::OutOf(2, vec![leaf("A.peer"), leaf("B.peer")])).unwrap();
        assert_eq!(p.to_string(), "OutOf(2, 'A.peer', 'B.peer')");
    }

    #[test]
    fn new_enforces_fabric_invariants() {
        assert!(matches!(
            SignaturePolicy::new(leaf("A.peer")),
            Err(PolicyError::PrincipalAtRoot { .. })
        ));
        assert!(matches!(
            SignaturePolicy::new(Rule::And(vec![])),
            Err(PolicyError::EmptyGate { .. })
        ));
        assert!(matches!(
            SignaturePolicy::new(Rule::Or(vec![Rule::OutOf(0, vec![])])),
            Err(PolicyError::EmptyGate { .. })
        ));
        // n == rules + 1 is Fabric's "never satisfied" policy; one more is refused.
        assert!(SignaturePolicy::new(Rule::OutOf(2, vec![leaf("A.peer")])).is_ok());
        assert!(matches!(
            SignaturePolicy::new(Rule::OutOf(3, vec![leaf("A.peer")])),
            Err(PolicyError::ThresholdOutOfRange { n: 3, rules: 1 })
        ));
        let mut deep = leaf("A.peer");
        for _ in 0..MAX_DEPTH {
            deep = Rule::Or(vec![deep]);
        }
        assert!(SignaturePolicy::new(deep.clone()).is_ok());
        assert_eq!(
            SignaturePolicy::new(Rule::Or(vec![deep])),
            Err(PolicyError::TooDeep)
        );
    }

    #[test]
    fn orgs_lists_each_mentioned_org_once() {
        let p: SignaturePolicy = "OR(AND('B.peer', 'A.admin'), 'B.member', OutOf(1, 'C.client'))"
            .parse()
            .unwrap();
        assert_eq!(p.orgs().into_iter().collect::<Vec<_>>(), ["A", "B", "C"]);
        assert_eq!(p.principals().len(), 4);
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let p: SignaturePolicy = "and('A.peer',\"B.peer\")".parse().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#""AND('A.peer', 'B.peer')""#);
        let back: SignaturePolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let err = serde_json::from_str::<SignaturePolicy>(r#""AND('A.boss')""#).unwrap_err();
        assert!(err.to_string().contains("unknown role 'boss'"), "{err}");
    }
}
