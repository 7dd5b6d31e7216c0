//! Reconciliation: one background task per channel fetches the private data
//! this peer's org should hold but did not receive (a peer that was down
//! during the endorsement, a push that failed) from peers of member orgs,
//! and hands it to [`cairn_store::Ledger::reconcile`], which stores only
//! what matches the block's hashes.
//!
//! Rounds run every `reconcile_interval_ms`; after a round that fetched
//! nothing while data is missing the pause doubles up to
//! `reconcile_backoff_max_ms`, and it returns to the interval as soon as
//! something arrives or nothing is missing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::private::MissingPrivateData;
use rand::seq::SliceRandom;
use tracing::{debug, info, warn};

use crate::api::{self, FetchRequest};
use crate::channel::Channel;
use crate::node::Shared;
use crate::private::{Collections, MAX_FETCH_ITEMS};

/// What one round achieved.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// Nothing is missing.
    Complete,
    /// Writes were stored (more may still be missing).
    Progress(usize),
    /// Data is missing and no peer supplied any.
    Stuck(usize),
}

/// Reconciles `channel` until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, channel: Arc<Channel>) {
    let settings = &shared.config.private_data;
    let base = Duration::from_millis(settings.reconcile_interval_ms);
    let max = Duration::from_millis(settings.reconcile_backoff_max_ms);
    let mut pause = base;
    loop {
        tokio::time::sleep(pause).await;
        pause = match round(&shared, &channel).await {
            Ok(Round::Complete) => base,
            Ok(Round::Progress(stored)) => {
                info!(channel = %channel.name, stored, "missing private data reconciled");
                base
            }
            Ok(Round::Stuck(missing)) => {
                debug!(channel = %channel.name, missing, "no peer supplied the missing private data; backing off");
                (pause * 2).min(max)
            }
            Err(reason) => {
                warn!(channel = %channel.name, %reason, "reconciliation round failed; backing off");
                (pause * 2).min(max)
            }
        };
    }
}

/// Asks the known peers of member orgs, one after the other, for what is
/// still missing, and reconciles whatever they answer.
async fn round(shared: &Arc<Shared>, channel: &Arc<Channel>) -> Result<Round, String> {
    let batch = shared
        .config
        .private_data
        .reconcile_batch
        .min(MAX_FETCH_ITEMS);
    let ledger = channel.ledger.clone();
    let missing = tokio::task::spawn_blocking(move || ledger.missing_private_data(batch))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if missing.is_empty() {
        return Ok(Round::Complete);
    }
    let mut collections = Collections::new(channel).map_err(|e| e.message().to_string())?;
    let mut members: Vec<(MissingPrivateData, BTreeSet<String>)> = Vec::new();
    for m in missing {
        let orgs = collections
            .resolve(&m.namespace, &m.collection)
            .map_err(|e| e.message().to_string())?
            .map(|c| c.member_orgs().clone())
            .unwrap_or_default();
        members.push((m, orgs));
    }
    let total = members.len();
    let mut peers = shared.config.gateway_peers.clone();
    peers.shuffle(&mut rand::rng());
    // Peers of this org first: they hold every collection this org holds.
    peers.sort_by_key(|p| p.msp_id != shared.msp_id());
    let timeout = Duration::from_millis(shared.config.gateway.endorse_timeout_ms);
    let mut stored = 0;
    let mut done: BTreeSet<usize> = BTreeSet::new();
    for peer in &peers {
        let asked: Vec<usize> = (0..members.len())
            .filter(|i| !done.contains(i) && members[*i].1.contains(&peer.msp_id))
            .collect();
        if asked.is_empty() {
            continue;
        }
        let request = FetchRequest {
            channel: channel.name.clone(),
            wanted: asked.iter().map(|i| members[*i].0.clone()).collect(),
        };
        // The answer counts only from a peer that proves the org it is
        // listed under (its data is checked against the ledger's hashes too).
        let fetched = match async {
            let client = shared
                .peer_client(&peer.msp_id)
                .map_err(|e| e.message().to_string())?;
            shared
                .admissions
                .check_target(&client, channel, &peer.url, "private data request")
                .await
                .map_err(|e| e.to_string())?;
            api::fetch_private(&client, &peer.url, &request, timeout)
                .await
                .map_err(|e| e.to_string())
        }
        .await
        {
            Ok(f) => f,
            Err(e) => {
                debug!(peer = %peer.url, reason = %e, "fetching private data failed");
                continue;
            }
        };
        for item in fetched {
            let ledger = channel.ledger.clone();
            let (block, tx) = (item.block, item.tx);
            let report =
                tokio::task::spawn_blocking(move || ledger.reconcile(block, tx, &item.writes))
                    .await
                    .map_err(|e| e.to_string())?;
            match report {
                Ok(r) => {
                    stored += r.stored;
                    if r.rejected > 0 {
                        warn!(peer = %peer.url, block, tx, rejected = r.rejected, "a peer supplied private data that does not match the ledger's hashes");
                    }
                }
                Err(e) => {
                    warn!(peer = %peer.url, block, tx, reason = %e, "reconciling fetched private data failed")
                }
            }
            for i in &asked {
                let m = &members[*i].0;
                if m.block == block && m.tx == tx {
                    done.insert(*i);
                }
            }
        }
        if done.len() == total {
            break;
        }
    }
    if stored > 0 {
        shared
            .metrics
            .pvt_reconciled
            .with_label_values(&[channel.name.as_str()])
            .inc_by(stored as u64);
        return Ok(Round::Progress(stored));
    }
    Ok(Round::Stuck(total))
}
