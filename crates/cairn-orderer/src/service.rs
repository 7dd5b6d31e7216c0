//! The orderer's HTTP handlers (see [`crate::api`] for the table of
//! endpoints): admission of envelopes, forwarding to the leader, deliver
//! streams, status, and the server side of Raft RPCs.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use cairn_attest::UnixTime;
use cairn_crypto::{Identity, Role};
use cairn_ledger::tx::{Envelope, Transaction};
use cairn_net::{
    ApiError, Caller, ClientError, Postcard, PresentedToken, RequireRoles, StreamLimits,
};
use futures_util::{StreamExt, stream};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tracing::warn;

use crate::admission::{admit, check_shape};
use crate::api::{
    BROADCAST_STREAM, BroadcastQuery, BroadcastResponse, DeliverQuery, NOT_LEADER, NodeStatus,
    StreamedEnvelope,
};
use crate::cutter::{Pending, Unordered};
use crate::error::BroadcastError;
use crate::network::{APPEND, SNAPSHOT, VOTE};
use crate::node::Shared;
use crate::types::{NodeId, TypeConfig};

/// Path a follower relays a broadcast to on the leader (never relayed again).
const FORWARD: &str = "/raft/forward";

/// How long a broadcast may wait for a leader before answering 503.
const SUBMIT_DEADLINE: Duration = Duration::from_secs(8);

/// Largest Raft RPC body: `max_payload_entries` blocks of at most `max_bytes`.
const RAFT_BODY_LIMIT: usize = 512 * 1024 * 1024;

/// Largest broadcast body (envelopes are further bounded by `max_bytes`).
const BROADCAST_BODY_LIMIT: usize = 64 * 1024 * 1024;

const ANY_MEMBER: &[Role] = &[Role::Admin, Role::Client, Role::Orderer, Role::Peer];
const ORDERERS: &[Role] = &[Role::Orderer];

/// The router of an orderer node.
pub(crate) fn router(node: Arc<Shared>) -> Router {
    let public = Router::new()
        .route("/broadcast", post(broadcast))
        .route(BROADCAST_STREAM, post(broadcast_stream))
        .route("/deliver", get(deliver))
        .route("/status", get(status))
        .route("/counters", get(cairn_net::counters))
        .route_layer(RequireRoles::new("the ordering service API", ANY_MEMBER))
        .layer(DefaultBodyLimit::max(BROADCAST_BODY_LIMIT));
    let raft = Router::new()
        .route(APPEND, post(append))
        .route(VOTE, post(vote))
        .route(SNAPSHOT, post(snapshot))
        .route(FORWARD, post(forwarded))
        .route_layer(RequireRoles::new("the Raft endpoints", ORDERERS))
        .layer(DefaultBodyLimit::max(RAFT_BODY_LIMIT));
    // Attestation admission wraps every route, the ones not found included.
    public
        .merge(raft)
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            admission,
        ))
        .with_state(node)
}

/// The routes a node that is not admitted may call: the probe Raft links
/// make before sending (answered with this orderer's own token).
pub(crate) const OPEN_TO_NODES: &[(&str, &str)] = &[("GET", "/status")];

/// The admission layer: on a channel that requires attestation, a calling
/// peer or orderer must present a token that admits it, on every route but
/// [`OPEN_TO_NODES`]; what it was admitted until travels to the handlers
/// (a deliver stream ends when it lapses).
async fn admission(
    State(node): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let Some(Caller(caller)) = req.extensions().get::<Caller>().cloned() else {
        // The transport attaches the caller to every request it accepts.
        return ApiError::forbidden().into_response();
    };
    let open = OPEN_TO_NODES
        .iter()
        .any(|(m, p)| *m == req.method().as_str() && *p == req.uri().path());
    if open {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let Ok(token) = PresentedToken::from_request_parts(&mut parts, &()).await;
    match attested(&node, &caller, &token, parts.uri.path()) {
        Ok(admitted) => {
            parts.extensions.insert(AdmittedUntil(admitted));
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// What [`admission`] found for the request's caller.
#[derive(Clone, Copy)]
struct AdmittedUntil(Option<Admitted>);

async fn broadcast(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    Query(q): Query<BroadcastQuery>,
    Postcard(env): Postcard<Envelope>,
) -> Result<Postcard<BroadcastResponse>, ApiError> {
    if q.leader_only {
        // Before any decoding: the caller resends to the leader itself.
        not_leader(&node)?;
    }
    submit(&node, &caller, env, false, false)
        .await
        .map(Postcard)
}

async fn forwarded(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    Query(q): Query<ForwardQuery>,
    Postcard(env): Postcard<Envelope>,
) -> Result<Postcard<BroadcastResponse>, ApiError> {
    orderer_of_channel(&node, &caller)?;
    submit(&node, &caller, env, true, q.resent)
        .await
        .map(Postcard)
}

/// Query of a relayed broadcast.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
struct ForwardQuery {
    /// The envelope was resent by its submitter (see [`Pending::resent`]):
    /// relaying must not lose that.
    #[serde(default)]
    resent: bool,
}

/// A gateway's broadcast stream: each call is one envelope, answered as
/// `POST /broadcast?leader_only=true` would answer it. Opened only on the
/// leader (a follower answers [`NOT_LEADER`] with the leader's URL); an
/// envelope that arrives after leadership moved gets the same answer.
async fn broadcast_stream(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    token: PresentedToken,
    axum::Extension(AdmittedUntil(admitted)): axum::Extension<AdmittedUntil>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    not_leader(&node)?;
    let stream = Arc::new(BroadcastStream {
        node,
        caller,
        token,
        admitted: std::sync::Mutex::new(admitted),
    });
    let limits = StreamLimits {
        max_frame: BROADCAST_BODY_LIMIT,
        max_in_flight: STREAM_IN_FLIGHT,
    };
    Ok(cairn_net::serve_calls(
        body,
        limits,
        move |call: StreamedEnvelope| {
            let stream = stream.clone();
            async move { stream.submit(call).await }
        },
    ))
}

/// `Err(NOT_LEADER with the leader's URL)` when another orderer leads.
fn not_leader(node: &Shared) -> Result<(), ApiError> {
    match node.leader() {
        Some((id, url)) if id != node.id => Err(ApiError::new(
            StatusCode::from_u16(NOT_LEADER).unwrap_or(StatusCode::MISDIRECTED_REQUEST),
            url,
        )),
        _ => Ok(()),
    }
}

/// Envelopes of one stream ordered at once, at most.
const STREAM_IN_FLIGHT: usize = 1024;

/// One open broadcast stream: who opened it, and its admission.
struct BroadcastStream {
    node: Arc<Shared>,
    caller: Identity,
    token: PresentedToken,
    admitted: std::sync::Mutex<Option<Admitted>>,
}

impl BroadcastStream {
    async fn submit(&self, call: StreamedEnvelope) -> Result<BroadcastResponse, ApiError> {
        {
            let mut admitted = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
            recheck(
                &self.node,
                &self.caller,
                &self.token,
                &mut admitted,
                "broadcast stream (re-check)",
            )?;
        }
        not_leader(&self.node)?;
        submit(&self.node, &self.caller, call.envelope, false, call.resent).await
    }
}

/// Orders `env` through the leader: this node's cutter when it leads,
/// otherwise the leader's `/raft/forward`; retries while leadership moves.
async fn submit(
    node: &Shared,
    caller: &Identity,
    env: Envelope,
    forwarded: bool,
    resent: bool,
) -> Result<BroadcastResponse, ApiError> {
    let refused = |e: &BroadcastError| {
        warn!(caller = %caller.subject(), reason = %e, "broadcast refused");
    };
    node.serving().inspect_err(refused)?;
    let ctx = node.ledger.context();
    let (bytes, tx) = if forwarded {
        check_shape(&ctx, &env)
    } else {
        admit(&ctx, &env)
    }
    .inspect_err(refused)?;
    drop(ctx);
    let txid = tx.header().txid;
    let alone = matches!(tx, Transaction::Config(_));
    let deadline = Instant::now() + SUBMIT_DEADLINE;
    let mut last_reason = "no Raft leader is elected".to_string();
    // After a failed attempt this copy may be in a block already (a deposed
    // leader's block can still commit): every later attempt is a resend.
    let mut resent = resent;
    let mut attempt = 0u32;
    while Instant::now() < deadline {
        if attempt > 0 {
            resent = true;
        }
        attempt += 1;
        match node.leader() {
            Some((id, _)) if id == node.id => {
                let answer = match node.inflight.join(txid) {
                    // The same transaction is being ordered: its outcome
                    // answers this copy too.
                    Some(joined) => joined,
                    None => {
                        // Registered: if this future is dropped before the
                        // cutter has the envelope, the guard forgets it.
                        let guard = crate::cutter::Registered::new(&node.inflight, txid);
                        let (reply, answer) = oneshot::channel();
                        let pending = Pending {
                            bytes: bytes.clone(),
                            txid,
                            alone,
                            resent,
                            reply,
                        };
                        if node.cutter.send(pending).await.is_err() {
                            return Err(ApiError::unavailable(
                                "the orderer is stopping; retry on another orderer",
                            ));
                        }
                        guard.handed_over();
                        answer
                    }
                };
                let remaining = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(remaining, answer).await {
                    Ok(Ok(Ok(resp))) => return Ok(resp),
                    Ok(Ok(Err(Unordered::NotLeader))) => last_reason = "leadership changed".into(),
                    Ok(Ok(Err(Unordered::Failed(e)))) => return Err(e.into()),
                    Ok(Err(_)) => {
                        return Err(ApiError::unavailable(
                            "the orderer is stopping; retry on another orderer",
                        ));
                    }
                    Err(_) => last_reason = "ordering did not finish in time".into(),
                }
            }
            Some((_, url)) if !forwarded => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let target = format!(
                    "{}{FORWARD}{}",
                    url.trim_end_matches('/'),
                    if resent { "?resent=true" } else { "" }
                );
                match node
                    .client
                    .post_within::<_, BroadcastResponse>(&target, &env, remaining)
                    .await
                {
                    Ok(resp) => return Ok(resp),
                    Err(ClientError::Status {
                        status, message, ..
                    }) if status != 503 => {
                        let status =
                            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                        return Err(ApiError::new(status, message));
                    }
                    Err(e) => last_reason = format!("the leader did not answer ({e})"),
                }
            }
            Some(_) => {
                return Err(
                    BroadcastError::Unavailable("this orderer is not the leader".into()).into(),
                );
            }
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BroadcastError::Unavailable(last_reason).into())
}

async fn deliver(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    token: PresentedToken,
    axum::Extension(AdmittedUntil(admitted)): axum::Extension<AdmittedUntil>,
    Query(q): Query<DeliverQuery>,
) -> Result<Response, ApiError> {
    node.serving().inspect_err(|e| {
        warn!(caller = %caller.subject(), reason = %e, "deliver refused");
    })?;
    let ctx = node.ledger.context();
    if !ctx.satisfied(
        &ctx.channel_policy_text("Readers"),
        std::slice::from_ref(&caller),
    ) {
        warn!(caller = %caller.subject(), "deliver refused: the channel's Readers policy is not satisfied");
        return Err(ApiError::forbidden());
    }
    drop(ctx);
    let height = node.height.subscribe();
    let state = Delivery {
        node,
        height,
        next: q.from,
        caller,
        token,
        admitted,
    };
    let blocks = stream::unfold(state, next_block);
    Ok(cairn_net::encoded_frames(blocks.map(Ok)))
}

/// A deliver stream in progress.
struct Delivery {
    node: Arc<Shared>,
    height: watch::Receiver<u64>,
    next: u64,
    caller: Identity,
    token: PresentedToken,
    /// Until when, and under which config sequence, an attested node was
    /// admitted (`None`: the channel did not require attestation).
    admitted: Option<Admitted>,
}

/// The next block of a deliver stream, waiting for it to be committed, as
/// its stored bytes (the receiver decodes and checks it; no decode and
/// encode here per subscriber). A stream to an attested node ends when its
/// admission lapses (token expired, or a config update no longer lists its
/// measurement); it reconnects with a renewed token.
async fn next_block(mut d: Delivery) -> Option<(Vec<u8>, Delivery)> {
    loop {
        if d.next < d.node.ledger.height() {
            recheck(
                &d.node,
                &d.caller,
                &d.token,
                &mut d.admitted,
                "deliver (re-check)",
            )
            .ok()?;
            return match d.node.ledger.block_bytes(d.next) {
                Ok(Some(b)) => {
                    d.next += 1;
                    Some((b, d))
                }
                Ok(None) => None,
                Err(e) => {
                    warn!(block = d.next, reason = %e, "deliver stopped: reading the block failed");
                    None
                }
            };
        }
        d.height.changed().await.ok()?;
    }
}

/// Checks an attested caller's admission again once it lapsed (its token
/// expired, or a config update changed what is admitted), for streams that
/// outlive the request that opened them.
fn recheck(
    node: &Shared,
    caller: &Identity,
    token: &PresentedToken,
    admitted: &mut Option<Admitted>,
    what: &str,
) -> Result<(), ApiError> {
    let stale = admitted.as_ref().is_some_and(|a| {
        a.until <= UnixTime::now().0 || a.sequence != node.ledger.context().config().sequence
    });
    if stale || (admitted.is_none() && node.ledger.context().config().attestation.is_some()) {
        *admitted = attested(node, caller, token, what)?;
    }
    Ok(())
}

/// An attested node's admission: until when, under which config sequence.
#[derive(Clone, Copy)]
struct Admitted {
    until: u64,
    sequence: u64,
}

/// Attested nodes: when the channel requires attestation, a peer or
/// orderer calling must present a token that admits it (clients and admins
/// are not nodes and are checked by policies alone). `Ok(None)`: nothing
/// to check for this caller.
fn attested(
    node: &Shared,
    caller: &Identity,
    token: &PresentedToken,
    what: &str,
) -> Result<Option<Admitted>, ApiError> {
    if !matches!(caller.role(), Role::Peer | Role::Orderer) {
        return Ok(None);
    }
    let ctx = node.ledger.context();
    let config = ctx.config();
    if config.attestation.is_none() {
        // Every node call passes here: no key encoding when there is nothing to check.
        return Ok(None);
    }
    match node.gate.check(
        config,
        token.0.as_deref(),
        &caller.public_key().to_spki_der(),
        UnixTime::now(),
    ) {
        Ok(until) => Ok(until.map(|t| Admitted {
            until: t.0,
            sequence: config.sequence,
        })),
        Err(e) => {
            warn!(caller = %caller.subject(), org = caller.msp_id(), reason = %e, "{what} refused");
            Err(ApiError::new(StatusCode::FORBIDDEN, e.to_string()))
        }
    }
}

async fn status(State(node): State<Arc<Shared>>) -> Postcard<NodeStatus> {
    Postcard(node.status())
}

/// Raft RPCs are for the channel's orderers only (role checked by the
/// role layer, attestation by the admission layer, org checked here against
/// the current channel configuration).
fn orderer_of_channel(node: &Shared, caller: &Identity) -> Result<(), ApiError> {
    let of_channel = node
        .ledger
        .context()
        .config()
        .orderer_orgs
        .iter()
        .any(|o| o == caller.msp_id());
    if of_channel {
        return Ok(());
    }
    warn!(caller = %caller.subject(), org = caller.msp_id(), "Raft RPC refused: not an orderer org of the channel");
    Err(ApiError::forbidden())
}

async fn append(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<AppendEntriesRequest<TypeConfig>>,
) -> Result<Postcard<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>>, ApiError> {
    orderer_of_channel(&node, &caller)?;
    Ok(Postcard(node.raft.append_entries(req).await))
}

async fn vote(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<VoteRequest<NodeId>>,
) -> Result<Postcard<Result<VoteResponse<NodeId>, RaftError<NodeId>>>, ApiError> {
    orderer_of_channel(&node, &caller)?;
    Ok(Postcard(node.raft.vote(req).await))
}

type SnapshotAnswer =
    Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>;

/// Installing a snapshot fetches and commits the blocks it stands for, and
/// the leader sends no heartbeats to this node until the install answers.
/// Without a hold on elections this node would campaign meanwhile, and
/// its inflated term would depose the healthy leader when it comes back.
async fn snapshot(
    State(node): State<Arc<Shared>>,
    Caller(caller): Caller,
    Postcard(req): Postcard<InstallSnapshotRequest<TypeConfig>>,
) -> Result<Postcard<SnapshotAnswer>, ApiError> {
    orderer_of_channel(&node, &caller)?;
    let _hold = req.done.then(|| node.elections.hold(&node.raft));
    Ok(Postcard(node.raft.install_snapshot(req).await))
}
