//! Block pulling: one task per channel streams blocks from an orderer of
//! the channel, from this peer's height on, and commits each with full
//! re-validation and the private data its transient store holds for the
//! block ([`cairn_store::Ledger::commit_with_private`]).
//!
//! Durability: one block in [`SYNC_EVERY`] is committed durably, the others
//! deferred (the orderers hold every block, so a crash costs fetching the
//! lost ones again); configuration blocks at once, and whatever is deferred
//! after [`IDLE_SYNC`] without a block and at shutdown. A block's transient
//! entries leave the transient store only once the block is durable.
//!
//! Failover: when the stream fails or ends, or an orderer sends a block
//! this peer refuses, the task moves to the next orderer after a backoff
//! with jitter. When no block arrives for `stall_timeout_ms`, it asks the
//! other orderers for their height and moves if one is ahead (the current
//! one is alive but stalled, e.g. cut off from its cluster).

use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::block::Block;
use cairn_ledger::ids::TxId;
use cairn_ledger::private::PrivateData;
use cairn_orderer::api;
use cairn_store::{CommitSummary, Durability, StoreError};
use rand::Rng;
use tracing::{debug, info, warn};

use crate::channel::{Channel, Committed};
use crate::node::Shared;
use crate::transient::lock;

/// An orderer's status must answer within this time during a stall check.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// One block in this many is committed durably; the others are deferred
/// (written without an fsync): the channel's orderers hold every block
/// durably, so a crash costs this peer only fetching the lost ones again.
pub(crate) const SYNC_EVERY: u64 = 32;

/// With deferred commits and no new block for this long, the ledger is synced.
const IDLE_SYNC: Duration = Duration::from_millis(200);

/// Why the task stopped streaming from one orderer.
enum Stop {
    /// Connecting, or reading the stream, failed.
    Failed(String),
    /// The orderer sent a block this peer refused.
    BadBlock(String),
    /// Another orderer is ahead while this one sends nothing.
    Stalled { ahead: String, height: u64 },
    /// The ledger could not be written; retrying the same block is pointless
    /// until the disk recovers.
    Local(String),
}

/// Pulls and commits blocks for `channel` until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, channel: Arc<Channel>) {
    let mut failures: u32 = 0;
    // Peers start at different orderers, so no single orderer serves them all.
    let mut next: usize = rand::rng().random_range(0..64);
    loop {
        let urls = shared.orderer_urls(&channel);
        if urls.is_empty() {
            if failures == 0 {
                warn!(channel = %channel.name, "no orderers: the channel config lists none and the peer config has no fallback");
            }
            failures = failures.saturating_add(1);
            tokio::time::sleep(backoff(&shared, failures)).await;
            continue;
        }
        let url = urls[next % urls.len()].clone();
        let (progress, stop) = stream_from(&shared, &channel, &url, &urls).await;
        channel.set_source(None);
        if progress {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        match &stop {
            Stop::Failed(reason) => {
                if failures <= 2 {
                    info!(channel = %channel.name, orderer = %url, %reason, "block stream ended; failing over")
                } else {
                    debug!(channel = %channel.name, orderer = %url, %reason, "block stream failed again")
                }
            }
            Stop::BadBlock(reason) => {
                warn!(channel = %channel.name, orderer = %url, %reason, "refused a block from this orderer; failing over")
            }
            Stop::Stalled { ahead, height } => {
                warn!(channel = %channel.name, orderer = %url, %ahead, height, "orderer stalled while another is ahead; failing over")
            }
            Stop::Local(reason) => {
                warn!(channel = %channel.name, %reason, "committing a block failed; retrying")
            }
        }
        next = match stop {
            Stop::Stalled { ahead, .. } => {
                urls.iter().position(|u| *u == ahead).unwrap_or(next + 1)
            }
            Stop::Local(_) => next,
            _ => next + 1,
        };
        // A clean move to a peer orderer needs no pause; repeated failures back off.
        if !(progress && failures == 1) {
            tokio::time::sleep(backoff(&shared, failures)).await;
        }
    }
}

/// Streams from `url` until something goes wrong; says whether any block
/// was committed on the way.
async fn stream_from(
    shared: &Arc<Shared>,
    channel: &Arc<Channel>,
    url: &str,
    all: &[String],
) -> (bool, Stop) {
    let from = channel.ledger.height();
    let mut stream = match api::deliver(&shared.client, url, from).await {
        Ok(s) => s,
        Err(e) => return (false, Stop::Failed(e.to_string())),
    };
    channel.set_source(Some(url.to_string()));
    debug!(channel = %channel.name, orderer = %url, from, "streaming blocks");
    let stall = Duration::from_millis(shared.config.deliver.stall_timeout_ms);
    let mut progress = false;
    loop {
        let unsynced = channel.ledger.has_unsynced();
        let wait = if unsynced {
            IDLE_SYNC.min(stall)
        } else {
            stall
        };
        let item = match tokio::time::timeout(wait, stream.next()).await {
            Ok(item) => item,
            Err(_) if unsynced => {
                // Idle: make what was deferred durable (and only then drop
                // the transient entries of its blocks).
                let (ch, retention) = (
                    channel.clone(),
                    shared.config.private_data.transient_retention_blocks,
                );
                let synced = tokio::task::spawn_blocking(move || sync(&ch, retention)).await;
                if let Ok(Err(e)) = synced {
                    return (progress, Stop::Local(format!("syncing the ledger: {e}")));
                }
                continue;
            }
            Err(_) => {
                if let Some((ahead, height)) = ahead_of(shared, channel, url, all).await {
                    return (progress, Stop::Stalled { ahead, height });
                }
                continue;
            }
        };
        let block = match item {
            None => {
                return (
                    progress,
                    Stop::Failed("the orderer ended the stream".into()),
                );
            }
            Some(Err(e)) => return (progress, Stop::Failed(e.to_string())),
            Some(Ok(block)) => block,
        };
        let number = block.header.number;
        if number < channel.ledger.height() {
            continue;
        }
        match commit(shared, channel, block).await {
            Ok(_) => progress = true,
            Err(CommitFailure::Refused(reason)) => {
                return (
                    progress,
                    Stop::BadBlock(format!("block {number}: {reason}")),
                );
            }
            Err(CommitFailure::Local(reason)) => return (progress, Stop::Local(reason)),
        }
    }
}

enum CommitFailure {
    Refused(String),
    Local(String),
}

/// Commits one block off the async threads, then announces it.
async fn commit(
    shared: &Arc<Shared>,
    channel: &Arc<Channel>,
    block: Block,
) -> Result<CommitSummary, CommitFailure> {
    let sequence = channel.ledger.context().config().sequence;
    let retention = shared.config.private_data.transient_retention_blocks;
    let ch = channel.clone();
    let (block, result) = tokio::task::spawn_blocking(move || {
        let r = commit_with_private(&ch, &block, retention);
        (block, r)
    })
    .await
    .map_err(|e| CommitFailure::Local(format!("commit task failed: {e}")))?;
    let summary = result.map_err(|e| match e {
        StoreError::Database { .. }
        | StoreError::InUse { .. }
        | StoreError::Io { .. }
        | StoreError::Corrupt { .. }
        | StoreError::Validate(_) => CommitFailure::Local(e.to_string()),
        refused => CommitFailure::Refused(refused.to_string()),
    })?;
    let name = channel.name.as_str();
    let m = &shared.metrics;
    m.blocks.with_label_values(&[name]).inc();
    m.height
        .with_label_values(&[name])
        .set(summary.number as i64 + 1);
    for code in &block.metadata.validation_codes {
        m.txs.with_label_values(&[name, code.name()]).inc();
    }
    if channel.ledger.context().config().sequence != sequence {
        info!(channel = %name, block = summary.number, "channel configuration changed");
        shared.refresh_trust();
    }
    channel.announce(Committed::new(Arc::new(block), &summary.txids));
    Ok(summary)
}

/// Commits a block with the private data the transient store holds for its
/// transactions (only collections this peer's org is a member of ever get
/// there; looked up by the ids validation decoded), then drops those entries
/// and the ones older than the retention. A failing transient store only
/// costs the private data: the ledger records it as missing and
/// reconciliation fetches it.
fn commit_with_private(
    channel: &Channel,
    block: &Block,
    retention: u64,
) -> Result<CommitSummary, StoreError> {
    let mut held: Vec<TxId> = Vec::new();
    let durability = if block.header.number.is_multiple_of(SYNC_EVERY) {
        Durability::Immediate
    } else {
        Durability::Deferred
    };
    let sequence = channel.ledger.context().config().sequence;
    let summary = channel.ledger.commit_looking_up_with(block, |ids| {
        let txids: Vec<TxId> = ids.iter().flatten().copied().collect();
        match channel.transient.lookup_copies(&txids) {
            Ok(found) => {
                let private: PrivateData = found
                    .into_iter()
                    .map(|(txid, copies)| (txid, crate::private::choose_copy(block, &txid, copies)))
                    .collect();
                held = txids.into_iter().filter(|t| private.get(t).is_some()).collect();
                private
            }
            Err(e) => {
                warn!(channel = %channel.name, reason = %e, "reading the transient store failed; the block's private data will be reconciled");
                PrivateData::new()
            }
        }
    }, durability)?;
    let s = &summary.private;
    if s.stored + s.missing + s.rejected + s.expired > 0 {
        debug!(channel = %channel.name, block = summary.number, stored = s.stored, missing = s.missing, rejected = s.rejected, expired = s.expired, "private data committed");
    }
    let number = summary.number;
    lock(&channel.held).extend(held.into_iter().map(|t| (number, t)));
    // A configuration block is made durable at once: trust follows it.
    if channel.ledger.has_unsynced() && channel.ledger.context().config().sequence == sequence {
        return Ok(summary);
    }
    sync(channel, retention)?;
    Ok(summary)
}

/// Makes every deferred commit durable, then drops from the transient store
/// the entries of the blocks now durable and those older than the retention.
pub(crate) fn sync(channel: &Channel, retention: u64) -> Result<(), StoreError> {
    channel.ledger.sync()?;
    // Synced: every block below the height is durable. Entries of blocks at
    // or above it (lost by a reopen after an I/O error, fetched again later)
    // stay until their block is committed and durable again.
    let height = channel.ledger.height();
    let held: Vec<TxId> = {
        let mut all = lock(&channel.held);
        let (durable, later): (Vec<_>, Vec<_>) = all.drain(..).partition(|(n, _)| *n < height);
        *all = later;
        durable.into_iter().map(|(_, t)| t).collect()
    };
    match channel
        .transient
        .cleanup(&held, height.saturating_sub(retention))
    {
        Ok((_, 0)) => {}
        Ok((_, purged)) => {
            debug!(channel = %channel.name, purged, "transient entries older than the retention purged")
        }
        Err(e) => {
            warn!(channel = %channel.name, reason = %e, "cleaning the transient store failed")
        }
    }
    Ok(())
}

/// Another orderer of the channel that has more blocks than this peer.
async fn ahead_of(
    shared: &Arc<Shared>,
    channel: &Channel,
    current: &str,
    all: &[String],
) -> Option<(String, u64)> {
    let ours = channel.ledger.height();
    for url in all.iter().filter(|u| u.as_str() != current) {
        if let Ok(Ok(status)) =
            tokio::time::timeout(STATUS_TIMEOUT, api::status(&shared.client, url)).await
            && status.height > ours
        {
            return Some((url.clone(), status.height));
        }
    }
    None
}

/// Exponential backoff with equal jitter: `[d/2, d]` where `d` doubles per
/// failure from `backoff_min_ms` up to `backoff_max_ms`.
fn backoff(shared: &Shared, failures: u32) -> Duration {
    let d = &shared.config.deliver;
    jittered(d.backoff_min_ms, d.backoff_max_ms, failures)
}

fn jittered(min_ms: u64, max_ms: u64, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let cap = min_ms.saturating_mul(1u64 << exp).min(max_ms).max(1);
    let ms = rand::rng().random_range(cap / 2..=cap);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        for _ in 0..50 {
            let first = jittered(100, 5000, 1);
            assert!(
                (50..=100).contains(&(first.as_millis() as u64)),
                "{first:?}"
            );
            let fourth = jittered(100, 5000, 4);
            assert!(
                (400..=800).contains(&(fourth.as_millis() as u64)),
                "{fourth:?}"
            );
            let late = jittered(100, 5000, 30);
            assert!(
                (2500..=5000).contains(&(late.as_millis() as u64)),
                "{late:?}"
            );
        }
    }
}
