//! Channel configuration: the orgs on a channel, their CAs and revocation
//! lists, the channel policies, and the ordering settings.
//!
//! Invariants: org MSP ids are unique; every policy named in `policies`
//! parses; `orderer_orgs` name orgs of the channel. A configuration only
//! changes through a [`crate::tx::ConfigTx`] that satisfies the current
//! `Admins` policy, and each change increments `sequence`.

use std::collections::BTreeMap;

use cairn_crypto::MspConfig;
use serde::{Deserialize, Serialize};

/// The policy names every channel has (Fabric's channel policies).
pub const POLICY_NAMES: [&str; 5] = [
    "Admins",
    "Endorsement",
    "LifecycleEndorsement",
    "Readers",
    "Writers",
];

/// How the ordering service cuts blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchConfig {
    /// Cut a block once it holds this many transactions.
    pub max_tx_count: u32,
    /// Cut a block before it would exceed this many bytes of envelopes.
    pub max_bytes: u64,
    /// Cut a non-empty block after this long, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_tx_count: 500,
            max_bytes: 10 * 1024 * 1024,
            timeout_ms: 200,
        }
    }
}

/// One orderer of the channel's ordering service (a Raft cluster member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdererEndpoint {
    /// Its Raft node id, unique on the channel.
    pub id: u64,
    /// Its org's MSP id (one of `orderer_orgs`).
    pub msp_id: String,
    /// Its base URL, e.g. `https://orderer0.org1.cairn:7050`; the host is a
    /// name in its TLS certificate.
    pub url: String,
}

/// A channel's demand that its nodes prove what they run (CCF's code ids):
/// each node presents an attestation token from a trusted attestation
/// service, and its measurement must be on the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRequirement {
    /// The attestation service's issuer (`iss`) the tokens must carry.
    pub issuer: String,
    /// The service's JWKS document (JSON), pinned in the config so nodes
    /// check tokens without fetching keys from anywhere.
    pub jwks: String,
    /// Allowed measurements, lowercase hex; a token must carry one of them.
    pub measurements: Vec<String>,
    /// Whether tokens from the `virtual` platform (no hardware) are accepted.
    pub allow_virtual: bool,
}

/// Fabric's channel name rule, which also makes a name a safe directory
/// name: lowercase letters, digits, `.` and `-`, starting with a letter,
/// fewer than 250 characters.
pub fn valid_channel_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() < 250
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// A channel's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    /// The channel name.
    pub name: String,
    /// Incremented by every configuration update (genesis: 0).
    pub sequence: u64,
    /// The member organizations, sorted by MSP id.
    pub orgs: Vec<MspConfig>,
    /// Orgs whose orderers may sign blocks of this channel.
    pub orderer_orgs: Vec<String>,
    /// Channel policies by name, in Fabric's text syntax (`MAJORITY Admins`, `AND(...)`).
    pub policies: BTreeMap<String, String>,
    /// Block cutting.
    pub batch: BatchConfig,
    /// The ordering service's members, where peers pull blocks from and
    /// clients submit to; changing it is a config update (empty for a
    /// channel whose orderers are configured out of band, as in tests).
    pub orderers: Vec<OrdererEndpoint>,
    /// If set, nodes must present attestation tokens to take part.
    pub attestation: Option<AttestationRequirement>,
}

impl ChannelConfig {
    /// A configuration with Fabric's default policies: `ANY Readers`,
    /// `ANY Writers`, `MAJORITY Admins`, `MAJORITY Endorsement`,
    /// `MAJORITY LifecycleEndorsement`.
    pub fn with_defaults(name: &str, mut orgs: Vec<MspConfig>, orderer_orgs: Vec<String>) -> Self {
        orgs.sort_by(|a, b| a.msp_id.cmp(&b.msp_id));
        let policies = [
            ("Admins", "MAJORITY Admins"),
            ("Endorsement", "MAJORITY Endorsement"),
            ("LifecycleEndorsement", "MAJORITY Endorsement"),
            ("Readers", "ANY Readers"),
            ("Writers", "ANY Writers"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ChannelConfig {
            name: name.to_string(),
            sequence: 0,
            orgs,
            orderer_orgs,
            policies,
            batch: BatchConfig::default(),
            orderers: Vec::new(),
            attestation: None,
        }
    }

    /// The org with this MSP id.
    pub fn org(&self, msp_id: &str) -> Option<&MspConfig> {
        self.orgs.iter().find(|o| o.msp_id == msp_id)
    }
}
