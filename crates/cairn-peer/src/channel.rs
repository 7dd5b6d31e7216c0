//! One joined channel on this peer: its ledger (one redb database per
//! channel directory, keeping the private data of this peer's org), its
//! transient store (beside the ledger), its commit notifications, and who
//! may read it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use cairn_contract::CreatorInfo;
use cairn_crypto::{Identity, MspConfig};
use cairn_ledger::block::Block;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::tx::Envelope;
use cairn_ledger::validate::ChannelContext;
use cairn_ledger::validation::ValidationCode;
use cairn_net::ApiError;
use cairn_store::{LEDGER_FILE, Ledger, StoreError};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::api::{ChannelInfo, TxStatusEvent};
use crate::error::PeerError;
use crate::transient::TransientStore;

/// A channel this peer has joined.
pub(crate) struct Channel {
    /// The channel name (also its directory name).
    pub name: String,
    /// Its ledger; only the block puller commits to it.
    pub ledger: Arc<Ledger>,
    /// The committed height, announced after every commit.
    pub height: watch::Sender<u64>,
    /// The orderer the puller is streaming from, if connected.
    pub source: Mutex<Option<String>>,
    /// The orderer that last ordered this gateway's envelope or was named
    /// as the Raft leader: where the gateway submits first.
    leader: Mutex<Option<String>>,
    /// Private data awaiting its block.
    pub transient: TransientStore,
    /// The last block committed, with its transactions' outcomes, as the
    /// committer published it (set before `height` announces it): event
    /// streams and commit-status waiters read it instead of the ledger.
    last: RwLock<Option<Arc<Committed>>>,
    /// Proposal creators as contracts see them.
    creators: CreatorCache,
    /// Transient entries whose blocks are committed but perhaps not yet
    /// durable, with their block numbers: dropped from the transient store
    /// only once the ledger is synced past their block, so a crash (or a
    /// reopen after an I/O error) that loses the block keeps its private data.
    pub held: Mutex<Vec<(u64, cairn_ledger::ids::TxId)>>,
}

/// Bound on cached creators, so a flood of distinct certificates cannot grow memory.
const CREATOR_CACHE_MAX: usize = 4096;

/// Proposal creators as contracts see them ([`CreatorInfo`]), by
/// certificate. Building one parses the certificate again and encodes it as
/// PEM, work a client's every proposal would repeat. Everything in it comes
/// from the certificate, except the MSP and role, which the channel's
/// configuration decides: a cached entry is used only if both still match.
#[derive(Debug, Default)]
pub(crate) struct CreatorCache(Mutex<HashMap<Vec<u8>, Arc<CreatorInfo>>>);

impl CreatorCache {
    /// `creator` (already validated) as contracts see it.
    pub(crate) fn get(&self, creator: &Identity) -> Arc<CreatorInfo> {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(info) = cache.get(creator.der())
            && info.msp_id() == creator.msp_id()
            && info.role() == creator.role()
        {
            return info.clone();
        }
        let info = Arc::new(CreatorInfo::from_identity(creator));
        if cache.len() >= CREATOR_CACHE_MAX {
            cache.clear();
        }
        cache.insert(creator.der().to_vec(), info.clone());
        info
    }
}

/// A committed block and what its transactions' event subscribers need,
/// worked out once by the committer.
#[derive(Debug)]
pub(crate) struct Committed {
    /// The block.
    pub block: Arc<Block>,
    /// Each transaction's outcome, in block order.
    pub statuses: Vec<TxStatusEvent>,
}

impl Committed {
    /// From a block and its transactions' ids (`None`: did not decode).
    pub(crate) fn new(block: Arc<Block>, txids: &[Option<TxId>]) -> Committed {
        let statuses = (0..block.data.len())
            .map(|i| TxStatusEvent {
                block: block.header.number,
                index: i as u32,
                txid: txids.get(i).copied().flatten(),
                code: block
                    .metadata
                    .validation_codes
                    .get(i)
                    .copied()
                    .unwrap_or(ValidationCode::NotValidated),
            })
            .collect();
        Committed { block, statuses }
    }

    /// From a block read back from the ledger (decodes its envelopes).
    pub(crate) fn from_block(block: Block) -> Committed {
        let txids = tx_ids(&block);
        Committed::new(Arc::new(block), &txids)
    }
}

/// The id of each transaction of `block`, `None` where its envelope does not decode.
pub(crate) fn tx_ids(block: &Block) -> Vec<Option<TxId>> {
    block
        .data
        .iter()
        .map(|env| {
            Envelope::decode(env)
                .ok()
                .and_then(|e| e.transaction().ok())
                .map(|t| t.header().txid)
        })
        .collect()
}

impl Channel {
    /// Wraps an open ledger: records this peer's org as the ledger's member
    /// org (it keeps that org's collections) and opens the transient store.
    fn new(
        name: String,
        dir: &Path,
        ledger: Ledger,
        own_msp: &str,
    ) -> Result<Arc<Channel>, PeerError> {
        ledger
            .set_member_org(own_msp)
            .map_err(|source| PeerError::Ledger {
                channel: name.clone(),
                source,
            })?;
        let transient = TransientStore::open(dir).map_err(|e| PeerError::Channel {
            channel: name.clone(),
            reason: e.to_string(),
        })?;
        let height = watch::channel(ledger.height()).0;
        Ok(Arc::new(Channel {
            name,
            ledger: Arc::new(ledger),
            height,
            source: Mutex::new(None),
            leader: Mutex::new(None),
            transient,
            last: RwLock::new(None),
            creators: CreatorCache::default(),
            held: Mutex::new(Vec::new()),
        }))
    }

    /// The validated `creator` as contracts see it (see [`CreatorCache`]).
    pub(crate) fn creator_info(&self, creator: &Identity) -> Arc<CreatorInfo> {
        self.creators.get(creator)
    }

    /// Publishes a committed block to event streams and waiters, then
    /// announces the new height.
    pub(crate) fn announce(&self, committed: Committed) {
        let height = committed.block.header.number + 1;
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(committed));
        self.height.send_replace(height);
    }

    /// Block `number` with its outcomes: the last committed one from
    /// memory, an older one from the ledger; `Ok(None)` if not committed.
    pub(crate) fn committed(&self, number: u64) -> Result<Option<Arc<Committed>>, StoreError> {
        if let Some(last) = self
            .last
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| c.block.header.number == number)
        {
            return Ok(Some(last.clone()));
        }
        Ok(self
            .ledger
            .block(number)?
            .map(|b| Arc::new(Committed::from_block(b))))
    }

    /// The last committed block, if this process committed one.
    pub(crate) fn last_committed(&self) -> Option<Arc<Committed>> {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The channel context (config, MSPs, policies) in force.
    pub fn context(&self) -> Arc<ChannelContext> {
        self.ledger.context()
    }

    /// What `GET /channels` reports.
    pub fn info(&self) -> ChannelInfo {
        let config = self.ledger.config();
        ChannelInfo {
            name: self.name.clone(),
            height: self.ledger.height(),
            config_sequence: config.sequence,
            orgs: config.orgs.iter().map(|o| o.msp_id.clone()).collect(),
            orderer: self.source(),
        }
    }

    /// The orderer URL the puller streams from.
    pub fn source(&self) -> Option<String> {
        self.source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Where the gateway submits first (see `leader`).
    pub(crate) fn leader_hint(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_leader_hint(&self, url: Option<&str>) {
        *self.leader.lock().unwrap_or_else(|p| p.into_inner()) = url.map(str::to_string);
    }

    pub(crate) fn set_source(&self, url: Option<String>) {
        *self.source.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    /// `who` as an identity of this channel, if it is one now. The refusal
    /// says which org is not a member, so clients learn what is wrong.
    pub fn member(&self, who: &[u8], what: &str) -> Result<Identity, ApiError> {
        let ctx = self.context();
        ctx.identify(who, cairn_crypto::unix_now()).map_err(|e| {
            let org = Identity::parse_unvalidated(who)
                .map(|i| i.msp_id().to_string())
                .unwrap_or_else(|_| "an unknown org".into());
            let members: Vec<&str> = ctx
                .config()
                .orgs
                .iter()
                .map(|o| o.msp_id.as_str())
                .collect();
            let reason = if ctx.config().org(&org).is_none() {
                format!(
                    "{what} belongs to {org}, which is not a member of channel {} (members: {})",
                    self.name,
                    members.join(", ")
                )
            } else {
                format!(
                    "{what} is not a valid identity of channel {}: {e}",
                    self.name
                )
            };
            warn!(channel = %self.name, %reason, "request refused");
            ApiError::new(axum::http::StatusCode::FORBIDDEN, reason)
        })
    }

    /// Checks that `who` (a channel identity) satisfies channel policy `name`.
    pub fn require(&self, who: &Identity, name: &str, what: &str) -> Result<(), ApiError> {
        let ctx = self.context();
        let text = ctx.channel_policy_text(name);
        if ctx.satisfied(&text, std::slice::from_ref(who)) {
            return Ok(());
        }
        let reason = format!(
            "{what} ({}, role {}) does not satisfy the {name} policy of channel {} ({text})",
            who.msp_id(),
            who.role(),
            self.name
        );
        warn!(channel = %self.name, %reason, "request refused");
        Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, reason))
    }

    /// A TLS caller that may read this channel (member, `Readers`).
    pub fn reader(&self, caller: &Identity) -> Result<Identity, ApiError> {
        let id = self.member(caller.der(), "the caller")?;
        self.require(&id, "Readers", "the caller")?;
        Ok(id)
    }
}

/// Where channel ledgers live.
pub(crate) fn channels_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("channels")
}

/// Fabric's channel name rule (see [`cairn_ledger::config::valid_channel_name`]).
pub(crate) fn valid_name(name: &str) -> bool {
    cairn_ledger::config::valid_channel_name(name)
}

/// Opens every channel ledger under `data_dir` (what a restart rejoins).
pub(crate) fn open_all(data_dir: &Path, own_msp: &str) -> Result<Vec<Arc<Channel>>, PeerError> {
    let dir = channels_dir(data_dir);
    // Ledgers and transient logs live here: the owner only.
    cairn_crypto::private_file::create_dir_all(&dir).map_err(|e| PeerError::Io {
        path: dir.clone(),
        source: e.source,
    })?;
    let entries = std::fs::read_dir(&dir).map_err(|source| PeerError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PeerError::Io {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !valid_name(&name) || !path.join(LEDGER_FILE).exists() {
            continue;
        }
        let ledger = Ledger::open(&path).map_err(|source| PeerError::Ledger {
            channel: name.clone(),
            source,
        })?;
        let config_name = ledger.config().name;
        if config_name != name {
            return Err(PeerError::Channel {
                channel: name,
                reason: format!(
                    "the ledger in {} belongs to channel {config_name}; move it to a directory of that name",
                    path.display()
                ),
            });
        }
        info!(channel = %name, height = ledger.height(), "channel reopened");
        out.push(Channel::new(name, &path, ledger, own_msp)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Creates the ledger of a new channel from its genesis block, after
/// checking that the block is a genesis block and `own_msp` is a member.
pub(crate) fn create(
    data_dir: &Path,
    genesis: &Block,
    own_msp: &str,
) -> Result<Arc<Channel>, PeerError> {
    let config = cairn_store::genesis_config(genesis).map_err(|e| PeerError::Channel {
        channel: genesis.header.channel.clone(),
        reason: format!("not a usable genesis block: {e}"),
    })?;
    let name = config.name.clone();
    let refuse = |reason: String| PeerError::Channel {
        channel: name.clone(),
        reason,
    };
    if genesis.header.number != 0 {
        return Err(refuse(format!(
            "block {} is not a genesis block; join with block 0",
            genesis.header.number
        )));
    }
    if !valid_name(&name) {
        return Err(refuse(
            "invalid channel name: use lowercase letters, digits, '.' and '-', starting with a letter"
                .into(),
        ));
    }
    if config.org(own_msp).is_none() {
        return Err(refuse(format!(
            "this peer's org {own_msp} is not a member of the channel (members: {})",
            org_list(&config)
        )));
    }
    let dir = channels_dir(data_dir).join(&name);
    if dir.join(LEDGER_FILE).exists() {
        return Err(refuse("this peer has already joined the channel".into()));
    }
    let ledger = Ledger::create(&dir, genesis).map_err(|source| PeerError::Ledger {
        channel: name.clone(),
        source,
    })?;
    info!(channel = %name, "channel joined");
    Channel::new(name, &dir, ledger, own_msp)
}

fn org_list(config: &ChannelConfig) -> String {
    config
        .orgs
        .iter()
        .map(|o| o.msp_id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The orgs a peer trusts at the TLS layer: its own org plus every org of
/// every joined channel. The same org on two channels contributes the union
/// of its revocation lists; a conflicting CA for one MSP id keeps the first
/// seen (the local one, then channels by name) and is logged.
pub(crate) fn trusted_orgs<'a>(
    local: &MspConfig,
    channels: impl IntoIterator<Item = &'a ChannelConfig>,
) -> Vec<MspConfig> {
    let mut by_id: BTreeMap<String, MspConfig> = BTreeMap::new();
    by_id.insert(local.msp_id.clone(), local.clone());
    for config in channels {
        for org in &config.orgs {
            match by_id.get_mut(&org.msp_id) {
                None => {
                    by_id.insert(org.msp_id.clone(), org.clone());
                }
                Some(have) if have.ca_pem.trim() == org.ca_pem.trim() => {
                    for serial in &org.revoked {
                        if !have.revoked.contains(serial) {
                            have.revoked.push(serial.clone());
                        }
                    }
                }
                Some(_) => warn!(
                    msp_id = %org.msp_id,
                    channel = %config.name,
                    "the channel names a different CA for an org already trusted; keeping the first"
                ),
            }
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msp(id: &str, ca: &str, revoked: &[&str]) -> MspConfig {
        MspConfig {
            msp_id: id.into(),
            ca_pem: ca.into(),
            revoked: revoked.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn creators_are_built_once_per_certificate() {
        let net = cairn_testkit::TestNet::new(2);
        let (user1, admin1, user2) = (
            net.orgs[0].user.identity(),
            net.orgs[0].admin.identity(),
            net.orgs[1].user.identity(),
        );
        let cache = CreatorCache::default();
        let first = cache.get(user1);
        assert_eq!(*first, CreatorInfo::from_identity(user1));
        assert!(
            Arc::ptr_eq(&first, &cache.get(user1)),
            "a second proposal reuses it"
        );
        for other in [admin1, user2] {
            let info = cache.get(other);
            assert_eq!(*info, CreatorInfo::from_identity(other));
            assert!(!Arc::ptr_eq(&first, &info));
        }
        // An entry whose role no longer matches the identity (the channel's
        // configuration decides roles) is built anew.
        assert_ne!(admin1.role(), user1.role());
        let stale = Arc::new(CreatorInfo::from_identity(admin1));
        cache.0.lock().unwrap().insert(user1.der().to_vec(), stale);
        assert_eq!(*cache.get(user1), CreatorInfo::from_identity(user1));
    }

    #[test]
    fn channel_names() {
        assert!(valid_name("testchannel"));
        assert!(valid_name("a.b-c1"));
        for bad in ["", "Upper", "1abc", "a/b", "..", "a_b", &"a".repeat(250)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn trust_is_the_union_of_channel_orgs() {
        let local = msp("Org1MSP", "ca1", &[]);
        let mut a = ChannelConfig::with_defaults(
            "a",
            vec![msp("Org1MSP", "ca1", &["01"]), msp("Org2MSP", "ca2", &[])],
            vec!["Org1MSP".into()],
        );
        a.orgs[1].revoked.push("02".into());
        let b = ChannelConfig::with_defaults(
            "b",
            vec![
                msp("Org1MSP", "ca1", &["03"]),
                msp("Org3MSP", "ca3", &[]),
                msp("Org2MSP", "other", &["09"]),
            ],
            vec!["Org1MSP".into()],
        );
        let orgs = trusted_orgs(&local, [&a, &b]);
        let ids: Vec<&str> = orgs.iter().map(|o| o.msp_id.as_str()).collect();
        assert_eq!(ids, ["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(orgs[0].revoked, ["01", "03"]);
        assert_eq!(orgs[1].ca_pem, "ca2", "the first CA seen is kept");
        assert_eq!(orgs[1].revoked, ["02"]);
    }
}
