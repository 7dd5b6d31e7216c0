//! State-free checks of a block before it is validated: hash chain, data
//! hash, one code per transaction, and a header signature by an orderer of
//! one of the channel's orderer orgs.

use cairn_crypto::Digest;
use cairn_ledger::block::Block;
use cairn_ledger::receipt::verify_header;
use cairn_ledger::validate::ChannelContext;

use crate::error::StoreError;

/// Checks everything about `block` that does not need state.
pub(crate) fn check_block_shape(
    block: &Block,
    ctx: &ChannelContext,
    previous_hash: Digest,
    config_block: u64,
) -> Result<(), StoreError> {
    let n = block.header.number;
    let bad = |reason: String| StoreError::BadBlock { number: n, reason };
    if block.header.channel != ctx.config().name {
        return Err(bad(format!(
            "it is for channel {:?}, this ledger is {:?}",
            block.header.channel,
            ctx.config().name
        )));
    }
    if block.header.previous_hash != previous_hash {
        return Err(bad(format!(
            "previous hash {} does not match block {}'s hash {previous_hash}",
            block.header.previous_hash,
            n.saturating_sub(1)
        )));
    }
    let data_hash = Block::compute_data_hash(&block.data);
    if block.header.data_hash != data_hash {
        return Err(bad(format!(
            "data hash {} does not match its transactions ({data_hash})",
            block.header.data_hash
        )));
    }
    if block.metadata.validation_codes.len() != block.data.len() {
        return Err(bad(format!(
            "{} validation codes for {} transactions",
            block.metadata.validation_codes.len(),
            block.data.len()
        )));
    }
    if block.metadata.last_config != config_block {
        return Err(bad(format!(
            "it says the config in force is from block {}, but it is from block {config_block}",
            block.metadata.last_config
        )));
    }
    let mut reasons = Vec::new();
    for org in &ctx.config().orderer_orgs {
        let Some(cfg) = ctx.config().org(org) else {
            continue;
        };
        let msp = match cairn_crypto::Msp::from_config(cfg) {
            Ok(m) => m,
            Err(e) => {
                reasons.push(format!("{org}: {e}"));
                continue;
            }
        };
        match verify_header(&block.header, &block.metadata.signatures, &msp) {
            Ok(_) => return Ok(()),
            Err(r) => reasons.push(format!("{org}: {r}")),
        }
    }
    Err(bad(format!(
        "no valid orderer signature over the header ({})",
        reasons.join("; ")
    )))
}
