//! `cairn node repair NAME --dir`: puts back the damaged blocks of a stopped
//! node's ledgers from the other nodes of the network.
//!
//! A node refuses to open a ledger whose stored block no longer hashes to
//! the record committed with it (`cairn_store::integrity`). This fetches
//! each damaged block from the network's orderers (then its peers) and
//! writes it back only if it is the block the node committed, so a
//! repair cannot change what the node's ledger says.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cairn_ledger::block::Block;
use cairn_store::integrity::{Repaired, damaged_blocks, repair_block};

use super::layout::{Network, Node, Role};
use super::{process, setup};

/// The ledger directories of `node`: (channel, directory).
fn ledgers(net: &Network, node: &Node) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let data = net.node_dir(node).join("data");
    Ok(match node.role {
        Role::Orderer => vec![(net.channel.clone(), data.join("ledger"))],
        Role::Peer => {
            let dir = data.join("channels");
            let mut out = Vec::new();
            if dir.exists() {
                for e in std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot list {}", dir.display()))?
                {
                    let e = e?;
                    if e.path().join(cairn_store::LEDGER_FILE).exists() {
                        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
                    }
                }
            }
            out.sort();
            out
        }
    })
}

/// Block `number` of `channel` from some other node, with where it came from.
async fn fetch(
    net: &Network,
    me: &Node,
    channel: &str,
    number: u64,
) -> anyhow::Result<(Block, String)> {
    let client = setup::transport(net, me, "admins/admin")?;
    let mut why = Vec::new();
    for o in net.orderers().filter(|o| o.name != me.name) {
        match cairn_orderer::api::deliver(&client, &o.url(), number).await {
            Ok(mut stream) => match stream.next().await {
                Some(Ok(b)) if b.header.number == number => return Ok((b, o.name.clone())),
                Some(Ok(b)) => why.push(format!("{}: sent block {}", o.name, b.header.number)),
                Some(Err(e)) => why.push(format!("{}: {e}", o.name)),
                None => why.push(format!("{}: sent nothing", o.name)),
            },
            Err(e) => why.push(format!("{}: {e}", o.name)),
        }
    }
    for p in net.peers().filter(|p| p.name != me.name) {
        match cairn_peer::api::block(&client, &p.url(), channel, number).await {
            Ok(b) => return Ok((b, p.name.clone())),
            Err(e) => why.push(format!("{}: {e}", p.name)),
        }
    }
    bail!(
        "no other node gave block {number} of {channel}: {}",
        why.join("; ")
    )
}

/// Repairs every ledger of the stopped node `name`; answers the blocks it
/// put back, as (channel, block number, source node).
pub fn repair(net: &Network, name: &str) -> anyhow::Result<Vec<(String, u64, String)>> {
    let node = net
        .nodes
        .iter()
        .find(|n| n.name == name)
        .with_context(|| format!("no node named {name} in {}", net.dir().display()))?;
    if let Some(pid) = process::running(&net.files(node)) {
        bail!(
            "{name} is running (pid {pid}): stop it first with `cairn node stop {name} --dir {}`",
            net.dir().display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut done = Vec::new();
    for (channel, dir) in ledgers(net, node)? {
        for d in damaged_blocks(&dir)
            .with_context(|| format!("cannot check the ledger in {}", dir.display()))?
        {
            let (block, from) = rt.block_on(fetch(net, node, &channel, d.number))?;
            match repair_block(&dir, &block).with_context(|| {
                format!("{from}'s copy of block {} cannot repair {name}", d.number)
            })? {
                Repaired::Nothing => {}
                Repaired::Block | Repaired::Record => {
                    done.push((channel.clone(), d.number, from));
                }
            }
        }
    }
    Ok(done)
}

/// `cairn node repair NAME --dir`.
pub fn repair_one(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let dir = std::path::absolute(dir)?;
    let net = Network::load(&dir)?;
    let fixed = repair(&net, name)?;
    if fixed.is_empty() {
        println!("{name}: no damaged block");
    }
    for (channel, n, from) in &fixed {
        println!("{name}: block {n} of {channel} put back from {from}'s copy");
    }
    Ok(ExitCode::SUCCESS)
}
