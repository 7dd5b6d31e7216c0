//! Collection definitions: Fabric's `collections_config.json` parsed as the
//! peer CLI parses it, validated as the lifecycle validates it, and resolved
//! (explicit or implicit `_implicit_org_<MSPID>`) for one contract.

use std::collections::BTreeSet;

use cairn_policy::{ChannelPolicy, Rule, SignaturePolicy};
use serde_json::{Map, Value};

use crate::config::ChannelConfig;
use crate::lifecycle::{CollectionConfig, CollectionEndorsementPolicy, ContractDefinition};

/// The name prefix of an org's implicit collection (`_implicit_org_Org1MSP`).
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// The prefix Fabric puts before channel policy names in `channelConfigPolicy`.
const APPLICATION_POLICY_PREFIX: &str = "/Channel/Application/";

/// Why a collection configuration was refused. The messages follow Fabric's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CollectionError {
    /// An existing collection's `blockToLive` changed in an upgrade.
    #[error(
        "the BlockToLive in an existing collection [{name}] modified. Existing value [{old}]: blockToLive cannot change once committed"
    )]
    BlockToLiveChanged {
        /// The collection.
        name: String,
        /// The committed value.
        old: u64,
    },
    /// Two collections share a name.
    #[error("collection-name: {name} -- found duplicate in collection configuration")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// The collection endorsement policy is malformed or names no channel policy.
    #[error("collection-name: {name} -- invalid endorsement policy: {reason}")]
    EndorsementPolicy {
        /// The collection.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A field has the wrong JSON type.
    #[error("collection {index}: field {field} must be {expected}")]
    FieldType {
        /// Position of the collection in the array (from 0).
        index: usize,
        /// The field.
        field: &'static str,
        /// The JSON type wanted.
        expected: &'static str,
    },
    /// The name breaks Fabric's rule `^[A-Za-z0-9-]+([A-Za-z0-9_-]+)*$`.
    #[error(
        "invalid collection name '{name}'. Names can only consist of alphanumerics, '_', and '-' and cannot begin with '_'"
    )]
    InvalidName {
        /// The refused name.
        name: String,
    },
    /// A committed collection is missing from an upgrade.
    #[error(
        "existing collection [{name}] missing in the proposed collection configuration: collections cannot be removed"
    )]
    Missing {
        /// The collection.
        name: String,
    },
    /// `requiredPeerCount` is negative.
    #[error("collection-name: {name} -- requiredPeerCount ({value}) cannot be less than zero")]
    NegativeRequiredPeerCount {
        /// The collection.
        name: String,
        /// The value given.
        value: i64,
    },
    /// The member policy is not only ORs (Fabric: membership is a set of orgs).
    #[error(
        "collection-name: {name} -- error in member org policy: signature policy is not an OR concatenation ({policy})"
    )]
    NotOrConcatenation {
        /// The collection.
        name: String,
        /// The policy text.
        policy: String,
    },
    /// `maxPeerCount` is below `requiredPeerCount`.
    #[error(
        "collection-name: {name} -- maximum peer count ({max}) cannot be less than the required peer count ({required})"
    )]
    PeerCounts {
        /// The collection.
        name: String,
        /// `requiredPeerCount`.
        required: i64,
        /// `maxPeerCount`.
        max: i64,
    },
    /// The member policy does not parse.
    #[error("collection-name: {name} -- invalid policy {policy}: {reason}")]
    Policy {
        /// The collection.
        name: String,
        /// The policy text.
        policy: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The document is not a JSON array of collection objects.
    #[error("could not parse the collection configuration: {0}")]
    Syntax(String),
    /// A field the format does not have (likely a typo; Go's parser would
    /// silently ignore it, which for `memberOnlyWrite` would weaken access).
    #[error(
        "collection {index}: unknown field {field:?}; a collection has name, policy, requiredPeerCount, maxPeerCount, blockToLive, memberOnlyRead, memberOnlyWrite and endorsementPolicy"
    )]
    UnknownField {
        /// Position of the collection in the array (from 0).
        index: usize,
        /// The unknown field.
        field: String,
    },
    /// The member policy names an org that is not on the channel.
    #[error("collection-name: {name} -- collection member '{msp_id}' is not part of the channel")]
    UnknownOrg {
        /// The collection.
        name: String,
        /// The unknown org.
        msp_id: String,
    },
}

/// The implicit collection of an org: `_implicit_org_<MSPID>`.
pub fn implicit_collection_name(msp_id: &str) -> String {
    format!("{IMPLICIT_COLLECTION_PREFIX}{msp_id}")
}

/// The org whose implicit collection this is, if it is one.
pub fn implicit_collection_org(name: &str) -> Option<&str> {
    name.strip_prefix(IMPLICIT_COLLECTION_PREFIX)
        .filter(|org| !org.is_empty())
}

/// Fabric's `collectionNameRegExp`: `^[A-Za-z0-9-]+([A-Za-z0-9_-]+)*$`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses a `collections_config.json` document as Fabric's peer CLI does:
/// a JSON array of objects with `name`, `policy`, `requiredPeerCount`
/// (default 0), `maxPeerCount` (default 1), `blockToLive` (default 0),
/// `memberOnlyRead`, `memberOnlyWrite` (default false) and an optional
/// `endorsementPolicy` with `signaturePolicy` or `channelConfigPolicy`.
/// Field names match case-insensitively (as Go's JSON decoder does);
/// unknown fields are refused. Policies must parse; the channel-dependent
/// checks are [`validate_collections`].
pub fn parse_collections_config(json: &[u8]) -> Result<Vec<CollectionConfig>, CollectionError> {
    let doc: Value =
        serde_json::from_slice(json).map_err(|e| CollectionError::Syntax(e.to_string()))?;
    let Value::Array(items) = doc else {
        return Err(CollectionError::Syntax(
            "expected a JSON array of collection definitions".into(),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Object(fields) => parse_one(index, fields),
            _ => Err(CollectionError::Syntax(format!(
                "collection {index} is not a JSON object"
            ))),
        })
        .collect()
}

#[derive(Default)]
struct Raw {
    name: String,
    policy: String,
    required: Option<i64>,
    max: Option<i64>,
    block_to_live: u64,
    member_only_read: bool,
    member_only_write: bool,
    endorsement: Option<(String, String)>,
}

fn parse_one(
    index: usize,
    fields: &Map<String, Value>,
) -> Result<CollectionConfig, CollectionError> {
    let mut raw = Raw::default();
    let ty = |field, expected| CollectionError::FieldType {
        index,
        field,
        expected,
    };
    for (field, value) in fields {
        if value.is_null() {
            continue;
        }
        match field.to_ascii_lowercase().as_str() {
            "name" => raw.name = value.as_str().ok_or(ty("name", "a string"))?.to_owned(),
            "policy" => raw.policy = value.as_str().ok_or(ty("policy", "a string"))?.to_owned(),
            "requiredpeercount" => {
                raw.required =
                    Some(int32(value).ok_or(ty("requiredPeerCount", "a 32-bit integer"))?);
            }
            "maxpeercount" => {
                raw.max = Some(int32(value).ok_or(ty("maxPeerCount", "a 32-bit integer"))?);
            }
            "blocktolive" => {
                raw.block_to_live = value
                    .as_u64()
                    .ok_or(ty("blockToLive", "a non-negative integer"))?;
            }
            "memberonlyread" => {
                raw.member_only_read = value.as_bool().ok_or(ty("memberOnlyRead", "a boolean"))?;
            }
            "memberonlywrite" => {
                raw.member_only_write =
                    value.as_bool().ok_or(ty("memberOnlyWrite", "a boolean"))?;
            }
            "endorsementpolicy" => {
                let Value::Object(ep) = value else {
                    return Err(ty("endorsementPolicy", "an object"));
                };
                raw.endorsement = Some(endorsement_fields(index, ep)?);
            }
            _ => {
                return Err(CollectionError::UnknownField {
                    index,
                    field: field.clone(),
                });
            }
        }
    }
    finish(raw)
}

fn int32(value: &Value) -> Option<i64> {
    value.as_i64().filter(|v| i32::try_from(*v).is_ok())
}

fn endorsement_fields(
    index: usize,
    ep: &Map<String, Value>,
) -> Result<(String, String), CollectionError> {
    let (mut signature, mut channel) = (String::new(), String::new());
    for (field, value) in ep {
        let slot = match field.to_ascii_lowercase().as_str() {
            "signaturepolicy" => &mut signature,
            "channelconfigpolicy" => &mut channel,
            _ => {
                return Err(CollectionError::UnknownField {
                    index,
                    field: format!("endorsementPolicy.{field}"),
                });
            }
        };
        if !value.is_null() {
            *slot = value
                .as_str()
                .ok_or(CollectionError::FieldType {
                    index,
                    field: "endorsementPolicy",
                    expected: "an object of strings",
                })?
                .to_owned();
        }
    }
    Ok((signature, channel))
}

fn finish(raw: Raw) -> Result<CollectionConfig, CollectionError> {
    let name = raw.name;
    // Fabric's defaults when the counts are absent.
    let required = raw.required.unwrap_or(0);
    let max = raw.max.unwrap_or(1);
    if max < required {
        return Err(CollectionError::PeerCounts {
            name,
            required,
            max,
        });
    }
    if required < 0 {
        return Err(CollectionError::NegativeRequiredPeerCount {
            name,
            value: required,
        });
    }
    if let Err(e) = raw.policy.parse::<SignaturePolicy>() {
        return Err(CollectionError::Policy {
            name,
            policy: raw.policy,
            reason: e.to_string(),
        });
    }
    let endorsement_policy = match raw.endorsement {
        None => None,
        Some((s, c)) if s.is_empty() && c.is_empty() => None,
        Some((s, c)) if !s.is_empty() && !c.is_empty() => {
            return Err(CollectionError::EndorsementPolicy {
                name,
                reason: "cannot specify both signaturePolicy and channelConfigPolicy".into(),
            });
        }
        Some((s, _)) if !s.is_empty() => {
            if let Err(e) = s.parse::<SignaturePolicy>() {
                return Err(CollectionError::EndorsementPolicy {
                    name,
                    reason: format!("signaturePolicy {s}: {e}"),
                });
            }
            Some(CollectionEndorsementPolicy::SignaturePolicy(s))
        }
        Some((_, c)) => Some(CollectionEndorsementPolicy::ChannelConfigPolicy(c)),
    };
    // Both counts are within 0..=i32::MAX here.
    let count = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(CollectionConfig {
        name,
        policy: raw.policy,
        required_peer_count: count(required),
        max_peer_count: count(max),
        block_to_live: raw.block_to_live,
        member_only_read: raw.member_only_read,
        member_only_write: raw.member_only_write,
        endorsement_policy,
    })
}

/// The lifecycle's checks of a contract's collections against the channel,
/// in Fabric's order: name, uniqueness, peer counts, member policy (parses,
/// only ORs, every org on the channel), then the endorsement policy (parses,
/// or names an existing channel policy).
pub fn validate_collections(
    collections: &[CollectionConfig],
    channel: &ChannelConfig,
) -> Result<(), CollectionError> {
    let mut names = BTreeSet::new();
    for c in collections {
        let name = || c.name.clone();
        if !valid_name(&c.name) {
            return Err(CollectionError::InvalidName { name: name() });
        }
        if !names.insert(c.name.as_str()) {
            return Err(CollectionError::Duplicate { name: name() });
        }
        if c.max_peer_count < c.required_peer_count {
            return Err(CollectionError::PeerCounts {
                name: name(),
                required: i64::from(c.required_peer_count),
                max: i64::from(c.max_peer_count),
            });
        }
        let policy = c
            .policy
            .parse::<SignaturePolicy>()
            .map_err(|e| CollectionError::Policy {
                name: name(),
                policy: c.policy.clone(),
                reason: e.to_string(),
            })?;
        if !or_concatenation(policy.root()) {
            return Err(CollectionError::NotOrConcatenation {
                name: name(),
                policy: c.policy.clone(),
            });
        }
        if let Some(msp_id) = policy.orgs().into_iter().find(|o| channel.org(o).is_none()) {
            return Err(CollectionError::UnknownOrg {
                name: name(),
                msp_id: msp_id.to_owned(),
            });
        }
        match &c.endorsement_policy {
            None => {}
            Some(CollectionEndorsementPolicy::SignaturePolicy(text)) => {
                text.parse::<ChannelPolicy>()
                    .map_err(|e| CollectionError::EndorsementPolicy {
                        name: name(),
                        reason: format!("signaturePolicy {text}: {e}"),
                    })?;
            }
            Some(CollectionEndorsementPolicy::ChannelConfigPolicy(reference))
                if channel_policy_text(channel, reference).is_none() =>
            {
                return Err(CollectionError::EndorsementPolicy {
                    name: name(),
                    reason: format!(
                        "channelConfigPolicy {reference:?} is not a policy of channel {} (it has {})",
                        channel.name,
                        channel
                            .policies
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Some(CollectionEndorsementPolicy::ChannelConfigPolicy(_)) => {}
        }
    }
    Ok(())
}

/// Fabric's upgrade rule: every committed collection stays, with the same
/// `blockToLive`; new collections may be added.
pub fn validate_collection_upgrade(
    committed: &[CollectionConfig],
    proposed: &[CollectionConfig],
) -> Result<(), CollectionError> {
    for old in committed {
        let Some(new) = proposed.iter().find(|c| c.name == old.name) else {
            return Err(CollectionError::Missing {
                name: old.name.clone(),
            });
        };
        if new.block_to_live != old.block_to_live {
            return Err(CollectionError::BlockToLiveChanged {
                name: old.name.clone(),
                old: old.block_to_live,
            });
        }
    }
    Ok(())
}

/// Fabric's `validateSpOrConcat`: every gate needs exactly one satisfied sub-rule.
fn or_concatenation(rule: &Rule) -> bool {
    match rule {
        Rule::SignedBy(_) => true,
        gate => gate.threshold() == 1 && gate.rules().iter().all(or_concatenation),
    }
}

/// The text of a channel policy named as Fabric names it in
/// `channelConfigPolicy` (`Endorsement` or `/Channel/Application/Endorsement`).
fn channel_policy_text<'a>(channel: &'a ChannelConfig, reference: &str) -> Option<&'a String> {
    let name = reference
        .strip_prefix(APPLICATION_POLICY_PREFIX)
        .unwrap_or(reference);
    channel.policies.get(name)
}

/// A collection of one contract as peers apply it: its definition (explicit
/// or implicit) and its member orgs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    config: CollectionConfig,
    members: BTreeSet<String>,
    implicit: bool,
}

impl Collection {
    /// The collection `name` of the contract `definition` on `channel`: one
    /// of its explicit collections, or the implicit collection of a channel
    /// org. `None` if there is no such collection.
    pub fn resolve(
        definition: &ContractDefinition,
        channel: &ChannelConfig,
        name: &str,
    ) -> Option<Collection> {
        if let Some(org) = implicit_collection_org(name) {
            return channel.org(org).map(|_| Collection::implicit(org));
        }
        definition
            .collections
            .iter()
            .find(|c| c.name == name)
            .map(|c| Collection::explicit(c.clone()))
    }

    /// Every collection of the contract: its explicit ones, then one implicit
    /// collection per channel org.
    pub fn all(definition: &ContractDefinition, channel: &ChannelConfig) -> Vec<Collection> {
        definition
            .collections
            .iter()
            .map(|c| Collection::explicit(c.clone()))
            .chain(channel.orgs.iter().map(|o| Collection::implicit(&o.msp_id)))
            .collect()
    }

    /// An explicit collection from its definition.
    pub fn explicit(config: CollectionConfig) -> Collection {
        let members = config
            .policy
            .parse::<SignaturePolicy>()
            .map(|p| p.orgs().into_iter().map(str::to_owned).collect())
            .unwrap_or_default();
        Collection {
            config,
            members,
            implicit: false,
        }
    }

    /// The implicit collection of `msp_id` (Fabric's
    /// `GenerateImplicitCollectionForOrg` with the peer's default
    /// dissemination of `requiredPeerCount` 0 and `maxPeerCount` 1).
    pub fn implicit(msp_id: &str) -> Collection {
        Collection {
            config: CollectionConfig {
                name: implicit_collection_name(msp_id),
                policy: format!("OR('{msp_id}.member')"),
                required_peer_count: 0,
                max_peer_count: 1,
                block_to_live: 0,
                member_only_read: false,
                member_only_write: false,
                endorsement_policy: None,
            },
            members: BTreeSet::from([msp_id.to_owned()]),
            implicit: true,
        }
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its definition.
    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// Whether it is an org's implicit collection.
    pub fn is_implicit(&self) -> bool {
        self.implicit
    }

    /// The orgs whose peers hold the data.
    pub fn member_orgs(&self) -> &BTreeSet<String> {
        &self.members
    }

    /// Whether peers (and clients) of `msp_id` are members.
    pub fn is_member(&self, msp_id: &str) -> bool {
        self.members.contains(msp_id)
    }

    /// Blocks the data lives after the block that wrote it (0: forever).
    pub fn block_to_live(&self) -> u64 {
        self.config.block_to_live
    }

    /// The policy that writes to this collection must satisfy instead of the
    /// contract's, as policy text; `None` means the contract's own policy.
    /// An implicit collection uses its org's `Endorsement` policy
    /// (`OR('<MSPID>.peer')`), as Fabric does. A `channelConfigPolicy` naming
    /// no channel policy gives an empty text, which no endorsement satisfies.
    pub fn endorsement_policy(&self, channel: &ChannelConfig) -> Option<String> {
        if self.implicit {
            let org = self.members.first().map(String::as_str).unwrap_or_default();
            return Some(format!("OR('{org}.peer')"));
        }
        match &self.config.endorsement_policy {
            None => None,
            Some(CollectionEndorsementPolicy::SignaturePolicy(text)) => Some(text.clone()),
            Some(CollectionEndorsementPolicy::ChannelConfigPolicy(reference)) => Some(
                channel_policy_text(channel, reference)
                    .cloned()
                    .unwrap_or_default(),
            ),
        }
    }
}

#[cfg(test)]
#[path = "collection_tests.rs"]
mod tests;
