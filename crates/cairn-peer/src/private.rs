//! Private data on the network (Fabric's gossip private data, over mutual
//! TLS between peers):
//!
//! ```text
//!  endorse ─► sign ─► simulation's PrivateWriteSet
//!     ├─ collections this peer's org is a member of ─► own transient store
//!     └─ per collection: POST /private/push (writes + signed endorsement)
//!        to peers of member orgs over clients pinned to each org (the
//!        target's certificate proves it), ≤ maxPeerCount delivered,
//!        ≥ requiredPeerCount or the endorsement fails
//!  receiver: the caller signed the endorsement it carries, for this
//!     transaction, over exactly these writes' hashes; THIS peer's org is a
//!     member of every collection pushed ─► transient store (a differing
//!     copy is kept beside the first), or reconcile if already committed
//!  reconciliation: POST /private/fetch ─► only collections the CALLER's org
//!     is a member of, as this peer holds them
//! ```
//!
//! Invariants: a collection's cleartext is sent only to peers whose
//! certificate proves a member org and stored only by them; a push is taken
//! only from its endorser and only as signed; values are never logged (only
//! collection names, counts and transaction ids).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use cairn_contract::committed_definition;
use cairn_crypto::{Identity, Role};
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::lifecycle::ContractDefinition;
use cairn_ledger::private::{Collection, PrivateWriteSet, key_hash, verify_collection};
use cairn_ledger::tx::{Endorsement, ProposalResponse, ProposalResponsePayload, proposal_hash};
use cairn_ledger::validation::ValidationCode;
use cairn_net::{ApiError, Caller, Postcard, RequireRoles};
use cairn_store::Snapshot;
use futures_util::future::join_all;
use rand::seq::SliceRandom;
use tracing::{debug, warn};

use crate::api::{self, FetchRequest, FetchedPrivateData, PushRequest};
use crate::channel::Channel;
use crate::config::KnownPeer;
use crate::endorse::Checked;
use crate::node::Shared;

/// Most missing entries one fetch may ask for.
pub(crate) const MAX_FETCH_ITEMS: usize = 1000;

const PEERS: &[Role] = &[Role::Peer];

/// The peer-to-peer private data endpoints.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/private/push", post(push))
        .route("/private/fetch", post(fetch))
        .route_layer(RequireRoles::new("the private data endpoints", PEERS))
        .with_state(shared)
}

/// Resolves collections of contracts as committed now on a channel.
pub(crate) struct Collections {
    state: Snapshot,
    config: ChannelConfig,
    definitions: BTreeMap<String, Option<ContractDefinition>>,
}

impl Collections {
    /// A resolver over the channel's committed state now.
    pub(crate) fn new(channel: &Channel) -> Result<Collections, ApiError> {
        Ok(Collections {
            state: channel.ledger.snapshot().map_err(ApiError::internal)?,
            config: channel.ledger.config(),
            definitions: BTreeMap::new(),
        })
    }

    /// Collection `collection` of contract `namespace`, if defined.
    pub(crate) fn resolve(
        &mut self,
        namespace: &str,
        collection: &str,
    ) -> Result<Option<Collection>, ApiError> {
        if !self.definitions.contains_key(namespace) {
            let def = committed_definition(&self.state, namespace)
                .map_err(ApiError::internal)?
                .map(|(d, _)| d);
            self.definitions.insert(namespace.to_string(), def);
        }
        Ok(self
            .definitions
            .get(namespace)
            .and_then(Option::as_ref)
            .and_then(|def| Collection::resolve(def, &self.config, collection)))
    }

    /// Keeps only the collections `msp_id` is a member of.
    pub(crate) fn retain_member(
        &mut self,
        writes: &mut PrivateWriteSet,
        msp_id: &str,
    ) -> Result<(), ApiError> {
        let mut keep = BTreeSet::new();
        for (ns, c) in writes.collections() {
            if self
                .resolve(ns, &c.collection)?
                .is_some_and(|coll| coll.is_member(msp_id))
            {
                keep.insert((ns.to_string(), c.collection.clone()));
            }
        }
        writes.retain(|ns, c| keep.contains(&(ns.to_string(), c.to_string())));
        Ok(())
    }
}

/// One collection's dissemination.
struct Plan {
    namespace: String,
    collection: String,
    required: usize,
    max: usize,
    writes: PrivateWriteSet,
    targets: Vec<KnownPeer>,
}

/// Keeps the collections this peer's org is a member of in its transient
/// store and pushes each collection to peers of its member orgs. Fails if a
/// collection reached fewer peers than its `requiredPeerCount`.
pub(crate) async fn disseminate(
    shared: &Arc<Shared>,
    checked: &Checked,
    endorsement: &ProposalResponse,
    writes: &PrivateWriteSet,
) -> Result<(), ApiError> {
    let channel = &checked.channel;
    let txid = checked.proposal.header.txid;
    let own_msp = shared.msp_id().to_string();
    let mut collections = Collections::new(channel)?;
    let mut own = PrivateWriteSet::default();
    let mut plans = Vec::new();
    for (ns, c) in writes.collections() {
        let coll = collections.resolve(ns, &c.collection)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "collection {} is not defined for contract {ns} on channel {}",
                    c.collection, channel.name
                ),
            )
        })?;
        let mut single = PrivateWriteSet::default();
        for w in &c.writes {
            single.insert(ns, &c.collection, w.clone());
            if coll.is_member(&own_msp) {
                own.insert(ns, &c.collection, w.clone());
            }
        }
        let config = coll.config();
        plans.push(Plan {
            namespace: ns.to_string(),
            collection: c.collection.clone(),
            required: config.required_peer_count as usize,
            max: config.max_peer_count as usize,
            writes: single,
            targets: targets(&shared.config.gateway_peers, &collections.config, &coll),
        });
    }
    // The endorser's own copy: a memory write, made durable by the sync after
    // the next block (see the transient store's durability), so no I/O here.
    channel
        .transient
        .persist(&txid, channel.ledger.height(), &own)
        .map_err(ApiError::internal)?;
    let results = join_all(
        plans
            .iter()
            .map(|p| push_collection(shared, checked, endorsement, p)),
    )
    .await;
    let mut failures = Vec::new();
    for (p, (delivered, errors)) in plans.iter().zip(results) {
        if delivered < p.required {
            let tried = if errors.is_empty() {
                "no known peer of a member org (add them to gateway_peers)".to_string()
            } else {
                errors.join("; ")
            };
            failures.push(format!(
                "private data of collection {} (contract {}) reached {delivered} of the {} peer(s) its requiredPeerCount asks for ({tried})",
                p.collection, p.namespace, p.required
            ));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let reason = failures.join("; ");
    warn!(channel = %channel.name, %txid, %reason, "endorsement failed: private data dissemination");
    Err(ApiError::unavailable(format!(
        "endorsement failed: {reason}; start more member peers or lower requiredPeerCount"
    )))
}

/// Known peers of the collection's member orgs on the channel: one per org
/// first (orgs in random order), then the others, each group shuffled.
fn targets(known: &[KnownPeer], config: &ChannelConfig, coll: &Collection) -> Vec<KnownPeer> {
    let mut by_org: BTreeMap<&str, Vec<&KnownPeer>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for p in known {
        if coll.is_member(&p.msp_id)
            && config.org(&p.msp_id).is_some()
            && seen.insert(p.url.trim_end_matches('/'))
        {
            by_org.entry(p.msp_id.as_str()).or_default().push(p);
        }
    }
    let mut rng = rand::rng();
    let mut groups: Vec<Vec<&KnownPeer>> = by_org.into_values().collect();
    for g in &mut groups {
        g.shuffle(&mut rng);
    }
    groups.shuffle(&mut rng);
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < seen.len() {
        for g in &groups {
            if let Some(p) = g.get(round) {
                out.push((*p).clone());
            }
        }
        round += 1;
    }
    out
}

/// Pushes one collection to at most `max` peers that accept it: failed
/// pushes are replaced by the next target. Returns the deliveries and the
/// failures.
async fn push_collection(
    shared: &Arc<Shared>,
    checked: &Checked,
    endorsement: &ProposalResponse,
    plan: &Plan,
) -> (usize, Vec<String>) {
    let channel = &checked.channel;
    let txid = checked.proposal.header.txid;
    let timeout = Duration::from_millis(shared.config.private_data.push_timeout_ms);
    let request = PushRequest {
        channel: channel.name.clone(),
        txid,
        writes: plan.writes.clone(),
        header: checked.proposal.header.clone(),
        invocation: checked.proposal.invocation.clone(),
        endorsement: endorsement.clone(),
    };
    let counter = |outcome: &str| {
        shared
            .metrics
            .pvt_pushes
            .with_label_values(&[channel.name.as_str(), plan.collection.as_str(), outcome])
            .inc()
    };
    let (mut delivered, mut errors, mut next) = (0usize, Vec::new(), 0usize);
    while delivered < plan.max && next < plan.targets.len() {
        let wave: Vec<&KnownPeer> = plan.targets[next..]
            .iter()
            .take(plan.max - delivered)
            .collect();
        next += wave.len();
        let calls = wave.iter().map(|p| async {
            // The org is the one the target proves in the handshake.
            let client = shared
                .peer_client(&p.msp_id)
                .map_err(|e| e.message().to_string())?;
            shared
                .admissions
                .check_target(&client, channel, &p.url, "private data")
                .await
                .map_err(|e| e.to_string())?;
            api::push_private(&client, &p.url, &request, timeout)
                .await
                .map_err(|e| e.to_string())
        });
        for (p, r) in wave.iter().zip(join_all(calls).await) {
            match r {
                Ok(()) => {
                    delivered += 1;
                    counter("delivered");
                }
                Err(e) => {
                    counter("failed");
                    debug!(collection = %plan.collection, peer = %p.url, reason = %e, "private data push failed");
                    errors.push(format!("{} at {}: {e}", p.msp_id, p.url));
                }
            }
        }
    }
    debug!(channel = %channel.name, %txid, collection = %plan.collection, delivered, "private data disseminated");
    (delivered, errors)
}

/// One transaction's private writes from the copies the transient store
/// holds: with one copy, that copy; with differing copies of a collection
/// (an early push with other contents), per collection the copy that
/// matches the hashes the block carries for the transaction.
pub(crate) fn choose_copy(
    block: &cairn_ledger::block::Block,
    txid: &TxId,
    mut copies: Vec<PrivateWriteSet>,
) -> PrivateWriteSet {
    if copies.len() <= 1 {
        return copies.pop().unwrap_or_default();
    }
    let rwset = block
        .data
        .iter()
        .filter_map(|env| {
            cairn_ledger::tx::Envelope::decode(env)
                .ok()?
                .transaction()
                .ok()
        })
        .find_map(|tx| match tx {
            cairn_ledger::tx::Transaction::Endorsed(e) if e.header.txid == *txid => {
                ProposalResponsePayload::decode(&e.response_payload).ok()
            }
            _ => None,
        })
        .map(|p| p.rwset);
    let mut out = PrivateWriteSet::default();
    let mut names = BTreeSet::new();
    for copy in &copies {
        for (ns, c) in copy.collections() {
            names.insert((ns.to_string(), c.collection.clone()));
        }
    }
    for (ns, name) in names {
        let candidates = copies.iter().filter_map(|c| c.collection(&ns, &name));
        let mut chosen = None;
        for cand in candidates {
            let fits = rwset.as_ref().is_some_and(|r| signs_exactly(r, &ns, cand));
            if fits || chosen.is_none() {
                chosen = Some(cand);
            }
            if fits {
                break;
            }
        }
        for w in chosen.into_iter().flat_map(|c| c.writes.iter()) {
            out.insert(&ns, &name, w.clone());
        }
    }
    out
}

/// The caller as a peer of one of the channel's orgs.
fn channel_peer(channel: &Channel, caller: &Identity) -> Result<Identity, ApiError> {
    let id = channel.member(caller.der(), "the calling peer")?;
    if id.role() != Role::Peer {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "only peers of channel {} exchange private data; {} has role {}",
                channel.name,
                id.subject(),
                id.role()
            ),
        ));
    }
    Ok(id)
}

/// `POST /private/push`: an endorser's private writes for this peer.
async fn push(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<PushRequest>,
) -> Result<Postcard<()>, ApiError> {
    let channel = shared.channel_or_404(&req.channel)?;
    let sender = channel_peer(&channel, &caller)?;
    let hashed = endorsed_hashes(&channel, &sender, &req)?;
    let own = shared.msp_id();
    let mut collections = Collections::new(&channel)?;
    let mut names = Vec::new();
    for (ns, c) in req.writes.collections() {
        let coll = collections.resolve(ns, &c.collection)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "collection {} is not defined for contract {ns} on channel {}",
                c.collection, channel.name
            ))
        })?;
        check_against_endorsement(&hashed, ns, c, &req.txid)?;
        if !coll.is_member(own) {
            warn!(channel = %channel.name, collection = %c.collection, sender = %sender.subject(), "refused private data of a collection this org is not a member of");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this peer's org {own} is not a member of collection {}: it does not take its private data",
                    c.collection
                ),
            ));
        }
        names.push(c.collection.clone());
    }
    let committed = channel.ledger.tx(&req.txid).map_err(ApiError::internal)?;
    let (ch, txid, writes) = (channel.clone(), req.txid, req.writes);
    tokio::task::spawn_blocking(move || {
        let fill = |loc: cairn_store::TxLocation| {
            if loc.code != ValidationCode::Valid {
                return Ok(());
            }
            ch.ledger
                .reconcile(loc.block, loc.index, &writes)
                .map(|_| ())
                .map_err(ApiError::internal)
        };
        // The block came first: fill what the commit recorded as missing.
        if let Some(loc) = committed {
            return fill(loc);
        }
        // Acknowledged only once durable: the endorser counts it towards
        // requiredPeerCount.
        ch.transient
            .persist_durable(&txid, ch.ledger.height(), &writes)
            .map_err(ApiError::internal)?;
        // The block may have committed meanwhile, after its commit read the
        // transient store: fill from what arrived.
        match ch.ledger.tx(&txid).map_err(ApiError::internal)? {
            Some(loc) => fill(loc),
            None => Ok(()),
        }
    })
    .await
    .map_err(ApiError::internal)??;
    for name in &names {
        shared
            .metrics
            .pvt_received
            .with_label_values(&[channel.name.as_str(), name.as_str()])
            .inc();
    }
    debug!(channel = %channel.name, txid = %req.txid, sender = %sender.subject(), collections = names.len(), "private data received");
    Ok(Postcard(()))
}

/// The hashed private writes of the endorsement a push carries, once it is
/// shown to be the calling peer's own, valid endorsement of the pushed
/// transaction: a peer that did not endorse it cannot push for it.
fn endorsed_hashes(
    channel: &Channel,
    sender: &Identity,
    req: &PushRequest,
) -> Result<cairn_ledger::rwset::TxRwSet, ApiError> {
    let refuse = |reason: String| {
        warn!(channel = %channel.name, txid = %req.txid, sender = %sender.subject(), %reason, "private data push refused");
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "private data push for transaction {} refused: {reason}",
                req.txid
            ),
        )
    };
    let e = &req.endorsement.endorsement;
    if e.endorser != sender.der() {
        return Err(refuse(format!(
            "{} did not sign the endorsement it carries; only an endorser pushes its own private writes",
            sender.subject()
        )));
    }
    sender
        .verify(
            &Endorsement::signed_bytes(&req.endorsement.payload, &e.endorser),
            &e.signature,
        )
        .map_err(|err| refuse(format!("the endorsement signature does not verify: {err}")))?;
    let payload = ProposalResponsePayload::decode(&req.endorsement.payload)
        .map_err(|err| refuse(format!("the endorsement payload does not decode: {err}")))?;
    if req.header.txid != req.txid || req.header.channel != channel.name {
        return Err(refuse(format!(
            "the proposal header is for transaction {} on channel {}",
            req.header.txid, req.header.channel
        )));
    }
    let hash = proposal_hash(&req.header, &req.invocation)
        .map_err(|err| refuse(format!("the proposal does not encode: {err}")))?;
    if hash != payload.proposal_hash {
        return Err(refuse(
            "the endorsement is for another proposal".to_string(),
        ));
    }
    Ok(payload.rwset)
}

/// Refuses pushed writes of one collection unless they are exactly the
/// writes whose hashes the endorsement signed.
fn check_against_endorsement(
    rwset: &cairn_ledger::rwset::TxRwSet,
    namespace: &str,
    pushed: &cairn_ledger::private::CollectionPrivateWrites,
    txid: &TxId,
) -> Result<(), ApiError> {
    if !signs_exactly(rwset, namespace, pushed) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "private data push for transaction {txid} refused: the writes to collection {} do not match the hashes the endorsement signs",
                pushed.collection
            ),
        ));
    }
    Ok(())
}

/// Whether `rwset` hashes exactly these cleartext writes of a collection
/// of `namespace`: every write matches a hashed write, and none is missing.
fn signs_exactly(
    rwset: &cairn_ledger::rwset::TxRwSet,
    namespace: &str,
    writes: &cairn_ledger::private::CollectionPrivateWrites,
) -> bool {
    let signed = rwset
        .namespaces
        .iter()
        .filter(|n| n.namespace == namespace)
        .flat_map(|n| n.collections.iter())
        .find(|c| c.collection == writes.collection)
        .map(|c| c.hashed_writes.as_slice())
        .unwrap_or_default();
    let v = verify_collection(signed, writes);
    !signed.is_empty() && v.rejected == 0 && v.matching.len() == signed.len()
}

/// `POST /private/fetch`: private data another member peer is missing.
async fn fetch(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<FetchRequest>,
) -> Result<Postcard<Vec<FetchedPrivateData>>, ApiError> {
    let channel = shared.channel_or_404(&req.channel)?;
    let requester = channel_peer(&channel, &caller)?;
    if req.wanted.len() > MAX_FETCH_ITEMS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_FETCH_ITEMS} missing entries per fetch"
        )));
    }
    let own = shared.msp_id().to_string();
    let mut collections = Collections::new(&channel)?;
    let mut allowed = Vec::new();
    for m in req.wanted {
        let ok = collections
            .resolve(&m.namespace, &m.collection)?
            .is_some_and(|c| c.is_member(requester.msp_id()) && c.is_member(&own));
        if ok {
            allowed.push(m);
        }
    }
    let ch = channel.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for m in allowed {
            let mut writes = ch
                .ledger
                .private_writes(m.block, m.tx)
                .map_err(ApiError::internal)?;
            writes.retain(|ns, c| ns == m.namespace && c == m.collection);
            for ns in &mut writes.namespaces {
                for c in &mut ns.collections {
                    c.writes
                        .retain(|w| m.key_hashes.contains(&key_hash(&w.key)));
                }
                ns.collections.retain(|c| !c.writes.is_empty());
            }
            writes.namespaces.retain(|n| !n.collections.is_empty());
            if !writes.is_empty() {
                out.push(FetchedPrivateData {
                    block: m.block,
                    tx: m.tx,
                    writes,
                });
            }
        }
        Ok::<_, ApiError>(out)
    })
    .await
    .map_err(ApiError::internal)??;
    debug!(channel = %channel.name, requester = %requester.subject(), served = out.len(), "private data served for reconciliation");
    Ok(Postcard(out))
}

/// The private writes of block `number` that `msp_id`'s org may hold, per
/// transaction index (for private data events).
pub(crate) fn block_private_for(
    channel: &Channel,
    number: u64,
    msp_id: &str,
) -> Result<Vec<(u32, PrivateWriteSet)>, ApiError> {
    let held = channel
        .ledger
        .private_block(number)
        .map_err(ApiError::internal)?;
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let mut collections = Collections::new(channel)?;
    let mut out = Vec::new();
    for (tx, mut writes) in held {
        collections.retain_member(&mut writes, msp_id)?;
        if !writes.is_empty() {
            out.push((tx, writes));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use cairn_crypto::MspConfig;

    use super::*;

    fn peer(msp: &str, n: u32) -> KnownPeer {
        KnownPeer {
            msp_id: msp.into(),
            url: format!("https://{msp}-{n}:7051"),
        }
    }

    #[test]
    fn targets_are_member_peers_one_per_org_first() {
        let orgs = ["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"]
            .iter()
            .map(|id| MspConfig {
                msp_id: id.to_string(),
                ca_pem: String::new(),
                revoked: Vec::new(),
            })
            .collect();
        let config = ChannelConfig::with_defaults("ch", orgs, vec!["Org1MSP".into()]);
        let coll = Collection::explicit(cairn_ledger::lifecycle::CollectionConfig {
            name: "PDC2".into(),
            policy: "OR('Org3MSP.member','Org4MSP.member')".into(),
            required_peer_count: 1,
            max_peer_count: 2,
            block_to_live: 0,
            member_only_read: false,
            member_only_write: false,
            endorsement_policy: None,
        });
        let known = vec![
            peer("Org1MSP", 0),
            peer("Org3MSP", 0),
            peer("Org3MSP", 1),
            peer("Org3MSP", 1),
            peer("Org4MSP", 0),
            peer("Org9MSP", 0),
        ];
        for _ in 0..20 {
            let t = targets(&known, &config, &coll);
            assert_eq!(t.len(), 3, "members only, each URL once: {t:?}");
            let first: BTreeSet<&str> = t[..2].iter().map(|p| p.msp_id.as_str()).collect();
            assert_eq!(first, BTreeSet::from(["Org3MSP", "Org4MSP"]), "{t:?}");
            assert_eq!(t[2].msp_id, "Org3MSP");
        }
    }
}
