//! Block validation: which transactions of a block are valid, and what they
//! change. A pure engine: it reads committed state through [`LedgerView`]
//! and returns codes and effects; the store writes them.
//!
//! ```text
//!  block data ──► decode + identify (parallel) ──► verify every signature
//!                                                  (one batch, parallel)
//!            ──► per tx, in order: duplicate txid → endorsement policy
//!                (contract, key-level, collection) → MVCC / phantom reads
//!                and hashed private reads (against committed state plus the
//!                block's earlier valid writes) → effects
//! ```
//!
//! Invariants:
//! - deterministic: the codes and effects depend only on the block, the
//!   channel context and the committed state, never on timing or threads;
//! - an invalid transaction has no effects;
//! - certificates are checked at the block's timestamp, not the wall clock;
//! - contract definitions and the channel config are read as of the start of
//!   the block (config transactions are cut into blocks of their own).

mod context;
mod overlay;
mod prepare;
mod private;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use cairn_crypto::Identity;
use tracing::debug;

pub use context::{ChannelContext, ContextError};
pub use private::HashedCollectionWrites;

use crate::config::ChannelConfig;
use crate::encoding::Canonical;
use crate::ids::{Timestamp, TxId, Version};
use crate::lifecycle::{ContractDefinition, LIFECYCLE_NS, approval_org, definition_key};
use crate::rwset::{KvMetadataWrite, KvWrite, NsRwSet, TxRwSet};
use crate::state::{StateError, StateView};
use crate::tx::{EndorsedTx, ProposalResponsePayload, proposal_hash};
use crate::validation::ValidationCode;
use overlay::Overlay;
use prepare::{Prepared, PreparedKind};

/// The metadata entry naming a key-level endorsement policy (Fabric's
/// state-based endorsement).
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// Committed state plus the transaction index: what validation reads.
pub trait LedgerView: StateView {
    /// Whether a transaction with this id is already on the ledger.
    fn contains_txid(&self, txid: &TxId) -> Result<bool, StateError>;
}

/// Why a block could not be validated at all (as opposed to a transaction
/// being invalid, which is a [`ValidationCode`]).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// Reading committed state failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What one valid transaction changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxEffects {
    /// Public writes, per namespace.
    pub writes: Vec<(String, KvWrite)>,
    /// Key metadata writes, per namespace.
    pub metadata_writes: Vec<(String, KvMetadataWrite)>,
    /// Hashed private writes, per collection written.
    pub hashed_writes: Vec<HashedCollectionWrites>,
    /// The new channel configuration, for a valid config transaction.
    pub config: Option<ChannelConfig>,
}

/// The validation result of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    /// The code.
    pub code: ValidationCode,
    /// The txid, when the envelope decoded far enough to have one.
    pub txid: Option<TxId>,
    /// The transaction's timestamp (zero if it did not decode).
    pub timestamp: Timestamp,
    /// Its effects (empty unless valid).
    pub effects: TxEffects,
}

/// The validation result of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockResult {
    /// One result per envelope, in block order.
    pub txs: Vec<TxResult>,
}

impl BlockResult {
    /// The codes in block order.
    pub fn codes(&self) -> Vec<ValidationCode> {
        self.txs.iter().map(|t| t.code).collect()
    }

    /// The channel configuration a valid config transaction of this block set, if any.
    pub fn new_config(&self) -> Option<&ChannelConfig> {
        self.txs
            .iter()
            .rev()
            .find_map(|t| t.effects.config.as_ref())
    }

    /// How many transactions are valid.
    pub fn valid_count(&self) -> usize {
        self.txs
            .iter()
            .filter(|t| t.code == ValidationCode::Valid)
            .count()
    }
}

/// Validates the envelopes of block `number` cut at `timestamp` against the
/// committed state in `view`.
pub fn validate_block(
    ctx: &ChannelContext,
    number: u64,
    timestamp: Timestamp,
    data: &[Vec<u8>],
    view: &dyn LedgerView,
) -> Result<BlockResult, ValidateError> {
    validate_prepared(
        ctx,
        number,
        prepare::prepare_block(ctx, number, timestamp, data, &|_| false),
        view,
    )
}

/// Validates a block sealed by a trusted orderer (the Raft leader of the
/// ordering service this node belongs to) that says which transactions it
/// found `VALID`: the signatures of those are not verified again, since the
/// leader verified them and the Raft cluster tolerates crashes, not lies.
/// Everything else (certificates, policies, MVCC, duplicate txids, and every
/// signature of a transaction the leader found invalid) is checked as in
/// [`validate_block`], so the codes come out the same unless the leader
/// misbehaved. Peers never use this: they validate every block fully.
pub fn validate_sealed_block(
    ctx: &ChannelContext,
    number: u64,
    timestamp: Timestamp,
    data: &[Vec<u8>],
    view: &dyn LedgerView,
    sealed_codes: &[ValidationCode],
) -> Result<BlockResult, ValidateError> {
    let trusted = |i: usize| sealed_codes.get(i) == Some(&ValidationCode::Valid);
    validate_prepared(
        ctx,
        number,
        prepare::prepare_block(ctx, number, timestamp, data, &trusted),
        view,
    )
}

fn validate_prepared(
    ctx: &ChannelContext,
    number: u64,
    prepared: Vec<Prepared>,
    view: &dyn LedgerView,
) -> Result<BlockResult, ValidateError> {
    let mut overlay = Overlay::default();
    let mut seen: HashSet<TxId> = HashSet::new();
    let mut definitions: BTreeMap<String, Option<ContractDefinition>> = BTreeMap::new();
    let mut txs = Vec::with_capacity(prepared.len());
    for (index, p) in prepared.into_iter().enumerate() {
        let version = Version {
            block: number,
            tx: u32::try_from(index).unwrap_or(u32::MAX),
        };
        let result = validate_tx(
            ctx,
            p,
            version,
            view,
            &mut overlay,
            &mut seen,
            &mut definitions,
        )?;
        debug!(block = number, tx = index, code = %result.code, "validated");
        txs.push(result);
    }
    Ok(BlockResult { txs })
}

fn validate_tx(
    ctx: &ChannelContext,
    p: Prepared,
    version: Version,
    view: &dyn LedgerView,
    overlay: &mut Overlay,
    seen: &mut HashSet<TxId>,
    definitions: &mut BTreeMap<String, Option<ContractDefinition>>,
) -> Result<TxResult, ValidateError> {
    let invalid = |code| TxResult {
        code,
        txid: p.txid,
        timestamp: p.timestamp,
        effects: TxEffects::default(),
    };
    if let Some(code) = p.early_code {
        return Ok(invalid(code));
    }
    let Some(txid) = p.txid else {
        return Ok(invalid(ValidationCode::BadPayload));
    };
    if seen.contains(&txid) || view.contains_txid(&txid)? {
        return Ok(invalid(ValidationCode::DuplicateTxid));
    }
    seen.insert(txid);
    let effects = match p.kind {
        PreparedKind::Config { config, admins } => {
            if let Some(code) = ctx.check_config_update(&config, &admins, version) {
                return Ok(invalid(code));
            }
            TxEffects {
                config: Some(*config),
                ..TxEffects::default()
            }
        }
        PreparedKind::Endorsed {
            tx,
            payload,
            endorsers,
        } => {
            let code = check_endorsed(ctx, &tx, &payload, &endorsers, view, overlay, definitions)?;
            if code != ValidationCode::Valid {
                return Ok(invalid(code));
            }
            apply(ctx, &payload.rwset, version, overlay, definitions)
        }
        PreparedKind::Invalid(code) => return Ok(invalid(code)),
    };
    Ok(TxResult {
        code: ValidationCode::Valid,
        txid: Some(txid),
        timestamp: p.timestamp,
        effects,
    })
}

/// Every check of an endorsed transaction that needs state, in Fabric's order:
/// response, endorsement policy per written namespace and key, then reads.
fn check_endorsed(
    ctx: &ChannelContext,
    tx: &EndorsedTx,
    payload: &ProposalResponsePayload,
    endorsers: &[Identity],
    view: &dyn LedgerView,
    overlay: &Overlay,
    definitions: &mut BTreeMap<String, Option<ContractDefinition>>,
) -> Result<ValidationCode, ValidateError> {
    // A header that cannot be re-encoded has no proposal hash to match.
    if proposal_hash(&tx.header, &tx.invocation).ok() != Some(payload.proposal_hash)
        || payload.contract.name != tx.invocation.contract
    {
        return Ok(ValidationCode::InvalidEndorserTransaction);
    }
    if payload.response.status >= 400 {
        return Ok(ValidationCode::BadResponsePayload);
    }
    if !rwset_well_formed(&payload.rwset) {
        return Ok(ValidationCode::BadRwset);
    }
    let invoked = tx.invocation.contract.as_str();
    if invoked != LIFECYCLE_NS && definition(view, definitions, invoked)?.is_none() {
        return Ok(ValidationCode::InvalidChaincode);
    }
    for ns in &payload.rwset.namespaces {
        let public_writes = !ns.writes.is_empty() || !ns.metadata_writes.is_empty();
        let private_writes = ns.collections.iter().any(|c| !c.hashed_writes.is_empty());
        if !public_writes && !private_writes {
            continue;
        }
        if ns.namespace == LIFECYCLE_NS {
            if invoked != LIFECYCLE_NS || private_writes {
                return Ok(ValidationCode::IllegalWriteset);
            }
            // An org's approval needs that org's peer (Fabric: the implicit
            // collection's policy); anything else the lifecycle policy.
            let approvals: BTreeSet<&str> = ns
                .writes
                .iter()
                .filter_map(|w| approval_org(&w.key))
                .collect();
            for org in &approvals {
                if ctx.config().org(org).is_none()
                    || !ctx.satisfied(&format!("OR('{org}.peer')"), endorsers)
                {
                    return Ok(ValidationCode::EndorsementPolicyFailure);
                }
            }
            if ns.writes.iter().all(|w| approval_org(&w.key).is_some())
                && ns.metadata_writes.is_empty()
            {
                continue;
            }
            let policy = ctx.channel_policy_text("LifecycleEndorsement");
            if let Some(code) = check_public_writes(ctx, ns, &policy, endorsers, view, overlay)? {
                return Ok(code);
            }
            continue;
        }
        let Some(def) = definition(view, definitions, &ns.namespace)?.as_ref() else {
            return Ok(ValidationCode::InvalidChaincode);
        };
        let policy = if def.endorsement_policy.is_empty() {
            ctx.channel_policy_text("Endorsement")
        } else {
            def.endorsement_policy.clone()
        };
        if public_writes
            && let Some(code) = check_public_writes(ctx, ns, &policy, endorsers, view, overlay)?
        {
            return Ok(code);
        }
        if let Some(code) = private::check_collection_writes(ctx, def, ns, &policy, endorsers) {
            return Ok(code);
        }
    }
    for ns in &payload.rwset.namespaces {
        for read in &ns.reads {
            if overlay.version(view, &ns.namespace, &read.key)? != read.version {
                return Ok(ValidationCode::MvccReadConflict);
            }
        }
        for rq in &ns.range_queries {
            let now = overlay.range(view, &ns.namespace, &rq.start_key, &rq.end_key)?;
            let expected: Vec<(String, Version)> = rq
                .reads
                .iter()
                .filter_map(|r| r.version.map(|v| (r.key.clone(), v)))
                .collect();
            let same = if rq.itr_exhausted {
                now == expected
            } else {
                now.len() >= expected.len() && now[..expected.len()] == expected[..]
            };
            if !same {
                return Ok(ValidationCode::PhantomReadConflict);
            }
        }
        if let Some(code) = private::check_hashed_reads(ns, view, overlay)? {
            return Ok(code);
        }
    }
    Ok(ValidationCode::Valid)
}

/// The contract-level (or lifecycle) policy for a namespace's public writes,
/// then each written key's own policy (Fabric's state-based endorsement).
fn check_public_writes(
    ctx: &ChannelContext,
    ns: &NsRwSet,
    policy: &str,
    endorsers: &[Identity],
    view: &dyn LedgerView,
    overlay: &Overlay,
) -> Result<Option<ValidationCode>, ValidateError> {
    if !ctx.satisfied(policy, endorsers) {
        return Ok(Some(ValidationCode::EndorsementPolicyFailure));
    }
    let keys = ns
        .writes
        .iter()
        .map(|w| &w.key)
        .chain(ns.metadata_writes.iter().map(|m| &m.key));
    for key in keys {
        let meta = overlay.metadata(view, &ns.namespace, key)?;
        if let Some(param) = meta.iter().find(|m| m.name == VALIDATION_PARAMETER) {
            let text = String::from_utf8_lossy(&param.value);
            if !ctx.satisfied(&text, endorsers) {
                return Ok(Some(ValidationCode::EndorsementPolicyFailure));
            }
        }
    }
    Ok(None)
}

fn definition<'a>(
    view: &dyn LedgerView,
    cache: &'a mut BTreeMap<String, Option<ContractDefinition>>,
    name: &str,
) -> Result<&'a Option<ContractDefinition>, ValidateError> {
    if !cache.contains_key(name) {
        let def = view
            .state(LIFECYCLE_NS, &definition_key(name))?
            .and_then(|v| ContractDefinition::decode(&v.value).ok());
        cache.insert(name.to_string(), def);
    }
    Ok(cache.get(name).unwrap_or(&None))
}

/// Namespaces sorted and unique, keys unique within each list: what an
/// honest simulator produces; anything else is refused as `BAD_RWSET`.
fn rwset_well_formed(rwset: &TxRwSet) -> bool {
    let names_sorted = rwset
        .namespaces
        .windows(2)
        .all(|w| w[0].namespace < w[1].namespace);
    names_sorted
        && rwset.namespaces.iter().all(|ns| {
            let mut keys = HashSet::new();
            ns.writes.iter().all(|w| keys.insert(w.key.as_str()))
                && !ns.namespace.is_empty()
                && private::collections_well_formed(ns)
        })
}

fn apply(
    ctx: &ChannelContext,
    rwset: &TxRwSet,
    version: Version,
    overlay: &mut Overlay,
    definitions: &BTreeMap<String, Option<ContractDefinition>>,
) -> TxEffects {
    let mut effects = TxEffects::default();
    for ns in &rwset.namespaces {
        let def = private::cached(definitions, &ns.namespace);
        effects
            .hashed_writes
            .extend(private::apply_hashed_writes(ctx, ns, def, version, overlay));
        for w in &ns.writes {
            overlay.write(&ns.namespace, &w.key, (!w.is_delete).then_some(version));
            effects.writes.push((ns.namespace.clone(), w.clone()));
        }
        for m in &ns.metadata_writes {
            overlay.write_metadata(&ns.namespace, &m.key, m.entries.clone());
            effects
                .metadata_writes
                .push((ns.namespace.clone(), m.clone()));
        }
    }
    effects
}
