//! `cairn up`, `cairn status`, `cairn down`: a whole network on 127.0.0.1,
//! one process per node, on embedded defaults.
//!
//! `up` generates the network once (identities, the channel's genesis
//! block, one `cairn node` config per node), starts every node, sets the
//! channel up, and stays in the foreground until Ctrl-C (or returns at once
//! with `--detach`). A later `up` on the same directory restarts the same
//! nodes on their data, starting only those that are down (the others keep
//! running). `down` stops every node of the directory; `cairn node start|stop
//! NAME --dir` acts on one ([`start_one`], [`stop_one`]).

use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_crypto::{GenerateOptions, MspConfig, SigningIdentity};
use cairn_ledger::encoding::Canonical;
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_orderer::{ClusterMember, OrdererConfig, RaftSettings};
use cairn_peer::{KnownPeer, PeerConfig};
use indicatif::{ProgressBar, ProgressStyle};

use super::channel_create::{ChannelFile, OrgEntry};
use super::node::NodeFile;
use layout::{Network, Node, Role};

pub mod attested;
pub mod layout;
pub mod process;
pub mod repair;
pub mod setup;

/// The sample contract `cairn up` deploys when `--contract` is not given.
const DEFAULT_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/asset-transfer"
);

/// `cairn up` options.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// The network directory: identities, configs, ledgers, logs.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
    /// Number of organizations (each runs one orderer), when the network is new.
    #[arg(long, default_value_t = 3)]
    pub orgs: u32,
    /// The orgs' names instead of Org1..OrgN, when the network is new
    /// (comma-separated, e.g. `Supplier,Manufacturer`; MSP ids are NAME + `MSP`).
    #[arg(long = "org-names", value_delimiter = ',', conflicts_with = "orgs")]
    pub org_names: Vec<String>,
    /// Peers per organization, when the network is new.
    #[arg(long, default_value_t = 1)]
    pub peers_per_org: u32,
    /// Orderers, when the network is new: the first N orgs run one each
    /// (default: every org runs one).
    #[arg(long)]
    pub orderers: Option<u32>,
    /// First port; orderers use the next few, peers PORT+100.., their
    /// operations endpoints PORT+200..., their web consoles PORT+400...
    #[arg(long, default_value_t = 7050)]
    pub base_port: u16,
    /// The channel's name, when the network is new.
    #[arg(long, default_value = "mychannel")]
    pub channel: String,
    /// The sample contract package directory deployed on first start.
    #[arg(long, default_value = DEFAULT_CONTRACT)]
    pub contract: PathBuf,
    /// Start the network and return instead of waiting for Ctrl-C.
    #[arg(long)]
    pub detach: bool,
    /// When the network is new: also run an attestation service (port
    /// BASE_PORT+300), start every node with `--attest` (virtual platform),
    /// and make the channel admit only nodes whose measurement (this
    /// executable and the node's config file) is on its list.
    #[arg(long)]
    pub attest: bool,
}

/// `cairn down` and `cairn status` options.
#[derive(clap::Args, Debug)]
pub struct DirArgs {
    /// The network directory `cairn up` created.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
}

/// Runs `cairn up`.
pub fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(&args.dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let existing = dir.join(layout::LAYOUT_FILE).exists();
    let (mut net, service) = if existing {
        let net = Network::load(&dir)?;
        println!(
            "==> network in {} exists: starting its nodes",
            dir.display()
        );
        if args.attest && net.attest_port.is_none() {
            bail!(
                "the network in {} was created without --attest; attestation is chosen when a network is created",
                dir.display()
            );
        }
        (net, None)
    } else {
        generate(&dir, &args, &rt)?
    };
    // A new network's service was started by `generate`; nothing else runs yet.
    // On an existing network, start only what is down (a damaged network is
    // repaired in place; the nodes that run keep running).
    let service_running = existing
        && net
            .attest_files()
            .is_some_and(|f| process::running(&f).is_some());
    let _service = match service {
        Some(child) => Some(child),
        None if net.attest_port.is_some() && !service_running => {
            println!("==> starting the attestation service");
            Some(attested::start_service(&net, &rt)?.0)
        }
        None => None,
    };
    let mut children = Vec::new();
    let mut already = Vec::new();
    for n in &net.nodes {
        if existing && process::running(&net.files(n)).is_some() {
            already.push(n.name.clone());
            continue;
        }
        children.push((n.clone(), process::spawn(&net.files(n))?));
    }
    if !already.is_empty() {
        println!(
            "==> already running: {}; starting {} node(s) that were down",
            already.join(", "),
            children.len()
        );
    }
    let mut ready = rt.block_on(wait_ready(&net, &mut children));
    if ready.is_ok() && !net.setup_done {
        ready = rt.block_on(setup::run(&net, &args.contract));
        if ready.is_ok() {
            net.setup_done = true;
            ready = net.save();
        }
    }
    if let Err(e) = ready {
        // Stop first: printing can end this process (a closed stdout pipe).
        stop_all(&net);
        println!("==> setup failed: every node stopped");
        return Err(e);
    }
    print_endpoints(&net);
    if args.detach {
        println!(
            "==> running in the background; stop with: cairn down --dir {}",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("==> press Ctrl-C to stop the network");
    let why = rt.block_on(wait_stop(&mut children));
    stop_all(&net);
    println!("==> {why}: every node stopped");
    Ok(ExitCode::SUCCESS)
}

/// Runs `cairn down`.
pub fn down(args: DirArgs) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(&args.dir)?;
    let net = Network::load(&dir)?;
    let n = stop_all(&net);
    println!("stopped {n} node(s) of {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The node (or the attestation service, `attest`) named `name`, with its files.
fn named(net: &Network, name: &str) -> anyhow::Result<(Option<Node>, process::NodeFiles)> {
    if let Some(n) = net.nodes.iter().find(|n| n.name == name) {
        return Ok((Some(n.clone()), net.files(n)));
    }
    if let Some(f) = net.attest_files().filter(|f| f.name == name) {
        return Ok((None, f));
    }
    let mut names: Vec<String> = net.nodes.iter().map(|n| n.name.clone()).collect();
    names.extend(net.attest_files().map(|f| f.name));
    bail!(
        "no node named {name} in {}: its nodes are {}",
        net.dir().display(),
        names.join(", ")
    )
}

/// `cairn node start NAME --dir`: starts one node of a network that is down,
/// and waits until it answers.
pub fn start_one(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(dir)?;
    let net = Network::load(&dir)?;
    let (child, files) = start_node(&net, name)?;
    println!(
        "started {name} (pid {}); log: {}",
        child.id(),
        files.log.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Starts node `name` of `net` in the background and waits (30 s at most)
/// until it answers; fails, pointing at its log, if it exits first.
pub fn start_node(
    net: &Network,
    name: &str,
) -> anyhow::Result<(std::process::Child, process::NodeFiles)> {
    let (node, files) = named(net, name)?;
    if let Some(pid) = process::running(&files) {
        bail!(
            "{name} is already running (pid {pid}); stop it first with `cairn node stop {name} --dir {}`",
            net.dir().display()
        );
    }
    let mut child = process::spawn(&files)?;
    let Some(node) = node else {
        return Ok((child, files));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = rt.block_on(admin_client(net))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{name} exited ({status}) while starting; see {}",
                files.log.display()
            );
        }
        let answers = match node.role {
            Role::Orderer => rt
                .block_on(cairn_orderer::api::status(&client, &node.url()))
                .is_ok(),
            Role::Peer => rt.block_on(async {
                match setup::transport(net, &node, "admins/admin") {
                    Ok(t) => cairn_peer::api::channels(&t, &node.url()).await.is_ok(),
                    Err(_) => false,
                }
            }),
        };
        if answers {
            return Ok((child, files));
        }
        if Instant::now() > deadline {
            bail!(
                "{name} did not answer within 30 s; see {}",
                files.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `cairn node stop NAME --dir`: stops one node (SIGTERM, then SIGKILL after the grace).
pub fn stop_one(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(dir)?;
    let net = Network::load(&dir)?;
    let (_, files) = named(&net, name)?;
    match process::stop(&files)? {
        Some(false) => println!("stopped {name}"),
        Some(true) => println!(
            "stopped {name} (killed: it did not exit within {} s of SIGTERM)",
            process::STOP_GRACE.as_secs()
        ),
        None => println!("{name} was not running"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `cairn status`.
pub fn status(args: DirArgs) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(&args.dir)?;
    let net = Network::load(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = rt.block_on(admin_client(&net))?;
    println!(
        "{:<16} {:<8} {:<8} {:<24} {:>7} {:>7}",
        "NODE", "ROLE", "PID", "URL", "HEIGHT", "LEADER"
    );
    let mut down = 0;
    for n in &net.nodes {
        let pid = process::running(&net.files(n));
        let (height, leader) = match (pid, n.role) {
            (Some(_), Role::Orderer) => {
                match rt.block_on(cairn_orderer::api::status(&client, &n.url())) {
                    Ok(s) => (
                        s.height.to_string(),
                        s.leader.map_or("-".into(), |l| l.to_string()),
                    ),
                    Err(e) => (format!("error: {e}"), String::new()),
                }
            }
            (Some(_), Role::Peer) => match rt.block_on(async {
                cairn_peer::api::channels(&setup::transport(&net, n, "admins/admin")?, &n.url())
                    .await
                    .map_err(anyhow::Error::from)
            }) {
                Ok(chs) => (
                    chs.iter()
                        .find(|c| c.name == net.channel)
                        .map_or("-".into(), |c| c.height.to_string()),
                    "-".into(),
                ),
                Err(e) => (format!("error: {e}"), String::new()),
            },
            _ => ("-".into(), "-".into()),
        };
        if pid.is_none() {
            down += 1;
        }
        println!(
            "{:<16} {:<8} {:<8} {:<24} {:>7} {:>7}",
            n.name,
            format!("{:?}", n.role).to_lowercase(),
            pid.map_or("down".into(), |p| p.to_string()),
            n.url(),
            height,
            leader
        );
    }
    if let (Some(files), Some(url)) = (net.attest_files(), net.attest_url()) {
        let pid = process::running(&files);
        if pid.is_none() {
            down += 1;
        }
        println!(
            "{:<16} {:<8} {:<8} {:<24} {:>7} {:>7}",
            files.name,
            "attest",
            pid.map_or("down".into(), |p| p.to_string()),
            url,
            "-",
            "-"
        );
    }
    Ok(if down == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Generates identities, the genesis block and every node's config.
fn generate(
    dir: &Path,
    args: &UpArgs,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(Network, Option<Child>)> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty and holds no network: choose another --dir",
            dir.display()
        );
    }
    let names = if args.org_names.is_empty() {
        layout::numbered_orgs(args.orgs)?
    } else {
        layout::check_org_names(&args.org_names)?
    };
    let orderers = args.orderers.map_or(names.len(), |n| n as usize);
    let mut net = Network::plan(
        dir,
        &args.channel,
        &names,
        args.peers_per_org,
        orderers,
        args.base_port,
    )?;
    if args.attest {
        net.attest_port = Some(args.base_port + 300);
    }
    println!(
        "==> generating identities for {} ({} peer(s) each; orderers in {})",
        net.orgs.join(", "),
        args.peers_per_org,
        net.orgs[..orderers].join(", ")
    );
    let opts = GenerateOptions {
        peers: args.peers_per_org,
        user_attrs: [("abac.creator".to_string(), "true".to_string())].into(),
        ..GenerateOptions::default()
    };
    cairn_crypto::generate(&net.orgs, &net.crypto_dir(), &opts)?;
    // The channel is created from a channel file, as an operator would with
    // `cairn channel create` (kept in channel/ for reference).
    let path = net.genesis_path();
    let channel_dir = path.parent().context("no channel directory")?.to_path_buf();
    std::fs::create_dir_all(&channel_dir)?;
    let mut channel_file = ChannelFile {
        name: net.channel.clone(),
        orgs: net
            .orgs
            .iter()
            .map(|o| OrgEntry {
                msp: PathBuf::from("../crypto")
                    .join(o.to_lowercase())
                    .join("msp.json"),
                orderers: net
                    .orderers()
                    .filter(|n| n.msp_id == format!("{o}MSP"))
                    .map(Node::url)
                    .collect(),
            })
            .collect(),
        policies: Default::default(),
        batch: None,
        attestation: None,
    };
    let config = channel_file.config(&channel_dir)?;
    for (i, n) in net.orderers().enumerate() {
        let node_dir = net.node_dir(n);
        // Its data (ledger, Raft log, transient store) is the owner's only.
        cairn_crypto::private_file::create_dir_all(&node_dir)?;
        let file = NodeFile {
            orderer: Some(OrdererConfig {
                id: i as u64 + 1,
                listen: format!("127.0.0.1:{}", n.port).parse()?,
                cluster: config
                    .orderers
                    .iter()
                    .map(|o| ClusterMember {
                        id: o.id,
                        url: o.url.clone(),
                    })
                    .collect(),
                identity_dir: net.identity_dir(n),
                data_dir: node_dir.join("data"),
                genesis: path.clone(),
                raft: RaftSettings::default(),
                attestation: Default::default(),
            }),
            peer: None,
            runtime: None,
        };
        file.save(&net.files(n).config)?;
    }
    for n in net.peers() {
        let node_dir = net.node_dir(n);
        // Its data (ledger, Raft log, transient store) is the owner's only.
        cairn_crypto::private_file::create_dir_all(&node_dir)?;
        let mut peer = PeerConfig::new(
            net.identity_dir(n),
            node_dir.join("data"),
            format!("127.0.0.1:{}", n.port).parse()?,
        );
        peer.operations_listen = n
            .ops_port
            .map(|p| format!("127.0.0.1:{p}").parse())
            .transpose()?;
        peer.console_listen = n
            .console_port
            .map(|p| format!("127.0.0.1:{p}").parse())
            .transpose()?;
        peer.orderers = net.orderers().map(Node::url).collect();
        peer.gateway_peers = net
            .peers()
            .filter(|p| p.name != n.name)
            .map(|p| KnownPeer {
                msp_id: p.msp_id.clone(),
                url: p.url(),
            })
            .collect();
        let file = NodeFile {
            orderer: None,
            peer: Some(peer),
            runtime: None,
        };
        file.save(&net.files(n).config)?;
    }
    // The channel's attestation requirement lists the measurements of the
    // node configs just written.
    let service = if args.attest {
        println!(
            "==> attestation service: policy and channel requirement for every node's measurement"
        );
        let (requirement, child) = attested::setup(&net, rt)?;
        channel_file.attestation = Some(requirement);
        Some(child)
    } else {
        None
    };
    println!("==> channel {}: genesis block", net.channel);
    let file_path = channel_dir.join(format!("{}.toml", net.channel));
    channel_file.save(&file_path)?;
    let config = channel_file.config(&channel_dir)?;
    let first = net.orderers().next().context("no orderers")?;
    let signer = SigningIdentity::from_dir(&net.identity_dir(first))?;
    let genesis = super::channel_create::genesis(&config, &signer)?;
    std::fs::write(&path, genesis.encode()?)?;
    net.save()?;
    Ok((net, service))
}

/// The channel orgs' MSP definitions.
fn msps(net: &Network) -> anyhow::Result<Vec<MspConfig>> {
    net.orgs
        .iter()
        .map(|o| {
            Ok(MspConfig::load(
                &net.org_dir(&o.to_lowercase()).join("msp.json"),
            )?)
        })
        .collect()
}

/// An mTLS client acting as Org1's admin.
async fn admin_client(net: &Network) -> anyhow::Result<Client> {
    let trust = Trust::new(&msps(net)?)?;
    let first = net.orgs.first().context("no orgs")?.to_lowercase();
    let tls = TlsIdentity::load(&net.org_dir(&first).join("admins/admin"), trust)?;
    Ok(Client::with_timeout(&tls, Duration::from_secs(3))?)
}

/// Waits until the ordering service has a leader, failing if a node exits.
async fn wait_ready(net: &Network, children: &mut [(Node, Child)]) -> anyhow::Result<()> {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("starting {} nodes", children.len()));
    let client = admin_client(net).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (n, c) in children.iter_mut() {
            if let Some(status) = c.try_wait()? {
                bar.finish_and_clear();
                bail!(
                    "node {} exited ({status}) while starting; see {}",
                    n.name,
                    net.files(n).log.display()
                );
            }
        }
        let mut leader = None;
        for o in net.orderers() {
            if let Ok(s) = cairn_orderer::api::status(&client, &o.url()).await {
                leader = leader.or(s.leader);
            }
        }
        // Before joining a channel a peer trusts only its own org.
        let mut peers_up = true;
        for p in net.peers() {
            let own = setup::transport(net, p, "admins/admin")?;
            peers_up &= cairn_peer::api::channels(&own, &p.url()).await.is_ok();
        }
        if let (Some(l), true) = (leader, peers_up) {
            bar.finish_and_clear();
            println!("==> ordering service up (Raft leader: orderer {l}); peers up");
            return Ok(());
        }
        if Instant::now() > deadline {
            bar.finish_and_clear();
            bail!(
                "the network was not up within 60 s (no Raft leader, or a peer not answering); see the logs in {}",
                net.dir().join("logs").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for Ctrl-C, SIGTERM, or every node having exited.
async fn wait_stop(children: &mut [(Node, Child)]) -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return "cannot listen for signals";
    };
    loop {
        tokio::select! {
            _ = term.recv() => return "SIGTERM",
            _ = int.recv() => return "Ctrl-C",
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if !children.is_empty()
                    && children.iter_mut().all(|(_, c)| matches!(c.try_wait(), Ok(Some(_))))
                {
                    return "every node has stopped";
                }
            }
        }
    }
}

/// Stops every node of the network; returns how many were running.
fn stop_all(net: &Network) -> usize {
    let mut stopped = 0;
    // Peers first, so they do not spin on vanished orderers.
    for n in net.peers().chain(net.orderers()) {
        match process::stop(&net.files(n)) {
            Ok(Some(killed)) => {
                stopped += 1;
                if killed {
                    eprintln!("warning: {} ignored SIGTERM and was killed", n.name);
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("warning: cannot stop {}: {e:#}", n.name),
        }
    }
    // The attestation service last: nodes renew their tokens until they stop.
    if let Some(files) = net.attest_files()
        && let Err(e) = process::stop(&files)
    {
        eprintln!("warning: cannot stop the attestation service: {e:#}");
    }
    stopped
}

fn print_endpoints(net: &Network) {
    println!("==> nodes:");
    for n in &net.nodes {
        println!(
            "    {:<16} {:<8} {}   log {}",
            n.name,
            format!("{:?}", n.role).to_lowercase(),
            n.url(),
            net.files(n).log.display()
        );
    }
    for n in net.peers() {
        if let Some(p) = n.ops_port {
            println!("    {:<16} metrics  http://127.0.0.1:{p}/metrics", n.name);
        }
    }
    for n in net.peers() {
        if let Some(p) = n.console_port {
            let pin = console_pin(&net.console_cert(n))
                .map(|pin| format!("  (certificate pin sha256/{pin})"))
                .unwrap_or_default();
            println!("    {:<16} console: https://127.0.0.1:{p}/{pin}", n.name);
        }
    }
    let d = net.dir().display();
    println!("==> try:");
    println!("    cairn status --dir {d}");
    println!("    cairn query --dir {d} ReadAsset asset1");
    println!("    cairn invoke --dir {d} CreateAsset asset9 red 3 Ana 100");
    println!("    cairn events --dir {d} --from 0");
    println!("    cairn down --dir {d}");
}

/// The base64 SHA-256 of a console certificate's public key (SPKI), what
/// Chromium's `--ignore-certificate-errors-spki-list` and HPKP-style pins
/// take; none if the certificate is not there yet.
pub fn console_pin(cert: &Path) -> Option<String> {
    use base64::Engine as _;
    let pem = std::fs::read_to_string(cert).ok()?;
    let c = cairn_crypto::Certificate::from_pem(&pem).ok()?;
    let spki = c.public_key().to_spki_der();
    Some(base64::engine::general_purpose::STANDARD.encode(cairn_crypto::sha256(&spki).as_bytes()))
}
