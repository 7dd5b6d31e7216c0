//! State-free checks of a block before it is validated: hash chain, data
//! hash, one code per transaction, and a header signature by an orderer of
//! one of the channel's orderer orgs.

use cairn_crypto::{Digest, Role};
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
    // The channel context knows (and caches) every member's certificate:
    // an orderer of an orderer org whose signature verifies is enough.
    let h = &block.header;
    for s in &block.metadata.signatures {
        if let Ok(id) = ctx.identify(&s.signer, h.timestamp.seconds)
            && id.role() == Role::Orderer
            && ctx.config().orderer_orgs.iter().any(|o| o == id.msp_id())
            && let Ok(signed) = h.signed_bytes(&s.signer)
            && id.public_key().verify(&signed, &s.signature).is_ok()
        {
            return Ok(());
        }
    }
    // Otherwise say, per orderer org, why no signature counts.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use cairn_crypto::SigningIdentity;
    use cairn_ledger::block::HeaderSignature;
    use cairn_testkit::TestNet;

    use super::*;

    fn signed_by(block: &Block, who: &SigningIdentity) -> Block {
        let mut b = block.clone();
        let der = who.identity().der().to_vec();
        let signature = who.sign(&b.header.signed_bytes(&der).unwrap());
        b.metadata.signatures = vec![HeaderSignature {
            signer: der,
            signature,
        }];
        b
    }

    #[test]
    fn only_an_orderer_of_an_orderer_org_signs_a_block() {
        let net = TestNet::new(2);
        let dir = tempfile::tempdir().unwrap();
        let ledger = net.sample_ledger(dir.path(), 1);
        let ctx = ledger.context();
        let prev = ledger.block(0).unwrap().unwrap().header.hash().unwrap();
        let block = ledger.block(1).unwrap().unwrap();
        let check = |b: &Block, ctx: &ChannelContext| check_block_shape(b, ctx, prev, 0);

        // As sealed, and re-signed by the other org's orderer: accepted.
        check(&block, &ctx).unwrap();
        check(&signed_by(&block, &net.orgs[1].orderer), &ctx).unwrap();
        // A peer's signature, a damaged signature: refused, and said why.
        let e = check(&signed_by(&block, &net.orgs[0].peer), &ctx).unwrap_err();
        assert!(e.to_string().contains("not an orderer"), "{e}");
        let mut damaged = block.clone();
        let last = damaged.metadata.signatures[0].signature.len() - 1;
        damaged.metadata.signatures[0].signature[last] ^= 1;
        let e = check(&damaged, &ctx).unwrap_err();
        assert!(e.to_string().contains("no valid orderer signature"), "{e}");
        // An orderer of an org that is not an orderer org of the channel.
        let mut config = ctx.config().clone();
        config.orderer_orgs = vec![net.orgs[0].msp_id.clone()];
        let narrow = ChannelContext::new(config).unwrap();
        check(&block, &narrow).unwrap();
        assert!(check(&signed_by(&block, &net.orgs[1].orderer), &narrow).is_err());
    }
}
