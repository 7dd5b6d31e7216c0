//! The gateway, with Fabric Gateway's semantics: a client sends one request
//! to a peer of its own org, which
//! - `evaluate`s on itself, without ordering;
//! - `endorse`s by working out which orgs must endorse (the contract's
//!   policy in its committed definition, plus what the first simulation
//!   actually wrote: other contracts' namespaces, lifecycle approvals,
//!   key-level policies, and collections, whose own endorsement policy
//!   replaces the contract's for their writes; collections it read from
//!   that the first endorser holds restrict the others to member orgs, and
//!   so does every collection it touched when the proposal carries
//!   transient data, which thus reaches only member orgs beyond the
//!   gateway's own),
//!   preferring itself, collecting endorsements from peers of those orgs
//!   over mutual TLS and checking that they agree byte for byte (as
//!   Fabric's gateway does, it verifies no endorsement signature: its own
//!   endorsement was made in process, a remote one came over a connection
//!   pinned to the endorser's org and must carry that org's peer
//!   certificate; validation on every peer verifies every signature, so a
//!   bad one makes the transaction invalid, never valid);
//! - `submit`s the envelope the CLIENT assembled and signed to an orderer,
//!   failing over between orderers;
//! - reports the `commit_status` of a transaction on this peer.
//!
//! Invariants: the gateway never signs for a client; it forwards the
//! client's signed proposal and signed envelope unchanged. Every proposal
//! leaves through [`Collection::ask`], which, when the proposal carries
//! transient data, sends it only to peers of the orgs the client trusts with
//! it (its own and the gateway's, then members of the collections the first
//! simulation touched, or orgs the client named), over a client pinned to
//! the target's org: first endorsers, retries and fallbacks alike.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use cairn_contract::committed_definition;
use cairn_crypto::Role;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::lifecycle::{LIFECYCLE_NS, approval_org};
use cairn_ledger::private::Collection as PrivateCollection;
use cairn_ledger::rwset::TxRwSet;
use cairn_ledger::state::StateView;
use cairn_ledger::tx::{
    Envelope, ProposalResponse, ProposalResponsePayload, Response, SignedProposal,
};
use cairn_ledger::validate::{ChannelContext, VALIDATION_PARAMETER};
use cairn_net::{ApiError, ClientError};
use cairn_orderer::api::BroadcastResponse;
use futures_util::future::join_all;
use tracing::{debug, warn};

use crate::api::{CommitStatus, EndorseRequest, EndorseResponse};
use crate::channel::Channel;
use crate::endorse::{self, Access, Checked};
use crate::node::Shared;
use crate::plan::{MAX_CANDIDATES, Planner};

/// A peer the gateway may ask: itself (`url: None`) or a known remote peer.
struct Candidate {
    msp_id: String,
    url: Option<String>,
}

impl Candidate {
    fn name(&self) -> String {
        match &self.url {
            None => format!("{} (this peer)", self.msp_id),
            Some(u) => format!("{} at {u}", self.msp_id),
        }
    }
}

/// Runs a query on this peer (creator must satisfy `Readers`).
pub(crate) async fn evaluate(
    shared: &Arc<Shared>,
    signed: &SignedProposal,
) -> Result<Response, ApiError> {
    let checked = endorse::check(shared, signed, Access::Read)?;
    let sim = endorse::simulate(shared, &checked).await?;
    Ok(sim.response)
}

/// Collects agreeing endorsements that satisfy every policy the
/// transaction must meet.
pub(crate) async fn endorse(
    shared: &Arc<Shared>,
    request: &EndorseRequest,
) -> Result<EndorseResponse, ApiError> {
    let checked = endorse::check(shared, &request.proposal, Access::Write)?;
    let channel = checked.channel.clone();
    let ctx = channel.context();
    let candidates = candidates(shared, &ctx);
    let msps: Vec<String> = candidates.iter().map(|c| c.msp_id.clone()).collect();
    let has_transient = !checked.proposal.transient.is_empty();
    // Whom the client trusts with its transient data before anything is
    // known of the collections it touches: the gateway's org (the client
    // chose this gateway) and its own org, as Fabric's gateway rule.
    let trusted: BTreeSet<String> = [shared.msp_id(), checked.creator.msp_id()]
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut run = Collection {
        shared,
        checked: &checked,
        signed: &request.proposal,
        candidates: &candidates,
        ctx: &ctx,
        transient_to: has_transient.then(|| trusted.clone()),
        got: Vec::new(),
        failed: Vec::new(),
        reasons: Vec::new(),
    };
    if !request.endorsing_orgs.is_empty() {
        let mut chosen = Vec::new();
        for org in &request.endorsing_orgs {
            if ctx.config().org(org).is_none() {
                return Err(ApiError::bad_request(format!(
                    "endorsing org {org} is not a member of channel {}",
                    channel.name
                )));
            }
            let i = msps.iter().position(|m| m == org).ok_or_else(|| {
                ApiError::unavailable(format!("this gateway knows no peer of {org}"))
            })?;
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        // The client named these orgs: it trusts them with its transient data.
        if let Some(to) = &mut run.transient_to {
            to.extend(request.endorsing_orgs.iter().cloned());
        }
        run.round(&chosen).await?;
        if !run.failed.is_empty() {
            return Err(run.no_plan("the requested endorsing orgs"));
        }
        return Ok(run.finish());
    }
    let snapshot = channel.ledger.snapshot().map_err(ApiError::internal)?;
    let mut policies = base_policies(&ctx, &snapshot, &checked)?;
    let planner = Planner::new(&ctx, &policies).map_err(ApiError::internal)?;
    // The first endorser: this peer if a preferred plan includes it; with
    // transient data, only a peer of a trusted org (retries included).
    while run.got.is_empty() {
        let first = match &run.transient_to {
            None => {
                let plan = planner
                    .plan(&msps, &[], &run.failed, Some(0))
                    .ok_or_else(|| run.no_plan(&policies.join(" and ")))?;
                if plan.is_empty() || plan.contains(&0) {
                    0
                } else {
                    plan[0]
                }
            }
            Some(to) => (0..candidates.len())
                .filter(|i| to.contains(&msps[*i]) && !run.failed.contains(i))
                .find(|i| planner.plan(&msps, &[*i], &run.failed, Some(0)).is_some())
                .ok_or_else(|| run.no_trusted_first(&policies.join(" and ")))?,
        };
        if run.failed.contains(&first) {
            return Err(run.no_plan(&policies.join(" and ")));
        }
        run.round(&[first]).await?;
    }
    let payload = ProposalResponsePayload::decode(&run.got[0].1.payload)
        .map_err(|e| ApiError::internal(format!("own endorsement does not decode: {e}")))?;
    let derived = derived_policies(&ctx, &snapshot, &payload.rwset).map_err(ApiError::internal)?;
    let invoked = checked.proposal.invocation.contract.as_str();
    if collection_policies_replace(&ctx, &snapshot, invoked, &payload.rwset)
        .map_err(ApiError::internal)?
    {
        // Validation applies only the collections' policies to these writes.
        policies.clear();
    }
    for p in derived {
        if !policies.contains(&p) {
            policies.push(p);
        }
    }
    let first_org = run.candidates[run.got[0].0].msp_id.clone();
    // Endorsers must hold the collections the first endorser read from;
    // with transient data (private inputs), the proposal goes only to member
    // orgs of every collection it touches, as Fabric's gateway protects it.
    let restrict =
        restricting_collections(&ctx, &snapshot, &payload.rwset, &first_org, has_transient)
            .map_err(ApiError::internal)?;
    drop(snapshot);
    // Transient data goes on to the trusted orgs and to members of every
    // collection the simulation touched, no further; with no collection
    // touched, to whichever orgs the policies need (Fabric's gateway).
    if let Some(to) = &mut run.transient_to {
        if restrict.is_empty() {
            run.transient_to = None;
        } else {
            let members = restrict
                .iter()
                .map(|(_, m)| m.clone())
                .reduce(|a, b| a.intersection(&b).cloned().collect())
                .unwrap_or_default();
            to.extend(members);
        }
    }
    let outsiders: Vec<usize> = (0..candidates.len())
        .filter(|i| {
            restrict
                .iter()
                .any(|(_, members)| !members.contains(&msps[*i]))
        })
        .collect();
    let mut what = policies.join(" and ");
    if !restrict.is_empty() {
        let names: Vec<&str> = restrict.iter().map(|(n, _)| n.as_str()).collect();
        what.push_str(&format!(
            " with every endorser a member of collection(s) {}",
            names.join(", ")
        ));
        if has_transient {
            what.push_str(
                " (the proposal carries transient data, which is sent only to peers of the collections' member orgs; to trust other orgs with it, name the endorsing orgs)",
            );
        }
    }
    let planner = Planner::new(&ctx, &policies).map_err(ApiError::internal)?;
    loop {
        let have: Vec<usize> = run.got.iter().map(|(i, _)| *i).collect();
        let mut excluded = run.failed.clone();
        excluded.extend(outsiders.iter().filter(|i| !have.contains(i)));
        let Some(plan) = planner.plan(&msps, &have, &excluded, Some(0)) else {
            // Refused by the membership rule rather than by reachability:
            // say which orgs it kept out.
            if planner.plan(&msps, &have, &run.failed, Some(0)).is_some() {
                let kept_out: BTreeSet<&str> =
                    outsiders.iter().map(|i| msps[*i].as_str()).collect();
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "cannot collect endorsements satisfying {what}: only with peers of {}, which are not members",
                        kept_out.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            return Err(run.no_plan(&what));
        };
        let todo: Vec<usize> = plan.into_iter().filter(|i| !have.contains(i)).collect();
        if todo.is_empty() {
            break;
        }
        run.round(&todo).await?;
    }
    Ok(run.finish())
}

/// The state of one endorsement collection.
struct Collection<'a> {
    shared: &'a Arc<Shared>,
    checked: &'a Checked,
    signed: &'a SignedProposal,
    candidates: &'a [Candidate],
    ctx: &'a ChannelContext,
    /// With transient data: the only orgs whose peers may receive the
    /// proposal. [`Collection::ask`], which every send goes through,
    /// enforces it.
    transient_to: Option<BTreeSet<String>>,
    got: Vec<(usize, ProposalResponse)>,
    failed: Vec<usize>,
    reasons: Vec<(String, Option<u16>)>,
}

impl Collection<'_> {
    /// Asks these candidates at once; keeps what agrees, records failures.
    /// A contract refusal or a disagreement ends the whole request.
    async fn round(&mut self, targets: &[usize]) -> Result<(), ApiError> {
        let calls = targets.iter().map(|&i| self.ask(i));
        let results = join_all(calls).await;
        for (&i, result) in targets.iter().zip(results) {
            let c = &self.candidates[i];
            match result {
                Ok(resp) => {
                    let checked = match c.url {
                        None => Ok(()),
                        Some(_) => self.verify(c, &resp, self.got.is_empty()),
                    };
                    if let Err(reason) = checked {
                        warn!(endorser = %c.name(), %reason, "endorsement discarded");
                        self.failed.push(i);
                        self.reasons.push((format!("{}: {reason}", c.name()), None));
                        continue;
                    }
                    if let Some((j, first)) = self.got.first()
                        && first.payload != resp.payload
                    {
                        return Err(ApiError::new(
                            StatusCode::CONFLICT,
                            format!(
                                "endorsers disagree: {} computed a different result than {} (their states differ or the contract is not deterministic); retry",
                                c.name(),
                                self.candidates[*j].name()
                            ),
                        ));
                    }
                    self.got.push((i, resp));
                }
                Err(e)
                    if e.status() == StatusCode::UNPROCESSABLE_ENTITY
                        || e.status() == StatusCode::CONFLICT =>
                {
                    return Err(ApiError::new(
                        e.status(),
                        format!("{}: {}", c.name(), e.message()),
                    ));
                }
                Err(e) => {
                    debug!(endorser = %c.name(), reason = %e.message(), "endorser failed");
                    self.failed.push(i);
                    let status = e.status().is_client_error().then_some(e.status().as_u16());
                    self.reasons
                        .push((format!("{}: {}", c.name(), e.message()), status));
                }
            }
        }
        Ok(())
    }

    /// Sends the proposal to candidate `i`: the one place a proposal
    /// leaves this gateway. With transient data it goes only to a peer of
    /// an org in `transient_to`, as proven by the peer's certificate in the
    /// handshake (a pinned client), whatever label the peer has here.
    async fn ask(&self, i: usize) -> Result<ProposalResponse, ApiError> {
        let c = &self.candidates[i];
        if let Some(to) = &self.transient_to
            && !to.contains(&c.msp_id)
        {
            warn!(endorser = %c.name(), "proposal with transient data not sent to an org outside the client's trust");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "not sent: the proposal carries transient data, which goes only to peers of {}",
                    to.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        match &c.url {
            None => endorse::endorse_checked(self.shared, self.checked)
                .await
                .map(|(_, r)| r),
            Some(url) => {
                // The proposal may carry the client's transient data.
                let client = self.shared.peer_client(&c.msp_id)?;
                self.shared
                    .admissions
                    .check_target(&client, &self.checked.channel, url, "proposal")
                    .await
                    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
                // Over the gateway's stream to that peer, opened with the
                // pinned client: one HTTP request per peer, not per proposal.
                let streams = self.shared.endorse_streams(&c.msp_id);
                let call: Result<ProposalResponse, ClientError> =
                    streams.call(&client, url, self.signed).await;
                call.map_err(|e| match &e {
                    ClientError::Status {
                        status, message, ..
                    } => ApiError::new(
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                        message.clone(),
                    ),
                    other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
                })
            }
        }
    }

    /// A remote endorsement must carry the certificate of a peer of the
    /// org asked and, if it is the first one (`first`: later ones must equal
    /// it byte for byte), a payload for this proposal. Its signature is left
    /// to validation (see the module doc).
    fn verify(&self, c: &Candidate, resp: &ProposalResponse, first: bool) -> Result<(), String> {
        let e = &resp.endorsement;
        let id = self
            .ctx
            .identify(&e.endorser, cairn_crypto::unix_now())
            .map_err(|err| format!("endorser certificate: {err}"))?;
        if id.role() != Role::Peer || id.msp_id() != c.msp_id {
            return Err(format!(
                "signed by {} ({}, role {}), not a peer of {}",
                id.subject(),
                id.msp_id(),
                id.role(),
                c.msp_id
            ));
        }
        if !first {
            return Ok(());
        }
        let payload = ProposalResponsePayload::decode(&resp.payload)
            .map_err(|err| format!("payload does not decode: {err}"))?;
        let proposal_hash = self
            .checked
            .proposal
            .hash()
            .map_err(|err| format!("the proposal has no hash: {err}"))?;
        if payload.proposal_hash != proposal_hash {
            return Err("the payload is for another proposal".into());
        }
        Ok(())
    }

    /// The error when no set of reachable peers can satisfy `what`.
    fn no_plan(&self, what: &str) -> ApiError {
        let detail = if self.reasons.is_empty() {
            "the gateway knows too few peers of the channel's orgs (add them to gateway_peers)"
                .to_string()
        } else {
            self.reasons_text()
        };
        ApiError::new(
            self.reasons_status(StatusCode::SERVICE_UNAVAILABLE),
            format!("cannot collect endorsements satisfying {what}: {detail}"),
        )
    }

    /// The error when, with transient data, no peer of a trusted org can
    /// endorse first (Fabric's gateway refuses the same way).
    fn no_trusted_first(&self, what: &str) -> ApiError {
        let orgs = self
            .transient_to
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let (tried, none_tried) = if self.reasons.is_empty() {
            (String::new(), StatusCode::FORBIDDEN)
        } else {
            (
                format!(" ({})", self.reasons_text()),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        };
        ApiError::new(
            self.reasons_status(none_tried),
            format!(
                "cannot collect endorsements satisfying {what}: the proposal carries transient data, so the first endorser must be a peer of {orgs}, and none can endorse{tried}; to protect the transient data, retry naming the endorsing orgs"
            ),
        )
    }

    /// Every failure so far, one after the other.
    fn reasons_text(&self) -> String {
        self.reasons
            .iter()
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The first refusal's status (a 4xx from an endorser), else `otherwise`.
    fn reasons_status(&self, otherwise: StatusCode) -> StatusCode {
        self.reasons
            .iter()
            .find_map(|(_, s)| *s)
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(otherwise)
    }

    fn finish(self) -> EndorseResponse {
        let result = self
            .got
            .first()
            .and_then(|(_, r)| ProposalResponsePayload::decode(&r.payload).ok())
            .map(|p| p.response)
            .unwrap_or(Response {
                status: 500,
                message: "no endorsement".into(),
                payload: Vec::new(),
            });
        EndorseResponse {
            txid: self.checked.proposal.header.txid,
            endorsers: self
                .got
                .iter()
                .map(|(i, _)| self.candidates[*i].msp_id.clone())
                .collect(),
            responses: self.got.into_iter().map(|(_, r)| r).collect(),
            result,
        }
    }
}

/// This peer first, then the known peers of channel orgs, at most
/// [`MAX_CANDIDATES`].
fn candidates(shared: &Shared, ctx: &ChannelContext) -> Vec<Candidate> {
    let mut out = vec![Candidate {
        msp_id: shared.msp_id().to_string(),
        url: None,
    }];
    for p in &shared.config.gateway_peers {
        if ctx.config().org(&p.msp_id).is_some() && out.len() < MAX_CANDIDATES {
            out.push(Candidate {
                msp_id: p.msp_id.clone(),
                url: Some(p.url.clone()),
            });
        }
    }
    out
}

/// The invoked contract's own policy (its committed definition's, or the
/// channel's `Endorsement` policy); none for `_lifecycle`, whose writes decide.
fn base_policies(
    ctx: &ChannelContext,
    state: &dyn StateView,
    checked: &Checked,
) -> Result<Vec<String>, ApiError> {
    let name = &checked.proposal.invocation.contract;
    if name == LIFECYCLE_NS {
        return Ok(Vec::new());
    }
    match committed_definition(state, name) {
        Ok(Some((def, _))) if !def.endorsement_policy.is_empty() => {
            Ok(vec![def.endorsement_policy])
        }
        Ok(Some(_)) => Ok(vec![ctx.channel_policy_text("Endorsement")]),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "contract {name:?} is not committed on channel {}",
                ctx.config().name
            ),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The policies validation will apply to what a simulation wrote (the
/// same rules as `cairn_ledger::validate`).
fn derived_policies(
    ctx: &ChannelContext,
    state: &dyn StateView,
    rwset: &TxRwSet,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut push = |p: String| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for ns in &rwset.namespaces {
        let writes = !ns.writes.is_empty()
            || !ns.metadata_writes.is_empty()
            || ns.collections.iter().any(|c| !c.hashed_writes.is_empty());
        if !writes {
            continue;
        }
        if ns.namespace == LIFECYCLE_NS {
            for w in &ns.writes {
                if let Some(org) = approval_org(&w.key) {
                    push(format!("OR('{org}.peer')"));
                }
            }
            if ns.writes.iter().any(|w| approval_org(&w.key).is_none())
                || !ns.metadata_writes.is_empty()
            {
                push(ctx.channel_policy_text("LifecycleEndorsement"));
            }
            continue;
        }
        // Validation will refuse an undefined contract (INVALID_CHAINCODE)
        // whoever endorses.
        let Some((def, _)) =
            committed_definition(state, &ns.namespace).map_err(|e| e.to_string())?
        else {
            continue;
        };
        let contract_policy = if def.endorsement_policy.is_empty() {
            ctx.channel_policy_text("Endorsement")
        } else {
            def.endorsement_policy.clone()
        };
        if !ns.writes.is_empty() || !ns.metadata_writes.is_empty() {
            push(contract_policy.clone());
        }
        // A collection's own policy replaces the contract's for its writes;
        // an undefined collection is refused by validation whoever endorses.
        for c in ns
            .collections
            .iter()
            .filter(|c| !c.hashed_writes.is_empty())
        {
            if let Some(coll) = PrivateCollection::resolve(&def, ctx.config(), &c.collection) {
                push(
                    coll.endorsement_policy(ctx.config())
                        .unwrap_or_else(|| contract_policy.clone()),
                );
            }
        }
        let keys = ns
            .writes
            .iter()
            .map(|w| &w.key)
            .chain(ns.metadata_writes.iter().map(|m| &m.key));
        for key in keys {
            let meta = state
                .metadata(&ns.namespace, key)
                .map_err(|e| e.to_string())?;
            if let Some(param) = meta.iter().find(|m| m.name == VALIDATION_PARAMETER) {
                push(String::from_utf8_lossy(&param.value).into_owned());
            }
        }
    }
    Ok(out)
}

/// Whether the invoked contract's own policy does not apply to this
/// transaction: its namespace wrote nothing public, and every collection it
/// wrote has its own endorsement policy.
fn collection_policies_replace(
    ctx: &ChannelContext,
    state: &dyn StateView,
    invoked: &str,
    rwset: &TxRwSet,
) -> Result<bool, String> {
    let Some(ns) = rwset.namespaces.iter().find(|n| n.namespace == invoked) else {
        return Ok(false);
    };
    let written: Vec<&str> = ns
        .collections
        .iter()
        .filter(|c| !c.hashed_writes.is_empty())
        .map(|c| c.collection.as_str())
        .collect();
    if !ns.writes.is_empty() || !ns.metadata_writes.is_empty() || written.is_empty() {
        return Ok(false);
    }
    let Some((def, _)) = committed_definition(state, invoked).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    Ok(written.iter().all(|name| {
        PrivateCollection::resolve(&def, ctx.config(), name)
            .is_some_and(|c| c.endorsement_policy(ctx.config()).is_some())
    }))
}

/// The collections whose member orgs the other endorsers must be, with
/// those members:
/// - those the simulation read whose data the first endorser (`first_org`)
///   holds: it may have read their values, which only members can reproduce
///   (a non-member's successful simulation can only have read hashes, which
///   every peer has);
/// - with `transient` data, every collection the simulation read or wrote:
///   the private inputs go only to peers that may hold the collections
///   (Fabric's gateway clears `NoPrivateReads` for the same reason).
fn restricting_collections(
    ctx: &ChannelContext,
    state: &dyn StateView,
    rwset: &TxRwSet,
    first_org: &str,
    transient: bool,
) -> Result<Vec<(String, BTreeSet<String>)>, String> {
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for ns in &rwset.namespaces {
        let touched: Vec<(&str, bool)> = ns
            .collections
            .iter()
            .filter(|c| !c.hashed_reads.is_empty() || (transient && !c.hashed_writes.is_empty()))
            .map(|c| (c.collection.as_str(), !c.hashed_reads.is_empty()))
            .collect();
        if touched.is_empty() {
            continue;
        }
        let Some((def, _)) =
            committed_definition(state, &ns.namespace).map_err(|e| e.to_string())?
        else {
            continue;
        };
        for (name, read) in touched {
            if let Some(coll) = PrivateCollection::resolve(&def, ctx.config(), name)
                && (transient || (read && coll.is_member(first_org)))
                && !out.iter().any(|(n, _)| n == name)
            {
                out.push((name.to_string(), coll.member_orgs().clone()));
            }
        }
    }
    Ok(out)
}

/// Sends a client-signed envelope to the Raft leader of the channel's
/// orderers, over this gateway's broadcast stream to it (one long-lived
/// HTTP/2 stream per orderer, not a request per envelope): first to the
/// one that last ordered for this gateway (or where
/// blocks come from), following a follower's answer naming the leader, and
/// failing over to the next orderer on retryable errors until the submit
/// deadline.
pub(crate) async fn submit(
    shared: &Arc<Shared>,
    envelope: &Envelope,
) -> Result<BroadcastResponse, ApiError> {
    let tx = envelope
        .transaction()
        .map_err(|e| ApiError::bad_request(format!("not a valid transaction envelope: {e}")))?;
    let header = tx.header();
    let channel = shared.channel_or_404(&header.channel)?;
    let urls = shared.orderer_urls(&channel);
    if urls.is_empty() {
        return Err(ApiError::unavailable(format!(
            "no orderers known for channel {}",
            channel.name
        )));
    }
    let deadline = Instant::now() + Duration::from_millis(shared.config.gateway.submit_timeout_ms);
    // Start at the leader last seen, else where blocks come from (that
    // orderer is known to be alive).
    let mut i = channel
        .leader_hint()
        .or_else(|| channel.source())
        .and_then(|s| urls.iter().position(|u| *u == s))
        .unwrap_or(0);
    let mut last = String::new();
    let mut redirects = 0;
    // Once an attempt may have reached an orderer without an answer, later
    // ones say so: the leader then answers with the block that holds it
    // rather than ordering it twice.
    let mut resent = false;
    loop {
        let url = &urls[i % urls.len()];
        if resent {
            cairn_counters::inc(cairn_counters::Counter::Resent);
        }
        let sent = cairn_orderer::api::broadcast_streamed(
            &shared.broadcasts,
            &shared.client,
            url,
            envelope,
            resent,
        )
        .await;
        if sent.as_ref().is_err_and(ClientError::is_retryable) {
            resent = true;
        }
        match sent {
            Ok(r) => {
                debug!(channel = %channel.name, txid = %r.txid, block = r.block, code = %r.code, "transaction ordered");
                channel.set_leader_hint(Some(url));
                return Ok(r);
            }
            Err(ClientError::Status {
                status: cairn_orderer::api::NOT_LEADER,
                message: named,
                ..
            }) => {
                // A follower named the leader: go there at once, if it is one
                // of the channel's orderers (a name it does not know counts as
                // a failure of this orderer).
                let named = named.trim();
                match urls
                    .iter()
                    .position(|u| u.trim_end_matches('/') == named.trim_end_matches('/'))
                {
                    Some(j) if redirects < urls.len() => {
                        redirects += 1;
                        channel.set_leader_hint(Some(&urls[j]));
                        i = j;
                    }
                    _ => {
                        last = format!("{url} named {named} as the leader");
                        channel.set_leader_hint(None);
                        i += 1;
                        if Instant::now() >= deadline {
                            return Err(ApiError::unavailable(format!(
                                "no orderer of channel {} accepted the transaction: {last}",
                                channel.name
                            )));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                debug!(orderer = %url, reason = %e, "broadcast failed; trying the next orderer");
                last = e.to_string();
                channel.set_leader_hint(None);
                i += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(ClientError::Status {
                status, message, ..
            }) if !(500..600).contains(&status) => {
                return Err(ApiError::new(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                    format!("the ordering service refused the transaction: {message}"),
                ));
            }
            Err(e) => {
                if !last.is_empty() {
                    last.push_str("; ");
                }
                last.push_str(&e.to_string());
                return Err(ApiError::unavailable(format!(
                    "no orderer of channel {} accepted the transaction: {last}",
                    channel.name
                )));
            }
        }
    }
}

/// Waits until this peer committed `txid` (at most `wait`): looks in the
/// ledger once, then in each block the committer announces, from memory
/// (the ledger again only if this waiter missed a block).
pub(crate) async fn commit_status(
    channel: &Channel,
    txid: &cairn_ledger::ids::TxId,
    wait: Duration,
) -> Result<CommitStatus, ApiError> {
    let mut rx = channel.height.subscribe();
    let in_memory = |number: u64| -> Option<Option<CommitStatus>> {
        let last = channel
            .last_committed()
            .filter(|c| c.block.header.number == number)?;
        Some(
            last.statuses
                .iter()
                .find(|s| s.txid.as_ref() == Some(txid))
                .map(|s| CommitStatus {
                    txid: *txid,
                    block: s.block,
                    index: s.index,
                    code: s.code,
                }),
        )
    };
    let lookup = || -> Result<Option<CommitStatus>, ApiError> {
        Ok(channel
            .ledger
            .tx(txid)
            .map_err(ApiError::internal)?
            .map(|loc| CommitStatus {
                txid: *txid,
                block: loc.block,
                index: loc.index,
                code: loc.code,
            }))
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = *rx.borrow_and_update();
    if let Some(s) = lookup()? {
        return Ok(s);
    }
    loop {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {
                let now = *rx.borrow_and_update();
                let found = match (now == seen + 1).then(|| in_memory(seen)).flatten() {
                    Some(found) => found,
                    None => lookup()?,
                };
                if let Some(s) = found {
                    return Ok(s);
                }
                seen = now;
            }
            Ok(Err(_)) => return Err(ApiError::unavailable("the channel is closing")),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "transaction {txid} is not committed on this peer of channel {} (height {}) yet; ask again later",
                        channel.name,
                        channel.ledger.height()
                    ),
                ));
            }
        }
    }
}
