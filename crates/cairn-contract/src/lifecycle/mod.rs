//! The `_lifecycle` system contract: Fabric 2.x's contract lifecycle on the
//! ledger. Orgs approve a definition (name, version, sequence, endorsement
//! policy, collections, init-required, and the package they will run); it is
//! committed once approvals satisfy the channel's `LifecycleEndorsement`
//! policy (default `MAJORITY Endorsement`); an upgrade commits sequence + 1.
//!
//! State layout in the `_lifecycle` namespace (values canonically encoded):
//! - `namespaces/<name>` → [`ContractDefinition`] (what the validator reads);
//! - `approvals/<name>/<sequence, 20 digits>/<MSP id>` → [`ApprovalRecord`].
//!
//! Functions (Fabric's names), each taking one JSON argument (a
//! [`DefinitionArgs`], or `{"name": …}` for the queries; none for
//! `QueryChaincodeDefinitions`) and answering JSON:
//! `ApproveChaincodeDefinitionForMyOrg`, `CommitChaincodeDefinition`,
//! `CheckCommitReadiness`, `QueryChaincodeDefinition`,
//! `QueryChaincodeDefinitions`, `QueryApprovedChaincodeDefinition`.
//! `install` and `queryinstalled` are per peer: see [`crate::PackageStore`].
//!
//! Invariants: only an admin of an org, through a peer of that org, writes
//! that org's approval; a definition is written only with the sequence
//! after the current one and approvals that satisfy the lifecycle policy,
//! including the endorsing peer's own org (as in Fabric).

mod resolver;

use std::collections::BTreeMap;

use cairn_crypto::Role;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::lifecycle::{CollectionConfig, ContractDefinition, definition_key};
use cairn_ledger::private::{validate_collection_upgrade, validate_collections};
use cairn_policy::{ChannelOrgs, ChannelPolicy, Signer, SignerSet};
use serde::{Deserialize, Serialize};

use crate::native::{NativeContract, NativeError};
use crate::package::PackageId;
use crate::stub::Stub;

pub use resolver::{LedgerResolver, approved_package, committed_definition};

/// The channel policy that governs commits, and Fabric's default for it.
const LIFECYCLE_POLICY: &str = "LifecycleEndorsement";
const DEFAULT_LIFECYCLE_POLICY: &str = "MAJORITY Endorsement";

/// A definition as clients send it (JSON, camelCase as Fabric's CLI flags).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefinitionArgs {
    /// Contract name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Definition sequence (1 for the first definition).
    pub sequence: u64,
    /// Endorsement policy; empty means the channel's `Endorsement` policy.
    #[serde(default)]
    pub endorsement_policy: String,
    /// Whether `init` must run first.
    #[serde(default)]
    pub init_required: bool,
    /// Private data collections.
    #[serde(default)]
    pub collections: Vec<CollectionConfig>,
    /// The package this org runs (approve); optional elsewhere.
    #[serde(default)]
    pub package_id: Option<String>,
}

impl DefinitionArgs {
    /// The definition these arguments describe.
    pub fn definition(&self) -> ContractDefinition {
        ContractDefinition {
            name: self.name.clone(),
            version: self.version.clone(),
            sequence: self.sequence,
            endorsement_policy: self.endorsement_policy.clone(),
            init_required: self.init_required,
            collections: self.collections.clone(),
        }
    }
}

/// One org's approval, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The approved definition.
    pub definition: ContractDefinition,
    /// The package the org's peers run for it, if chosen yet.
    pub package_id: Option<String>,
}

/// `CheckCommitReadiness`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitReadiness {
    /// Per channel org: whether it approved exactly this definition.
    pub approvals: BTreeMap<String, bool>,
    /// Per org that approved something else for this sequence: the fields
    /// that differ (`version`, `endorsementPolicy`, `initRequired`,
    /// `collections`, and `packageId` when the query names a package).
    pub mismatches: BTreeMap<String, Vec<String>>,
}

/// `QueryChaincodeDefinition`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedDefinition {
    /// The committed definition.
    pub definition: ContractDefinition,
    /// Per channel org: whether it approved it.
    pub approvals: BTreeMap<String, bool>,
}

pub use cairn_ledger::lifecycle::approval_key;

/// The `_lifecycle` system contract.
#[derive(Debug, Default)]
pub struct Lifecycle;

impl NativeContract for Lifecycle {
    fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, NativeError> {
        let function = stub.function().to_owned();
        let arg = stub.args().first().cloned().unwrap_or_default();
        match function.as_str() {
            "ApproveChaincodeDefinitionForMyOrg" => approve(stub, &parse(&arg)?),
            "CommitChaincodeDefinition" => commit(stub, &parse(&arg)?),
            "CheckCommitReadiness" => json(&readiness(stub, &parse(&arg)?)?),
            "QueryChaincodeDefinition" => query_definition(stub, &parse::<NameQuery>(&arg)?.name),
            "QueryChaincodeDefinitions" => query_definitions(stub),
            "QueryApprovedChaincodeDefinition" => query_approved(stub, &parse(&arg)?),
            other => Err(refuse(format!(
                "_lifecycle has no function {other:?}: use ApproveChaincodeDefinitionForMyOrg, CommitChaincodeDefinition, \
                 CheckCommitReadiness, QueryChaincodeDefinition, QueryChaincodeDefinitions or QueryApprovedChaincodeDefinition"
            ))),
        }
    }
}

fn refuse(message: String) -> NativeError {
    NativeError::Refused(message)
}

fn parse<T: for<'de> Deserialize<'de>>(arg: &[u8]) -> Result<T, NativeError> {
    serde_json::from_slice(arg).map_err(|e| {
        refuse(format!(
            "the argument is not valid JSON for this function: {e}"
        ))
    })
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, NativeError> {
    serde_json::to_vec(value).map_err(|e| refuse(format!("encoding the answer failed: {e}")))
}

/// Fabric's rule for contract names: `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split(['-', '_'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn validate(stub: &Stub, args: &DefinitionArgs) -> Result<(), NativeError> {
    if !valid_name(&args.name) {
        return Err(refuse(format!(
            "invalid contract name {:?}: use letters and digits, separated by single '-' or '_'",
            args.name
        )));
    }
    if args.version.is_empty()
        || !args
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
    {
        return Err(refuse(format!(
            "invalid version {:?}: use letters, digits, '_', '.', '+' and '-'",
            args.version
        )));
    }
    if args.sequence == 0 {
        return Err(refuse("sequence must be 1 or more".into()));
    }
    if !args.endorsement_policy.is_empty() {
        args.endorsement_policy
            .parse::<ChannelPolicy>()
            .map_err(|e| {
                refuse(format!(
                    "invalid endorsement policy {:?}: {e}",
                    args.endorsement_policy
                ))
            })?;
    }
    validate_collections(&args.collections, stub.channel_config())
        .map_err(|e| refuse(format!("invalid collection configuration: {e}")))?;
    if let Some(p) = &args.package_id {
        p.parse::<PackageId>().map_err(|e| refuse(e.to_string()))?;
    }
    Ok(())
}

fn current(stub: &mut Stub, name: &str) -> Result<Option<ContractDefinition>, NativeError> {
    match stub.state(&definition_key(name))? {
        Some(bytes) => ContractDefinition::decode(&bytes).map(Some).map_err(|e| {
            refuse(format!(
                "the committed definition of {name:?} is unreadable: {e}"
            ))
        }),
        None => Ok(None),
    }
}

fn channel_orgs(stub: &Stub) -> Vec<String> {
    stub.channel_config()
        .orgs
        .iter()
        .map(|o| o.msp_id.clone())
        .collect()
}

/// Fabric's rule for collections in a new sequence: none removed, none
/// with a changed `blockToLive`.
fn check_upgrade(
    committed: Option<&ContractDefinition>,
    args: &DefinitionArgs,
) -> Result<(), NativeError> {
    let Some(old) = committed else {
        return Ok(());
    };
    validate_collection_upgrade(&old.collections, &args.collections).map_err(|e| {
        refuse(format!(
            "sequence {} of {:?} cannot replace sequence {}: {e}",
            args.sequence, args.name, old.sequence
        ))
    })
}

fn approve(stub: &mut Stub, args: &DefinitionArgs) -> Result<Vec<u8>, NativeError> {
    validate(stub, args)?;
    let creator = stub.creator().clone();
    let org = creator.msp_id().to_owned();
    if creator.role() != Role::Admin {
        return Err(refuse(format!(
            "approving a contract definition requires an admin of the org; {} is a {}",
            creator.id(),
            creator.role()
        )));
    }
    if org != stub.peer_msp_id() {
        return Err(refuse(format!(
            "an approval for {org} must be endorsed by a peer of {org}; this peer belongs to {}",
            stub.peer_msp_id()
        )));
    }
    if !channel_orgs(stub).contains(&org) {
        return Err(refuse(format!(
            "{org} is not a member of channel {}",
            stub.channel_id()
        )));
    }
    let definition = args.definition();
    let committed = current(stub, &args.name)?;
    let current_seq = committed.as_ref().map_or(0, |d| d.sequence);
    if args.sequence == current_seq {
        // Re-approving the committed sequence only picks a package.
        if committed.as_ref() != Some(&definition) {
            return Err(refuse(format!(
                "sequence {current_seq} of {:?} is already committed with other parameters; approve sequence {} to change them",
                args.name,
                current_seq + 1
            )));
        }
    } else if args.sequence != current_seq + 1 {
        return Err(refuse(format!(
            "requested sequence is {}, but the new definition of {:?} must be sequence {}",
            args.sequence,
            args.name,
            current_seq + 1
        )));
    } else {
        check_upgrade(committed.as_ref(), args)?;
    }
    let record = ApprovalRecord {
        definition,
        package_id: args.package_id.clone(),
    };
    let encoded = record.encode().map_err(|e| refuse(e.to_string()))?;
    stub.put_state(&approval_key(&args.name, args.sequence, &org), &encoded)?;
    json(&record)
}

/// Each channel org's approval for this name and sequence.
fn approvals(
    stub: &mut Stub,
    name: &str,
    sequence: u64,
) -> Result<BTreeMap<String, Option<ApprovalRecord>>, NativeError> {
    let mut out = BTreeMap::new();
    for org in channel_orgs(stub) {
        let record = match stub.state(&approval_key(name, sequence, &org))? {
            Some(bytes) => Some(
                ApprovalRecord::decode(&bytes)
                    .map_err(|e| refuse(format!("the approval of {org} is unreadable: {e}")))?,
            ),
            None => None,
        };
        out.insert(org, record);
    }
    Ok(out)
}

fn differences(approved: &ApprovalRecord, args: &DefinitionArgs) -> Vec<String> {
    let want = args.definition();
    let have = &approved.definition;
    let mut out = Vec::new();
    if have.version != want.version {
        out.push("version".to_owned());
    }
    if have.endorsement_policy != want.endorsement_policy {
        out.push("endorsementPolicy".to_owned());
    }
    if have.init_required != want.init_required {
        out.push("initRequired".to_owned());
    }
    if have.collections != want.collections {
        out.push("collections".to_owned());
    }
    if args.package_id.is_some() && approved.package_id != args.package_id {
        out.push("packageId".to_owned());
    }
    out
}

fn readiness(stub: &mut Stub, args: &DefinitionArgs) -> Result<CommitReadiness, NativeError> {
    validate(stub, args)?;
    let mut approvals_map = BTreeMap::new();
    let mut mismatches = BTreeMap::new();
    for (org, record) in approvals(stub, &args.name, args.sequence)? {
        let diff = record.as_ref().map(|r| differences(r, args));
        approvals_map.insert(org.clone(), diff.as_ref().is_some_and(Vec::is_empty));
        if let Some(diff) = diff.filter(|d| !d.is_empty()) {
            mismatches.insert(org, diff);
        }
    }
    Ok(CommitReadiness {
        approvals: approvals_map,
        mismatches,
    })
}

fn lifecycle_policy_satisfied(
    stub: &Stub,
    approving: &[String],
) -> Result<(bool, String), NativeError> {
    let text = stub
        .channel_config()
        .policies
        .get(LIFECYCLE_POLICY)
        .cloned()
        .unwrap_or_else(|| DEFAULT_LIFECYCLE_POLICY.to_owned());
    let policy: ChannelPolicy = text.parse().map_err(|e| {
        refuse(format!(
            "the channel's {LIFECYCLE_POLICY} policy {text:?} is invalid: {e}"
        ))
    })?;
    let orgs = ChannelOrgs::with_fabric_defaults(channel_orgs(stub))
        .map_err(|e| refuse(format!("the channel's orgs are invalid: {e}")))?;
    // An org's approval counts as its peer endorsing the definition.
    let mut signers = SignerSet::new();
    for org in approving {
        signers.insert(Signer::new(
            org.clone(),
            cairn_policy::Role::Peer,
            format!("approval:{org}"),
        ));
    }
    Ok((policy.is_satisfied_by(&orgs, &signers), text))
}

fn commit(stub: &mut Stub, args: &DefinitionArgs) -> Result<Vec<u8>, NativeError> {
    validate(stub, args)?;
    let org = stub.creator().msp_id().to_owned();
    if !channel_orgs(stub).contains(&org) {
        return Err(refuse(format!(
            "{org} is not a member of channel {}",
            stub.channel_id()
        )));
    }
    let committed = current(stub, &args.name)?;
    let current_seq = committed.as_ref().map_or(0, |d| d.sequence);
    if args.sequence != current_seq + 1 {
        return Err(refuse(format!(
            "requested sequence is {}, but the new definition of {:?} must be sequence {}",
            args.sequence,
            args.name,
            current_seq + 1
        )));
    }
    check_upgrade(committed.as_ref(), args)?;
    let readiness = readiness(
        stub,
        &DefinitionArgs {
            package_id: None,
            ..args.clone()
        },
    )?;
    let approving: Vec<String> = readiness
        .approvals
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(o, _)| o.clone())
        .collect();
    let (satisfied, policy) = lifecycle_policy_satisfied(stub, &approving)?;
    if !satisfied {
        return Err(refuse(format!(
            "the definition of {:?} sequence {} is not approved by enough orgs: the channel's {LIFECYCLE_POLICY} policy \
             {policy:?} is not satisfied by the approvals {:?}",
            args.name, args.sequence, readiness.approvals
        )));
    }
    let peer_org = stub.peer_msp_id().to_owned();
    if !approving.contains(&peer_org) {
        return Err(refuse(format!(
            "the definition of {:?} sequence {} is not approved by this peer's org ({peer_org})",
            args.name, args.sequence
        )));
    }
    let definition = args.definition();
    let encoded = definition.encode().map_err(|e| refuse(e.to_string()))?;
    stub.put_state(&definition_key(&args.name), &encoded)?;
    json(&CommittedDefinition {
        definition,
        approvals: readiness.approvals,
    })
}

fn query_definition(stub: &mut Stub, name: &str) -> Result<Vec<u8>, NativeError> {
    let definition = current(stub, name)?
        .ok_or_else(|| refuse(format!("no definition of {name:?} is committed")))?;
    let approvals = approvals(stub, name, definition.sequence)?
        .into_iter()
        .map(|(org, r)| (org, r.is_some_and(|r| r.definition == definition)))
        .collect();
    json(&CommittedDefinition {
        definition,
        approvals,
    })
}

fn query_definitions(stub: &mut Stub) -> Result<Vec<u8>, NativeError> {
    // '0' follows '/': the range holds exactly the `namespaces/` keys.
    let rows = stub.range("namespaces/", "namespaces0")?;
    let mut out = Vec::new();
    for (key, bytes) in rows {
        out.push(
            ContractDefinition::decode(&bytes)
                .map_err(|e| refuse(format!("{key} is unreadable: {e}")))?,
        );
    }
    json(&out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameQuery {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApprovedQuery {
    name: String,
    #[serde(default)]
    sequence: Option<u64>,
}

fn query_approved(stub: &mut Stub, query: &ApprovedQuery) -> Result<Vec<u8>, NativeError> {
    let org = stub.peer_msp_id().to_owned();
    let sequence = match query.sequence {
        Some(s) => s,
        None => {
            let committed = current(stub, &query.name)?.map_or(0, |d| d.sequence);
            if stub
                .state(&approval_key(&query.name, committed + 1, &org))?
                .is_some()
            {
                committed + 1
            } else {
                committed
            }
        }
    };
    let bytes = stub
        .state(&approval_key(&query.name, sequence, &org))?
        .ok_or_else(|| {
            refuse(format!(
                "{org} has not approved a definition of {:?} at sequence {sequence}",
                query.name
            ))
        })?;
    let record = ApprovalRecord::decode(&bytes)
        .map_err(|e| refuse(format!("the approval is unreadable: {e}")))?;
    json(&record)
}
