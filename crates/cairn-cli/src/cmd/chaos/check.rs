//! The end-of-run checks, on every node's ledger files (the nodes stopped):
//! every transaction a gateway reported committed is on every peer and
//! valid; no block number holds two different blocks on any node; every
//! peer's world state is the same; `cairn ledger verify` passes everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cairn_crypto::Digest;
use cairn_ledger::encoding::Canonical;
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
    let mut missing = Vec::new();
    for (name, (role, l)) in &ledgers {
        if *role != Role::Peer {
            continue;
        }
        let mut lacking = 0usize;
        let mut example = None;
        for c in committed {
            let ok = matches!(l.tx(&c.txid), Ok(Some(loc)) if loc.code == ValidationCode::Valid);
            if !ok {
                lacking += 1;
                example.get_or_insert(c.txid);
            }
        }
        if let Some(txid) = example {
            missing.push(format!("{name} lacks {lacking}, e.g. {txid}"));
        }
    }
    checks.push(Check {
        name: "every transaction reported committed is valid on every peer".into(),
        passed: missing.is_empty(),
        detail: if missing.is_empty() {
            format!(
                "{} transactions on {} peers",
                committed.len(),
                net.peers().count()
            )
        } else {
            missing.join("; ")
        },
    });

    progress("comparing blocks across nodes");
    let max = ledgers.values().map(|(_, l)| l.height()).max().unwrap_or(0);
    let mut forks = Vec::new();
    for number in 0..max {
        let mut seen: BTreeSet<Digest> = BTreeSet::new();
        for (_, l) in ledgers.values() {
            if let Ok(Some(b)) = l.block(number)
                && let Ok(bytes) = b.encode()
            {
                seen.insert(cairn_crypto::sha256(&bytes));
            }
        }
        if seen.len() > 1 {
            forks.push(number);
        }
    }
    let heights: Vec<String> = ledgers
        .iter()
        .map(|(n, (_, l))| format!("{n} {}", l.height()))
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
