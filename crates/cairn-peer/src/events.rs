//! Event streams, each resumable from a block number: blocks, every
//! transaction's outcome (one frame per block), and contract events of
//! valid transactions. They follow the channel's commit notifications, so a
//! stream opened at the current height waits for the next block.
//!
//! The block just committed comes from memory, as the committer published
//! it with its transactions' ids and codes ([`Channel::committed`]): every
//! subscriber shares it, and only a stream catching up reads (and decodes)
//! older blocks from the ledger.

use std::sync::Arc;

use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::{Envelope, ProposalResponsePayload, Transaction};
use cairn_ledger::validation::ValidationCode;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::watch;
use tracing::warn;

use crate::api::{BlockTxStatuses, ContractEventRecord, PrivateBlockEvent};
use crate::channel::{Channel, Committed};

type Cursor = (Arc<Channel>, watch::Receiver<u64>, u64);

/// Committed blocks `from, from + 1, ...` with their outcomes, as committed.
fn committed(
    channel: &Arc<Channel>,
    from: u64,
) -> impl Stream<Item = Arc<Committed>> + Send + 'static {
    let cursor = (channel.clone(), channel.height.subscribe(), from);
    stream::unfold(cursor, next_committed)
}

/// Blocks `from, from + 1, ...` as they are committed.
pub(crate) fn blocks(
    channel: &Arc<Channel>,
    from: u64,
) -> impl Stream<Item = Arc<Block>> + Send + 'static {
    committed(channel, from).map(|c| c.block.clone())
}

/// Blocks `from, from + 1, ...` with the private writes of collections
/// `msp_id` is a member of, as this peer holds them when the block is sent.
/// The stream ends if reading private data fails.
pub(crate) fn private_blocks(
    channel: &Arc<Channel>,
    from: u64,
    msp_id: String,
) -> impl Stream<Item = PrivateBlockEvent> + Send + 'static {
    let ch = channel.clone();
    blocks(channel, from)
        .map(move |block| {
            let private = crate::private::block_private_for(&ch, block.header.number, &msp_id);
            private.map(|private| PrivateBlockEvent {
                block: (*block).clone(),
                private,
            })
        })
        .take_while(|r| {
            if let Err(e) = r {
                warn!(reason = %e.message(), "private block stream stopped");
            }
            std::future::ready(r.is_ok())
        })
        .filter_map(|r| std::future::ready(r.ok()))
}

/// The outcome of every transaction from block `from` on, one frame per block.
pub(crate) fn tx_statuses(
    channel: &Arc<Channel>,
    from: u64,
) -> impl Stream<Item = BlockTxStatuses> + Send + 'static {
    committed(channel, from).map(|c| BlockTxStatuses {
        block: c.block.header.number,
        statuses: c.statuses.clone(),
    })
}

/// Events of `contract` (of event `name`, if given) from block `from` on.
pub(crate) fn contract_events(
    channel: &Arc<Channel>,
    from: u64,
    contract: String,
    name: Option<String>,
) -> impl Stream<Item = ContractEventRecord> + Send + 'static {
    blocks(channel, from)
        .flat_map(move |b| stream::iter(contract_events_of(&b, &contract, name.as_deref())))
}

async fn next_committed((channel, mut height, next): Cursor) -> Option<(Arc<Committed>, Cursor)> {
    loop {
        if next < *height.borrow_and_update() {
            return match channel.committed(next) {
                Ok(Some(c)) => Some((c, (channel, height, next + 1))),
                Ok(None) => None,
                Err(e) => {
                    warn!(block = next, reason = %e, "event stream stopped: reading the block failed");
                    None
                }
            };
        }
        height.changed().await.ok()?;
    }
}

/// The matching contract events of the block's valid transactions.
pub(crate) fn contract_events_of(
    block: &Block,
    contract: &str,
    name: Option<&str>,
) -> Vec<ContractEventRecord> {
    let mut out = Vec::new();
    for (i, env) in block.data.iter().enumerate() {
        if block.metadata.validation_codes.get(i) != Some(&ValidationCode::Valid) {
            continue;
        }
        let Some(Transaction::Endorsed(tx)) = Envelope::decode(env)
            .ok()
            .and_then(|e| e.transaction().ok())
        else {
            continue;
        };
        let Ok(payload) = ProposalResponsePayload::decode(&tx.response_payload) else {
            continue;
        };
        for e in payload.events {
            if e.contract == contract && name.is_none_or(|n| n == e.name) {
                out.push(ContractEventRecord {
                    block: block.header.number,
                    index: i as u32,
                    txid: tx.header.txid,
                    contract: e.contract,
                    name: e.name,
                    payload: e.payload,
                });
            }
        }
    }
    out
}
