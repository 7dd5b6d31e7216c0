//! The postcard API handlers (see [`crate::api`] for the table of endpoints).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use cairn_crypto::{Identity, Role};
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::tx::{Envelope, ProposalResponse, Response as ContractResponse, SignedProposal};
use cairn_net::{ApiError, Caller, Postcard, PresentedToken, RequireRoles, StreamLimits};
use cairn_orderer::api::BroadcastResponse;
use tracing::{info, warn};

use crate::api::{
    ChannelInfo, CommitStatus, CommitStatusRequest, ContractEventsQuery, ENDORSE_STREAM,
    EndorseRequest, EndorseResponse, EventsQuery, GATEWAY_STREAM, GatewayAnswer, GatewayCall,
    InstalledInfo, SubmitQuery, TxRecord,
};
use crate::endorse::{self, Access};
use crate::error::PeerError;
use crate::node::Shared;
use crate::{events, gateway};

/// Largest request body on the node API (proposals, envelopes, blocks).
const BODY_LIMIT: usize = 32 << 20;

const ADMINS: &[Role] = &[Role::Admin];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let open = Router::new()
        .route("/endorse", post(endorse_proposal))
        .route(ENDORSE_STREAM, post(endorse_stream))
        .route("/gateway/evaluate", post(evaluate))
        .route("/gateway/endorse", post(gateway_endorse))
        .route("/gateway/submit", post(submit))
        .route(GATEWAY_STREAM, post(gateway_stream))
        .route("/gateway/commit-status", post(commit_status))
        .route("/channels", get(channels))
        .route("/counters", get(cairn_net::counters))
        .route("/channels/{channel}/blocks/{number}", get(block))
        .route("/channels/{channel}/txs/{txid}", get(tx))
        .route("/channels/{channel}/receipts/{txid}", get(receipt))
        .route("/channels/{channel}/config", get(config))
        .route("/channels/{channel}/events/blocks", get(block_events))
        .route("/channels/{channel}/events/txs", get(tx_events))
        .route("/channels/{channel}/events/contract", get(contract_events))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let admin = Router::new()
        .route("/admin/channels", post(join))
        .route("/admin/packages", get(installed).post(install))
        .route_layer(RequireRoles::new("the peer admin API", ADMINS))
        // A package archive may be as large as the files it holds.
        .layer(DefaultBodyLimit::max(
            cairn_contract::MAX_PACKAGE_BYTES as usize + (1 << 20),
        ));
    open.merge(admin).with_state(shared)
}

async fn endorse_proposal(
    State(shared): State<Arc<Shared>>,
    Postcard(signed): Postcard<SignedProposal>,
) -> Result<Postcard<ProposalResponse>, ApiError> {
    // A gateway peer forwarding a proposal passed the admission layer.
    endorse::endorse(&shared, &signed, Access::Write)
        .await
        .map(Postcard)
}

/// A gateway's endorsement stream: each call is one proposal, answered as
/// `POST /endorse` answers it, after the admission check `/endorse` gets.
async fn endorse_stream(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    token: PresentedToken,
    body: axum::body::Body,
) -> Response {
    serve_checked(
        shared,
        caller,
        token,
        ENDORSE_STREAM,
        body,
        |shared, _, signed: SignedProposal| async move {
            endorse::endorse(&shared, &signed, Access::Write).await
        },
    )
}

/// Serves a call stream on `path` whose every call first passes the
/// admission check a request to `path` gets (a calling node's token may
/// lapse while the stream is open), then `handle(shared, caller, call)`.
fn serve_checked<Req, Resp, F, Fut>(
    shared: Arc<Shared>,
    caller: Identity,
    token: PresentedToken,
    path: &'static str,
    body: axum::body::Body,
    handle: F,
) -> Response
where
    Req: serde::de::DeserializeOwned + Send + 'static,
    Resp: serde::Serialize + Send + 'static,
    F: Fn(Arc<Shared>, Arc<Identity>, Req) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Resp, ApiError>> + Send + 'static,
{
    let limits = StreamLimits {
        max_frame: BODY_LIMIT,
        max_in_flight: 256,
    };
    let (caller, token) = (Arc::new(caller), Arc::new(token));
    let handle = Arc::new(handle);
    cairn_net::serve_calls(body, limits, move |call: Req| {
        let (shared, caller, token, handle) = (
            shared.clone(),
            caller.clone(),
            token.clone(),
            handle.clone(),
        );
        async move {
            crate::attested::check_node_call(&shared, &caller, &token, path)?;
            handle(shared, caller, call).await
        }
    })
}

async fn evaluate(
    State(shared): State<Arc<Shared>>,
    Postcard(signed): Postcard<SignedProposal>,
) -> Result<Postcard<ContractResponse>, ApiError> {
    counted(
        &shared,
        "evaluate",
        gateway::evaluate(&shared, &signed).await,
    )
    .map(Postcard)
}

async fn gateway_endorse(
    State(shared): State<Arc<Shared>>,
    Postcard(request): Postcard<EndorseRequest>,
) -> Result<Postcard<EndorseResponse>, ApiError> {
    counted(
        &shared,
        "endorse",
        gateway::endorse(&shared, &request).await,
    )
    .map(Postcard)
}

async fn submit(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Query(q): Query<SubmitQuery>,
    Postcard(envelope): Postcard<Envelope>,
) -> Result<Postcard<BroadcastResponse>, ApiError> {
    submit_as(&shared, &caller, &envelope, q.wait_ms)
        .await
        .map(Postcard)
}

/// `POST /gateway/submit?wait_ms=N` for `caller`, on any of its paths.
async fn submit_as(
    shared: &Arc<Shared>,
    caller: &Identity,
    envelope: &Envelope,
    wait_ms: u64,
) -> Result<BroadcastResponse, ApiError> {
    let r = async {
        if wait_ms == 0 {
            return gateway::submit(shared, envelope).await;
        }
        // Waiting reads this peer's ledger: only for its readers, checked
        // before anything is sent.
        let channel = envelope
            .transaction()
            .ok()
            .and_then(|tx| shared.channel(&tx.header().channel));
        if let Some(channel) = &channel {
            channel.reader(caller)?;
        }
        let ordered = gateway::submit(shared, envelope).await?;
        let Some(channel) = channel else {
            return Ok(ordered);
        };
        let wait = Duration::from_millis(wait_ms.min(shared.config.gateway.max_commit_wait_ms));
        let s = gateway::commit_status(&channel, &ordered.txid, wait).await?;
        Ok(BroadcastResponse {
            txid: s.txid,
            block: s.block,
            code: s.code,
        })
    }
    .await;
    counted(shared, "submit", r)
}

/// A client's gateway stream: each call is answered as the unary route it
/// stands for would answer it, with the same checks and metrics.
async fn gateway_stream(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    token: PresentedToken,
    body: axum::body::Body,
) -> Response {
    serve_checked(
        shared,
        caller,
        token,
        GATEWAY_STREAM,
        body,
        |shared, caller, call: GatewayCall| async move {
            match call {
                GatewayCall::Evaluate(signed) => {
                    let r = gateway::evaluate(&shared, &signed).await;
                    counted(&shared, "evaluate", r).map(GatewayAnswer::Evaluated)
                }
                GatewayCall::Endorse(request) => {
                    let r = gateway::endorse(&shared, &request).await;
                    counted(&shared, "endorse", r).map(GatewayAnswer::Endorsed)
                }
                GatewayCall::Submit { envelope, wait_ms } => {
                    submit_as(&shared, &caller, &envelope, wait_ms)
                        .await
                        .map(GatewayAnswer::Submitted)
                }
            }
        },
    )
}

async fn commit_status(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<CommitStatusRequest>,
) -> Result<Postcard<CommitStatus>, ApiError> {
    let channel = shared.channel_or_404(&req.channel)?;
    channel.reader(&caller)?;
    let wait = Duration::from_millis(req.wait_ms.min(shared.config.gateway.max_commit_wait_ms));
    let r = gateway::commit_status(&channel, &req.txid, wait).await;
    counted(&shared, "commit_status", r).map(Postcard)
}

/// Counts a gateway request by outcome.
pub(crate) fn counted<T>(
    shared: &Shared,
    operation: &str,
    r: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = if r.is_ok() { "ok" } else { "error" };
    shared
        .metrics
        .gateway
        .with_label_values(&[operation, outcome])
        .inc();
    r
}

async fn channels(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
) -> Postcard<Vec<ChannelInfo>> {
    Postcard(
        shared
            .readable_channels(&caller)
            .iter()
            .map(|c| c.info())
            .collect(),
    )
}

/// Block `number` of a channel the caller may read.
pub(crate) fn read_block(
    shared: &Shared,
    caller: &Identity,
    channel: &str,
    number: u64,
) -> Result<Block, ApiError> {
    let channel = shared.channel_or_404(channel)?;
    channel.reader(caller)?;
    channel
        .ledger
        .block(number)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "block {number} is not on this peer's ledger of channel {} (height {})",
                    channel.name,
                    channel.ledger.height()
                ),
            )
        })
}

/// A transaction of a channel the caller may read.
pub(crate) fn read_tx(
    shared: &Shared,
    caller: &Identity,
    channel: &str,
    txid: &str,
) -> Result<TxRecord, ApiError> {
    let channel = shared.channel_or_404(channel)?;
    channel.reader(caller)?;
    let id: TxId = txid.parse().map_err(|_| {
        ApiError::bad_request(format!("{txid:?} is not a transaction id (64 hex digits)"))
    })?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "transaction {id} is not on this peer's ledger of channel {}",
                channel.name
            ),
        )
    };
    let loc = channel
        .ledger
        .tx(&id)
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let block = channel
        .ledger
        .block(loc.block)
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let envelope = block
        .data
        .get(loc.index as usize)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "tx index names a missing entry of block {}",
                loc.block
            ))
        })
        .and_then(|bytes| Envelope::decode(bytes).map_err(ApiError::internal))?;
    Ok(TxRecord {
        txid: id,
        block: loc.block,
        index: loc.index,
        code: loc.code,
        envelope,
    })
}

async fn block(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, number)): Path<(String, u64)>,
) -> Result<Postcard<Block>, ApiError> {
    read_block(&shared, &caller, &channel, number).map(Postcard)
}

async fn tx(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
) -> Result<Postcard<TxRecord>, ApiError> {
    read_tx(&shared, &caller, &channel, &txid).map(Postcard)
}

async fn receipt(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
) -> Result<Postcard<cairn_ledger::receipt::Receipt>, ApiError> {
    // Same checks and 404 as the transaction itself.
    let rec = read_tx(&shared, &caller, &channel, &txid)?;
    let channel = shared.channel_or_404(&channel)?;
    channel
        .ledger
        .receipt(&rec.txid)
        .map(Postcard)
        .map_err(ApiError::internal)
}

async fn config(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(channel): Path<String>,
) -> Result<Postcard<cairn_ledger::config::ChannelConfig>, ApiError> {
    let channel = shared.channel_or_404(&channel)?;
    channel.reader(&caller)?;
    Ok(Postcard(channel.ledger.config()))
}

async fn block_events(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(channel): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let channel = shared.channel_or_404(&channel)?;
    let reader = channel.reader(&caller)?;
    if q.private {
        return Ok(cairn_net::frames(events::private_blocks(
            &channel,
            q.from,
            reader.msp_id().to_string(),
        )));
    }
    Ok(cairn_net::frames(events::blocks(&channel, q.from)))
}

async fn tx_events(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(channel): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let channel = shared.channel_or_404(&channel)?;
    channel.reader(&caller)?;
    Ok(cairn_net::frames(events::tx_statuses(&channel, q.from)))
}

async fn contract_events(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(channel): Path<String>,
    Query(q): Query<ContractEventsQuery>,
) -> Result<Response, ApiError> {
    let channel = shared.channel_or_404(&channel)?;
    channel.reader(&caller)?;
    Ok(cairn_net::frames(events::contract_events(
        &channel, q.from, q.contract, q.name,
    )))
}

/// Admin endpoints serve only admins of this peer's own org.
fn own_admin(shared: &Shared, caller: &Identity, what: &str) -> Result<(), ApiError> {
    if caller.msp_id() == shared.msp_id() {
        return Ok(());
    }
    let reason = format!(
        "{what} is for admins of {}; {} is an admin of {}",
        shared.msp_id(),
        caller.subject(),
        caller.msp_id()
    );
    warn!(%reason, "admin request refused");
    Err(ApiError::new(StatusCode::FORBIDDEN, reason))
}

fn peer_error(e: PeerError) -> ApiError {
    match e {
        PeerError::Channel { .. } | PeerError::Package(_) => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(other),
    }
}

async fn join(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(genesis): Postcard<Block>,
) -> Result<Postcard<ChannelInfo>, ApiError> {
    own_admin(&shared, &caller, "joining a channel")?;
    let info = shared.join(&genesis).await.map_err(peer_error)?;
    info!(channel = %info.name, admin = %caller.subject(), "channel joined on request");
    Ok(Postcard(info))
}

async fn install(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(archive): Postcard<Vec<u8>>,
) -> Result<Postcard<String>, ApiError> {
    own_admin(&shared, &caller, "installing a package")?;
    let store = shared.clone();
    let id = tokio::task::spawn_blocking(move || store.install(&archive))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            PeerError::Package(p) => ApiError::bad_request(format!("not installed: {p}")),
            other => ApiError::internal(other),
        })?;
    Ok(Postcard(id))
}

async fn installed(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
) -> Result<Postcard<Vec<InstalledInfo>>, ApiError> {
    own_admin(&shared, &caller, "listing packages")?;
    shared.installed().map(Postcard).map_err(peer_error)
}
