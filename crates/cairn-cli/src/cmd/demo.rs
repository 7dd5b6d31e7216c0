//! `cairn demo`: the foundation end to end in one process, with the real
//! parts: generated org identities, a channel with its genesis block, one
//! redb ledger per peer plus the orderer's, the QuickJS contract runtime on
//! every peer, Fabric's lifecycle (approve per org, commit), and
//! execute–order–validate for the asset-transfer contract, including
//! transactions that validation refuses. It ends by writing a receipt that
//! anyone can check offline.
//!
//! The peers and the orderer share a process but not state: each has its own
//! ledger directory, runtime and package store, and blocks pass between them
//! only as sealed, signed blocks. The network (separate processes, TLS, Raft)
//! is `cairn up`'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_contract::{
    ContractRuntime, CreatorInfo, InvokeRequest, LedgerResolver, PackageStore, RuntimeConfig,
};
use cairn_crypto::{GenerateOptions, MspConfig, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::client;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::lifecycle::LIFECYCLE_NS;
use cairn_ledger::tx::{Invocation, Proposal, ProposalResponse};
use cairn_store::Ledger;
use rand::RngCore;

/// The contract the demo deploys when `--contract` is not given.
const DEFAULT_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/asset-transfer"
);

/// `cairn demo` options.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    /// Another scenario instead of the in-process foundation demo.
    #[command(subcommand)]
    scenario: Option<Scenario>,
    /// Directory for the demo's crypto material, ledgers and receipt.
    #[arg(long, default_value = "cairn-demo")]
    dir: PathBuf,
    /// The asset-transfer contract package directory.
    #[arg(long, default_value = DEFAULT_CONTRACT)]
    contract: PathBuf,
    /// Replace an existing demo directory.
    #[arg(long)]
    force: bool,
}

/// `cairn demo` scenarios.
#[derive(clap::Subcommand, Debug)]
pub enum Scenario {
    /// The healthcare scenario: the hospital's portal, the attested medical
    /// platform and the diagnostics provider's attested inference node, as orgs of
    /// one network and processes of their own; prints the portal's URL and stays up
    /// until Ctrl-C.
    Healthcare(super::health::demo::HealthDemoArgs),
    /// The supply-chain scenario: five orgs (Supplier, Manufacturer, Shipper,
    /// Warehouse, Retailer) follow a product from raw material to sale, with
    /// two-sided handovers, private terms, documents in an immutable blob
    /// store and the retailer's sales in a ledger table.
    SupplyChain(super::supply::demo::SupplyDemoArgs),
}

/// One org's peer: its identity, ledger, package store and contract runtime.
struct Peer {
    msp_id: String,
    signer: SigningIdentity,
    ledger: Ledger,
    store: Arc<PackageStore>,
    runtime: ContractRuntime,
}

/// The orgs' clients and admins, the peers and the orderer.
struct Demo {
    channel: Arc<ChannelConfig>,
    orderer: SigningIdentity,
    orderer_ledger: Ledger,
    peers: Vec<Peer>,
    admins: Vec<SigningIdentity>,
    users: Vec<SigningIdentity>,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    match args.scenario {
        Some(Scenario::Healthcare(a)) => return super::health::demo::run(a),
        Some(Scenario::SupplyChain(a)) => return super::supply::demo::run(a),
        None => {}
    }
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        if !args.force {
            bail!(
                "{} is not empty: pass --force to replace it, or choose another --dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let demo = setup(dir)?;
    step("install the asset-transfer contract on every peer");
    let archive = cairn_contract::package_dir(&args.contract, "basic_1.0")
        .with_context(|| format!("cannot package the contract at {}", args.contract.display()))?;
    let mut package = None;
    for p in &demo.peers {
        package = Some(p.store.install(&archive)?);
    }
    let package = package.context("no peers")?;
    println!("    package id {}", package.as_str());

    // In Fabric an org's peers run a contract only with the package its own
    // admin approved, so every org that endorses or answers queries approves.
    step("approve the definition: each org's admin, through its own peer");
    let def = serde_json::json!({"name": "basic", "version": "1.0", "sequence": 1, "packageId": package.as_str()})
        .to_string();
    let mut envs = Vec::new();
    for i in 0..demo.peers.len() {
        let (_, env) = demo.submit(
            &demo.admins[i],
            &[i],
            LIFECYCLE_NS,
            "ApproveChaincodeDefinitionForMyOrg",
            &[&def],
        )?;
        envs.push(env);
    }
    demo.order(envs)?;
    step("commit the definition (MAJORITY of orgs approved; endorsed by Org1 and Org2 peers)");
    let (_, env) = demo.submit(
        &demo.admins[0],
        &[0, 1],
        LIFECYCLE_NS,
        "CommitChaincodeDefinition",
        &[&def],
    )?;
    demo.order(vec![env])?;

    step("create three assets (endorsed by Org1 and Org2: MAJORITY Endorsement)");
    let mut envs = Vec::new();
    for (id, color, owner) in [
        ("asset1", "blue", "Tomoko"),
        ("asset2", "red", "Brad"),
        ("asset3", "green", "Jin Soo"),
    ] {
        let (_, env) = demo.submit(
            &demo.users[0],
            &[0, 1],
            "basic",
            "CreateAsset",
            &[id, color, "5", owner, "300"],
        )?;
        envs.push(env);
    }
    demo.order(envs)?;

    step("one block with a conflict and a policy failure");
    let (good, e1) = demo.submit(
        &demo.users[1],
        &[0, 1],
        "basic",
        "TransferAsset",
        &["asset1", "Max"],
    )?;
    let (_, e2) = demo.submit(
        &demo.users[1],
        &[1, 2],
        "basic",
        "TransferAsset",
        &["asset1", "Ana"],
    )?;
    let (_, e3) = demo.submit(
        &demo.users[2],
        &[2],
        "basic",
        "TransferAsset",
        &["asset2", "Ana"],
    )?;
    let block = demo.order(vec![e1, e2, e3])?;
    for (i, code) in block.metadata.validation_codes.iter().enumerate() {
        let why = [
            "first transfer of asset1",
            "second transfer of asset1 read a stale version",
            "endorsed by Org3 alone",
        ][i];
        println!("    tx {i}: {:<28} ({why})", code.to_string());
    }

    step("query Org3's peer (not an endorser of the transfer): it holds the same state");
    let owner = demo.evaluate(2, &demo.users[2], "basic", "ReadAsset", &["asset1"])?;
    println!("    asset1 = {owner}");

    let receipt = demo.peers[2].ledger.receipt(&good)?;
    let receipt_path = dir.join("receipt.json");
    std::fs::write(&receipt_path, serde_json::to_string_pretty(&receipt)?)?;
    let ca = dir.join("crypto/org1/ca/ca.pem");
    step("done; check it yourself, offline:");
    println!(
        "    cairn receipt verify {} --ca {}",
        receipt_path.display(),
        ca.display()
    );
    for p in ["orderer", "org1", "org2", "org3"] {
        println!(
            "    cairn ledger verify {}",
            dir.join("ledgers").join(p).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn step(what: &str) {
    println!("==> {what}");
}

fn setup(dir: &Path) -> anyhow::Result<Demo> {
    step("generate identities for Org1, Org2, Org3");
    let crypto = dir.join("crypto");
    let names: Vec<String> = ["Org1", "Org2", "Org3"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    let opts = GenerateOptions {
        user_attrs: BTreeMap::from([("abac.creator".to_string(), "true".to_string())]),
        ..GenerateOptions::default()
    };
    cairn_crypto::generate(&names, &crypto, &opts)?;
    let org_dir = |n: &String| crypto.join(n.to_lowercase());
    let load = |n: &String, sub: &str| SigningIdentity::from_dir(&org_dir(n).join(sub));
    let msps = names
        .iter()
        .map(|n| MspConfig::load(&org_dir(n).join("msp.json")))
        .collect::<Result<Vec<_>, _>>()?;
    let config = ChannelConfig::with_defaults("demo", msps, vec!["Org1MSP".to_string()]);
    let orderer = load(&names[0], "orderers/orderer0")?;

    step("create channel 'demo': genesis block, the orderer's ledger and one per peer");
    let genesis = cairn_store::genesis_block(&config, &orderer, Timestamp::now(), nonce())?;
    let ledgers = dir.join("ledgers");
    let orderer_ledger = Ledger::create(&ledgers.join("orderer"), &genesis)?;
    let mut peers = Vec::new();
    for n in &names {
        let signer = load(n, "peers/peer0")?;
        let msp_id = signer.msp_id().to_string();
        let store = Arc::new(PackageStore::open(
            &dir.join("packages").join(n.to_lowercase()),
        )?);
        peers.push(Peer {
            ledger: Ledger::create(&ledgers.join(n.to_lowercase()), &genesis)?,
            runtime: ContractRuntime::new(RuntimeConfig::new(&msp_id)),
            msp_id,
            signer,
            store,
        });
    }
    Ok(Demo {
        channel: Arc::new(config),
        orderer,
        orderer_ledger,
        peers,
        admins: names
            .iter()
            .map(|n| load(n, "admins/admin"))
            .collect::<Result<_, _>>()?,
        users: names
            .iter()
            .map(|n| load(n, "users/user1"))
            .collect::<Result<_, _>>()?,
    })
}

impl Demo {
    /// Executes on the given peers, checks they agree, and returns the envelope the client signed.
    fn submit(
        &self,
        client_id: &SigningIdentity,
        endorsers: &[usize],
        contract: &str,
        function: &str,
        args: &[&str],
    ) -> anyhow::Result<(TxId, Vec<u8>)> {
        let proposal = self.proposal(client_id, contract, function, args);
        let responses = endorsers
            .iter()
            .map(|&i| self.endorse(i, client_id, &proposal))
            .collect::<anyhow::Result<Vec<ProposalResponse>>>()?;
        let env = client::assemble(&proposal, &responses, client_id)?;
        Ok((proposal.header.txid, env.encode()?))
    }

    /// Runs a query on one peer without ordering it.
    fn evaluate(
        &self,
        peer: usize,
        who: &SigningIdentity,
        contract: &str,
        function: &str,
        args: &[&str],
    ) -> anyhow::Result<String> {
        let proposal = self.proposal(who, contract, function, args);
        let r = self.endorse(peer, who, &proposal)?;
        let payload = cairn_ledger::tx::ProposalResponsePayload::decode(&r.payload)?;
        Ok(String::from_utf8_lossy(&payload.response.payload).into_owned())
    }

    fn proposal(
        &self,
        who: &SigningIdentity,
        contract: &str,
        function: &str,
        args: &[&str],
    ) -> Proposal {
        let invocation = Invocation {
            contract: contract.to_string(),
            function: function.to_string(),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            is_init: false,
        };
        client::proposal(
            &self.channel.name,
            who,
            invocation,
            BTreeMap::new(),
            nonce(),
            Timestamp::now(),
        )
    }

    /// Peer `i` simulates the proposal on its committed state and signs the result.
    fn endorse(
        &self,
        i: usize,
        who: &SigningIdentity,
        proposal: &Proposal,
    ) -> anyhow::Result<ProposalResponse> {
        let peer = &self.peers[i];
        let sim = peer.runtime.invoke(InvokeRequest {
            proposal,
            creator: &CreatorInfo::from_identity(who.identity()),
            state: Arc::new(peer.ledger.snapshot()?),
            channel: self.channel.clone(),
            resolver: Arc::new(LedgerResolver::new(peer.store.clone(), peer.msp_id.clone())),
        })?;
        if !sim.is_success() {
            bail!(
                "{}'s peer refused to endorse {}: {}",
                peer.msp_id,
                proposal.invocation.function,
                sim.response.message
            );
        }
        Ok(client::endorse(
            &sim.response_payload(proposal)?,
            &peer.signer,
        )?)
    }

    /// The orderer validates and seals a block; every peer validates and commits it.
    fn order(&self, envelopes: Vec<Vec<u8>>) -> anyhow::Result<Block> {
        let block = self
            .orderer_ledger
            .append(envelopes, Timestamp::now(), &self.orderer)?;
        for p in &self.peers {
            p.ledger.commit(&block)?;
        }
        let valid = block
            .metadata
            .validation_codes
            .iter()
            .filter(|c| c.name() == "VALID")
            .count();
        println!(
            "    block {} committed on the orderer and 3 peers: {valid}/{} valid",
            block.header.number,
            block.data.len()
        );
        Ok(block)
    }
}

fn nonce() -> Vec<u8> {
    let mut n = vec![0u8; 24];
    rand::rng().fill_bytes(&mut n);
    n
}
