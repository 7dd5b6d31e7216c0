//! Principals (`'Org1MSP.peer'`) and the roles they and identities carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::PolicyError;

const IDENTITY_ROLES: &str = "admin, client, orderer or peer";
const PRINCIPAL_ROLES: &str = "member, admin, client, peer or orderer";

/// The role of an identity: its Fabric NodeOU classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// An organization administrator.
    Admin,
    /// An application client.
    Client,
    /// An ordering node.
    Orderer,
    /// A peer node.
    Peer,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Client, Role::Orderer, Role::Peer];

    /// The lower-case name used in principals and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Orderer => "orderer",
            Role::Peer => "peer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownRole {
                role: s.to_owned(),
                allowed: IDENTITY_ROLES,
            })
    }
}

/// The role a principal asks for; `Member` accepts an identity of any role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalRole {
    /// Only administrators.
    Admin,
    /// Only clients.
    Client,
    /// Any identity of the organization.
    Member,
    /// Only ordering nodes.
    Orderer,
    /// Only peers.
    Peer,
}

impl PrincipalRole {
    /// Every principal role, in declaration order.
    pub const ALL: [PrincipalRole; 5] = [
        PrincipalRole::Admin,
        PrincipalRole::Client,
        PrincipalRole::Member,
        PrincipalRole::Orderer,
        PrincipalRole::Peer,
    ];

    /// The lower-case name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalRole::Admin => "admin",
            PrincipalRole::Client => "client",
            PrincipalRole::Member => "member",
            PrincipalRole::Orderer => "orderer",
            PrincipalRole::Peer => "peer",
        }
    }

    /// Whether an identity with role `role` satisfies this principal role.
    pub fn accepts(self, role: Role) -> bool {
        matches!(
            (self, role),
            (PrincipalRole::Member, _)
                | (PrincipalRole::Admin, Role::Admin)
                | (PrincipalRole::Client, Role::Client)
                | (PrincipalRole::Orderer, Role::Orderer)
                | (PrincipalRole::Peer, Role::Peer)
        )
    }
}

impl fmt::Display for PrincipalRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PrincipalRole {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PrincipalRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownRole {
                role: s.to_owned(),
                allowed: PRINCIPAL_ROLES,
            })
    }
}

/// Checks an MSP id the way Fabric's parser does: one or more ASCII letters,
/// digits, `.` or `-`.
pub fn validate_msp_id(msp_id: &str) -> Result<(), PolicyError> {
    let ok = !msp_id.is_empty()
        && msp_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PolicyError::InvalidMspId {
            msp_id: msp_id.to_owned(),
        })
    }
}

/// Splits `MSPID.role` at its last dot (MSP ids may contain dots, roles do not).
/// Returns the MSP id, the role text and the byte offset of the role.
pub(crate) fn split_principal(text: &str) -> Result<(&str, &str, usize), PolicyError> {
    let (msp_id, role) = text
        .rsplit_once('.')
        .ok_or_else(|| PolicyError::InvalidPrincipal {
            text: text.to_owned(),
        })?;
    Ok((msp_id, role, msp_id.len() + 1))
}

/// A principal: an organization (MSP id) and the role required within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    msp_id: String,
    role: PrincipalRole,
}

impl Principal {
    /// A principal for `role` in `msp_id`; fails if the MSP id is not one Fabric accepts.
    pub fn new(msp_id: impl Into<String>, role: PrincipalRole) -> Result<Self, PolicyError> {
        let msp_id = msp_id.into();
        validate_msp_id(&msp_id)?;
        Ok(Self { msp_id, role })
    }

    /// The organization's MSP id.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The role required.
    pub fn role(&self) -> PrincipalRole {
        self.role
    }

    /// Whether an identity of `msp_id` with `role` satisfies this principal.
    pub fn accepts(&self, msp_id: &str, role: Role) -> bool {
        self.msp_id == msp_id && self.role.accepts(role)
    }
}

/// Prints `MSPID.role` without quotes (policies add the quotes).
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.msp_id, self.role)
    }
}

/// Parses `MSPID.role`, without quotes.
impl FromStr for Principal {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (msp_id, role, _) = split_principal(s)?;
        Principal::new(msp_id, role.parse()?)
    }
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn member_accepts_every_role_and_others_only_their_own() {
        for role in Role::ALL {
            assert!(PrincipalRole::Member.accepts(role));
        }
        assert!(PrincipalRole::Admin.accepts(Role::Admin));
        assert!(!PrincipalRole::Admin.accepts(Role::Peer));
        assert!(!PrincipalRole::Peer.accepts(Role::Client));
        assert!(PrincipalRole::Orderer.accepts(Role::Orderer));
    }

    #[test]
    fn principal_splits_at_the_last_dot() {
        let p: Principal = "MSP.WITH.DOTS.member".parse().unwrap();
        assert_eq!(p.msp_id(), "MSP.WITH.DOTS");
        assert_eq!(p.role(), PrincipalRole::Member);
        assert_eq!(p.to_string(), "MSP.WITH.DOTS.member");
    }

    #[test]
    fn bad_principals_are_refused() {
        assert!(matches!(
            "Bmember".parse::<Principal>(),
            Err(PolicyError::InvalidPrincipal { .. })
        ));
        assert!(matches!(
            "Org1.boss".parse::<Principal>(),
            Err(PolicyError::UnknownRole { .. })
        ));
        assert!(matches!(
            "Org 1.peer".parse::<Principal>(),
            Err(PolicyError::InvalidMspId { .. })
        ));
        assert!(matches!(
            ".peer".parse::<Principal>(),
            Err(PolicyError::InvalidMspId { .. })
        ));
    }

    #[test]
    fn member_is_not_an_identity_role() {
        assert!(matches!(
            "member".parse::<Role>(),
            Err(PolicyError::UnknownRole { .. })
        ));
    }
}
