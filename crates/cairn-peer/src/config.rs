//! The peer's configuration: what `cairn node` reads from TOML.
//!
//! ```toml
//! identity_dir = "crypto/org1/peers/peer0"
//! data_dir = "data/peer0.org1"
//! listen = "127.0.0.1:7051"
//! operations_listen = "127.0.0.1:9443"
//! console_listen = "127.0.0.1:9543"
//! orderers = ["https://127.0.0.1:7050"]
//!
//! [[gateway_peers]]
//! msp_id = "Org2MSP"
//! url = "https://127.0.0.1:8051"
//!
//! [runtime]
//! time_ms = 3000
//!
//! [private_data]
//! transient_retention_blocks = 1000
//! reconcile_interval_ms = 2000
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_contract::{Limits, RuntimeConfig};
use serde::{Deserialize, Serialize};

use crate::error::PeerError;

/// A peer of another org (or another peer of this org) the gateway may ask
/// for endorsements. Fabric finds these through discovery; Cairn lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownPeer {
    /// The peer's org, e.g. `Org2MSP`.
    pub msp_id: String,
    /// Its base URL, e.g. `https://peer0.org2.cairn:7051`; the host must be
    /// a name in its TLS certificate.
    pub url: String,
}

/// Sandbox limits for every contract invocation on this peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Heap a single invocation may allocate, in MiB.
    pub memory_mb: usize,
    /// Native stack JavaScript may use, in KiB (stay well below 2048).
    pub stack_kb: usize,
    /// Wall-clock budget of one invocation, in milliseconds.
    pub time_ms: u64,
    /// Largest response payload a contract may return, in bytes.
    pub max_response_bytes: usize,
    /// How deeply contracts may call each other.
    pub max_call_depth: u32,
    /// Warm JavaScript runtimes kept per installed package.
    pub max_idle_per_package: usize,
    /// Invocations running at once (0: twice the number of CPUs).
    pub max_concurrent: usize,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        let limits = Limits::default();
        RuntimeSettings {
            memory_mb: limits.memory_bytes >> 20,
            stack_kb: limits.stack_bytes >> 10,
            time_ms: limits.time.as_millis() as u64,
            max_response_bytes: limits.max_response_bytes,
            max_call_depth: limits.max_call_depth,
            max_idle_per_package: 4,
            max_concurrent: 0,
        }
    }
}

/// How blocks are pulled from the ordering service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverSettings {
    /// With no block for this long, the peer asks the other orderers for
    /// their height and moves to one that is ahead.
    pub stall_timeout_ms: u64,
    /// First retry delay after a failed connection.
    pub backoff_min_ms: u64,
    /// Largest retry delay.
    pub backoff_max_ms: u64,
}

impl Default for DeliverSettings {
    fn default() -> Self {
        DeliverSettings {
            stall_timeout_ms: 5_000,
            backoff_min_ms: 100,
            backoff_max_ms: 5_000,
        }
    }
}

/// Gateway time limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Limit for one remote endorsement.
    pub endorse_timeout_ms: u64,
    /// Limit for ordering one transaction, failovers included.
    pub submit_timeout_ms: u64,
    /// Longest a commit-status call may wait.
    pub max_commit_wait_ms: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            endorse_timeout_ms: 10_000,
            submit_timeout_ms: 30_000,
            max_commit_wait_ms: 300_000,
        }
    }
}

/// Private data: the transient store, dissemination and reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivateDataSettings {
    /// Transient entries whose transaction did not commit are purged this
    /// many blocks after they arrived (Fabric's
    /// `transientstoreMaxBlockRetention`).
    pub transient_retention_blocks: u64,
    /// Limit for pushing one collection's private data to one peer.
    pub push_timeout_ms: u64,
    /// Pause between reconciliation rounds while nothing is missing.
    pub reconcile_interval_ms: u64,
    /// Longest pause after rounds that fetched nothing (the interval doubles
    /// after each such round up to this).
    pub reconcile_backoff_max_ms: u64,
    /// Missing entries asked for in one round.
    pub reconcile_batch: usize,
}

impl Default for PrivateDataSettings {
    fn default() -> Self {
        PrivateDataSettings {
            transient_retention_blocks: 1000,
            push_timeout_ms: 3_000,
            reconcile_interval_ms: 2_000,
            reconcile_backoff_max_ms: 60_000,
            reconcile_batch: 100,
        }
    }
}

/// Everything one peer needs to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's identity directory (`cert.pem`, `key.pem`), e.g.
    /// `crypto/org1/peers/peer0`; it is both its TLS and its signing identity.
    pub identity_dir: PathBuf,
    /// Its org's `msp.json`, trusted before any channel is joined; default
    /// `<identity_dir>/../../msp.json` (the cryptogen layout).
    #[serde(default)]
    pub msp_config: Option<PathBuf>,
    /// Where channel ledgers live (`channels/<name>/`).
    pub data_dir: PathBuf,
    /// Mutual TLS listener for nodes and clients (postcard and JSON APIs).
    pub listen: SocketAddr,
    /// Plain HTTP listener for `/healthz` and `/metrics`; none if unset.
    #[serde(default)]
    pub operations_listen: Option<SocketAddr>,
    /// TLS listener (server certificate only) for the web console: its
    /// static files and, after a signed-challenge login with an org
    /// identity, the JSON API acting as that identity; none if unset.
    #[serde(default)]
    pub console_listen: Option<SocketAddr>,
    /// Installed contract packages; default `<data_dir>/packages`.
    #[serde(default)]
    pub packages_dir: Option<PathBuf>,
    /// Orderer base URLs used for channels whose configuration lists none.
    #[serde(default)]
    pub orderers: Vec<String>,
    /// Other peers of the channels' orgs: the gateway asks them for
    /// endorsements, endorsers push private data to those of member orgs,
    /// and reconciliation fetches missing private data from them.
    #[serde(default)]
    pub gateway_peers: Vec<KnownPeer>,
    /// Contract sandbox limits.
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// Block pulling.
    #[serde(default)]
    pub deliver: DeliverSettings,
    /// Gateway time limits.
    #[serde(default)]
    pub gateway: GatewaySettings,
    /// Private data: transient store, dissemination, reconciliation.
    #[serde(default)]
    pub private_data: PrivateDataSettings,
    /// The attestation token this peer presents to orderers and other
    /// peers (kept renewed by whoever started it with `--attest`; not part
    /// of the file).
    #[serde(skip)]
    pub attestation: cairn_net::AttestationToken,
}

impl PeerConfig {
    /// A configuration with defaults for everything optional.
    pub fn new(identity_dir: PathBuf, data_dir: PathBuf, listen: SocketAddr) -> PeerConfig {
        PeerConfig {
            identity_dir,
            msp_config: None,
            data_dir,
            listen,
            operations_listen: None,
            console_listen: None,
            packages_dir: None,
            orderers: Vec::new(),
            gateway_peers: Vec::new(),
            runtime: RuntimeSettings::default(),
            deliver: DeliverSettings::default(),
            gateway: GatewaySettings::default(),
            private_data: PrivateDataSettings::default(),
            attestation: cairn_net::AttestationToken::new(),
        }
    }

    /// Parses a TOML configuration and checks it.
    pub fn from_toml(text: &str) -> Result<PeerConfig, PeerError> {
        let config: PeerConfig = toml::from_str(text).map_err(|e| PeerError::Config {
            reason: format!("not a valid peer configuration: {e}"),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Reads and checks a TOML configuration file.
    pub fn load(path: &Path) -> Result<PeerConfig, PeerError> {
        let text = std::fs::read_to_string(path).map_err(|source| PeerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        PeerConfig::from_toml(&text).map_err(|e| match e {
            PeerError::Config { reason } => PeerError::Config {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }

    /// The org `msp.json` this peer trusts from the start.
    pub fn msp_path(&self) -> PathBuf {
        self.msp_config
            .clone()
            .unwrap_or_else(|| self.identity_dir.join("../../msp.json"))
    }

    /// Where the console keeps its own TLS certificate and key.
    pub fn console_tls_dir(&self) -> PathBuf {
        self.data_dir.join("console-tls")
    }

    /// The package directory.
    pub fn packages_path(&self) -> PathBuf {
        self.packages_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("packages"))
    }

    /// The contract runtime configuration for a peer of `msp_id`.
    pub fn runtime_config(&self, msp_id: &str) -> RuntimeConfig {
        let r = &self.runtime;
        let mut config = RuntimeConfig::new(msp_id);
        config.limits = Limits {
            memory_bytes: r.memory_mb << 20,
            stack_bytes: r.stack_kb << 10,
            time: Duration::from_millis(r.time_ms),
            max_response_bytes: r.max_response_bytes,
            max_call_depth: r.max_call_depth,
        };
        config.max_idle_per_package = r.max_idle_per_package;
        config
    }

    /// Checks what serde cannot: URL schemes and limits that make sense.
    pub fn check(&self) -> Result<(), PeerError> {
        let bad = |reason: String| Err(PeerError::Config { reason });
        for url in &self.orderers {
            if !url.starts_with("https://") {
                return bad(format!(
                    "orderer URL {url:?} must start with https:// (every node connection is mutual TLS)"
                ));
            }
        }
        for p in &self.gateway_peers {
            if !p.url.starts_with("https://") {
                return bad(format!(
                    "gateway peer {} URL {:?} must start with https://",
                    p.msp_id, p.url
                ));
            }
        }
        let r = &self.runtime;
        if r.stack_kb == 0 || r.stack_kb > 1536 {
            return bad(format!(
                "runtime.stack_kb = {} must be between 1 and 1536 (contracts run on 2 MiB threads)",
                r.stack_kb
            ));
        }
        if r.memory_mb == 0 || r.time_ms == 0 {
            return bad("runtime.memory_mb and runtime.time_ms must be positive".into());
        }
        let d = &self.deliver;
        if d.backoff_min_ms == 0 || d.backoff_min_ms > d.backoff_max_ms || d.stall_timeout_ms == 0 {
            return bad(
                "deliver: need 0 < backoff_min_ms <= backoff_max_ms and stall_timeout_ms > 0"
                    .into(),
            );
        }
        let p = &self.private_data;
        if p.transient_retention_blocks == 0
            || p.push_timeout_ms == 0
            || p.reconcile_interval_ms == 0
            || p.reconcile_interval_ms > p.reconcile_backoff_max_ms
            || p.reconcile_batch == 0
        {
            return bad(
                "private_data: need transient_retention_blocks, push_timeout_ms and reconcile_batch > 0, and 0 < reconcile_interval_ms <= reconcile_backoff_max_ms"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_with_defaults() {
        let config = PeerConfig::from_toml(
            r#"
            identity_dir = "crypto/org1/peers/peer0"
            data_dir = "data/p0"
            listen = "127.0.0.1:7051"
            orderers = ["https://127.0.0.1:7050"]
            [[gateway_peers]]
            msp_id = "Org2MSP"
            url = "https://127.0.0.1:8051"
            [runtime]
            time_ms = 1500
            "#,
        )
        .unwrap();
        assert_eq!(config.runtime.time_ms, 1500);
        assert_eq!(config.runtime.stack_kb, 512, "unset fields keep defaults");
        assert_eq!(config.private_data.transient_retention_blocks, 1000);
        assert_eq!(config.gateway_peers[0].msp_id, "Org2MSP");
        assert_eq!(
            config.msp_path(),
            PathBuf::from("crypto/org1/peers/peer0/../../msp.json")
        );
        assert_eq!(config.packages_path(), PathBuf::from("data/p0/packages"));
        let limits = config.runtime_config("Org1MSP").limits;
        assert_eq!(limits.time, Duration::from_millis(1500));
        let text = toml::to_string(&config).unwrap();
        assert_eq!(PeerConfig::from_toml(&text).unwrap(), config);
    }

    #[test]
    fn refuses_plain_http_and_unknown_fields() {
        let base = "identity_dir = \"i\"\ndata_dir = \"d\"\nlisten = \"127.0.0.1:1\"\n";
        let e = PeerConfig::from_toml(&format!("{base}orderers = [\"http://x:1\"]\n")).unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
        let e = PeerConfig::from_toml(&format!("{base}listne = 3\n")).unwrap_err();
        assert!(e.to_string().contains("listne"), "{e}");
        let e = PeerConfig::from_toml(&format!("{base}[runtime]\nstack_kb = 4096\n")).unwrap_err();
        assert!(e.to_string().contains("stack_kb"), "{e}");
    }
}
