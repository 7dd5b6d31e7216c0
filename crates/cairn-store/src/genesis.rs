//! Genesis blocks: block 0 of a channel, holding its first configuration.

use cairn_crypto::{Digest, SigningIdentity};
use cairn_ledger::block::{Block, BlockHeader, BlockMetadata, HeaderSignature, tx_leaf};
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::tx::{ConfigTx, Envelope, Transaction, TxHeader};
use cairn_ledger::validation::ValidationCode;

use crate::error::StoreError;

/// Builds a channel's genesis block: one config transaction created and
/// signed by `orderer` (an orderer of one of the config's orderer orgs), with
/// the header signed by the same orderer.
pub fn genesis_block(
    config: &ChannelConfig,
    orderer: &SigningIdentity,
    timestamp: Timestamp,
    nonce: Vec<u8>,
) -> Result<Block, StoreError> {
    let creator = orderer.identity().der().to_vec();
    let header = TxHeader {
        channel: config.name.clone(),
        txid: TxId::compute(&nonce, &creator),
        creator,
        nonce,
        timestamp,
    };
    let tx = Transaction::Config(ConfigTx {
        header,
        config: config.clone(),
        signatures: Vec::new(),
    });
    let payload = tx.encode()?;
    let envelope = Envelope {
        signature: orderer.sign(&payload),
        payload,
    };
    let data = vec![envelope.encode()?];
    let leaf = cairn_merkle::leaf_hash(&tx_leaf(
        &cairn_crypto::sha256(&data[0]),
        ValidationCode::Valid,
    ));
    let header = BlockHeader {
        channel: config.name.clone(),
        number: 0,
        previous_hash: Digest::default(),
        data_hash: Block::compute_data_hash(&data),
        timestamp,
        tree_size: 1,
        // A one-leaf tree's root is its leaf hash (RFC 9162 §2.1.1).
        tree_root: Digest::from(*leaf.as_bytes()),
    };
    let signature = HeaderSignature {
        signer: orderer.identity().der().to_vec(),
        signature: orderer.sign(&header.signed_bytes(orderer.identity().der())?),
    };
    Ok(Block {
        header,
        data,
        metadata: BlockMetadata {
            validation_codes: vec![ValidationCode::Valid],
            signatures: vec![signature],
            last_config: 0,
        },
    })
}

/// The configuration carried by a genesis block.
pub fn genesis_config(block: &Block) -> Result<ChannelConfig, StoreError> {
    let bad = |reason: &str| StoreError::BadBlock {
        number: block.header.number,
        reason: format!("not a genesis block: {reason}"),
    };
    if block.header.number != 0 {
        return Err(bad("its number is not 0"));
    }
    let [env] = block.data.as_slice() else {
        return Err(bad("it must hold exactly one transaction"));
    };
    let env = Envelope::decode(env).map_err(|e| bad(&e.to_string()))?;
    match env.transaction().map_err(|e| bad(&e.to_string()))? {
        Transaction::Config(c) => Ok(c.config),
        Transaction::Endorsed(_) => Err(bad("its transaction is not a config transaction")),
    }
}
