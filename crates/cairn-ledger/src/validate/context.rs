//! A channel's configuration prepared for validation: its MSPs loaded and
//! its policies parsed once, then cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_crypto::{Identity, MspSet};
use cairn_policy as policy;

use crate::config::{ChannelConfig, POLICY_NAMES};
use crate::ids::Version;
use crate::validation::ValidationCode;

/// Why a channel configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// An org's MSP definition is unusable (bad CA certificate, duplicate id).
    #[error("channel {channel}: organizations: {reason}")]
    BadOrgs {
        /// The channel.
        channel: String,
        /// What is wrong (names the org).
        reason: String,
    },
    /// A channel policy is missing or does not parse.
    #[error("channel {channel}: policy {name}: {reason}")]
    BadPolicy {
        /// The channel.
        channel: String,
        /// The policy's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// `orderer_orgs` names an org that is not on the channel.
    #[error("channel {channel}: orderer org {msp_id} is not a channel org")]
    UnknownOrdererOrg {
        /// The channel.
        channel: String,
        /// The org.
        msp_id: String,
    },
}

/// A channel configuration ready for validation.
pub struct ChannelContext {
    config: ChannelConfig,
    msps: MspSet,
    orgs: policy::ChannelOrgs,
    /// Policy texts parsed once under this config (see [`ChannelContext::policy`]).
    cache: Mutex<HashMap<String, Result<Arc<policy::ChannelPolicy>, String>>>,
    /// Certificates that passed chain, revocation and role checks under this
    /// config; only the validity window still depends on the time asked.
    identities: Mutex<HashMap<Vec<u8>, Identity>>,
}

/// Bound on cached identities, so a flood of distinct certificates cannot grow memory.
const IDENTITY_CACHE_MAX: usize = 4096;

/// Bound on cached policy parses: key-level policies are chosen by
/// contracts, so their texts are as many as the keys that carry one.
const POLICY_CACHE_MAX: usize = 4096;

impl ChannelContext {
    /// Loads the MSPs and parses every channel policy.
    pub fn new(config: ChannelConfig) -> Result<ChannelContext, ContextError> {
        // With no orgs every implicit meta policy is vacuously satisfied (as in
        // Fabric), and with no orderer org nobody could sign a block.
        if config.orgs.is_empty() || config.orderer_orgs.is_empty() {
            return Err(ContextError::BadOrgs {
                channel: config.name.clone(),
                reason: "a channel needs at least one org and one orderer org".into(),
            });
        }
        let msps = MspSet::from_configs(&config.orgs).map_err(|e| ContextError::BadOrgs {
            channel: config.name.clone(),
            reason: e.to_string(),
        })?;
        for name in POLICY_NAMES {
            let text = config
                .policies
                .get(name)
                .ok_or_else(|| ContextError::BadPolicy {
                    channel: config.name.clone(),
                    name: name.to_string(),
                    reason: "missing".to_string(),
                })?;
            text.parse::<policy::ChannelPolicy>()
                .map_err(|e| ContextError::BadPolicy {
                    channel: config.name.clone(),
                    name: name.to_string(),
                    reason: e.to_string(),
                })?;
        }
        for o in &config.orderer_orgs {
            if config.org(o).is_none() {
                return Err(ContextError::UnknownOrdererOrg {
                    channel: config.name.clone(),
                    msp_id: o.clone(),
                });
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for o in &config.orderers {
            if !config.orderer_orgs.contains(&o.msp_id) {
                return Err(ContextError::UnknownOrdererOrg {
                    channel: config.name.clone(),
                    msp_id: o.msp_id.clone(),
                });
            }
            if !ids.insert(o.id) || !o.url.starts_with("https://") {
                return Err(ContextError::BadOrgs {
                    channel: config.name.clone(),
                    reason: format!(
                        "orderer {} at {:?}: ids must be unique and URLs https://",
                        o.id, o.url
                    ),
                });
            }
        }
        let orgs =
            policy::ChannelOrgs::with_fabric_defaults(config.orgs.iter().map(|o| o.msp_id.clone()))
                .map_err(|e| ContextError::BadOrgs {
                    channel: config.name.clone(),
                    reason: e.to_string(),
                })?;
        Ok(ChannelContext {
            config,
            msps,
            orgs,
            cache: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// Validates a certificate against the channel's orgs at time `at` (Unix seconds).
    ///
    /// A certificate that validated once under this configuration is only
    /// checked again for its validity window: its chain, revocation status and
    /// role cannot change without a new configuration (and so a new context).
    pub fn identify(
        &self,
        cert_der: &[u8],
        at: i64,
    ) -> Result<Identity, cairn_crypto::CryptoError> {
        let cached = self
            .identities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(cert_der)
            .cloned();
        if let Some(id) = cached
            && id.not_before() <= at
            && at <= id.not_after()
        {
            return Ok(id);
        }
        let id = self.msps.identify(cert_der, at)?;
        let mut cache = self.identities.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= IDENTITY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(cert_der.to_vec(), id.clone());
        Ok(id)
    }

    /// The text of a channel policy (`Endorsement`, `Admins`, ...).
    pub fn channel_policy_text(&self, name: &str) -> String {
        self.config.policies.get(name).cloned().unwrap_or_default()
    }

    /// The channel's orgs, with Fabric's default org policies, as policies
    /// are evaluated over them.
    pub fn orgs(&self) -> &policy::ChannelOrgs {
        &self.orgs
    }

    /// A policy given as text (a signature policy or an implicit meta
    /// policy over the channel's orgs), parsed once under this config and
    /// shared; the parse error if it does not parse.
    pub fn policy(&self, policy_text: &str) -> Result<Arc<policy::ChannelPolicy>, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(parsed) = cache.get(policy_text) {
            return parsed.clone();
        }
        let parsed = policy_text
            .parse::<policy::ChannelPolicy>()
            .map(Arc::new)
            .map_err(|e| e.to_string());
        if cache.len() >= POLICY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(policy_text.to_string(), parsed.clone());
        parsed
    }

    /// Whether these identities satisfy a policy given as text (see
    /// [`ChannelContext::policy`]). A policy that does not parse is never
    /// satisfied.
    pub fn satisfied(&self, policy_text: &str, identities: &[Identity]) -> bool {
        let Ok(p) = self.policy(policy_text) else {
            return false;
        };
        let signers: policy::SignerSet = identities.iter().map(signer).collect();
        p.is_satisfied_by(&self.orgs, &signers)
    }

    /// Checks a configuration update against this (the current) configuration.
    pub(crate) fn check_config_update(
        &self,
        new: &ChannelConfig,
        admins: &[Identity],
        at: Version,
    ) -> Option<ValidationCode> {
        if at.block == 0 && at.tx == 0 {
            return ChannelContext::new(new.clone())
                .err()
                .map(|_| ValidationCode::InvalidConfigTransaction);
        }
        let admins_ok = self.satisfied(&self.channel_policy_text("Admins"), admins);
        let shape_ok = new.name == self.config.name
            && new.sequence == self.config.sequence + 1
            && ChannelContext::new(new.clone()).is_ok();
        (!admins_ok || !shape_ok).then_some(ValidationCode::InvalidConfigTransaction)
    }
}

/// The policy crate's view of an identity: org, role, and the certificate as its id.
pub fn signer(id: &Identity) -> policy::Signer {
    let role = match id.role() {
        cairn_crypto::Role::Admin => policy::Role::Admin,
        cairn_crypto::Role::Client => policy::Role::Client,
        cairn_crypto::Role::Orderer => policy::Role::Orderer,
        cairn_crypto::Role::Peer => policy::Role::Peer,
    };
    policy::Signer::new(id.msp_id(), role, id.der())
}
