//! Attested nodes on the peer side (issue 5): on a channel whose config
//! requires attestation, private data and proposals go only to, and are
//! served only to, peers whose token admits them.
//!
//! Invariants: a peer answers `/private/push`, `/private/fetch` and
//! `/endorse` only for a calling peer admitted under the channel's current
//! requirement (its token binds the key of its TLS certificate); before
//! pushing private data to another peer, asking it for private data, or
//! forwarding a proposal (with its transient data) to it as a gateway, this
//! peer probes it (`GET /channels`) and checks the token it answers with, so
//! nothing leaves for a peer that is not admitted. The probe is made before
//! every call, not cached by address: a peer restarted at the same address
//! with another build must prove itself again (the token checks themselves
//! are cached by [`NodeGate`]). What remains is the moment between a probe
//! and the call right after it, shorter than any restart.

use axum::http::StatusCode;
use cairn_attest::UnixTime;
use cairn_attest_client::NodeGate;
use cairn_crypto::{Identity, Role};
use cairn_net::{ApiError, Client, ClientError, PresentedToken};
use tracing::warn;

use crate::api::ChannelInfo;
use crate::channel::Channel;

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
