//! Implicit meta policies (`MAJORITY Endorsement`), channel-level policies and
//! the organizations' named sub-policies they are evaluated over.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ParseError, PolicyError};
use crate::policy::SignaturePolicy;
use crate::principal::{PrincipalRole, validate_msp_id};
use crate::signer::SignerSet;

/// The names of Fabric's standard organization policies.
pub mod names {
    /// Who may administer the organization: `OR('X.admin')` by default.
    pub const ADMINS: &str = "Admins";
    /// Who may endorse transactions: `OR('X.peer')` by default.
    pub const ENDORSEMENT: &str = "Endorsement";
    /// Who may endorse lifecycle (contract definition) transactions: `OR('X.peer')` by default.
    pub const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";
    /// Who may read: `OR('X.member')` by default.
    pub const READERS: &str = "Readers";
    /// Who may submit transactions: `OR('X.member')` by default.
    pub const WRITERS: &str = "Writers";
}

/// How many organizations' sub-policies an implicit meta policy needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaRule {
    /// Every organization.
    All,
    /// At least one organization.
    Any,
    /// Strictly more than half of the organizations.
    Majority,
}

impl MetaRule {
    /// The upper-case keyword (`ALL`, `ANY`, `MAJORITY`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetaRule::All => "ALL",
            MetaRule::Any => "ANY",
            MetaRule::Majority => "MAJORITY",
        }
    }

    /// How many of `orgs` organizations must be satisfied, as Fabric computes it
    /// (`common/policies/implicitmeta.go`): ANY 1, ALL `orgs`, MAJORITY `orgs / 2 + 1`;
    /// and 0 when there are no organizations at all, so every rule is then satisfied.
    pub fn threshold(self, orgs: usize) -> usize {
        if orgs == 0 {
            return 0;
        }
        match self {
            MetaRule::All => orgs,
            MetaRule::Any => 1,
            MetaRule::Majority => orgs / 2 + 1,
        }
    }
}

impl fmt::Display for MetaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Each organization's named sub-policies, as a channel configuration holds them.
pub trait OrgPolicies {
    /// The channel's organizations (MSP ids), each once.
    fn orgs(&self) -> impl Iterator<Item = &str>;

    /// The sub-policy `name` of organization `org`, if it defines one.
    fn sub_policy(&self, org: &str, name: &str) -> Option<&SignaturePolicy>;
}

/// `RULE SubPolicy`: the rule applied to every organization's sub-policy of that name.
///
/// An organization without the sub-policy counts as not satisfied but still
/// counts toward the total, as in Fabric, where the missing policy is a reject policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImplicitMetaPolicy {
    rule: MetaRule,
    sub_policy: String,
}

/// What an implicit meta policy evaluation found, for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaOutcome {
    /// The organizations whose sub-policy is satisfied.
    pub satisfied_orgs: Vec<String>,
    /// How many had to be.
    pub required: usize,
    /// How many organizations the channel has.
    pub total: usize,
}

impl MetaOutcome {
    /// Whether enough organizations were satisfied.
    pub fn is_satisfied(&self) -> bool {
        self.satisfied_orgs.len() >= self.required
    }
}

impl ImplicitMetaPolicy {
    /// `rule` over the sub-policy `sub_policy`; the name must be letters, digits, `.`, `_` or `-`.
    pub fn new(rule: MetaRule, sub_policy: impl Into<String>) -> Result<Self, PolicyError> {
        let sub_policy = sub_policy.into();
        let ok = !sub_policy.is_empty()
            && sub_policy
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(PolicyError::InvalidSubPolicyName { name: sub_policy });
        }
        Ok(Self { rule, sub_policy })
    }

    /// The rule.
    pub fn rule(&self) -> MetaRule {
        self.rule
    }

    /// The sub-policy name.
    pub fn sub_policy(&self) -> &str {
        &self.sub_policy
    }

    fn org_satisfied<P: OrgPolicies>(&self, orgs: &P, org: &str, signers: &SignerSet) -> bool {
        orgs.sub_policy(org, &self.sub_policy)
            .is_some_and(|p| p.is_satisfied_by(signers))
    }

    /// Whether enough organizations' sub-policies are satisfied by `signers`.
    /// Each sub-policy is evaluated on its own against all the signers.
    pub fn is_satisfied_by<P: OrgPolicies>(&self, orgs: &P, signers: &SignerSet) -> bool {
        let required = self.rule.threshold(orgs.orgs().count());
        if required == 0 {
            return true;
        }
        let mut satisfied = 0;
        for org in orgs.orgs() {
            if self.org_satisfied(orgs, org, signers) {
                satisfied += 1;
                if satisfied >= required {
                    return true;
                }
            }
        }
        false
    }

    /// Evaluates every organization and reports which were satisfied.
    pub fn evaluate<P: OrgPolicies>(&self, orgs: &P, signers: &SignerSet) -> MetaOutcome {
        let mut total = 0;
        let mut satisfied_orgs = Vec::new();
        for org in orgs.orgs() {
            total += 1;
            if self.org_satisfied(orgs, org, signers) {
                satisfied_orgs.push(org.to_owned());
            }
        }
        MetaOutcome {
            satisfied_orgs,
            required: self.rule.threshold(total),
            total,
        }
    }
}

impl fmt::Display for ImplicitMetaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rule, self.sub_policy)
    }
}

impl FromStr for ImplicitMetaPolicy {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::parser::parse_implicit_meta(s)
    }
}

/// A channel-level policy: an implicit meta policy over the organizations, or a
/// signature policy. Parsed from, printed as and serialized as one string,
/// e.g. `"MAJORITY Endorsement"` or `"AND('Org1MSP.peer', 'Org2MSP.peer')"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChannelPolicy {
    /// `ANY|ALL|MAJORITY SubPolicy`.
    ImplicitMeta(ImplicitMetaPolicy),
    /// A signature policy.
    Signature(SignaturePolicy),
}

impl ChannelPolicy {
    /// Whether `signers` satisfy the policy; `orgs` supplies the organizations'
    /// sub-policies (unused for a signature policy).
    pub fn is_satisfied_by<P: OrgPolicies>(&self, orgs: &P, signers: &SignerSet) -> bool {
        match self {
            ChannelPolicy::ImplicitMeta(meta) => meta.is_satisfied_by(orgs, signers),
            ChannelPolicy::Signature(policy) => policy.is_satisfied_by(signers),
        }
    }
}

impl From<SignaturePolicy> for ChannelPolicy {
    fn from(policy: SignaturePolicy) -> Self {
        ChannelPolicy::Signature(policy)
    }
}

impl From<ImplicitMetaPolicy> for ChannelPolicy {
    fn from(policy: ImplicitMetaPolicy) -> Self {
        ChannelPolicy::ImplicitMeta(policy)
    }
}

impl fmt::Display for ChannelPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelPolicy::ImplicitMeta(meta) => meta.fmt(f),
            ChannelPolicy::Signature(policy) => policy.fmt(f),
        }
    }
}

impl FromStr for ChannelPolicy {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::parser::parse_channel_policy(s)
    }
}

macro_rules! serde_as_string {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_string!(ChannelPolicy, ImplicitMetaPolicy);

/// Fabric's default policies for organization `msp_id`: Readers and Writers
/// `OR('X.member')`, Admins `OR('X.admin')`, Endorsement and
/// LifecycleEndorsement `OR('X.peer')`.
pub fn fabric_default_org_policies(
    msp_id: &str,
) -> Result<BTreeMap<String, SignaturePolicy>, PolicyError> {
    let member = SignaturePolicy::signed_by_one(msp_id, PrincipalRole::Member)?;
    let admin = SignaturePolicy::signed_by_one(msp_id, PrincipalRole::Admin)?;
    let peer = SignaturePolicy::signed_by_one(msp_id, PrincipalRole::Peer)?;
    Ok(BTreeMap::from([
        (names::READERS.to_owned(), member.clone()),
        (names::WRITERS.to_owned(), member),
        (names::ADMINS.to_owned(), admin),
        (names::ENDORSEMENT.to_owned(), peer.clone()),
        (names::LIFECYCLE_ENDORSEMENT.to_owned(), peer),
    ]))
}

/// A channel's organizations and their named sub-policies; serializes as
/// `{"Org1MSP": {"Endorsement": "OR('Org1MSP.peer')", ...}, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, BTreeMap<String, SignaturePolicy>>",
    into = "BTreeMap<String, BTreeMap<String, SignaturePolicy>>"
)]
pub struct ChannelOrgs {
    orgs: BTreeMap<String, BTreeMap<String, SignaturePolicy>>,
}

impl ChannelOrgs {
    /// No organizations.
    pub fn new() -> Self {
        Self::default()
    }

    /// The organizations `msp_ids`, each with [`fabric_default_org_policies`].
    pub fn with_fabric_defaults<I, S>(msp_ids: I) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut orgs = ChannelOrgs::new();
        for msp_id in msp_ids {
            let msp_id = msp_id.as_ref();
            orgs.insert_org(msp_id, fabric_default_org_policies(msp_id)?)?;
        }
        Ok(orgs)
    }

    /// Adds (or replaces) organization `msp_id` with its named policies.
    pub fn insert_org(
        &mut self,
        msp_id: impl Into<String>,
        policies: BTreeMap<String, SignaturePolicy>,
    ) -> Result<(), PolicyError> {
        let msp_id = msp_id.into();
        validate_msp_id(&msp_id)?;
        self.orgs.insert(msp_id, policies);
        Ok(())
    }

    /// Sets organization `msp_id`'s policy `name`, adding the organization if needed.
    pub fn insert_policy(
        &mut self,
        msp_id: &str,
        name: impl Into<String>,
        policy: SignaturePolicy,
    ) -> Result<(), PolicyError> {
        validate_msp_id(msp_id)?;
        self.orgs
            .entry(msp_id.to_owned())
            .or_default()
            .insert(name.into(), policy);
        Ok(())
    }

    /// Removes organization `msp_id`, returning its policies.
    pub fn remove_org(&mut self, msp_id: &str) -> Option<BTreeMap<String, SignaturePolicy>> {
        self.orgs.remove(msp_id)
    }

    /// Organization `msp_id`'s named policies.
    pub fn policies(&self, msp_id: &str) -> Option<&BTreeMap<String, SignaturePolicy>> {
        self.orgs.get(msp_id)
    }

    /// Number of organizations.
    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    /// Whether there is no organization.
    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }
}

impl OrgPolicies for ChannelOrgs {
    fn orgs(&self) -> impl Iterator<Item = &str> {
        self.orgs.keys().map(String::as_str)
    }

    fn sub_policy(&self, org: &str, name: &str) -> Option<&SignaturePolicy> {
        self.orgs.get(org)?.get(name)
    }
}

impl TryFrom<BTreeMap<String, BTreeMap<String, SignaturePolicy>>> for ChannelOrgs {
    type Error = PolicyError;

    fn try_from(
        orgs: BTreeMap<String, BTreeMap<String, SignaturePolicy>>,
    ) -> Result<Self, Self::Error> {
        orgs.keys().try_for_each(|msp_id| validate_msp_id(msp_id))?;
        Ok(Self { orgs })
    }
}

impl From<ChannelOrgs> for BTreeMap<String, BTreeMap<String, SignaturePolicy>> {
    fn from(orgs: ChannelOrgs) -> Self {
        orgs.orgs
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::signer::Signer;

    fn signers(specs: &[&str]) -> SignerSet {
        specs.iter().map(|s| s.parse::<Signer>().unwrap()).collect()
    }

    #[test]
    fn thresholds_follow_fabric() {
        assert_eq!(MetaRule::Majority.threshold(3), 2);
        assert_eq!(MetaRule::Majority.threshold(4), 3);
        assert_eq!(MetaRule::Majority.threshold(1), 1);
        assert_eq!(MetaRule::All.threshold(4), 4);
        assert_eq!(MetaRule::Any.threshold(4), 1);
        for rule in [MetaRule::All, MetaRule::Any, MetaRule::Majority] {
            assert_eq!(rule.threshold(0), 0);
        }
    }

    #[test]
    fn majority_endorsement_over_three_orgs() {
        let orgs = ChannelOrgs::with_fabric_defaults(["Org1MSP", "Org2MSP", "Org3MSP"]).unwrap();
        let p: ChannelPolicy = "MAJORITY Endorsement".parse().unwrap();
        assert!(!p.is_satisfied_by(&orgs, &signers(&["Org1MSP.peer"])));
        assert!(p.is_satisfied_by(&orgs, &signers(&["Org1MSP.peer", "Org3MSP.peer"])));
        // Admins are not peers: Endorsement is OR('X.peer').
        assert!(!p.is_satisfied_by(&orgs, &signers(&["Org1MSP.peer", "Org3MSP.admin"])));
        let meta: ImplicitMetaPolicy = "MAJORITY Endorsement".parse().unwrap();
        let outcome = meta.evaluate(&orgs, &signers(&["Org1MSP.peer", "Org3MSP.peer"]));
        assert_eq!(outcome.satisfied_orgs, ["Org1MSP", "Org3MSP"]);
        assert_eq!((outcome.required, outcome.total), (2, 3));
        assert!(outcome.is_satisfied());
    }

    #[test]
    fn org_without_the_sub_policy_counts_as_unsatisfied() {
        let mut orgs = ChannelOrgs::with_fabric_defaults(["Org1MSP", "Org2MSP"]).unwrap();
        orgs.insert_org("Org3MSP", BTreeMap::new()).unwrap();
        let p: ImplicitMetaPolicy = "ALL Readers".parse().unwrap();
        let all = signers(&["Org1MSP.client", "Org2MSP.client", "Org3MSP.client"]);
        assert!(!p.is_satisfied_by(&orgs, &all));
        let p: ImplicitMetaPolicy = "MAJORITY Readers".parse().unwrap();
        assert!(p.is_satisfied_by(&orgs, &all));
    }

    #[test]
    fn no_orgs_means_satisfied_as_in_fabric() {
        let p: ImplicitMetaPolicy = "ANY Readers".parse().unwrap();
        assert!(p.is_satisfied_by(&ChannelOrgs::new(), &SignerSet::new()));
    }

    #[test]
    fn serde_round_trip() {
        let orgs = ChannelOrgs::with_fabric_defaults(["Org1MSP"]).unwrap();
        let json = serde_json::to_string(&orgs).unwrap();
        assert!(
            json.contains(r#""Endorsement":"OR('Org1MSP.peer')""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<ChannelOrgs>(&json).unwrap(), orgs);
        assert!(serde_json::from_str::<ChannelOrgs>(r#"{"Bad MSP": {}}"#).is_err());
        let p: ChannelPolicy = serde_json::from_str(r#""MAJORITY Endorsement""#).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#""MAJORITY Endorsement""#
        );
        let p: ChannelPolicy = serde_json::from_str(r#""OR('A.peer')""#).unwrap();
        assert!(matches!(p, ChannelPolicy::Signature(_)));
    }
}
