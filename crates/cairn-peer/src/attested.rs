//! Attested nodes on the peer side (issue 5): on a channel whose config
//! requires attestation, private data goes only to, and is served only to,
//! peers whose token admits them.
//!
//! Invariants: a peer answers `/private/push` and `/private/fetch` only for a
//! calling peer admitted under the channel's current requirement (its token
//! binds the key of its TLS certificate); before pushing private data to
//! another peer, or asking it for private data, this peer probes it
//! (`GET /channels`) and checks the token it answers with, so no value
//! leaves for a peer that is not admitted. Admissions are cached per peer URL
//! and config sequence until the token expires.

use std::collections::HashMap;
use std::sync::Mutex;

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
    /// Peer URL → (channel, config sequence, admitted until).
    targets: Mutex<HashMap<String, (String, u64, u64)>>,
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
        let config = channel.ledger.config();
        self.gate
            .check(
                &config,
                token.0.as_deref(),
                &caller.public_key().to_spki_der(),
                UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|e| {
                warn!(channel = %channel.name, caller = %caller.subject(), reason = %e, "private data call refused");
                ApiError::new(StatusCode::FORBIDDEN, e.to_string())
            })
    }

    /// Before private data goes to (or is asked of) the peer at `url`: on a
    /// channel that requires attestation, the peer must answer a probe with
    /// a token that admits it.
    pub(crate) async fn check_target(
        &self,
        client: &Client,
        channel: &Channel,
        url: &str,
    ) -> Result<(), ClientError> {
        let config = channel.ledger.config();
        if config.attestation.is_none() {
            return Ok(());
        }
        let now = UnixTime::now();
        let cached = self.lock().get(url).is_some_and(|(ch, seq, until)| {
            *ch == config.name && *seq == config.sequence && *until > now.0
        });
        if cached {
            return Ok(());
        }
        let probe = format!("{}/channels", url.trim_end_matches('/'));
        let (_, proof): (Vec<ChannelInfo>, _) = client.get_attested(&probe).await?;
        match self
            .gate
            .check(&config, proof.token.as_deref(), &proof.spki, now)
        {
            Ok(until) => {
                let until = until.map_or(u64::MAX, |t| t.0);
                self.lock().insert(
                    url.to_string(),
                    (config.name.clone(), config.sequence, until),
                );
                Ok(())
            }
            Err(e) => {
                self.lock().remove(url);
                warn!(channel = %channel.name, peer = %url, reason = %e, "private data not sent to a peer that is not admitted");
                Err(ClientError::Connect {
                    url: url.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64, u64)>> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }
}
