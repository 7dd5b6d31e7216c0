//! The nodes' event counters over the measured window (`GET /counters` on
//! every node, see `cairn-counters`) and their context switches and threads
//! (from `/proc`), divided by the transactions committed in it: counts per
//! transaction prove what a change on the transaction path removed, where
//! CPU time drifts with the machine.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::up::layout::{Network, Node};
use super::super::up::setup;
use super::cpu;

/// One node's counters at one instant.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// `GET /counters`, empty if the node did not answer.
    pub events: BTreeMap<String, u64>,
    /// Voluntary plus involuntary context switches of the process.
    pub ctx_switches: u64,
    /// Threads of the process.
    pub threads: u64,
}

/// Reads every node's counters (in `nodes` order).
pub async fn read(net: &Network, nodes: &[(Node, i32)]) -> Vec<Counts> {
    let mut out = Vec::with_capacity(nodes.len());
    for (node, pid) in nodes {
        let events = match setup::transport(net, node, "admins/admin") {
            Ok(client) => client.counters(&node.url()).await.unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        let (threads, ctx_switches) = cpu::process_status(*pid).unwrap_or_default();
        out.push(Counts {
            events,
            ctx_switches,
            threads,
        });
    }
    out
}

/// One node's counts per committed transaction.
#[derive(Clone, Debug, Serialize)]
pub struct NodeCounts {
    /// Its name.
    pub name: String,
    /// `orderer` or `peer`.
    pub role: String,
    /// Signatures verified per transaction.
    pub sig_verify: f64,
    /// Signatures made per transaction.
    pub sig_sign: f64,
    /// Canonical decodes per transaction.
    pub decode: f64,
    /// Canonical encodes per transaction.
    pub encode: f64,
    /// HTTP requests served per transaction (all routes).
    pub http_served: f64,
    /// HTTP requests sent per transaction (all routes).
    pub http_sent: f64,
    /// Stream frames sent (events, block delivery) per transaction.
    pub frames: f64,
    /// TLS connections accepted in the window.
    pub tls_accepts: u64,
    /// Blocks this node committed in the window.
    pub blocks: u64,
    /// Transactions per block it committed (all transactions, the bench's and others').
    pub txs_per_block: f64,
    /// Durable storage commits per block.
    pub durable_commits_per_block: f64,
    /// Explicit file syncs (transient store) per transaction.
    pub file_syncs: f64,
    /// Context switches per transaction.
    pub ctx_switches: f64,
    /// Threads at the end of the window.
    pub threads: u64,
    /// HTTP requests per transaction by route: `served POST /endorse`,
    /// `sent POST /broadcast`, ...: the hops a transaction takes.
    pub routes: BTreeMap<String, f64>,
}

/// Counts per transaction of every node between two readings.
pub fn per_tx(
    nodes: &[(Node, i32)],
    roles: &[&str],
    first: &[Counts],
    last: &[Counts],
    txs: u64,
) -> Vec<NodeCounts> {
    let per = |n: u64| {
        if txs == 0 { 0.0 } else { n as f64 / txs as f64 }
    };
    nodes
        .iter()
        .zip(roles)
        .zip(first.iter().zip(last))
        .map(|(((node, _), role), (a, b))| {
            let d = cairn_counters::delta(&a.events, &b.events);
            let get = |k: &str| d.get(k).copied().unwrap_or(0);
            let sum = |prefix: &str| {
                d.iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| *v)
                    .sum::<u64>()
            };
            let blocks = get("block");
            let per_block = |n: u64| {
                if blocks == 0 {
                    0.0
                } else {
                    n as f64 / blocks as f64
                }
            };
            NodeCounts {
                name: node.name.clone(),
                role: (*role).to_string(),
                sig_verify: per(get("sig_verify")),
                sig_sign: per(get("sig_sign")),
                decode: per(get("decode")),
                encode: per(get("encode")),
                http_served: per(sum("served ")),
                http_sent: per(sum("sent ")),
                frames: per(get("frame")),
                tls_accepts: get("tls_accept"),
                blocks,
                txs_per_block: per_block(get("tx")),
                durable_commits_per_block: per_block(get("durable_commit")),
                file_syncs: per(get("file_sync")),
                ctx_switches: per(b.ctx_switches.saturating_sub(a.ctx_switches)),
                threads: b.threads,
                routes: d
                    .iter()
                    .filter(|(k, _)| k.starts_with("served ") || k.starts_with("sent "))
                    .map(|(k, v)| (k.clone(), per(*v)))
                    .collect(),
            }
        })
        .collect()
}

/// Prints the counts as a table, then each node's hops.
pub fn print(nodes: &[NodeCounts]) {
    if nodes.is_empty() {
        return;
    }
    println!();
    println!("Per committed transaction (counters of each node over the same window):");
    println!(
        "  {:<16} {:>7} {:>6} {:>7} {:>7} {:>6} {:>6} {:>7} {:>7} {:>8} {:>7} {:>7}",
        "PROCESS",
        "verify",
        "sign",
        "decode",
        "encode",
        "http↓",
        "http↑",
        "frames",
        "ctxsw",
        "tx/block",
        "fsync/b",
        "threads"
    );
    for n in nodes {
        println!(
            "  {:<16} {:>7.2} {:>6.2} {:>7.1} {:>7.1} {:>6.2} {:>6.2} {:>7.2} {:>7.1} {:>8.1} {:>7.2} {:>7}",
            n.name,
            n.sig_verify,
            n.sig_sign,
            n.decode,
            n.encode,
            n.http_served,
            n.http_sent,
            n.frames,
            n.ctx_switches,
            n.txs_per_block,
            n.durable_commits_per_block,
            n.threads
        );
    }
    println!("  hops (HTTP requests per transaction, served ↓ and sent ↑):");
    for n in nodes {
        let hops: Vec<String> = n
            .routes
            .iter()
            .filter(|(_, v)| **v >= 0.005)
            .map(|(k, v)| {
                let k = k.replacen("served ", "↓ ", 1).replacen("sent ", "↑ ", 1);
                format!("{k} {v:.2}")
            })
            .collect();
        println!("    {:<14} {}", n.name, hops.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::up::layout::Role;

    fn node(name: &str) -> (Node, i32) {
        (
            Node {
                name: name.into(),
                role: Role::Peer,
                msp_id: "Org1MSP".into(),
                org_dir: "org1".into(),
                port: 1,
                ops_port: None,
                console_port: None,
            },
            1,
        )
    }

    #[test]
    fn counts_are_divided_by_transactions_and_blocks() {
        let a = Counts {
            events: [
                ("sig_verify", 10),
                ("block", 1),
                ("tx", 5),
                ("served POST /endorse", 3),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            ctx_switches: 100,
            threads: 5,
        };
        let b = Counts {
            events: [
                ("sig_verify", 310),
                ("block", 11),
                ("tx", 105),
                ("durable_commit", 10),
                ("served POST /endorse", 103),
                ("sent POST /broadcast", 50),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            ctx_switches: 300,
            threads: 6,
        };
        let got = per_tx(&[node("p")], &["peer"], &[a], &[b], 100);
        let n = &got[0];
        assert_eq!(n.sig_verify, 3.0);
        assert_eq!(n.blocks, 10);
        assert_eq!(n.txs_per_block, 10.0);
        assert_eq!(n.durable_commits_per_block, 1.0);
        assert_eq!(n.http_served, 1.0);
        assert_eq!(n.http_sent, 0.5);
        assert_eq!(n.ctx_switches, 2.0);
        assert_eq!(n.threads, 6);
        assert_eq!(n.routes["sent POST /broadcast"], 0.5);
        // No transactions: zeros, not NaN.
        let none = per_tx(
            &[node("p")],
            &["peer"],
            &[Counts::default()],
            &[Counts::default()],
            0,
        );
        assert_eq!(none[0].sig_verify, 0.0);
    }
}
