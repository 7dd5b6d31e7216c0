//! The private data half of validating an endorsed transaction: the
//! endorsement policy of each written collection, MVCC of hashed reads
//! against the hashed state, and the hashed writes a valid transaction
//! leaves (with what the store needs to decide who keeps cleartext).

use std::collections::{BTreeMap, HashSet};

use cairn_crypto::{Digest, Identity};

use crate::ids::Version;
use crate::lifecycle::ContractDefinition;
use crate::private::Collection;
use crate::rwset::{KvWriteHash, NsRwSet};
use crate::validate::overlay::Overlay;
use crate::validate::{ChannelContext, LedgerView, ValidateError};
use crate::validation::ValidationCode;

/// The hashed writes of one collection by one valid transaction, with the
/// collection's membership as of the block: every peer applies the hashes;
/// a peer keeps the cleartext only if its org is in `members`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedCollectionWrites {
    /// The namespace (contract).
    pub namespace: String,
    /// The collection.
    pub collection: String,
    /// The member orgs (MSP ids, sorted).
    pub members: Vec<String>,
    /// The collection's `blockToLive` (0: forever).
    pub block_to_live: u64,
    /// The hashed writes, in the transaction's order.
    pub writes: Vec<KvWriteHash>,
}

/// Fabric's rule for writes to collections: each written collection must be
/// defined for the contract (else `ENDORSEMENT_POLICY_FAILURE`, as Fabric's
/// validator reports an unknown collection), and its endorsement policy, or
/// the contract's when it has none, must be satisfied.
pub(crate) fn check_collection_writes(
    ctx: &ChannelContext,
    definition: &ContractDefinition,
    ns: &NsRwSet,
    contract_policy: &str,
    endorsers: &[Identity],
) -> Option<ValidationCode> {
    for coll in ns
        .collections
        .iter()
        .filter(|c| !c.hashed_writes.is_empty())
    {
        let Some(resolved) = Collection::resolve(definition, ctx.config(), &coll.collection) else {
            return Some(ValidationCode::EndorsementPolicyFailure);
        };
        let policy = resolved
            .endorsement_policy(ctx.config())
            .unwrap_or_else(|| contract_policy.to_string());
        if !ctx.satisfied(&policy, endorsers) {
            return Some(ValidationCode::EndorsementPolicyFailure);
        }
    }
    None
}

/// MVCC of hashed reads: each read version must still be the hashed
/// state's version of that key hash.
pub(crate) fn check_hashed_reads(
    ns: &NsRwSet,
    view: &dyn LedgerView,
    overlay: &Overlay,
) -> Result<Option<ValidationCode>, ValidateError> {
    for coll in &ns.collections {
        for read in &coll.hashed_reads {
            let now =
                overlay.private_version(view, &ns.namespace, &coll.collection, &read.key_hash)?;
            if now != read.version {
                return Ok(Some(ValidationCode::MvccReadConflict));
            }
        }
    }
    Ok(None)
}

/// Collections sorted by name and unique, a key hash written at most once
/// per collection: what an honest simulator produces.
pub(crate) fn collections_well_formed(ns: &NsRwSet) -> bool {
    let sorted = ns
        .collections
        .windows(2)
        .all(|w| w[0].collection < w[1].collection);
    sorted
        && ns.collections.iter().all(|c| {
            let mut keys: HashSet<&Digest> = HashSet::new();
            !c.collection.is_empty() && c.hashed_writes.iter().all(|w| keys.insert(&w.key_hash))
        })
}

/// Applies a valid transaction's hashed writes to the overlay and returns
/// them with each collection's membership.
pub(crate) fn apply_hashed_writes(
    ctx: &ChannelContext,
    ns: &NsRwSet,
    definition: Option<&ContractDefinition>,
    version: Version,
    overlay: &mut Overlay,
) -> Vec<HashedCollectionWrites> {
    let mut out = Vec::new();
    for coll in ns
        .collections
        .iter()
        .filter(|c| !c.hashed_writes.is_empty())
    {
        for w in &coll.hashed_writes {
            overlay.write_private(
                &ns.namespace,
                &coll.collection,
                w.key_hash,
                (!w.is_delete && !w.is_purge).then_some(version),
            );
        }
        // The checks before made sure the collection resolves.
        let resolved =
            definition.and_then(|d| Collection::resolve(d, ctx.config(), &coll.collection));
        out.push(HashedCollectionWrites {
            namespace: ns.namespace.clone(),
            collection: coll.collection.clone(),
            members: resolved
                .as_ref()
                .map(|r| r.member_orgs().iter().cloned().collect())
                .unwrap_or_default(),
            block_to_live: resolved.as_ref().map_or(0, Collection::block_to_live),
            writes: coll.hashed_writes.clone(),
        });
    }
    out
}

/// The definition of `name` from a block-level cache (filled by the checks).
pub(crate) fn cached<'a>(
    cache: &'a BTreeMap<String, Option<ContractDefinition>>,
    name: &str,
) -> Option<&'a ContractDefinition> {
    cache.get(name).and_then(Option::as_ref)
}
