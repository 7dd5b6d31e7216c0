//! The serving side of attested nodes: a node serving a channel decides, per
//! call from another node, whether the channel's attestation requirement lets
//! it in, and remembers the decision until the token expires or the channel
//! configuration changes.
//!
//! Invariant: a cached admission is keyed by the channel, its configuration
//! sequence, the token and the caller's TLS key together, so a config update
//! (a new measurement list, a new pinned JWKS) or a token presented over
//! another node's connection is always checked afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_attest::{AdmissionError, UnixTime};
use cairn_crypto::{Digest, Sha256Hasher};
use cairn_ledger::config::ChannelConfig;

use crate::admission::{NodeKey, admit_node};

/// Cached admissions kept at most; expired ones are dropped first.
const MAX_CACHED: usize = 4096;

/// Why a node's call is refused under the channel's attestation requirement.
#[derive(Debug, thiserror::Error)]
pub enum GateRefusal {
    /// The node presented no token.
    #[error(
        "channel {channel} admits only attested nodes, and this node presented no attestation token \
         (start it with --attest and an attestation service URL)"
    )]
    NoToken {
        /// The channel.
        channel: String,
    },
    /// The token does not admit the node.
    #[error("channel {channel} refuses this node: {source}")]
    Refused {
        /// The channel.
        channel: String,
        /// The failed check.
        #[source]
        source: AdmissionError,
    },
}

/// Admission decisions for the nodes calling this one.
#[derive(Debug, Default)]
pub struct NodeGate {
    admitted: Mutex<HashMap<Digest, u64>>,
}

impl NodeGate {
    /// A gate with nothing admitted yet.
    pub fn new() -> NodeGate {
        NodeGate::default()
    }

    /// Checks a call from a node (peer or orderer) holding the TLS key
    /// `node_spki` (DER SubjectPublicKeyInfo) that presented `token`, under
    /// `config`. `Ok(None)`: the channel does not require attestation;
    /// `Ok(Some(t))`: admitted until `t` (re-check after it).
    pub fn check(
        &self,
        config: &ChannelConfig,
        token: Option<&str>,
        node_spki: &[u8],
        now: UnixTime,
    ) -> Result<Option<UnixTime>, GateRefusal> {
        let Some(req) = &config.attestation else {
            return Ok(None);
        };
        let Some(token) = token else {
            return Err(GateRefusal::NoToken {
                channel: config.name.clone(),
            });
        };
        let key = Sha256Hasher::new()
            .chain(config.name.as_bytes())
            .chain(&[0])
            .chain(&config.sequence.to_be_bytes())
            .chain(token.as_bytes())
            .chain(&[0])
            .chain(node_spki)
            .finalize();
        if let Some(&until) = self.lock().get(&key)
            && until > now.0
        {
            return Ok(Some(UnixTime(until)));
        }
        let admitted =
            admit_node(token, req, NodeKey::SpkiDer(node_spki), now).map_err(|source| {
                GateRefusal::Refused {
                    channel: config.name.clone(),
                    source,
                }
            })?;
        let until = admitted.expires_at;
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, t| *t > now.0);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, until.0);
        tracing::debug!(
            measurement = %admitted.measurement,
            jti = %admitted.jti,
            until = until.0,
            "attested node admitted"
        );
        Ok(Some(until))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, u64>> {
        // The map holds plain values; a panic elsewhere cannot leave it half-updated.
        self.admitted.lock().unwrap_or_else(|p| p.into_inner())
    }
}
