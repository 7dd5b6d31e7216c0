//! `cairn channel create`: a channel's genesis block from a channel file,
//! as Fabric's `configtxgen -outputBlock` makes one from `configtx.yaml`.
//!
//! The file names the member orgs by their `msp.json` (CA certificates and
//! revocation lists, as `cairn crypto generate` writes them), the orderer
//! endpoints each org runs, and optionally policies (Fabric's defaults
//! otherwise), batch settings and an attestation requirement. The block is
//! signed by an orderer of one of the channel's orderer orgs; orderers start
//! from it (`genesis` in their node config) and peers join with
//! `cairn channel join`. `cairn up` creates its channel the same way.
//!
//! ```toml
//! name = "mychannel"
//!
//! [[orgs]]
//! msp = "crypto/org1/msp.json"          # relative to this file
//! orderers = ["https://127.0.0.1:7050"] # optional: makes it an orderer org
//!
//! [[orgs]]
//! msp = "crypto/org2/msp.json"
//!
//! [policies]                             # optional; Fabric's defaults otherwise
//! Endorsement = "ANY Endorsement"
//!
//! [batch]                                # optional
//! max_tx_count = 500
//! timeout_ms = 200
//! max_bytes = 10485760
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cairn_crypto::{MspConfig, Role, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::config::{
    AttestationRequirement, BatchConfig, ChannelConfig, OrdererEndpoint, POLICY_NAMES,
};
use cairn_ledger::ids::Timestamp;
use cairn_ledger::validate::ChannelContext;
use serde::{Deserialize, Serialize};

/// A channel file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelFile {
    /// The channel's name.
    pub name: String,
    /// Member orgs.
    pub orgs: Vec<OrgEntry>,
    /// Channel policies to set (the others keep Fabric's defaults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, String>,
    /// Block cutting.
    #[serde(default)]
    pub batch: Option<BatchConfig>,
    /// Admit only attested nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationRequirement>,
}

/// One member org of a channel file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgEntry {
    /// The org's `msp.json`, relative to the channel file.
    pub msp: PathBuf,
    /// Base URLs of the orderers this org runs (Raft ids are given in file order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orderers: Vec<String>,
}

impl ChannelFile {
    /// Reads a channel file (TOML).
    pub fn load(path: &Path) -> anyhow::Result<ChannelFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read channel file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid channel file", path.display()))
    }

    /// Writes the file (TOML).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(self).context("cannot encode the channel file")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The channel configuration the file describes, checked as a config
    /// block would be (orgs, policies, orderers); `base` resolves relative
    /// `msp` paths.
    pub fn config(&self, base: &Path) -> anyhow::Result<ChannelConfig> {
        if !cairn_ledger::config::valid_channel_name(&self.name) {
            bail!(
                "channel name {:?}: start with a lowercase letter, then lowercase letters, digits, '.' or '-', under 250 characters (Fabric's rule)",
                self.name
            );
        }
        let mut msps: Vec<MspConfig> = Vec::new();
        let mut orderer_orgs = Vec::new();
        let mut orderers = Vec::new();
        for org in &self.orgs {
            let path = base.join(&org.msp);
            let msp = MspConfig::load(&path)
                .with_context(|| format!("org {}: cannot load its MSP", path.display()))?;
            if msps.iter().any(|m| m.msp_id == msp.msp_id) {
                bail!("org {} is listed twice", msp.msp_id);
            }
            if !org.orderers.is_empty() {
                orderer_orgs.push(msp.msp_id.clone());
            }
            for url in &org.orderers {
                orderers.push(OrdererEndpoint {
                    id: orderers.len() as u64 + 1,
                    msp_id: msp.msp_id.clone(),
                    url: url.trim_end_matches('/').to_string(),
                });
            }
            msps.push(msp);
        }
        if orderers.is_empty() {
            bail!("no org lists orderers: give at least one org `orderers = [\"https://...\"]`");
        }
        let mut config = ChannelConfig::with_defaults(&self.name, msps, orderer_orgs);
        config.orderers = orderers;
        for (name, text) in &self.policies {
            if !POLICY_NAMES.contains(&name.as_str()) {
                bail!(
                    "unknown channel policy {name:?}: the policies are {}",
                    POLICY_NAMES.join(", ")
                );
            }
            config.policies.insert(name.clone(), text.clone());
        }
        if let Some(batch) = &self.batch {
            if batch.max_tx_count == 0 || batch.max_bytes == 0 || batch.timeout_ms == 0 {
                bail!("batch: max_tx_count, max_bytes and timeout_ms must be above 0");
            }
            config.batch = batch.clone();
        }
        config.attestation = self.attestation.clone();
        ChannelContext::new(config.clone())
            .with_context(|| format!("channel {} is not a valid configuration", self.name))?;
        Ok(config)
    }
}

/// The genesis block of `config`, signed by `signer`, which must be an
/// orderer of one of the channel's orderer orgs.
pub fn genesis(config: &ChannelConfig, signer: &SigningIdentity) -> anyhow::Result<Block> {
    let id = signer.identity();
    if id.role() != Role::Orderer || !config.orderer_orgs.iter().any(|o| o == id.msp_id()) {
        bail!(
            "the genesis block must be signed by an orderer of an orderer org ({}); {} is a {} of {}",
            config.orderer_orgs.join(", "),
            id.subject(),
            id.role().as_str(),
            id.msp_id()
        );
    }
    let mut nonce = vec![0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    Ok(cairn_store::genesis_block(
        config,
        signer,
        Timestamp::now(),
        nonce,
    )?)
}

/// Runs `cairn channel create`.
pub fn run(file: &Path, signer_dir: &Path, out: &Path) -> anyhow::Result<()> {
    use cairn_ledger::encoding::Canonical as _;
    let channel = ChannelFile::load(file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let config = channel.config(base)?;
    let signer = SigningIdentity::from_dir(signer_dir)
        .with_context(|| format!("cannot load the signer from {}", signer_dir.display()))?;
    let block = genesis(&config, &signer)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, block.encode()?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "channel {}: genesis block written to {} ({} orgs, orderers {}, signed by {})",
        config.name,
        out.display(),
        config.orgs.len(),
        config
            .orderers
            .iter()
            .map(|o| format!("{}={}", o.id, o.url))
            .collect::<Vec<_>>()
            .join(" "),
        signer.identity().subject()
    );
    Ok(())
}
