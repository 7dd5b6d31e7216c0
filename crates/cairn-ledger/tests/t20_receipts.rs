//! A receipt binds every field it states (issue 11, item 2).
//!
//! The bug: `Receipt::verify` never compared the receipt's `txid` with the
//! transaction in its envelope (or with anything else), so a valid receipt
//! with its txid replaced verified and `cairn receipt verify` printed the
//! new txid as proven. Nor did anything prove the block number: a later
//! block's header with a proof in its bigger tree verified too.
//!
//! Here a small chain of signed blocks is built with real certificates; every
//! receipt of it verifies with exactly the values it was built from, and
//! changing any single value of a receipt's JSON (as `cairn receipt verify`
//! reads it) makes it fail.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_crypto::{
    CertificateAuthority, Identity, IssueRequest, KeyType, Role, SigningIdentity, unix_now,
};
use cairn_ledger::block::{Block, BlockHeader, BlockMetadata, HeaderSignature, tx_leaf};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::receipt::{BuildReceiptError, Receipt, ReceiptError};
use cairn_ledger::tx::{EndorsedTx, Envelope, Invocation, Transaction, TxHeader};
use cairn_ledger::validation::ValidationCode;
use cairn_merkle::{MemoryStore, inclusion_proof, leaf_hash};
use serde_json::Value;

const CHANNEL: &str = "receipts";

struct Org {
    ca: CertificateAuthority,
    orderer: SigningIdentity,
    peer: SigningIdentity,
}

fn org(name: &str) -> Org {
    let ca = CertificateAuthority::new(
        name,
        &format!("{name}MSP"),
        KeyType::Ed25519,
        unix_now() - 3600,
        unix_now() + 86_400,
    )
    .unwrap();
    let id = |cn: &str, role| {
        let (cert, key) = ca
            .issue(&IssueRequest::new(cn, role, 1), KeyType::Ed25519)
            .unwrap();
        SigningIdentity::new(Identity::from_certificate_unvalidated(cert).unwrap(), key).unwrap()
    };
    Org {
        orderer: id("orderer0", Role::Orderer),
        peer: id("peer0", Role::Peer),
        ca,
    }
}

/// Three blocks (1, 3 and 2 transactions) sealed by Org1's orderer, and the
/// channel's transaction tree.
struct Chain {
    org1: Org,
    org2: Org,
    blocks: Vec<Block>,
    tree: MemoryStore,
}

fn envelope(user: &SigningIdentity, nonce: u64) -> (TxId, Vec<u8>) {
    let creator = user.identity().der().to_vec();
    let nonce = nonce.to_be_bytes().to_vec();
    let txid = TxId::compute(&nonce, &creator);
    let tx = Transaction::Endorsed(EndorsedTx {
        header: TxHeader {
            channel: CHANNEL.into(),
            txid,
            creator,
            nonce,
            timestamp: Timestamp::now(),
        },
        invocation: Invocation {
            contract: "asset".into(),
            function: "put".into(),
            args: vec![b"k".to_vec()],
            is_init: false,
        },
        response_payload: vec![1, 2, 3],
        endorsements: vec![],
    });
    let payload = tx.encode().unwrap();
    let env = Envelope {
        signature: user.sign(&payload),
        payload,
    };
    (txid, env.encode().unwrap())
}

fn chain() -> Chain {
    let (org1, org2) = (org("Org1"), org("Org2"));
    let mut tree = MemoryStore::new();
    let mut blocks: Vec<Block> = Vec::new();
    let codes = [ValidationCode::Valid, ValidationCode::MvccReadConflict];
    let mut nonce = 0;
    for (number, txs) in [1usize, 3, 2].into_iter().enumerate() {
        let mut data = Vec::new();
        let mut validation_codes = Vec::new();
        for i in 0..txs {
            nonce += 1;
            let (_, env) = envelope(&org2.peer, nonce);
            let code = codes[i % 2];
            tree.push(leaf_hash(&tx_leaf(&cairn_crypto::sha256(&env), code)));
            data.push(env);
            validation_codes.push(code);
        }
        let header = BlockHeader {
            channel: CHANNEL.into(),
            number: number as u64,
            previous_hash: blocks
                .last()
                .map(|b| b.header.hash().unwrap())
                .unwrap_or_default(),
            data_hash: Block::compute_data_hash(&data),
            timestamp: Timestamp::now(),
            tree_size: tree.size(),
            tree_root: cairn_crypto::Digest::from(
                *cairn_merkle::root(&tree, tree.size()).unwrap().as_bytes(),
            ),
        };
        let o = &org1.orderer;
        let signature = HeaderSignature {
            signer: o.identity().der().to_vec(),
            signature: o.sign(&header.signed_bytes(o.identity().der()).unwrap()),
        };
        blocks.push(Block {
            header,
            data,
            metadata: BlockMetadata {
                validation_codes,
                signatures: vec![signature],
                last_config: 0,
            },
        });
    }
    Chain {
        org1,
        org2,
        blocks,
        tree,
    }
}

impl Chain {
    fn ca(&self) -> String {
        self.org1.ca.certificate().to_pem()
    }

    fn first_leaf(&self, block: usize) -> u64 {
        match block {
            0 => 0,
            b => self.blocks[b - 1].header.tree_size,
        }
    }

    fn receipt(&self, block: usize, position: u64) -> Receipt {
        let b = &self.blocks[block];
        let leaf = self.first_leaf(block) + position;
        let proof = inclusion_proof(&self.tree, leaf, b.header.tree_size).unwrap();
        let previous = block.checked_sub(1).map(|p| &self.blocks[p].header);
        Receipt::build(b, previous, position, proof).unwrap()
    }
}

fn envelope_txid(env: &[u8]) -> TxId {
    Envelope::decode(env)
        .unwrap()
        .transaction()
        .unwrap()
        .header()
        .txid
}

#[test]
fn every_receipt_verifies_with_exactly_the_proven_values() {
    let c = chain();
    let ca = c.ca();
    let mut checked = 0;
    for (number, block) in c.blocks.iter().enumerate() {
        for (position, env) in block.data.iter().enumerate() {
            let r = c.receipt(number, position as u64);
            // As `cairn receipt verify` reads it: through JSON.
            let r: Receipt = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            let v = r.verify(&ca).unwrap();
            assert_eq!(v.txid, envelope_txid(env));
            assert_eq!(v.code, block.metadata.validation_codes[position]);
            assert_eq!(v.channel, CHANNEL);
            assert_eq!(v.block, number as u64);
            assert_eq!(v.position, position as u64);
            assert_eq!(v.leaf_index, c.first_leaf(number) + position as u64);
            assert_eq!(v.envelope_hash, cairn_crypto::sha256(env));
            assert_eq!(v.block_time, block.header.timestamp);
            assert_eq!(v.signers, [c.org1.orderer.identity().subject()]);
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

/// Every way to change one value of a JSON document: each leaf changed to
/// a different value of the same kind, each object field removed or set to
/// `null`, and an unknown field added to each object. Each entry is a
/// description and the changed document.
fn single_field_mutations(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), doc, &mut out);
    out
}

fn walk(root: &Value, path: &mut Vec<PathStep>, here: &Value, out: &mut Vec<(String, Value)>) {
    let mut changes: Vec<(&str, Value)> = Vec::new();
    match here {
        Value::Object(map) => {
            let mut extended = map.clone();
            extended.insert("unproven_note".into(), Value::String("trust me".into()));
            changes.push(("with an unknown field added", Value::Object(extended)));
            for (key, v) in map {
                path.push(PathStep::Key(key.clone()));
                if !v.is_null() {
                    let mut doc = root.clone();
                    set(&mut doc, path, None);
                    out.push((format!("{} removed", show(path)), doc));
                }
                walk(root, path, v, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                walk(root, path, v, out);
                path.pop();
            }
        }
        Value::String(s) => {
            changes.push(("changed", Value::String(change_text(s))));
            changes.push(("set to null", Value::Null));
        }
        Value::Number(n) => {
            let n = n.as_u64().unwrap();
            changes.push(("plus one", Value::from(n + 1)));
            if n > 0 {
                changes.push(("minus one", Value::from(n - 1)));
            }
            changes.push(("set to null", Value::Null));
        }
        Value::Bool(b) => changes.push(("negated", Value::Bool(!b))),
        Value::Null => {}
    }
    for (what, new) in changes {
        let mut doc = root.clone();
        set(&mut doc, path, Some(new));
        assert_ne!(doc, *root, "{} {what} must change the document", show(path));
        out.push((format!("{} {what}", show(path)), doc));
    }
}

/// A different string of the same shape: the last hex digit replaced by
/// another lowercase hex digit, or a character appended to other text.
fn change_text(s: &str) -> String {
    match s.chars().last() {
        Some(c) if c.is_ascii_hexdigit() => {
            let d = if c == '0' { '1' } else { '0' };
            format!("{}{d}", &s[..s.len() - 1])
        }
        _ => format!("{s}x"),
    }
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn show(path: &[PathStep]) -> String {
    path.iter()
        .map(|s| match s {
            PathStep::Key(k) => format!(".{k}"),
            PathStep::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// Sets (or with `None` removes) the value at `path`.
fn set(doc: &mut Value, path: &[PathStep], new: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(v) = new {
            *doc = v;
        }
        return;
    };
    let mut at = doc;
    for step in parents {
        at = match step {
            PathStep::Key(k) => &mut at[k.as_str()],
            PathStep::Index(i) => &mut at[*i],
        };
    }
    match (last, new) {
        (PathStep::Key(k), Some(v)) => at[k.as_str()] = v,
        (PathStep::Key(k), None) => {
            at.as_object_mut().unwrap().remove(k);
        }
        (PathStep::Index(i), Some(v)) => at[*i] = v,
        (PathStep::Index(i), None) => {
            at.as_array_mut().unwrap().remove(*i);
        }
    }
}

/// Whether `doc` is refused: not a receipt, or a receipt that does not verify.
fn refused(doc: &Value, ca: &str) -> Result<String, String> {
    match serde_json::from_value::<Receipt>(doc.clone()) {
        Err(e) => Ok(format!("not a receipt: {e}")),
        Ok(r) => match r.verify(ca) {
            Err(e) => Ok(e.to_string()),
            Ok(v) => Err(format!("verified as {v:?}")),
        },
    }
}

#[test]
fn changing_any_single_field_makes_verification_fail() {
    let c = chain();
    let ca = c.ca();
    // Block 0 (no previous header) and a middle transaction of block 1.
    for (block, position) in [(0, 0), (1, 1)] {
        let doc = serde_json::to_value(c.receipt(block, position)).unwrap();
        // Positive control: the untouched document verifies.
        assert!(refused(&doc, &ca).is_err(), "the original must verify");
        let mutations = single_field_mutations(&doc);
        // Every leaf value is covered: a receipt of block 1 has dozens.
        assert!(
            mutations.len() > if block == 0 { 40 } else { 80 },
            "{}",
            mutations.len()
        );
        for (what, changed) in &mutations {
            if let Err(e) = refused(changed, &ca) {
                panic!("receipt of block {block} with {what} still verifies: {e}");
            }
        }
    }
}

#[test]
fn changed_fields_fail_for_the_right_reason() {
    let c = chain();
    let ca = c.ca();
    let good = c.receipt(1, 2);
    let reason = |r: &Receipt| r.verify(&ca).unwrap_err().to_string();

    let mut r = good.clone();
    r.txid = envelope_txid(&c.blocks[1].data[0]);
    assert!(reason(&r).contains("is not the transaction in the receipt's envelope"));

    let mut r = good.clone();
    r.envelope = c.blocks[1].data[0].clone();
    assert!(reason(&r).contains("envelope does not match the receipt"));

    let mut r = good.clone();
    r.code = ValidationCode::DuplicateTxid;
    assert_ne!(good.code, r.code);
    assert!(reason(&r).contains("inclusion proof"));

    let mut r = good.clone();
    r.previous_header = None;
    assert!(
        reason(&r).contains("has no previous_header"),
        "{}",
        reason(&r)
    );

    let mut r = good.clone();
    r.previous_header = Some(c.blocks[2].header.clone());
    assert!(reason(&r).contains("previous_header does not belong to block 1"));

    // Org2's orderer signature added next to Org1's: not vouched for by the CA.
    let mut r = good.clone();
    let o2 = &c.org2.orderer;
    r.signatures.push(HeaderSignature {
        signer: o2.identity().der().to_vec(),
        signature: o2.sign(&r.header.signed_bytes(o2.identity().der()).unwrap()),
    });
    assert!(
        reason(&r).contains("signature 1 of the receipt is not proven"),
        "{}",
        reason(&r)
    );

    // Only a peer of the trusted org signs: no orderer signature at all.
    let mut r = good.clone();
    let p = &c.org1.peer;
    r.signatures = vec![HeaderSignature {
        signer: p.identity().der().to_vec(),
        signature: p.sign(&r.header.signed_bytes(p.identity().der()).unwrap()),
    }];
    assert!(reason(&r).contains("not an orderer"), "{}", reason(&r));

    // Trusting Org2's CA instead: the header is not signed by its orderers.
    let e = good
        .verify(&c.org2.ca.certificate().to_pem())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not signed by an orderer of the trusted CA"),
        "{e}"
    );

    // Positive control: the untouched receipt verifies.
    good.verify(&ca).unwrap();
}

#[test]
fn a_later_blocks_header_does_not_move_the_transaction() {
    // Block 2's signed tree also holds block 1's leaves, so a proof of the
    // same leaf against block 2's root is valid; the receipt must still not
    // claim the transaction is in block 2.
    let c = chain();
    let ca = c.ca();
    let good = c.receipt(1, 0);
    let later = &c.blocks[2];
    let mut r = good.clone();
    r.proof = inclusion_proof(&c.tree, good.proof.index, later.header.tree_size).unwrap();
    r.header = later.header.clone();
    r.signatures = later.metadata.signatures.clone();
    r.previous_header = Some(c.blocks[1].header.clone());
    let leaf = leaf_hash(&tx_leaf(&r.envelope_hash, r.code));
    let root = cairn_merkle::Hash::from(*later.header.tree_root.as_bytes());
    assert_eq!(
        r.proof.verify(&leaf, &root),
        Ok(()),
        "the proof alone is valid"
    );
    let e = r.verify(&ca).unwrap_err();
    assert!(
        matches!(
            e,
            ReceiptError::NotInBlock {
                index: 1,
                block: 2,
                first: 4,
                end: 6
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("names the wrong block"));
}

#[test]
fn receipts_are_built_only_from_matching_parts() {
    let c = chain();
    let b = &c.blocks[1];
    let previous = Some(&c.blocks[0].header);
    let proof = |leaf| inclusion_proof(&c.tree, leaf, b.header.tree_size).unwrap();
    // Positive control.
    assert!(Receipt::build(b, previous, 1, proof(2)).is_ok());
    assert!(matches!(
        Receipt::build(b, previous, 1, proof(1)),
        Err(BuildReceiptError::ProofMismatch {
            index: 1,
            leaf: 2,
            ..
        })
    ));
    assert!(matches!(
        Receipt::build(b, previous, 3, proof(3)),
        Err(BuildReceiptError::NoSuchTransaction {
            block: 1,
            position: 3
        })
    ));
    assert!(matches!(
        Receipt::build(b, None, 1, proof(2)),
        Err(BuildReceiptError::PreviousHeader { block: 1 })
    ));
}
