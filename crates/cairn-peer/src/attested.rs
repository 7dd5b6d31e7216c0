//! Attested nodes on the peer side (issue 5): on a channel whose config
//! requires attestation, nothing is served to, and nothing private is sent
//! to, a peer or orderer whose token does not admit it.
//!
//! Invariants:
//! - every request passes [`admission`], a layer over the whole router
//!   (postcard API, JSON API, private data endpoints, and routes not found):
//!   a calling node (peer or orderer role) must be admitted under the
//!   channel named in the path, or, when the path names none (bodies carry
//!   the channel: `/endorse`, `/private/*`, the gateway), under every joined
//!   channel that requires attestation and has the caller's org as a member.
//!   Only [`OPEN_TO_NODES`] is exempt: the probe `GET /channels` (which
//!   answers with this peer's own token, so that callers can check it
//!   before sending anything) and `GET /openapi.json`. Clients and admins
//!   are not nodes: the channel's policies decide for them, in the handlers;
//! - before pushing private data to another peer, asking it for private
//!   data, or forwarding a proposal (with its transient data) to it as a
//!   gateway, this peer probes it (`GET /channels`) and checks the token it
//!   answers with, so nothing leaves for a peer that is not admitted. The
//!   probe is made before every call, not cached by address: a peer
//!   restarted at the same address with another build must prove itself
//!   again (the token checks themselves are cached by [`NodeGate`]). What
//!   remains is the moment between a probe and the call right after it,
//!   shorter than any restart.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_attest::UnixTime;
use cairn_attest_client::NodeGate;
use cairn_crypto::{Identity, Role};
use cairn_net::{ApiError, Caller, Client, ClientError, PresentedToken};
use tracing::warn;

use crate::api::ChannelInfo;
use crate::channel::Channel;
use crate::node::Shared;

/// The routes a node that is not admitted may call (method, exact path).
pub(crate) const OPEN_TO_NODES: &[(&str, &str)] = &[("GET", "/channels"), ("GET", "/openapi.json")];

/// The channel a request's path names (`/channels/{ch}/...` or
/// `/api/v1/channels/{ch}/...`), if any.
fn path_channel(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/api/v1/channels/")
        .or_else(|| path.strip_prefix("/channels/"))?;
    rest.split('/').next().filter(|c| !c.is_empty())
}

/// The admission layer: see the module invariants.
pub(crate) async fn admission(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(Caller(caller)) = req.extensions().get::<Caller>().cloned() else {
        // The transport attaches the caller to every request it accepts.
        return ApiError::new(StatusCode::FORBIDDEN, "no authenticated caller").into_response();
    };
    let method = req.method().as_str();
    let path = req.uri().path();
    if !matches!(caller.role(), Role::Peer | Role::Orderer)
        || OPEN_TO_NODES
            .iter()
            .any(|(m, p)| *m == method && *p == path)
    {
        return next.run(req).await;
    }
    let path = path.to_string();
    let (mut parts, body) = req.into_parts();
    let Ok(token) = PresentedToken::from_request_parts(&mut parts, &()).await;
    if let Err(e) = check_node_call(&shared, &caller, &token, &path) {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The decision of [`admission`] for a node's call on `path`; a call stream
/// repeats it for every call it carries (a token may lapse while the stream
/// is open).
pub(crate) fn check_node_call(
    shared: &Shared,
    caller: &Identity,
    token: &PresentedToken,
    path: &str,
) -> Result<(), ApiError> {
    if !matches!(caller.role(), Role::Peer | Role::Orderer) {
        return Ok(());
    }
    let channels = match path_channel(path).and_then(|name| shared.channel(name)) {
        Some(channel) => vec![channel],
        None => shared
            .all_channels()
            .into_iter()
            .filter(|c| c.context().config().org(caller.msp_id()).is_some())
            .collect(),
    };
    for channel in &channels {
        shared.admissions.check_caller(channel, caller, token)?;
    }
    Ok(())
}

/// This peer's admission decisions about other peers.
#[derive(Debug, Default)]
pub(crate) struct PeerAdmissions {
    gate: NodeGate,
}

impl PeerAdmissions {
    /// Checks a calling node under `channel`'s requirement (clients and
    /// admins are not nodes: the channel's policies decide for them).
    pub(crate) fn check_caller(
        &self,
        channel: &Channel,
        caller: &Identity,
        token: &PresentedToken,
    ) -> Result<(), ApiError> {
        if !matches!(caller.role(), Role::Peer | Role::Orderer) {
            return Ok(());
        }
        let ctx = channel.ledger.context();
        let config = ctx.config();
        if config.attestation.is_none() {
            // Every node call passes here: no key encoding when there is nothing to check.
            return Ok(());
        }
        self.gate
            .check(
                config,
                token.0.as_deref(),
                &caller.public_key().to_spki_der(),
                UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|e| {
                warn!(channel = %channel.name, caller = %caller.subject(), reason = %e, "call of a node that is not admitted refused");
                ApiError::new(StatusCode::FORBIDDEN, e.to_string())
            })
    }

    /// Before `what` (private data, a proposal) goes to (or is asked of) the
    /// peer at `url`: on a channel that requires attestation, the peer must
    /// answer a probe with a token that admits it.
    pub(crate) async fn check_target(
        &self,
        client: &Client,
        channel: &Channel,
        url: &str,
        what: &str,
    ) -> Result<(), ClientError> {
        let ctx = channel.ledger.context();
        let config = ctx.config();
        if config.attestation.is_none() {
            return Ok(());
        }
        let now = UnixTime::now();
        let probe = format!("{}/channels", url.trim_end_matches('/'));
        let (_, proof): (Vec<ChannelInfo>, _) = client.get_attested(&probe).await?;
        match self
            .gate
            .check(config, proof.token.as_deref(), &proof.spki, now)
        {
            Ok(_) => Ok(()),
            Err(e) => {
                warn!(channel = %channel.name, peer = %url, reason = %e, "{what} not sent to a peer that is not admitted");
                Err(ClientError::Connect {
                    url: url.to_string(),
                    reason: format!("{what} not sent to a peer that is not admitted: {e}"),
                })
            }
        }
    }
}
