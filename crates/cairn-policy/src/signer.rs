//! Signers (identities whose signatures were already verified) and the
//! deduplicated set that policies are evaluated against.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{ParseError, PolicyError};
use crate::principal::{Role, split_principal, validate_msp_id};

/// One identity that signed: its organization, its NodeOU role and something
/// that identifies it uniquely within the organization (serialized certificate,
/// certificate hash, name...). Signature checking happens before policies see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signer {
    /// The organization's MSP id.
    pub msp_id: String,
    /// The identity's role.
    pub role: Role,
    /// Identifies the identity within `msp_id`; two signers with the same
    /// `msp_id` and `id` are one identity and count once.
    pub id: Vec<u8>,
}

impl Signer {
    /// A signer of `msp_id` with `role`, identified by `id`.
    pub fn new(msp_id: impl Into<String>, role: Role, id: impl Into<Vec<u8>>) -> Self {
        Self {
            msp_id: msp_id.into(),
            role,
            id: id.into(),
        }
    }
}

/// Parses the command-line notation `MSPID.role[#n]`, e.g. `Org1MSP.peer#2`.
///
/// The identity's `id` is the whole text, so `Org1MSP.peer` given twice is one
/// signer while `Org1MSP.peer#1` and `Org1MSP.peer#2` are two different peers.
/// Positions in errors are byte offsets into the text.
impl FromStr for Signer {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let principal = match text.rsplit_once('#') {
            Some((principal, n)) => {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::new(
                        principal.len() + 1,
                        PolicyError::InvalidPrincipal {
                            text: text.to_owned(),
                        },
                    ));
                }
                principal
            }
            None => text,
        };
        let (msp_id, role, role_at) =
            split_principal(principal).map_err(|e| ParseError::new(0, e))?;
        validate_msp_id(msp_id).map_err(|e| ParseError::new(0, e))?;
        let role = role.parse().map_err(|e| ParseError::new(role_at, e))?;
        Ok(Signer::new(msp_id, role, text.as_bytes()))
    }
}

/// A deduplicated set of signers, ready for evaluating policies.
///
/// A signer whose `(msp_id, id)` is already present is ignored, as Fabric's
/// `deduplicate` does (the first occurrence wins), so one identity signing twice
/// never counts as two signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignerSet {
    by_identity: BTreeMap<(String, Vec<u8>), Role>,
    classes: Vec<SignerClass>,
}

/// How many distinct signers one `(msp_id, role)` pair has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignerClass {
    pub(crate) msp_id: String,
    pub(crate) role: Role,
    pub(crate) count: usize,
}

impl SignerSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `signer`; returns `false` (and changes nothing) if the same identity is already in.
    pub fn insert(&mut self, signer: Signer) -> bool {
        let Signer { msp_id, role, id } = signer;
        let key = (msp_id, id);
        if self.by_identity.contains_key(&key) {
            return false;
        }
        match self
            .classes
            .iter_mut()
            .find(|c| c.role == role && c.msp_id == key.0)
        {
            Some(class) => class.count += 1,
            None => self.classes.push(SignerClass {
                msp_id: key.0.clone(),
                role,
                count: 1,
            }),
        }
        self.by_identity.insert(key, role);
        true
    }

    /// Number of distinct signers.
    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    /// Whether there is no signer.
    pub fn is_empty(&self) -> bool {
        self.by_identity.is_empty()
    }

    /// Number of distinct signers of `msp_id` with `role`.
    pub fn count(&self, msp_id: &str, role: Role) -> usize {
        self.classes
            .iter()
            .find(|c| c.role == role && c.msp_id == msp_id)
            .map_or(0, |c| c.count)
    }

    /// The distinct signers as `(msp_id, role, id)`, ordered by MSP id then id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Role, &[u8])> {
        self.by_identity
            .iter()
            .map(|((msp_id, id), role)| (msp_id.as_str(), *role, id.as_slice()))
    }

    /// The MSP ids that have at least one signer, sorted, each once.
    pub fn msp_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.classes.iter().map(|c| c.msp_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub(crate) fn classes(&self) -> &[SignerClass] {
        &self.classes
    }
}

impl FromIterator<Signer> for SignerSet {
    fn from_iter<I: IntoIterator<Item = Signer>>(iter: I) -> Self {
        let mut set = SignerSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<Signer> for SignerSet {
    fn extend<I: IntoIterator<Item = Signer>>(&mut self, iter: I) {
        for signer in iter {
            self.insert(signer);
        }
    }
}

impl<'a> FromIterator<&'a Signer> for SignerSet {
    fn from_iter<I: IntoIterator<Item = &'a Signer>>(iter: I) -> Self {
        iter.into_iter().cloned().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn same_identity_counts_once() {
        let mut set = SignerSet::new();
        assert!(set.insert(Signer::new("Org1MSP", Role::Peer, b"p0".to_vec())));
        assert!(!set.insert(Signer::new("Org1MSP", Role::Peer, b"p0".to_vec())));
        assert!(set.insert(Signer::new("Org1MSP", Role::Peer, b"p1".to_vec())));
        // Same id in another org is another identity.
        assert!(set.insert(Signer::new("Org2MSP", Role::Peer, b"p0".to_vec())));
        assert_eq!(set.len(), 3);
        assert_eq!(set.count("Org1MSP", Role::Peer), 2);
        assert_eq!(set.count("Org1MSP", Role::Admin), 0);
        assert_eq!(set.msp_ids(), vec!["Org1MSP", "Org2MSP"]);
    }

    #[test]
    fn spec_notation() {
        let s: Signer = "Org1MSP.peer#2".parse().unwrap();
        assert_eq!(s.msp_id, "Org1MSP");
        assert_eq!(s.role, Role::Peer);
        assert_eq!(s.id, b"Org1MSP.peer#2");
        let s: Signer = "MSP.WITH.DOTS.admin".parse().unwrap();
        assert_eq!(s.msp_id, "MSP.WITH.DOTS");
        assert_eq!(s.role, Role::Admin);
    }

    #[test]
    fn bad_specs_name_the_problem_and_position() {
        let e = "Org1MSP.member".parse::<Signer>().unwrap_err();
        assert_eq!(e.position, 8);
        assert!(matches!(e.kind, PolicyError::UnknownRole { .. }));
        let e = "Org1MSP.peer#x".parse::<Signer>().unwrap_err();
        assert_eq!(e.position, 13);
        let e = "Org1MSP".parse::<Signer>().unwrap_err();
        assert!(matches!(e.kind, PolicyError::InvalidPrincipal { .. }));
        let e = "Org 1.peer".parse::<Signer>().unwrap_err();
        assert!(matches!(e.kind, PolicyError::InvalidMspId { .. }));
    }
}
