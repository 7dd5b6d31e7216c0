//! Endorsement: check a signed proposal (creator on the channel, signature,
//! txid, channel policy), simulate it on a snapshot of committed state, sign
//! the result, and push its private writes (with the signed result) to
//! member peers.
//!
//! Invariant: a proposal is simulated only after its creator's certificate
//! was validated against the channel's orgs now, its signature verified, and
//! the channel policy (`Writers` to endorse, `Readers` to evaluate) checked;
//! the transient map is passed to the contract and never logged.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use cairn_contract::{ContractError, InvokeRequest, Simulation};
use cairn_crypto::Identity;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::tx::{Proposal, ProposalResponse, SignedProposal};
use cairn_net::ApiError;
use tracing::{debug, warn};

use crate::channel::Channel;
use crate::node::Shared;

/// Which channel policy the proposal's creator must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Queries (`evaluate`): `Readers`.
    Read,
    /// Transactions (`endorse`): `Writers`.
    Write,
}

impl Access {
    fn policy(self) -> &'static str {
        match self {
            Access::Read => "Readers",
            Access::Write => "Writers",
        }
    }
}

/// A proposal that passed every check, ready to simulate.
pub(crate) struct Checked {
    pub proposal: Proposal,
    pub creator: Identity,
    pub channel: Arc<Channel>,
}

/// Decodes and checks a signed proposal.
pub(crate) fn check(
    shared: &Shared,
    signed: &SignedProposal,
    access: Access,
) -> Result<Checked, ApiError> {
    let proposal = Proposal::decode(&signed.proposal)
        .map_err(|e| ApiError::bad_request(format!("not a valid proposal: {e}")))?;
    let header = &proposal.header;
    let channel = shared.channel_or_404(&header.channel)?;
    let creator = channel.member(&header.creator, "the proposal creator")?;
    creator
        .verify(&signed.proposal, &signed.signature)
        .map_err(|e| {
            warn!(channel = %channel.name, creator = %creator.subject(), reason = %e, "proposal refused: bad signature");
            ApiError::new(
                StatusCode::FORBIDDEN,
                format!("the proposal signature does not verify against its creator's certificate: {e}"),
            )
        })?;
    if header.nonce.len() < 24 {
        return Err(ApiError::bad_request(
            "the proposal nonce must have at least 24 random bytes",
        ));
    }
    if TxId::compute(&header.nonce, &header.creator) != header.txid {
        return Err(ApiError::bad_request(
            "the proposal txid is not SHA-256 of its nonce and creator",
        ));
    }
    channel.require(&creator, access.policy(), "the proposal creator")?;
    if access == Access::Write {
        let seen = channel
            .ledger
            .tx(&header.txid)
            .map_err(ApiError::internal)?;
        if seen.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "transaction {} is already on channel {}: build a new proposal (new nonce)",
                    header.txid, channel.name
                ),
            ));
        }
    }
    Ok(Checked {
        proposal,
        creator,
        channel,
    })
}

/// Runs the contract on a snapshot of committed state, off the async threads.
pub(crate) async fn simulate(
    shared: &Arc<Shared>,
    checked: &Checked,
) -> Result<Simulation, ApiError> {
    let _permit = shared
        .sims
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the peer is shutting down"))?;
    let snapshot = checked
        .channel
        .ledger
        .snapshot()
        .map_err(ApiError::internal)?;
    let config = Arc::new(checked.channel.ledger.config());
    let proposal = checked.proposal.clone();
    let creator = checked.channel.creator_info(&checked.creator);
    let runtime = shared.runtime.clone();
    let resolver = shared.resolver.clone();
    let result = tokio::task::spawn_blocking(move || {
        runtime.invoke(InvokeRequest {
            proposal: &proposal,
            creator: &creator,
            state: Arc::new(snapshot),
            channel: config,
            resolver,
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("contract task failed: {e}")))?;
    let sim = result.map_err(|e| contract_error(&checked.channel.name, e))?;
    if !sim.is_success() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the contract refused ({}): {}",
                sim.response.status, sim.response.message
            ),
        ));
    }
    Ok(sim)
}

/// Checks, simulates and signs: this peer's endorsement of a proposal.
pub(crate) async fn endorse(
    shared: &Arc<Shared>,
    signed: &SignedProposal,
    access: Access,
) -> Result<ProposalResponse, ApiError> {
    match check(shared, signed, access) {
        Ok(checked) => endorse_checked(shared, &checked).await.map(|(_, r)| r),
        Err(e) => {
            let channel = proposal_channel(signed);
            let label = if shared.channel(&channel).is_some() {
                channel.as_str()
            } else {
                "(unknown)"
            };
            record(shared, label, &e);
            Err(e)
        }
    }
}

/// Simulates and signs a checked proposal, with metrics. Private writes
/// are kept (own transient store, if this org is a member) and pushed to
/// member peers before the endorsement is returned; the returned
/// simulation no longer holds them.
pub(crate) async fn endorse_checked(
    shared: &Arc<Shared>,
    checked: &Checked,
) -> Result<(Simulation, ProposalResponse), ApiError> {
    let start = Instant::now();
    let label = checked.channel.name.as_str();
    let mut sim = match simulate(shared, checked).await {
        Ok(sim) => sim,
        Err(e) => {
            record(shared, label, &e);
            return Err(e);
        }
    };
    let private = sim.take_private_writes();
    let response = sim
        .response_payload(&checked.proposal)
        .and_then(|payload| cairn_ledger::client::endorse(&payload, &shared.signer))
        .map_err(ApiError::internal)?;
    if !private.is_empty() {
        // Pushed with the signed response: receivers check the writes
        // against the hashes this peer signed.
        if let Err(e) = crate::private::disseminate(shared, checked, &response, &private).await {
            record(shared, label, &e);
            return Err(e);
        }
    }
    let m = &shared.metrics;
    m.endorsements.with_label_values(&[label, "endorsed"]).inc();
    m.endorse_seconds
        .with_label_values(&[label])
        .observe(start.elapsed().as_secs_f64());
    debug!(
        channel = %label,
        txid = %checked.proposal.header.txid,
        contract = %checked.proposal.invocation.contract,
        function = %checked.proposal.invocation.function,
        "proposal endorsed"
    );
    Ok((sim, response))
}

fn record(shared: &Shared, channel: &str, e: &ApiError) {
    let kind = if e.status().is_client_error() {
        "refused"
    } else {
        "failed"
    };
    shared
        .metrics
        .endorsements
        .with_label_values(&[channel, kind])
        .inc();
}

/// The proposal's channel name, for labels, before any check.
fn proposal_channel(signed: &SignedProposal) -> String {
    Proposal::decode(&signed.proposal)
        .map(|p| p.header.channel)
        .unwrap_or_default()
}

/// Maps a runtime error to the answer the client gets.
fn contract_error(channel: &str, e: ContractError) -> ApiError {
    match e {
        ContractError::UnknownContract(name) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "contract {name:?} is not available on this peer for channel {channel}: not committed on the channel, or its org's approved package is not installed here"
            ),
        ),
        ContractError::State(_) | ContractError::Engine(_) | ContractError::Package(_) => {
            ApiError::internal(e)
        }
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}
