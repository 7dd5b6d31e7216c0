//! Client commands against a running network: `cairn invoke`, `query`,
//! `events`, `block get`, `channel list|join`, `contract
//! package|install|list|approve|commit`.
//!
//! Each signs with an identity of the network directory that `cairn up`
//! made (`--org`, `--user`) and talks to a peer of that org over mutual TLS
//! (Fabric Gateway's rule: a client talks to its own org's peer). Keys never
//! leave this process: the gateway gets signed proposals and envelopes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::lifecycle::LIFECYCLE_NS;
use cairn_net::Client;
use cairn_peer::{GatewayClient, api, invocation};

use super::transient::{self, TransientArg};
use super::up::layout::{Network, Node};
use super::up::setup;

/// Who signs and which peer is the gateway.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientOpts {
    /// The network directory `cairn up` created.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
    /// The org whose identity signs (`Org1`, `Org2`, ...).
    #[arg(long, default_value = "Org1")]
    pub org: String,
    /// The identity: `user1` (a client user) or `admin`.
    #[arg(long, default_value = "user1")]
    pub user: String,
    /// The gateway peer by name (`peer0.org1`); default: the org's first peer.
    #[arg(long)]
    pub peer: Option<String>,
}

/// An opened client context.
struct Ctx {
    net: Network,
    peer: Node,
    who: String,
}

impl ClientOpts {
    /// A gateway client for this org's identity on its gateway peer.
    pub(crate) fn gateway(&self) -> anyhow::Result<GatewayClient> {
        self.open()?.gateway()
    }

    fn open(&self) -> anyhow::Result<Ctx> {
        let dir = std::path::absolute(&self.dir)?;
        let net = Network::load(&dir)?;
        let org = self.org.to_lowercase();
        let peer = match &self.peer {
            Some(name) => net
                .peers()
                .find(|p| &p.name == name)
                .with_context(|| format!("no peer named {name} in {}", dir.display()))?,
            None => net.peers().find(|p| p.org_dir == org).with_context(|| {
                format!(
                    "no org {} in {} (orgs: {})",
                    self.org,
                    dir.display(),
                    net.orgs.join(", ")
                )
            })?,
        }
        .clone();
        if peer.org_dir != org {
            bail!(
                "{} belongs to {}, not {}: a client talks to a peer of its own org",
                peer.name,
                peer.msp_id,
                self.org
            );
        }
        let who = match self.user.as_str() {
            "admin" => "admins/admin".to_string(),
            u => format!("users/{u}"),
        };
        Ok(Ctx { net, peer, who })
    }
}

impl Ctx {
    fn gateway(&self) -> anyhow::Result<GatewayClient> {
        setup::gateway(&self.net, &self.peer, &self.who)
    }
    fn transport(&self) -> anyhow::Result<Client> {
        setup::transport(&self.net, &self.peer, &self.who)
    }
}

/// `cairn invoke` / `cairn query` arguments.
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// The contract.
    #[arg(long, default_value = setup::CONTRACT)]
    contract: String,
    /// Orgs that must endorse (default: the gateway plans from the policy).
    #[arg(long = "endorsing-org")]
    endorsing_orgs: Vec<String>,
    /// Transient data, given to the contract and never stored on the ledger:
    /// `KEY=@FILE` (the file's bytes), `KEY=@-` (standard input), or
    /// `KEY=VALUE`. Repeatable.
    #[arg(
        long = "transient",
        value_name = "KEY=@FILE|KEY=VALUE",
        value_parser = TransientArg::parse,
        long_help = "Transient data, given to the contract and never stored on the ledger. \
            Repeatable.\n\n\
            KEY=@FILE   the value is FILE's bytes, exactly (a trailing newline included)\n\
            KEY=@-      the value is standard input\n\
            KEY=VALUE   the value as written; KEY=@@x is the literal \"@x\"\n\n\
            A KEY=VALUE value is visible to every user of this machine (ps, /proc) \
            and stays in your shell history: use KEY=@FILE, KEY=@- or \
            --transient-file for anything private."
    )]
    transient: Vec<TransientArg>,
    /// Transient data as a JSON object of keys to string values, read from
    /// FILE (`-`: standard input), e.g. `{"price": "250"}`.
    #[arg(long = "transient-file", value_name = "FILE")]
    transient_file: Option<PathBuf>,
    /// The function, then its arguments.
    #[arg(required = true, num_args = 1..)]
    call: Vec<String>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// `cairn invoke`: endorse, sign, order, and wait for the commit.
pub fn invoke(args: CallArgs) -> anyhow::Result<ExitCode> {
    let ctx = args.opts.open()?;
    let (function, rest) = args.call.split_first().context("no function given")?;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let inv = invocation(&args.contract, function, &rest);
    let transient = transient::collect(&args.transient, args.transient_file.as_deref())?;
    let done = runtime()?.block_on(async {
        ctx.gateway()?
            .submit_invocation(inv, transient, &args.endorsing_orgs)
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!(
        "committed: tx {} in block {}, endorsed by {}",
        done.txid,
        done.block,
        done.endorsers.join(", ")
    );
    if !done.payload.is_empty() {
        println!("{}", String::from_utf8_lossy(&done.payload));
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn query`: run a function on the gateway peer, without ordering.
pub fn query(args: CallArgs) -> anyhow::Result<ExitCode> {
    let ctx = args.opts.open()?;
    let (function, rest) = args.call.split_first().context("no function given")?;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let transient = transient::collect(&args.transient, args.transient_file.as_deref())?;
    let out = runtime()?.block_on(async {
        let gw = ctx.gateway()?;
        let proposal = gw.proposal(invocation(&args.contract, function, &rest), transient);
        gw.evaluate_proposal(&proposal)
            .await
            .map(|r| r.payload)
            .map_err(anyhow::Error::from)
    })?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(ExitCode::SUCCESS)
}

/// `cairn events` arguments.
#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// The first block to report.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Report this contract's events instead of every transaction's outcome.
    #[arg(long)]
    contract: Option<String>,
    /// Only events with this name (with `--contract`).
    #[arg(long)]
    name: Option<String>,
    /// Stop after this many events (default: run until Ctrl-C).
    #[arg(long)]
    count: Option<u64>,
    /// Blocks with the private data the org may hold: one line per private
    /// write of a collection the signing org is a member of (values as text).
    #[arg(long, conflicts_with = "contract")]
    private: bool,
}

/// `cairn events`: stream transaction outcomes or contract events.
pub fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let ctx = args.opts.open()?;
    let limit = args.count.unwrap_or(u64::MAX);
    runtime()?.block_on(async {
        let gw = ctx.gateway()?;
        let mut seen = 0;
        if let Some(contract) = &args.contract {
            let mut s = gw
                .contract_events(args.from, contract, args.name.as_deref())
                .await?;
            while seen < limit {
                let Some(e) = s.next().await else { break };
                let e = e?;
                println!(
                    "block {} tx {} {}.{} {}",
                    e.block,
                    e.txid,
                    e.contract,
                    e.name,
                    String::from_utf8_lossy(&e.payload)
                );
                seen += 1;
            }
        } else if args.private {
            let mut s = api::private_block_events(
                &ctx.transport()?,
                &ctx.peer.url(),
                &ctx.net.channel,
                args.from,
            )
            .await?;
            while seen < limit {
                let Some(e) = s.next().await else { break };
                let e = e?;
                println!(
                    "block {} private writes {}",
                    e.block.header.number,
                    e.private.len()
                );
                for (tx, set) in &e.private {
                    for ns in &set.namespaces {
                        for c in &ns.collections {
                            for w in &c.writes {
                                let what = if w.is_purge {
                                    "purge".to_string()
                                } else if w.is_delete {
                                    "delete".to_string()
                                } else {
                                    format!("= {}", String::from_utf8_lossy(&w.value))
                                };
                                println!(
                                    "  tx {tx} {}/{} {} {what}",
                                    ns.namespace, c.collection, w.key
                                );
                            }
                        }
                    }
                }
                seen += 1;
            }
        } else {
            let mut s = gw.tx_events(args.from).await?;
            'blocks: while seen < limit {
                let Some(frame) = s.next().await else { break };
                for e in frame?.statuses {
                    if seen >= limit {
                        break 'blocks;
                    }
                    let txid = e.txid.map_or("-".to_string(), |t| t.to_string());
                    println!("block {} tx {} {}", e.block, txid, e.code);
                    seen += 1;
                }
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `cairn block` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BlockCmd {
    /// Print a block of the channel as JSON.
    Get {
        #[command(flatten)]
        opts: ClientOpts,
        /// Block number.
        number: u64,
    },
}

/// Runs `cairn block`.
pub fn block(cmd: BlockCmd) -> anyhow::Result<ExitCode> {
    let BlockCmd::Get { opts, number } = cmd;
    let ctx = opts.open()?;
    let b = runtime()?.block_on(async {
        api::block(&ctx.transport()?, &ctx.peer.url(), &ctx.net.channel, number)
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!("{}", serde_json::to_string_pretty(&b)?);
    Ok(ExitCode::SUCCESS)
}

/// `cairn channel` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ChannelCmd {
    /// List the channels the gateway peer has joined, with heights.
    List {
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// Print the channel configuration in force (JSON).
    Config {
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// Change the channel configuration: a config transaction signed by the
    /// admins of `--signer-org` orgs (enough to satisfy `Admins`, default
    /// `MAJORITY Admins`), ordered, and applied by every node.
    Update {
        #[command(flatten)]
        opts: ClientOpts,
        /// Set a channel policy: `NAME=POLICY`, e.g. `Endorsement=ANY Endorsement`.
        #[arg(long = "set-policy", value_parser = parse_kv)]
        set_policy: Vec<(String, String)>,
        /// Revoke a certificate: `ORG=CERT.pem` (its serial joins the org's revocation list).
        #[arg(long, value_parser = parse_kv)]
        revoke: Vec<(String, String)>,
        /// New maximum transactions per block.
        #[arg(long)]
        batch_max_tx: Option<u32>,
        /// New batch timeout in milliseconds.
        #[arg(long)]
        batch_timeout_ms: Option<u64>,
        /// Admit nodes of this measurement (hex) on a channel that requires
        /// attested nodes (repeatable).
        #[arg(long = "allow-measurement", value_name = "HEX")]
        allow_measurements: Vec<String>,
        /// Stop admitting nodes of this measurement (repeatable).
        #[arg(long = "disallow-measurement", value_name = "HEX")]
        disallow_measurements: Vec<String>,
        /// Orgs whose admins sign the update (default: a majority of the channel's orgs).
        #[arg(long = "signer-org")]
        signer_orgs: Vec<String>,
    },
    /// Create a channel: its genesis block from a channel file (TOML: name,
    /// orgs by `msp.json` with their orderer URLs, optional policies, batch
    /// and attestation), signed by an orderer of an orderer org. Orderers
    /// start from the block; peers join it with `cairn channel join`.
    Create {
        /// The channel file (see docs/network.md, "Creating a channel").
        #[arg(long)]
        config: PathBuf,
        /// The signing orderer's identity directory (cert.pem, key.pem).
        #[arg(long)]
        signer: PathBuf,
        /// Where to write the genesis block.
        #[arg(long)]
        out: PathBuf,
    },
    /// Join the gateway peer to the channel of a genesis block (as the org's admin).
    Join {
        #[command(flatten)]
        opts: ClientOpts,
        /// The genesis block file (as `cairn up` writes under channel/).
        genesis: PathBuf,
    },
}

/// Runs `cairn channel`.
pub fn channel(cmd: ChannelCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ChannelCmd::List { opts } => {
            let ctx = opts.open()?;
            let infos = runtime()?.block_on(async {
                api::channels(&ctx.transport()?, &ctx.peer.url())
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!("{:<16} {:>7} {:>7}  ORGS", "CHANNEL", "HEIGHT", "CONFIG");
            for c in infos {
                println!(
                    "{:<16} {:>7} {:>7}  {}",
                    c.name,
                    c.height,
                    c.config_sequence,
                    c.orgs.join(",")
                );
            }
        }
        ChannelCmd::Config { opts } => {
            let ctx = opts.open()?;
            let config = runtime()?.block_on(async {
                api::config(&ctx.transport()?, &ctx.peer.url(), &ctx.net.channel)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!("{}", serde_json::to_string_pretty(&config)?);
        }
        ChannelCmd::Update {
            mut opts,
            set_policy,
            revoke,
            batch_max_tx,
            batch_timeout_ms,
            allow_measurements,
            disallow_measurements,
            signer_orgs,
        } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            let changes = ConfigChanges {
                set_policy: &set_policy,
                revoke: &revoke,
                batch_max_tx,
                batch_timeout_ms,
                allow_measurements: &allow_measurements,
                disallow_measurements: &disallow_measurements,
            };
            update_channel(&ctx, &changes, &signer_orgs)?;
        }
        ChannelCmd::Create {
            config,
            signer,
            out,
        } => super::channel_create::run(&config, &signer, &out)?,
        ChannelCmd::Join { mut opts, genesis } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            let bytes = std::fs::read(&genesis)
                .with_context(|| format!("cannot read {}", genesis.display()))?;
            let block = Block::decode(&bytes)
                .with_context(|| format!("{} is not a block", genesis.display()))?;
            let info = runtime()?.block_on(async {
                api::join_channel(&ctx.transport()?, &ctx.peer.url(), &block)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!(
                "{} joined {} (height {})",
                ctx.peer.name, info.name, info.height
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `cairn channel update` changes.
struct ConfigChanges<'a> {
    set_policy: &'a [(String, String)],
    revoke: &'a [(String, String)],
    batch_max_tx: Option<u32>,
    batch_timeout_ms: Option<u64>,
    allow_measurements: &'a [String],
    disallow_measurements: &'a [String],
}

fn update_channel(
    ctx: &Ctx,
    changes: &ConfigChanges<'_>,
    signer_orgs: &[String],
) -> anyhow::Result<()> {
    let ConfigChanges {
        set_policy,
        revoke,
        batch_max_tx,
        batch_timeout_ms,
        allow_measurements,
        disallow_measurements,
    } = *changes;
    let rt = runtime()?;
    let transport = ctx.transport()?;
    let mut config = rt.block_on(api::config(&transport, &ctx.peer.url(), &ctx.net.channel))?;
    let before = config.clone();
    config.sequence += 1;
    for (name, text) in set_policy {
        if !cairn_ledger::config::POLICY_NAMES.contains(&name.as_str()) {
            bail!(
                "unknown channel policy {name:?}: the policies are {}",
                cairn_ledger::config::POLICY_NAMES.join(", ")
            );
        }
        text.parse::<cairn_policy::ChannelPolicy>()
            .with_context(|| format!("policy {name} = {text:?} does not parse"))?;
        config.policies.insert(name.clone(), text.clone());
    }
    for (org, pem) in revoke {
        let msp = format!("{org}MSP");
        let text = std::fs::read_to_string(pem).with_context(|| format!("cannot read {pem}"))?;
        let cert = cairn_crypto::Certificate::from_pem(&text)
            .with_context(|| format!("{pem} is not a PEM certificate"))?;
        let entry = config
            .orgs
            .iter_mut()
            .find(|o| o.msp_id == msp || o.msp_id == *org)
            .with_context(|| format!("no org {org} on channel {}", ctx.net.channel))?;
        entry.revoke(cert.serial_hex())?;
    }
    if let Some(n) = batch_max_tx {
        config.batch.max_tx_count = n;
    }
    if let Some(ms) = batch_timeout_ms {
        config.batch.timeout_ms = ms;
    }
    if !allow_measurements.is_empty() || !disallow_measurements.is_empty() {
        let Some(req) = config.attestation.as_mut() else {
            bail!(
                "channel {} does not require attested nodes: there is no measurement list to change",
                ctx.net.channel
            );
        };
        for m in allow_measurements {
            let m = m.to_ascii_lowercase();
            if m.len() != 96 || !m.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("--allow-measurement {m:?} is not a SHA-384 measurement (96 hex digits)");
            }
            if !req.measurements.contains(&m) {
                req.measurements.push(m);
            }
        }
        for m in disallow_measurements {
            let m = m.to_ascii_lowercase();
            req.measurements.retain(|x| *x != m);
        }
        if req.measurements.is_empty() {
            bail!("the update would leave no allowed measurement: no node could join the channel");
        }
    }
    if config.policies == before.policies
        && config.orgs == before.orgs
        && config.batch == before.batch
        && config.attestation == before.attestation
    {
        bail!(
            "nothing to change: give --set-policy, --revoke, --batch-*, --allow-measurement or --disallow-measurement options"
        );
    }
    let signer_orgs: Vec<String> = if signer_orgs.is_empty() {
        let n = ctx.net.orgs.len() / 2 + 1;
        ctx.net.orgs.iter().take(n).cloned().collect()
    } else {
        signer_orgs.to_vec()
    };
    let mut admins = Vec::new();
    for org in &signer_orgs {
        let node = ctx
            .net
            .peers()
            .find(|p| p.org_dir == org.to_lowercase())
            .with_context(|| format!("no org {org} in the network"))?;
        admins.push(setup::identity(&ctx.net, node, "admins/admin")?);
    }
    let creator = setup::identity(&ctx.net, &ctx.peer, "admins/admin")?;
    let refs: Vec<&cairn_crypto::SigningIdentity> = admins.iter().collect();
    let mut nonce = vec![0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let envelope = cairn_ledger::client::config_update(
        &config,
        &creator,
        &refs,
        nonce,
        cairn_ledger::ids::Timestamp::now(),
    )?;
    let answer = rt.block_on(api::submit(&transport, &ctx.peer.url(), &envelope))?;
    if answer.code != cairn_ledger::validation::ValidationCode::Valid {
        bail!(
            "the update was ordered in block {} but refused: {} (signed by the admins of {})",
            answer.block,
            answer.code,
            signer_orgs.join(", ")
        );
    }
    println!(
        "channel {} config sequence {} committed in block {} (signed by the admins of {})",
        ctx.net.channel,
        config.sequence,
        answer.block,
        signer_orgs.join(", ")
    );
    Ok(())
}

/// `cairn contract` subcommands (Fabric's `peer lifecycle chaincode`).
#[derive(clap::Subcommand, Debug)]
pub enum ContractCmd {
    /// Package a contract directory into a lifecycle archive.
    Package {
        /// The contract directory (package.json, node_modules/).
        dir: PathBuf,
        /// The package label, e.g. `basic_1.0`.
        #[arg(long)]
        label: String,
        /// Where to write the archive.
        #[arg(long)]
        out: PathBuf,
    },
    /// Install an archive on the gateway peer (as the org's admin); prints its package id.
    Install {
        #[command(flatten)]
        opts: ClientOpts,
        /// The archive `cairn contract package` wrote.
        archive: PathBuf,
    },
    /// List the packages installed on the gateway peer (as the org's admin).
    List {
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// Approve a definition for the org (as its admin, endorsed by its own peer).
    Approve {
        #[command(flatten)]
        opts: ClientOpts,
        /// The definition as JSON: `{"name","version","sequence","packageId",
        /// "endorsementPolicy"?, "collections"?, "initRequired"?}`.
        definition: String,
    },
    /// Commit a definition enough orgs approved (as the org's admin).
    Commit {
        #[command(flatten)]
        opts: ClientOpts,
        /// The same definition JSON the orgs approved.
        definition: String,
        /// Orgs whose peers endorse the commit (default: planned by the gateway).
        #[arg(long = "endorsing-org")]
        endorsing_orgs: Vec<String>,
    },
}

/// Runs `cairn contract`.
pub fn contract(cmd: ContractCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ContractCmd::Package { dir, label, out } => {
            let archive = cairn_contract::package_dir(&dir, &label)
                .with_context(|| format!("cannot package {}", dir.display()))?;
            std::fs::write(&out, &archive)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), archive.len());
        }
        ContractCmd::Install { mut opts, archive } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            let bytes = std::fs::read(&archive)
                .with_context(|| format!("cannot read {}", archive.display()))?;
            let id = runtime()?.block_on(async {
                api::install_package(&ctx.transport()?, &ctx.peer.url(), &bytes)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            println!("installed on {}: package id {id}", ctx.peer.name);
        }
        ContractCmd::List { mut opts } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            let list = runtime()?.block_on(async {
                api::installed_packages(&ctx.transport()?, &ctx.peer.url())
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            for p in list {
                println!("{}  (label {})", p.id, p.label);
            }
        }
        ContractCmd::Approve {
            mut opts,
            definition,
        } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            lifecycle(
                &ctx,
                "ApproveChaincodeDefinitionForMyOrg",
                &definition,
                std::slice::from_ref(&ctx.peer.msp_id),
            )?;
        }
        ContractCmd::Commit {
            mut opts,
            definition,
            endorsing_orgs,
        } => {
            opts.user = "admin".into();
            let ctx = opts.open()?;
            lifecycle(
                &ctx,
                "CommitChaincodeDefinition",
                &definition,
                &endorsing_orgs,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn receipt get`: a transaction's receipt from the gateway peer.
pub fn receipt_get(
    opts: &ClientOpts,
    txid: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let ctx = opts.open()?;
    let id: TxId = txid
        .parse()
        .map_err(|_| anyhow::anyhow!("{txid:?} is not a transaction id (64 hex digits)"))?;
    let receipt = runtime()?.block_on(async {
        api::receipt(&ctx.transport()?, &ctx.peer.url(), &ctx.net.channel, &id)
            .await
            .map_err(anyhow::Error::from)
    })?;
    let json = serde_json::to_string_pretty(&receipt)?;
    match out {
        Some(path) => {
            std::fs::write(&path, json)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "wrote the receipt of {id} (block {}) to {}",
                receipt.header.number,
                path.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn lifecycle(ctx: &Ctx, function: &str, definition: &str, orgs: &[String]) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(definition).context("the definition is not JSON")?;
    let done = runtime()?.block_on(async {
        ctx.gateway()?
            .with_commit_wait(Duration::from_secs(60))
            .submit_invocation(
                invocation(LIFECYCLE_NS, function, &[definition]),
                Default::default(),
                orgs,
            )
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!("{function}: committed in block {}", done.block);
    Ok(())
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
