//! Puts the benchmark's contract on the channel once: the same lifecycle
//! as `cairn up`'s sample contract (install on every peer, each org's admin
//! approves through its own peer, a majority of orgs commits), skipped when
//! a definition of that name is already committed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_ledger::lifecycle::{ContractDefinition, LIFECYCLE_NS};
use cairn_peer::{api, invocation};

use super::super::up::layout::{Network, Node};
use super::super::up::setup;

/// The benchmark contract's name on the channel.
pub const CONTRACT: &str = "benchkv";
/// The same package deployed with the private data collection `bench`
/// (`cairn bench --private`).
pub const PRIVATE_CONTRACT: &str = "benchpdc";
/// The collection `--private` writes into: two orgs hold it; dissemination
/// as in Fabric's asset-transfer-private-data sample (`assetCollection`:
/// requiredPeerCount 1, maxPeerCount 1); writable by every org's clients.
pub const PRIVATE_COLLECTION: &str = r#"[{"name": "bench",
  "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
  "requiredPeerCount": 1, "maxPeerCount": 1, "blockToLive": 0,
  "memberOnlyRead": true, "memberOnlyWrite": false}]"#;

/// The contract name for a run.
pub fn contract_name(private: bool) -> &'static str {
    if private { PRIVATE_CONTRACT } else { CONTRACT }
}
/// Its version label.
const VERSION: &str = "1.0";
/// The endorsement policy the benchmark measures.
pub const ENDORSEMENT: &str = "MAJORITY Endorsement";

/// One peer per org (the first), each org's gateway for its admin.
pub fn org_peers(net: &Network) -> Vec<Node> {
    let mut seen = std::collections::BTreeSet::new();
    net.peers()
        .filter(|p| seen.insert(p.msp_id.clone()))
        .cloned()
        .collect()
}

/// Commits [`CONTRACT`] from the package directory `contract` unless it is
/// committed already. Answers whether it deployed it now. Progress goes to
/// stderr, so `--json` output stays clean.
pub async fn ensure(net: &Network, contract: &Path, private: bool) -> anyhow::Result<bool> {
    let collections = private.then_some(PRIVATE_COLLECTION);
    ensure_contract(
        net,
        contract_name(private),
        contract,
        ENDORSEMENT,
        collections,
    )
    .await
}

/// Commits contract `name` from the package directory `contract`, with
/// `endorsement` and the collection definitions `collections` (JSON), unless a
/// definition of that name is committed already. Answers whether it deployed it now.
pub async fn ensure_contract(
    net: &Network,
    name: &str,
    contract: &Path,
    endorsement: &str,
    collections: Option<&str>,
) -> anyhow::Result<bool> {
    let gateways = org_peers(net);
    let first = gateways.first().context("the network has no peers")?;
    let admin = setup::gateway(net, first, "admins/admin")?;
    let answer = admin
        .evaluate(LIFECYCLE_NS, "QueryChaincodeDefinitions", &[])
        .await
        .with_context(|| format!("cannot list the contracts committed on {}", first.name))?;
    let committed: Vec<ContractDefinition> = serde_json::from_slice(&answer)
        .context("the peer's list of committed contracts is not valid JSON")?;
    if let Some(def) = committed.iter().find(|d| d.name == name) {
        if def.endorsement_policy != endorsement {
            eprintln!(
                "warning: {name} is committed with endorsement policy {:?}, not {endorsement:?}",
                def.endorsement_policy
            );
        }
        return Ok(false);
    }

    let label = format!("{name}_{VERSION}");
    let archive = cairn_contract::package_dir(contract, &label)
        .with_context(|| format!("cannot package the contract at {}", contract.display()))?;
    eprintln!("==> install {name} ({}) on every peer", contract.display());
    let mut package = String::new();
    for p in net.peers() {
        let client = setup::transport(net, p, "admins/admin")?;
        package = api::install_package(&client, &p.url(), &archive)
            .await
            .with_context(|| format!("installing {name} on {} failed", p.name))?;
    }
    let mut def = serde_json::json!({
        "name": name,
        "version": VERSION,
        "sequence": 1,
        "endorsementPolicy": endorsement,
        "packageId": package,
    });
    if let Some(c) = collections {
        def["collections"] = serde_json::from_str(c)
            .with_context(|| format!("{name}'s collections are not JSON"))?;
    }
    let def = def.to_string();
    eprintln!("==> each org approves {name}; a majority commits it");
    for g in &gateways {
        setup::gateway(net, g, "admins/admin")?
            .submit_invocation(
                invocation(LIFECYCLE_NS, "ApproveChaincodeDefinitionForMyOrg", &[&def]),
                Default::default(),
                std::slice::from_ref(&g.msp_id),
            )
            .await
            .with_context(|| format!("{} could not approve {name}", g.msp_id))?;
    }
    // Endorsers of the commit must all read every approval.
    wait_same_height(net).await?;
    let majority: Vec<String> = gateways
        .iter()
        .take(gateways.len() / 2 + 1)
        .map(|g| g.msp_id.clone())
        .collect();
    admin
        .submit_invocation(
            invocation(LIFECYCLE_NS, "CommitChaincodeDefinition", &[&def]),
            Default::default(),
            &majority,
        )
        .await
        .with_context(|| format!("committing the definition of {name} failed"))?;
    // Every gateway must know the definition before clients use it.
    wait_same_height(net).await?;
    Ok(true)
}

/// The channel's height on every peer (`None` for a peer that did not answer).
pub async fn heights(net: &Network) -> anyhow::Result<Vec<Option<u64>>> {
    let mut out = Vec::new();
    for p in net.peers() {
        let client = setup::transport(net, p, "users/user1")?;
        let infos = api::channels(&client, &p.url()).await.unwrap_or_default();
        out.push(
            infos
                .iter()
                .find(|c| c.name == net.channel)
                .map(|c| c.height),
        );
    }
    Ok(out)
}

/// Waits until every peer has the same height on the channel.
pub async fn wait_same_height(net: &Network) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = heights(net).await?;
        if h.iter().all(Option::is_some) && h.windows(2).all(|w| w[0] == w[1]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the peers did not reach the same height within 30 s: {h:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
