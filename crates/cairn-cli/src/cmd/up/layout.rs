//! A local network's directory: what `cairn up` generates once and every
//! later `cairn up`, `cairn status` and `cairn down` reads.
//!
//! ```text
//! DIR/network.json          this layout
//! DIR/crypto/<org>/...      identities (cairn crypto generate)
//! DIR/channel/<name>.block  the channel's genesis block
//! DIR/nodes/<node>/         node.toml and the node's data
//! DIR/logs/<node>.log       each node's log
//! DIR/run/<node>.pid        pids of running nodes
//! DIR/attest/               with --attest: the attestation service's state,
//!                           its admin token, this host's platform key
//! ```
//!
//! Invariants: ports are fixed when the layout is generated, so the URLs in
//! the channel's genesis block stay right across restarts. Every file that
//! may hold a key or private data (key files, the admin token, attestation
//! state, ledgers, Raft logs, transient logs, node logs) is mode 0600, and
//! `crypto/<org>/`, `nodes/`, `logs/` and `attest/` are created 0700, all
//! through `cairn_crypto::private_file`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::process::NodeFiles;

/// The layout file's name inside the network directory.
pub const LAYOUT_FILE: &str = "network.json";

/// What a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A Raft member of the ordering service.
    Orderer,
    /// A peer: endorses, commits, serves the gateway.
    Peer,
}

/// One node of the network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    /// `orderer0.org1`, `peer0.org2`, ...
    pub name: String,
    /// Orderer or peer.
    pub role: Role,
    /// The org's MSP id.
    pub msp_id: String,
    /// The org's directory name under `crypto/`.
    pub org_dir: String,
    /// The mutual-TLS port on 127.0.0.1.
    pub port: u16,
    /// The plain-HTTP operations port (`/healthz`, `/metrics`), peers only.
    pub ops_port: Option<u16>,
    /// The web console's TLS port, peers of networks made since it exists.
    #[serde(default)]
    pub console_port: Option<u16>,
}

impl Node {
    /// The node's base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// A local network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Network {
    /// The channel every peer joins.
    pub channel: String,
    /// The orgs' names (`Org1`, ...).
    pub orgs: Vec<String>,
    /// Every node, orderers first.
    pub nodes: Vec<Node>,
    /// Whether the channel, the contract and the demo transaction are done.
    pub setup_done: bool,
    /// With `--attest`: the attestation service's port; every node attests
    /// to it and the channel admits only the nodes' measurements.
    #[serde(default)]
    pub attest_port: Option<u16>,
    #[serde(skip)]
    dir: PathBuf,
}

/// `Org1`..`OrgN`, the default names.
pub fn numbered_orgs(orgs: u32) -> anyhow::Result<Vec<String>> {
    if !(1..=9).contains(&orgs) {
        bail!("--orgs must be between 1 and 9");
    }
    Ok((1..=orgs).map(|i| format!("Org{i}")).collect())
}

/// Checks `--org-names`: each a letter then letters or digits (it names a
/// directory and, with `MSP`, the org's MSP id), no two the same ignoring case.
pub fn check_org_names(names: &[String]) -> anyhow::Result<Vec<String>> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        let ok = n.len() <= 32
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && n.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok {
            bail!(
                "--org-names: {n:?} is not an org name (a letter, then up to 31 letters or digits)"
            );
        }
        if !seen.insert(n.to_lowercase()) {
            bail!("--org-names: {n} is named twice (names are compared ignoring case)");
        }
    }
    Ok(names.to_vec())
}

impl Network {
    /// Plans a network of the orgs `names` with `peers` peers each, the
    /// first `orderers` of them running one orderer each.
    pub fn plan(
        dir: &Path,
        channel: &str,
        names: &[String],
        peers: u32,
        orderers: usize,
        base_port: u16,
    ) -> anyhow::Result<Network> {
        if !(1..=9).contains(&names.len()) || !(1..=9).contains(&peers) {
            bail!("--orgs (or --org-names) and --peers-per-org must be between 1 and 9");
        }
        if !(1..=names.len()).contains(&orderers) {
            bail!(
                "--orderers must be between 1 and the number of orgs ({})",
                names.len()
            );
        }
        if base_port > u16::MAX - 500 {
            bail!("--base-port {base_port} leaves no room for the network's ports");
        }
        let names = names.to_vec();
        let mut nodes = Vec::new();
        for (i, org) in names.iter().enumerate().take(orderers) {
            let i = i as u16;
            nodes.push(Node {
                name: format!("orderer0.{}", org.to_lowercase()),
                role: Role::Orderer,
                msp_id: format!("{org}MSP"),
                org_dir: org.to_lowercase(),
                port: base_port + i,
                ops_port: None,
                console_port: None,
            });
        }
        for (i, org) in names.iter().enumerate() {
            for j in 0..peers {
                let off = 100 + 10 * i as u16 + j as u16;
                nodes.push(Node {
                    name: format!("peer{j}.{}", org.to_lowercase()),
                    role: Role::Peer,
                    msp_id: format!("{org}MSP"),
                    org_dir: org.to_lowercase(),
                    port: base_port + off,
                    ops_port: Some(base_port + 100 + off),
                    // Above PORT+300..399, which the attestation service
                    // and the demos' services use.
                    console_port: Some(base_port + 300 + off),
                });
            }
        }
        Ok(Network {
            channel: channel.to_string(),
            orgs: names,
            nodes,
            setup_done: false,
            attest_port: None,
            dir: dir.to_path_buf(),
        })
    }

    /// Reads the layout of an existing network directory.
    pub fn load(dir: &Path) -> anyhow::Result<Network> {
        let path = dir.join(LAYOUT_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} has no network (no {LAYOUT_FILE}): run `cairn up --dir {}` first",
                dir.display(),
                dir.display()
            )
        })?;
        let mut n: Network = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid network layout", path.display()))?;
        n.dir = dir.to_path_buf();
        Ok(n)
    }

    /// Writes the layout file.
    pub fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(LAYOUT_FILE);
        std::fs::write(&path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The network directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The orderers.
    pub fn orderers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Orderer)
    }

    /// The peers.
    pub fn peers(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role == Role::Peer)
    }

    /// Where generated identities live.
    pub fn crypto_dir(&self) -> PathBuf {
        self.dir.join("crypto")
    }

    /// An org's directory of identities, e.g. `crypto/org1`.
    pub fn org_dir(&self, org_dir: &str) -> PathBuf {
        self.crypto_dir().join(org_dir)
    }

    /// A node's identity directory (`cert.pem`, `key.pem`).
    pub fn identity_dir(&self, node: &Node) -> PathBuf {
        let kind = match node.role {
            Role::Orderer => "orderers",
            Role::Peer => "peers",
        };
        let short = node.name.split('.').next().unwrap_or(&node.name);
        self.org_dir(&node.org_dir).join(kind).join(short)
    }

    /// The channel's genesis block file.
    pub fn genesis_path(&self) -> PathBuf {
        self.dir
            .join("channel")
            .join(format!("{}.block", self.channel))
    }

    /// A node's directory (config and data).
    pub fn node_dir(&self, node: &Node) -> PathBuf {
        self.dir.join("nodes").join(&node.name)
    }

    /// A peer's console TLS certificate (the peer makes it on first start).
    pub fn console_cert(&self, node: &Node) -> PathBuf {
        self.node_dir(node).join("data/console-tls/cert.pem")
    }

    /// A node's files for process management.
    pub fn files(&self, node: &Node) -> NodeFiles {
        let config = self.node_dir(node).join("node.toml");
        let mut args: Vec<std::ffi::OsString> =
            vec!["node".into(), "--config".into(), config.clone().into()];
        if let Some(url) = self.attest_url() {
            args.extend([
                "--attest".into(),
                url.into(),
                "--attest-ca".into(),
                self.attest_ca().into(),
                "--platform-key".into(),
                self.platform_key().into(),
            ]);
        }
        NodeFiles {
            name: node.name.clone(),
            config,
            args,
            log: self.dir.join("logs").join(format!("{}.log", node.name)),
            pid: self.dir.join("run").join(format!("{}.pid", node.name)),
        }
    }

    /// The attestation service's URL, with `--attest`.
    pub fn attest_url(&self) -> Option<String> {
        self.attest_port.map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The attestation service's directory.
    pub fn attest_dir(&self) -> PathBuf {
        self.dir.join("attest")
    }

    /// The service's self-signed TLS certificate, which nodes trust for it.
    pub fn attest_ca(&self) -> PathBuf {
        self.attest_dir().join("state").join("tls").join("cert.pem")
    }

    /// This host's virtual platform key.
    pub fn platform_key(&self) -> PathBuf {
        self.attest_dir().join("platform.key")
    }

    /// The service's admin token file.
    pub fn attest_admin_token(&self) -> PathBuf {
        self.attest_dir().join("admin.token")
    }

    /// The attestation service's files for process management.
    pub fn attest_files(&self) -> Option<NodeFiles> {
        let port = self.attest_port?;
        let state = self.attest_dir().join("state");
        Some(NodeFiles {
            name: "attest".into(),
            config: state.clone(),
            args: vec![
                "attest".into(),
                "serve".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}").into(),
                "--state-dir".into(),
                state.into(),
                "--admin-token-file".into(),
                self.attest_admin_token().into(),
            ],
            log: self.dir.join("logs").join("attest.log"),
            pid: self.dir.join("run").join("attest.pid"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn org_names_name_the_msp_ids_and_directories() {
        let names = check_org_names(&["Supplier".into(), "Retailer2".into()]).unwrap();
        let net = Network::plan(Path::new("/tmp/x"), "ch", &names, 1, 2, 7000).unwrap();
        let peers: Vec<(&str, &str, &str)> = net
            .peers()
            .map(|p| (p.name.as_str(), p.msp_id.as_str(), p.org_dir.as_str()))
            .collect();
        assert_eq!(
            peers,
            [
                ("peer0.supplier", "SupplierMSP", "supplier"),
                ("peer0.retailer2", "Retailer2MSP", "retailer2")
            ]
        );
        assert_eq!(numbered_orgs(3).unwrap(), ["Org1", "Org2", "Org3"]);
    }

    #[test]
    fn orderers_run_in_the_first_orgs_only() {
        let names = numbered_orgs(5).unwrap();
        let net = Network::plan(Path::new("/tmp/x"), "ch", &names, 1, 3, 7000).unwrap();
        let orderers: Vec<&str> = net.orderers().map(|o| o.name.as_str()).collect();
        assert_eq!(
            orderers,
            ["orderer0.org1", "orderer0.org2", "orderer0.org3"]
        );
        assert_eq!(net.peers().count(), 5);
        assert!(Network::plan(Path::new("/tmp/x"), "ch", &names, 1, 6, 7000).is_err());
        assert!(Network::plan(Path::new("/tmp/x"), "ch", &names, 1, 0, 7000).is_err());
    }

    #[test]
    fn bad_org_names_are_refused_naming_them() {
        for (names, want) in [
            (vec!["Supp lier"], "\"Supp lier\" is not an org name"),
            (vec!["1st"], "\"1st\" is not an org name"),
            (vec!["Shop", "shop"], "shop is named twice"),
        ] {
            let names: Vec<String> = names.into_iter().map(String::from).collect();
            let e = check_org_names(&names).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(numbered_orgs(10).is_err());
    }
}
