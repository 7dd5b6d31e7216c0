//! The first `cairn up` of a network, once every node runs: peers join the
//! channel, each org installs and approves the sample contract, Org1
//! commits its definition, and a demo transaction goes through the gateway.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_crypto::SigningIdentity;
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::lifecycle::LIFECYCLE_NS;
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_peer::{GatewayClient, api, invocation};

use super::layout::{Network, Node};
use super::msps;

/// The sample contract's name on the channel.
pub const CONTRACT: &str = "basic";

/// The identity `who` (`admins/admin`, `users/user1`) of `node`'s org.
pub fn identity(net: &Network, node: &Node, who: &str) -> anyhow::Result<SigningIdentity> {
    let dir = net.org_dir(&node.org_dir).join(who);
    SigningIdentity::from_dir(&dir).with_context(|| format!("cannot load {}", dir.display()))
}

/// An mTLS transport client acting as `who` of `node`'s org.
pub fn transport(net: &Network, node: &Node, who: &str) -> anyhow::Result<Client> {
    let tls = TlsIdentity::new(identity(net, node, who)?, Trust::new(&msps(net)?)?)?;
    Ok(Client::with_timeout(&tls, Duration::from_secs(30))?)
}

/// A gateway client of `who` of `gateway`'s org, through that peer.
pub fn gateway(net: &Network, gateway: &Node, who: &str) -> anyhow::Result<GatewayClient> {
    Ok(GatewayClient::new(
        identity(net, gateway, who)?,
        &msps(net)?,
        &gateway.url(),
        &net.channel,
    )?)
}

/// One peer per org: the org's gateway.
fn org_peers(net: &Network) -> Vec<Node> {
    let mut seen = std::collections::BTreeSet::new();
    net.peers()
        .filter(|p| seen.insert(p.msp_id.clone()))
        .cloned()
        .collect()
}

/// Runs the whole setup; `step` prints progress.
pub async fn run(net: &Network, contract: &Path) -> anyhow::Result<()> {
    let genesis = Block::decode(&std::fs::read(net.genesis_path())?)
        .context("the channel's genesis block is unreadable")?;
    step(&format!("peers join channel {}", net.channel));
    for p in net.peers() {
        let client = transport(net, p, "admins/admin")?;
        api::join_channel(&client, &p.url(), &genesis)
            .await
            .with_context(|| format!("{} could not join {}", p.name, net.channel))?;
    }
    wait_connected(net).await?;

    step(&format!(
        "install the sample contract ({}) on every peer",
        contract.display()
    ));
    let archive = cairn_contract::package_dir(contract, "basic_1.0")
        .with_context(|| format!("cannot package the contract at {}", contract.display()))?;
    let mut package = String::new();
    for p in net.peers() {
        let client = transport(net, p, "admins/admin")?;
        package = api::install_package(&client, &p.url(), &archive)
            .await
            .with_context(|| format!("install on {} failed", p.name))?;
    }
    println!("    package id {package}");

    let def = serde_json::json!({
        "name": CONTRACT, "version": "1.0", "sequence": 1, "packageId": package,
    })
    .to_string();
    let gateways = org_peers(net);
    step("each org's admin approves the definition through its own peer");
    for g in &gateways {
        let admin = gateway(net, g, "admins/admin")?;
        admin
            .submit_invocation(
                invocation(LIFECYCLE_NS, "ApproveChaincodeDefinitionForMyOrg", &[&def]),
                Default::default(),
                std::slice::from_ref(&g.msp_id),
            )
            .await
            .with_context(|| format!("{} could not approve", g.msp_id))?;
    }
    // Endorsers must read the same approvals: wait until every peer has
    // committed every approval block before asking them.
    wait_same_height(net).await?;
    step("Org1's admin commits the definition (a majority of orgs endorse)");
    let majority: Vec<String> = gateways
        .iter()
        .take(gateways.len() / 2 + 1)
        .map(|g| g.msp_id.clone())
        .collect();
    let first = gateways.first().context("no peers")?;
    gateway(net, first, "admins/admin")?
        .submit_invocation(
            invocation(LIFECYCLE_NS, "CommitChaincodeDefinition", &[&def]),
            Default::default(),
            &majority,
        )
        .await
        .context("committing the definition failed")?;

    wait_same_height(net).await?;
    step("demo: Org1's user creates asset1 through Org1's gateway");
    let user = gateway(net, first, "users/user1")?;
    let done = user
        .submit(
            CONTRACT,
            "CreateAsset",
            &["asset1", "blue", "5", "Tomoko", "300"],
        )
        .await
        .context("the demo transaction failed")?;
    println!(
        "    tx {} committed in block {}, endorsed by {}",
        done.txid,
        done.block,
        done.endorsers.join(", ")
    );
    // The gateway answered once its own peer committed; the reader's may lag.
    wait_same_height(net).await?;
    let last = gateways.last().context("no peers")?;
    let reader = gateway(net, last, "users/user1")?;
    let answer = reader
        .evaluate(CONTRACT, "ReadAsset", &["asset1"])
        .await
        .with_context(|| format!("query on {} failed", last.name))?;
    println!(
        "    {} reads asset1: {}",
        last.name,
        String::from_utf8_lossy(&answer)
    );
    Ok(())
}

/// Waits until every peer pulls blocks from an orderer.
async fn wait_connected(net: &Network) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    for p in net.peers() {
        let client = transport(net, p, "admins/admin")?;
        loop {
            let infos = api::channels(&client, &p.url()).await.unwrap_or_default();
            if infos
                .iter()
                .any(|c| c.name == net.channel && c.height >= 1 && c.orderer.is_some())
            {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} joined {} but reached no orderer within 30 s; see its log {}",
                    p.name,
                    net.channel,
                    net.files(p).log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Waits until every peer's height on the channel is the same.
async fn wait_same_height(net: &Network) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut heights = Vec::new();
        for p in net.peers() {
            let client = transport(net, p, "admins/admin")?;
            let infos = api::channels(&client, &p.url()).await.unwrap_or_default();
            heights.push(
                infos
                    .iter()
                    .find(|c| c.name == net.channel)
                    .map(|c| c.height),
            );
        }
        if heights.windows(2).all(|w| w[0] == w[1]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("peers did not reach the same height within 30 s: {heights:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn step(what: &str) {
    println!("==> {what}");
}
