//! Batch signature verification with per-item failure reports.
//!
//! Items are cut into fixed chunks of [`BATCH_CHUNK`] in input order; chunks
//! run in parallel on rayon when there is more than one. Within a chunk, the
//! Ed25519 items go through `ed25519_dalek::verify_batch` (one multi-scalar
//! multiplication, about twice as fast per signature) and P-256 items are
//! checked one by one. If a chunk's Ed25519 batch fails, every Ed25519 item of
//! that chunk is re-checked alone so the caller learns exactly which failed.
//!
//! Determinism: the batch equation is probabilistic in the presence of
//! small-order components a *signer* could craft into its own signature, so
//! an item's verdict could depend on its neighbours. The chunking is fixed
//! (independent of the thread count), so every node that verifies the same
//! items in the same order (e.g. one block) reaches the same verdicts. Weak
//! (small-order) public keys are refused before batching, as
//! [`PublicKey::verify`] does.

use rayon::prelude::*;

use crate::error::{BatchError, CryptoError};
use crate::keys::{PublicKey, parse_ed25519_signature};

/// Number of items verified together; also the unit of parallel work.
pub const BATCH_CHUNK: usize = 64;

/// Verifies every `(public key, message, signature)` triple.
///
/// Returns `Ok(())` only if all verify; otherwise [`BatchError`] lists each
/// failed index (in increasing order) with its reason.
pub fn verify_batch(items: &[(&PublicKey, &[u8], &[u8])]) -> Result<(), BatchError> {
    let failures: Vec<(usize, CryptoError)> = if items.len() <= BATCH_CHUNK {
        verify_chunk(items, 0)
    } else {
        items
            .par_chunks(BATCH_CHUNK)
            .enumerate()
            .flat_map_iter(|(n, chunk)| verify_chunk(chunk, n * BATCH_CHUNK))
            .collect()
    };
    if failures.is_empty() {
        Ok(())
    } else {
        let mut failures = failures;
        failures.sort_by_key(|(i, _)| *i);
        Err(BatchError { failures })
    }
}

/// Verifies one chunk; `base` is the index of its first item in the whole batch.
fn verify_chunk(chunk: &[(&PublicKey, &[u8], &[u8])], base: usize) -> Vec<(usize, CryptoError)> {
    let mut failures = Vec::new();
    let mut ed_index = Vec::with_capacity(chunk.len());
    let mut ed_keys = Vec::with_capacity(chunk.len());
    let mut ed_msgs: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    let mut ed_sigs = Vec::with_capacity(chunk.len());

    for (offset, (key, msg, sig)) in chunk.iter().enumerate() {
        let index = base + offset;
        match key {
            PublicKey::Ed25519(vk) => {
                if vk.is_weak() {
                    failures.push((index, CryptoError::BadSignature));
                    continue;
                }
                match parse_ed25519_signature(sig) {
                    Ok(parsed) => {
                        ed_index.push(index);
                        ed_keys.push(*vk);
                        ed_msgs.push(msg);
                        ed_sigs.push(parsed);
                    }
                    Err(e) => failures.push((index, e)),
                }
            }
            PublicKey::P256(_) => {
                if let Err(e) = key.verify(msg, sig) {
                    failures.push((index, e));
                }
            }
        }
    }

    let batch_ok = match ed_index.len() {
        0 => true,
        // A batch of one costs more than a single verification.
        1 => false,
        _ => {
            // Single checks count themselves in `PublicKey::verify`.
            cairn_counters::add(cairn_counters::Counter::SigVerify, ed_index.len() as u64);
            ed25519_dalek::verify_batch(&ed_msgs, &ed_sigs, &ed_keys).is_ok()
        }
    };
    if !batch_ok {
        for index in &ed_index {
            let (key, msg, sig) = chunk[index - base];
            if let Err(e) = key.verify(msg, sig) {
                failures.push((*index, e));
            }
        }
    }
    failures
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::keys::{KeyType, SigningKey};

    #[test]
    fn empty_and_single_item_batches() {
        assert!(verify_batch(&[]).is_ok());
        let sk = SigningKey::generate(KeyType::Ed25519).unwrap();
        let pk = sk.public_key();
        let sig = sk.sign(b"m");
        assert!(verify_batch(&[(&pk, b"m", &sig)]).is_ok());
        let err = verify_batch(&[(&pk, b"x", &sig)]).unwrap_err();
        assert_eq!(err.indices(), vec![0]);
    }

    #[test]
    fn weak_ed25519_key_is_refused_in_a_batch() {
        // The identity point encodes as 0x01 followed by zeros: small order.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        let weak = PublicKey::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap());
        let sk = SigningKey::generate(KeyType::Ed25519).unwrap();
        let pk = sk.public_key();
        let good = sk.sign(b"m");
        // s = 0 and R = identity satisfies the cofactorless equation for any
        // message under the identity key, so only the weak-key check stops it.
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let err = verify_batch(&[(&pk, b"m", &good), (&weak, b"anything", &forged)]).unwrap_err();
        assert_eq!(err.indices(), vec![1]);
    }
}
