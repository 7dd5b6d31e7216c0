//! Starting and stopping one peer: identity and trust, channels, the mutual
//! TLS server (postcard and JSON APIs), the operations server and one block
//! puller per channel.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use cairn_contract::{ContractRuntime, LedgerResolver, PackageStore};
use cairn_crypto::{MspConfig, Role, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_net::{ApiError, Client, TlsIdentity, Trust};
use cairn_store::Ledger;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::api::{ChannelInfo, InstalledInfo};
use crate::channel::{self, Channel};
use crate::config::PeerConfig;
use crate::error::PeerError;
use crate::metrics::Metrics;

/// Calls to orderers (a broadcast waits until its block is committed) and
/// other non-endorsement calls must answer within this time.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// What the handlers, pullers and the node share.
pub(crate) struct Shared {
    pub config: PeerConfig,
    pub signer: SigningIdentity,
    pub local_msp: MspConfig,
    pub trust: Arc<Trust>,
    pub client: Client,
    pub runtime: ContractRuntime,
    pub packages: Arc<PackageStore>,
    pub resolver: Arc<LedgerResolver>,
    pub channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    pub metrics: Metrics,
    /// Bounds concurrent contract simulations (each holds a blocking thread).
    pub sims: Semaphore,
    /// Block pullers, aborted when the node stops.
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Serializes joins (directory creation, trust update).
    pub join_lock: tokio::sync::Mutex<()>,
    /// Attested-node decisions about other peers (private data).
    pub admissions: crate::attested::PeerAdmissions,
    /// This peer's TLS identity, for [`Shared::peer_client`].
    pub tls: TlsIdentity,
    /// Clients pinned to one org's peers, by MSP id.
    pub peer_clients: Mutex<BTreeMap<String, Client>>,
    /// The gateway's broadcast streams, one per orderer it submitted to.
    pub broadcasts: cairn_orderer::api::BroadcastStreams,
    /// The gateway's endorsement streams, by the MSP id their pinned
    /// client proves (as [`Shared::peer_client`]).
    pub endorse_streams: Mutex<BTreeMap<String, Arc<crate::api::EndorseStreams>>>,
}

impl Shared {
    /// The endorsement streams to peers of `msp_id`, opened with its
    /// pinned client ([`Shared::peer_client`]), so a stream's every call
    /// reaches a peer of that org.
    pub fn endorse_streams(&self, msp_id: &str) -> Arc<crate::api::EndorseStreams> {
        let mut pools = self
            .endorse_streams
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pools
            .entry(msp_id.to_string())
            .or_insert_with(|| {
                let timeout = Duration::from_millis(self.config.gateway.endorse_timeout_ms);
                Arc::new(cairn_net::StreamPool::new(
                    crate::api::ENDORSE_STREAM,
                    timeout,
                ))
            })
            .clone()
    }

    /// This peer's org.
    pub fn msp_id(&self) -> &str {
        self.signer.msp_id()
    }

    /// The client for calls that may only reach a peer of `msp_id` (a
    /// proposal with transient data, private data, a private data request):
    /// the target's org is the one its certificate proves in the TLS
    /// handshake, so a peer listed under another org's label gets nothing.
    pub fn peer_client(&self, msp_id: &str) -> Result<Client, ApiError> {
        let mut clients = self.peer_clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(msp_id) {
            return Ok(c.clone());
        }
        let require = cairn_net::ServerRequirement::peer_of(msp_id);
        let client =
            Client::pinned(&self.tls, &require, CALL_TIMEOUT).map_err(ApiError::internal)?;
        clients.insert(msp_id.to_string(), client.clone());
        Ok(client)
    }

    /// A joined channel.
    pub fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// A joined channel, or a 404 naming it.
    pub fn channel_or_404(&self, name: &str) -> Result<Arc<Channel>, ApiError> {
        self.channel(name).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                format!("this peer has not joined channel {name}"),
            )
        })
    }

    /// Every joined channel, by name.
    pub fn all_channels(&self) -> Vec<Arc<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The joined channels whose `Readers` policy `caller` satisfies
    /// (others are not even named to it).
    pub fn readable_channels(&self, caller: &cairn_crypto::Identity) -> Vec<Arc<Channel>> {
        self.all_channels()
            .into_iter()
            .filter(|c| {
                let ctx = c.context();
                ctx.identify(caller.der(), cairn_crypto::unix_now())
                    .is_ok_and(|id| ctx.satisfied(&ctx.channel_policy_text("Readers"), &[id]))
            })
            .collect()
    }

    /// Recomputes the TLS trust from the local org and every channel's
    /// current configuration (after a join or a config block).
    pub fn refresh_trust(&self) {
        let configs: Vec<_> = self
            .all_channels()
            .iter()
            .map(|c| c.ledger.config())
            .collect();
        let orgs = channel::trusted_orgs(&self.local_msp, configs.iter());
        match self.trust.update(&orgs) {
            Ok(()) => info!(orgs = orgs.len(), "TLS trust updated"),
            Err(e) => error!(reason = %e, "TLS trust not updated; keeping the previous one"),
        }
    }

    /// The orderers of a channel: its configuration's, else the fallback list.
    pub fn orderer_urls(&self, channel: &Channel) -> Vec<String> {
        let listed: Vec<String> = channel
            .ledger
            .config()
            .orderers
            .iter()
            .map(|o| o.url.trim_end_matches('/').to_string())
            .collect();
        if listed.is_empty() {
            self.config
                .orderers
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect()
        } else {
            listed
        }
    }

    /// Joins a channel from its genesis block and starts pulling its blocks.
    pub async fn join(self: &Arc<Self>, genesis: &Block) -> Result<ChannelInfo, PeerError> {
        let _guard = self.join_lock.lock().await;
        let name = genesis.header.channel.clone();
        if self.channel(&name).is_some() {
            return Err(PeerError::Channel {
                channel: name,
                reason: "this peer has already joined the channel".into(),
            });
        }
        let (data_dir, genesis_block, msp) = (
            self.config.data_dir.clone(),
            genesis.clone(),
            self.msp_id().to_string(),
        );
        let channel =
            tokio::task::spawn_blocking(move || channel::create(&data_dir, &genesis_block, &msp))
                .await
                .map_err(|e| PeerError::Channel {
                    channel: name.clone(),
                    reason: format!("creating the ledger was interrupted: {e}"),
                })??;
        self.channels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel.name.clone(), channel.clone());
        self.refresh_trust();
        self.start_puller(channel.clone());
        Ok(channel.info())
    }

    /// Installs a contract package.
    pub fn install(&self, archive: &[u8]) -> Result<String, PeerError> {
        Ok(self.packages.install(archive)?.to_string())
    }

    /// The installed packages.
    pub fn installed(&self) -> Result<Vec<InstalledInfo>, PeerError> {
        Ok(self
            .packages
            .installed()?
            .into_iter()
            .map(|p| InstalledInfo {
                id: p.id.to_string(),
                label: p.label,
            })
            .collect())
    }

    fn start_puller(self: &Arc<Self>, channel: Arc<Channel>) {
        self.metrics
            .height
            .with_label_values(&[channel.name.as_str()])
            .set(channel.ledger.height() as i64);
        let task = tokio::spawn(crate::deliver::run(self.clone(), channel.clone()));
        let reconciler = tokio::spawn(crate::reconcile::run(self.clone(), channel));
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        tasks.push(reconciler);
    }
}

/// A running peer. Dropping it stops it at once (connections closed,
/// pullers stopped), as a crash would; every committed block stays.
pub struct PeerNode {
    shared: Arc<Shared>,
    addr: SocketAddr,
    operations: Option<SocketAddr>,
    console: Option<SocketAddr>,
    servers: Vec<JoinHandle<()>>,
}

impl PeerNode {
    /// Binds `config.listen` (and `config.operations_listen`) and starts the peer.
    pub async fn start(config: PeerConfig) -> Result<PeerNode, PeerError> {
        let listener = bind(config.listen).await?;
        let operations = match config.operations_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        PeerNode::start_on(config, listener, operations).await
    }

    /// Starts the peer on already bound listeners (the addresses in
    /// `config` are then ignored).
    pub async fn start_on(
        config: PeerConfig,
        listener: TcpListener,
        operations: Option<TcpListener>,
    ) -> Result<PeerNode, PeerError> {
        config.check()?;
        let msp_path = config.msp_path();
        let local_msp = MspConfig::load(&msp_path).map_err(|e| PeerError::Config {
            reason: format!("the peer's org MSP {}: {e}", msp_path.display()),
        })?;
        // Channels, ledgers and packages live here: the owner only.
        cairn_crypto::private_file::create_dir_all(&config.data_dir).map_err(|e| {
            PeerError::Io {
                path: config.data_dir.clone(),
                source: e.source,
            }
        })?;
        let data_dir = config.data_dir.clone();
        let own_msp = local_msp.msp_id.clone();
        let opened = tokio::task::spawn_blocking(move || channel::open_all(&data_dir, &own_msp))
            .await
            .map_err(|e| PeerError::Config {
                reason: format!("opening the channel ledgers was interrupted: {e}"),
            })??;
        let configs: Vec<_> = opened.iter().map(|c| c.ledger.config()).collect();
        let trust = Trust::new(&channel::trusted_orgs(&local_msp, configs.iter()))?;
        let tls = TlsIdentity::load(&config.identity_dir, trust.clone())?
            .with_attestation(config.attestation.clone());
        let signer = tls.signer().clone();
        if signer.identity().role() != Role::Peer || signer.msp_id() != local_msp.msp_id {
            return Err(PeerError::Config {
                reason: format!(
                    "identity {} ({}, role {}) is not a peer of {}",
                    signer.identity().subject(),
                    signer.msp_id(),
                    signer.identity().role(),
                    local_msp.msp_id
                ),
            });
        }
        let client = Client::with_timeout(&tls, CALL_TIMEOUT)?;
        let packages_dir = config.packages_path();
        let packages = Arc::new(PackageStore::open(&packages_dir)?);
        let runtime = ContractRuntime::new(config.runtime_config(signer.msp_id()));
        let resolver = Arc::new(LedgerResolver::new(
            packages.clone(),
            signer.msp_id().to_string(),
        ));
        let permits = match config.runtime.max_concurrent {
            0 => 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let shared = Arc::new(Shared {
            signer,
            local_msp,
            trust,
            client,
            runtime,
            packages,
            resolver,
            channels: RwLock::new(opened.iter().map(|c| (c.name.clone(), c.clone())).collect()),
            metrics: Metrics::new(),
            sims: Semaphore::new(permits),
            tasks: Mutex::new(Vec::new()),
            join_lock: tokio::sync::Mutex::new(()),
            admissions: Default::default(),
            tls: tls.clone(),
            peer_clients: Mutex::new(BTreeMap::new()),
            broadcasts: cairn_orderer::api::broadcast_streams(CALL_TIMEOUT),
            endorse_streams: Mutex::new(BTreeMap::new()),
            config,
        });
        let addr = listener.local_addr().map_err(|source| PeerError::Io {
            path: shared.config.listen.to_string().into(),
            source,
        })?;
        // Admission wraps every route, the ones not found included.
        let router = crate::service::router(shared.clone())
            .merge(crate::http::router(shared.clone()))
            .merge(crate::private::router(shared.clone()))
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                crate::attested::admission,
            ));
        let server = tokio::spawn(async move {
            if let Err(e) = cairn_net::serve(listener, &tls, router).await {
                warn!(reason = %e, "peer server stopped");
            }
        });
        let mut servers = vec![server];
        let mut ops_addr = None;
        if let Some(ops) = operations {
            ops_addr = ops.local_addr().ok();
            servers.push(tokio::spawn(crate::ops::serve(ops, shared.clone())));
        }
        let mut console_addr = None;
        if let Some(at) = shared.config.console_listen {
            let (cert, key) = crate::console::load_or_create_tls(&shared.config.console_tls_dir())?;
            let tls = cairn_net::browser_server_config(cert, key)?;
            let listener = bind(at).await?;
            console_addr = listener.local_addr().ok();
            let router = crate::console::router(shared.clone());
            servers.push(tokio::spawn(async move {
                if let Err(e) = cairn_net::serve_browsers(listener, tls, router).await {
                    warn!(reason = %e, "console server stopped");
                }
            }));
        }
        for c in opened {
            shared.start_puller(c);
        }
        info!(%addr, msp_id = %shared.msp_id(), channels = shared.all_channels().len(), "peer started");
        Ok(PeerNode {
            shared,
            addr,
            operations: ops_addr,
            console: console_addr,
            servers,
        })
    }

    /// The mutual TLS address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operations (health, metrics) address, if enabled.
    pub fn operations_addr(&self) -> Option<SocketAddr> {
        self.operations
    }

    /// The web console's TLS address, if enabled.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console
    }

    /// This peer's org.
    pub fn msp_id(&self) -> &str {
        self.shared.msp_id()
    }

    /// Blocks committed on `channel`, if joined.
    pub fn height(&self, channel: &str) -> Option<u64> {
        self.shared.channel(channel).map(|c| c.ledger.height())
    }

    /// The joined channels.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.shared
            .all_channels()
            .iter()
            .map(|c| c.info())
            .collect()
    }

    /// The ledger of `channel` (read-only use: blocks, state snapshots, receipts).
    pub fn ledger(&self, channel: &str) -> Option<Arc<Ledger>> {
        self.shared.channel(channel).map(|c| c.ledger.clone())
    }

    /// Transactions whose private data waits in `channel`'s transient store.
    pub fn transient_entries(&self, channel: &str) -> Option<u64> {
        let c = self.shared.channel(channel)?;
        match c.transient.len() {
            Ok(n) => Some(n),
            Err(e) => {
                warn!(channel, reason = %e, "reading the transient store failed");
                None
            }
        }
    }

    /// Waits until `channel` has at least `height` blocks, for at most `timeout`.
    pub async fn wait_for_height(&self, channel: &str, height: u64, timeout: Duration) -> bool {
        let Some(c) = self.shared.channel(channel) else {
            return false;
        };
        let mut rx = c.height.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|h| *h >= height))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Joins the channel of `genesis` (what `POST /admin/channels` does).
    pub async fn join(&self, genesis: &Block) -> Result<ChannelInfo, PeerError> {
        self.shared.join(genesis).await
    }

    /// Installs a contract package; returns its id.
    pub fn install(&self, archive: &[u8]) -> Result<String, PeerError> {
        self.shared.install(archive)
    }

    /// Stops accepting connections and pulling blocks, waits for those
    /// tasks to end, and makes every committed block durable; requests still
    /// being answered finish on their own.
    pub async fn shutdown(mut self) {
        for t in self.stop() {
            // A cancelled task reports an error: that is the expected end.
            let _ = t.await;
        }
        // Private data that arrived since the last block survives a clean
        // stop, and so do the blocks committed with deferred durability.
        let retention = self.shared.config.private_data.transient_retention_blocks;
        for ch in self.shared.all_channels() {
            if let Err(e) = crate::deliver::sync(&ch, retention) {
                tracing::warn!(channel = %ch.name, reason = %e, "syncing the ledger failed");
            }
            if let Err(e) = ch.transient.flush() {
                tracing::warn!(channel = %ch.name, reason = %e, "flushing the transient store failed");
            }
        }
        info!(addr = %self.addr, "peer stopped");
    }

    fn stop(&mut self) -> Vec<JoinHandle<()>> {
        let mut all: Vec<JoinHandle<()>> = self.servers.drain(..).collect();
        all.extend(
            self.shared
                .tasks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..),
        );
        for t in &all {
            t.abort();
        }
        all
    }
}

impl Drop for PeerNode {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, PeerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| PeerError::Io {
            path: addr.to_string().into(),
            source,
        })
}
