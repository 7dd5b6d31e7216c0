//! Event streams, each resumable from a block number: blocks, every
//! transaction's outcome, and contract events of valid transactions. They
//! follow the channel's commit notifications, so a stream opened at the
//! current height waits for the next block.

use std::sync::Arc;

use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::{Envelope, ProposalResponsePayload, Transaction};
use cairn_ledger::validation::ValidationCode;
use cairn_store::Ledger;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::watch;
use tracing::warn;

use crate::api::{ContractEventRecord, PrivateBlockEvent, TxStatusEvent};
use crate::channel::Channel;

type Cursor = (Arc<Ledger>, watch::Receiver<u64>, u64);

/// Blocks `from, from + 1, ...` as they are committed.
pub(crate) fn blocks(channel: &Channel, from: u64) -> impl Stream<Item = Block> + Send + 'static {
    let cursor = (channel.ledger.clone(), channel.height.subscribe(), from);
    stream::unfold(cursor, next_block)
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
            private.map(|private| PrivateBlockEvent { block, private })
        })
        .take_while(|r| {
            if let Err(e) = r {
                warn!(reason = %e.message(), "private block stream stopped");
            }
            std::future::ready(r.is_ok())
        })
        .filter_map(|r| std::future::ready(r.ok()))
}

/// The outcome of every transaction from block `from` on.
pub(crate) fn tx_statuses(
    channel: &Channel,
    from: u64,
) -> impl Stream<Item = TxStatusEvent> + Send + 'static {
    blocks(channel, from).flat_map(|b| stream::iter(statuses_of(&b)))
}

/// Events of `contract` (of event `name`, if given) from block `from` on.
pub(crate) fn contract_events(
    channel: &Channel,
    from: u64,
    contract: String,
    name: Option<String>,
) -> impl Stream<Item = ContractEventRecord> + Send + 'static {
    blocks(channel, from)
        .flat_map(move |b| stream::iter(contract_events_of(&b, &contract, name.as_deref())))
}

async fn next_block((ledger, mut height, next): Cursor) -> Option<(Block, Cursor)> {
    loop {
        if next < ledger.height() {
            return match ledger.block(next) {
                Ok(Some(b)) => Some((b, (ledger, height, next + 1))),
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

/// One status per transaction of the block.
pub(crate) fn statuses_of(block: &Block) -> Vec<TxStatusEvent> {
    block
        .data
        .iter()
        .enumerate()
        .map(|(i, env)| TxStatusEvent {
            block: block.header.number,
            index: i as u32,
            txid: Envelope::decode(env)
                .ok()
                .and_then(|e| e.transaction().ok())
                .map(|t| t.header().txid),
            code: block
                .metadata
                .validation_codes
                .get(i)
                .copied()
                .unwrap_or(ValidationCode::NotValidated),
        })
        .collect()
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
