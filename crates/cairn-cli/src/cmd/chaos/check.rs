//! The end-of-run checks, on every node's ledger files (the nodes stopped):
//! every transaction a gateway reported committed is on every peer and
//! valid; no block number holds two different blocks on any node; every
//! peer's world state is the same; `cairn ledger verify` passes everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cairn_crypto::Digest;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::validation::ValidationCode;
use cairn_store::Ledger;
use serde::Serialize;

use super::load::Committed;
use crate::cmd::up::layout::{Network, Role};

/// One check's result.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Figures, or what broke.
    pub detail: String,
}

fn ledger_dir(net: &Network, node: &crate::cmd::up::layout::Node) -> PathBuf {
    let data = net.node_dir(node).join("data");
    match node.role {
        Role::Orderer => data.join("ledger"),
        Role::Peer => data.join("channels").join(&net.channel),
    }
}

/// Hash of every (namespace, key, value, version) of a ledger's state.
fn state_hash(l: &Ledger) -> anyhow::Result<Digest> {
    let mut bytes = Vec::new();
    for (ns, key, v) in l.snapshot()?.all_state()? {
        for part in [
            ns.as_bytes(),
            key.as_bytes(),
            &v.value,
            &v.version.encode()?,
        ] {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part);
        }
    }
    Ok(cairn_crypto::sha256(&bytes))
}

/// For each ledger lacking some of `txids` (or holding one not valid): a line
/// naming it, how many, and one example.
fn lacking(ledgers: &[(&str, &Ledger)], txids: &[TxId]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, l) in ledgers {
        let bad: Vec<&TxId> = txids
            .iter()
            .filter(|t| !matches!(l.tx(t), Ok(Some(loc)) if loc.code == ValidationCode::Valid))
            .collect();
        if let Some(first) = bad.first() {
            out.push(format!("{name} lacks {}, e.g. {first}", bad.len()));
        }
    }
    out
}

/// The block numbers at which two ledgers hold different blocks.
fn forks(ledgers: &[(&str, &Ledger)]) -> Vec<u64> {
    let max = ledgers.iter().map(|(_, l)| l.height()).max().unwrap_or(0);
    (0..max)
        .filter(|n| {
            let seen: BTreeSet<Digest> = ledgers
                .iter()
                .filter_map(|(_, l)| l.block(*n).ok().flatten())
                .filter_map(|b| b.encode().ok())
                .map(|bytes| cairn_crypto::sha256(&bytes))
                .collect();
            seen.len() > 1
        })
        .collect()
}

/// Runs every check; `progress` gets a line per step.
pub fn run(net: &Network, committed: &[Committed], mut progress: impl FnMut(&str)) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut ledgers = BTreeMap::new();
    let mut open_errors = Vec::new();
    for n in &net.nodes {
        match Ledger::open(&ledger_dir(net, n)) {
            Ok(l) => {
                ledgers.insert(n.name.clone(), (n.role, l));
            }
            Err(e) => open_errors.push(format!("{}: {e}", n.name)),
        }
    }
    checks.push(Check {
        name: "every node's ledger opens".into(),
        passed: open_errors.is_empty(),
        detail: if open_errors.is_empty() {
            format!("{} ledgers", ledgers.len())
        } else {
            open_errors.join("; ")
        },
    });

    progress("looking for every committed transaction on every peer");
    let peers: Vec<(&str, &Ledger)> = ledgers
        .iter()
        .filter(|(_, (role, _))| *role == Role::Peer)
        .map(|(n, (_, l))| (n.as_str(), l))
        .collect();
    let txids: Vec<TxId> = committed.iter().map(|c| c.txid).collect();
    let missing = lacking(&peers, &txids);
    checks.push(Check {
        name: "every transaction reported committed is valid on every peer".into(),
        passed: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("{} transactions on {} peers", committed.len(), peers.len())
        } else {
            missing.join("; ")
        },
    });

    progress("comparing blocks across nodes");
    let all: Vec<(&str, &Ledger)> = ledgers.iter().map(|(n, (_, l))| (n.as_str(), l)).collect();
    let forks = forks(&all);
    let heights: Vec<String> = all
        .iter()
        .map(|(n, l)| format!("{n} {}", l.height()))
        .collect();
    checks.push(Check {
        name: "no block number holds two different blocks".into(),
        passed: forks.is_empty(),
        detail: if forks.is_empty() {
            format!("heights: {}", heights.join(", "))
        } else {
            format!("blocks differ between nodes at {forks:?}")
        },
    });

    progress("hashing every peer's world state");
    let mut hashes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, (role, l)) in &ledgers {
        if *role == Role::Peer {
            let h = state_hash(l).map_or_else(|e| format!("unreadable: {e}"), |d| d.to_string());
            hashes.entry(h).or_default().push(name.clone());
        }
    }
    checks.push(Check {
        name: "every peer's world state is the same".into(),
        passed: hashes.len() == 1,
        detail: hashes
            .iter()
            .map(|(h, names)| format!("{} on {}", &h[..h.len().min(16)], names.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    });

    let dirs: Vec<(String, PathBuf)> = ledgers
        .iter()
        .map(|(n, (_, l))| (n.clone(), l.dir().to_path_buf()))
        .collect();
    drop(ledgers);
    let mut failures = Vec::new();
    for (name, dir) in &dirs {
        progress(&format!("cairn ledger verify: {name}"));
        match cairn_store::verify::verify_ledger(dir, |_, _| {}) {
            Ok(r) => {
                let _ = r;
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    checks.push(Check {
        name: "cairn ledger verify passes on every node".into(),
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            format!("{} ledgers re-derived from their blocks", dirs.len())
        } else {
            failures.join("; ")
        },
    });
    checks
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use cairn_testkit::{TestNet, now, write_set};

    use super::*;

    fn tx(net: &TestNet, key: &str) -> (TxId, Vec<u8>) {
        net.endorsed_tx(
            &net.orgs[1].user,
            "asset",
            write_set("asset", &[(key, b"v".as_slice())]),
            &[&net.orgs[0].peer, &net.orgs[1].peer],
        )
    }

    #[test]
    fn the_checks_find_a_missing_transaction_and_a_forked_block() {
        let net = TestNet::new(2);
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let first = net.ledger(dirs[0].path());
        let genesis = first.block(0).unwrap().unwrap();
        let mut ls = vec![first];
        for d in &dirs[1..] {
            ls.push(Ledger::create(d.path(), &genesis).unwrap());
        }
        let (_, def) = net.define_contract_tx("asset", "");
        let b1 = ls[0].append(vec![def], now(), net.orderer()).unwrap();
        ls[1].commit(&b1).unwrap();
        ls[2].commit(&b1).unwrap();
        let (in_both, shared) = tx(&net, "shared");
        let b2 = ls[0].append(vec![shared], now(), net.orderer()).unwrap();
        ls[1].commit(&b2).unwrap();
        // The third ledger gets a different block 2.
        ls[2]
            .append(vec![tx(&net, "other").1], now(), net.orderer())
            .unwrap();
        let (only_a, late) = tx(&net, "late");
        ls[0].append(vec![late], now(), net.orderer()).unwrap();

        let same = [("a", &ls[0]), ("b", &ls[1])];
        assert!(forks(&same).is_empty(), "positive control: equal ledgers");
        let all = [("a", &ls[0]), ("b", &ls[1]), ("c", &ls[2])];
        assert_eq!(forks(&all), vec![2]);

        assert!(lacking(&same, &[in_both]).is_empty(), "positive control");
        let found = lacking(&same, &[in_both, only_a]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("b lacks 1"), "{found:?}");
    }
}
