//! The state-free half of validation, run in parallel over a block: decode
//! each envelope, check its header, identify creator and endorsers at the
//! block's time, then verify every signature of the block in one batch.

use std::collections::HashSet;

use cairn_crypto::{Identity, PublicKey};
use rayon::prelude::*;
use tracing::debug;

use crate::config::ChannelConfig;
use crate::encoding::Canonical;
use crate::ids::{Timestamp, TxId};
use crate::tx::{
    ConfigTx, EndorsedTx, Endorsement, Envelope, ProposalResponsePayload, Transaction,
};
use crate::validate::ChannelContext;
use crate::validation::ValidationCode;

/// One envelope after the state-free checks.
pub(crate) struct Prepared {
    /// Set when a state-free check already failed.
    pub(crate) early_code: Option<ValidationCode>,
    pub(crate) txid: Option<TxId>,
    pub(crate) timestamp: Timestamp,
    pub(crate) kind: PreparedKind,
}

pub(crate) enum PreparedKind {
    Config {
        config: Box<ChannelConfig>,
        /// Admins whose signatures verified.
        admins: Vec<Identity>,
    },
    Endorsed {
        tx: Box<EndorsedTx>,
        payload: Box<ProposalResponsePayload>,
        /// Endorsers whose certificates and signatures are valid.
        endorsers: Vec<Identity>,
    },
    Invalid(ValidationCode),
}

/// A signature to verify and what it belongs to.
struct SigJob {
    tx: usize,
    /// `None`: the creator's signature; `Some(i)`: endorsement/admin `i`.
    signer: Option<usize>,
    key: PublicKey,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

/// Decoded but not yet signature-checked.
struct Decoded {
    prepared: Prepared,
    jobs: Vec<SigJob>,
    /// Candidate signers (endorsers or admins), aligned with `SigJob::signer`.
    signers: Vec<Option<Identity>>,
}

/// Blocks with fewer transactions are decoded on the calling thread: waking
/// the pool costs more than it saves there, and on a machine that several
/// nodes share the other cores are busy anyway.
const PARALLEL_MIN_TXS: usize = 64;

/// `trusted(i)`: skip verifying the signatures of transaction `i` (see
/// [`crate::validate::validate_sealed_block`]); everything else is checked.
pub(crate) fn prepare_block(
    ctx: &ChannelContext,
    number: u64,
    timestamp: Timestamp,
    data: &[Vec<u8>],
    trusted: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<Prepared> {
    let at = timestamp.seconds;
    let mut decoded: Vec<Decoded> = if data.len() < PARALLEL_MIN_TXS {
        data.iter()
            .enumerate()
            .map(|(i, env)| decode_one(ctx, number, i, env, at))
            .collect()
    } else {
        data.par_iter()
            .enumerate()
            .map(|(i, env)| decode_one(ctx, number, i, env, at))
            .collect()
    };
    let jobs: Vec<&SigJob> = decoded
        .iter()
        .flat_map(|d| d.jobs.iter())
        .filter(|j| !trusted(j.tx))
        .collect();
    let items: Vec<(&PublicKey, &[u8], &[u8])> = jobs
        .iter()
        .map(|j| (&j.key, j.msg.as_slice(), j.sig.as_slice()))
        .collect();
    let failed: HashSet<(usize, Option<usize>)> = match cairn_crypto::verify_batch(&items) {
        Ok(()) => HashSet::new(),
        Err(e) => e
            .indices()
            .into_iter()
            .filter_map(|i| jobs.get(i).map(|j| (j.tx, j.signer)))
            .collect(),
    };
    drop(items);
    drop(jobs);
    decoded
        .iter_mut()
        .enumerate()
        .map(|(i, d)| finish(i, d, &failed))
        .collect()
}

fn finish(index: usize, d: &mut Decoded, failed: &HashSet<(usize, Option<usize>)>) -> Prepared {
    let mut p = std::mem::replace(
        &mut d.prepared,
        Prepared {
            early_code: None,
            txid: None,
            timestamp: Timestamp::default(),
            kind: PreparedKind::Invalid(ValidationCode::NotValidated),
        },
    );
    if p.early_code.is_some() {
        return p;
    }
    if failed.contains(&(index, None)) {
        p.early_code = Some(ValidationCode::BadCreatorSignature);
        return p;
    }
    let good: Vec<Identity> = d
        .signers
        .iter_mut()
        .enumerate()
        .filter(|(s, _)| !failed.contains(&(index, Some(*s))))
        .filter_map(|(_, id)| id.take())
        .collect();
    match &mut p.kind {
        PreparedKind::Config { admins, .. } => *admins = good,
        PreparedKind::Endorsed { endorsers, .. } => *endorsers = good,
        PreparedKind::Invalid(_) => {}
    }
    p
}

fn decode_one(ctx: &ChannelContext, number: u64, index: usize, bytes: &[u8], at: i64) -> Decoded {
    let fail = |code, txid, timestamp| Decoded {
        prepared: Prepared {
            early_code: Some(code),
            txid,
            timestamp,
            kind: PreparedKind::Invalid(code),
        },
        jobs: Vec::new(),
        signers: Vec::new(),
    };
    if bytes.is_empty() {
        return fail(ValidationCode::NilEnvelope, None, Timestamp::default());
    }
    let Ok(envelope) = Envelope::decode(bytes) else {
        return fail(ValidationCode::BadPayload, None, Timestamp::default());
    };
    let Ok(tx) = envelope.transaction() else {
        return fail(ValidationCode::BadPayload, None, Timestamp::default());
    };
    let header = tx.header().clone();
    let (txid, ts) = (Some(header.txid), header.timestamp);
    if header.channel != ctx.config().name {
        return fail(ValidationCode::TargetChainNotFound, txid, ts);
    }
    if header.nonce.is_empty() {
        return fail(ValidationCode::BadCommonHeader, txid, ts);
    }
    if TxId::compute(&header.nonce, &header.creator) != header.txid {
        return fail(ValidationCode::BadProposalTxid, txid, ts);
    }
    let creator = match ctx.identify(&header.creator, at) {
        Ok(id) => id,
        Err(e) => {
            debug!(block = number, tx = index, error = %e, "creator certificate refused");
            return fail(ValidationCode::BadCreatorSignature, txid, ts);
        }
    };
    let mut jobs = vec![SigJob {
        tx: index,
        signer: None,
        key: creator.public_key().clone(),
        msg: envelope.payload.clone(),
        sig: envelope.signature.clone(),
    }];
    let (kind, signers) = match tx {
        Transaction::Config(c) => {
            if number == 0 && index == 0 {
                // The genesis configuration bootstraps the channel: nobody
                // can have signed it under a config that does not exist yet.
                (
                    PreparedKind::Config {
                        config: Box::new(c.config),
                        admins: Vec::new(),
                    },
                    Vec::new(),
                )
            } else {
                // A config that cannot be re-encoded has nothing its admins signed.
                let Ok(msg) = ConfigTx::signed_bytes(&c.header, &c.config) else {
                    return fail(ValidationCode::InvalidConfigTransaction, txid, ts);
                };
                let signers =
                    signer_jobs(ctx, index, &c.signatures, at, &mut jobs, |_| msg.clone());
                (
                    PreparedKind::Config {
                        config: Box::new(c.config),
                        admins: Vec::new(),
                    },
                    signers,
                )
            }
        }
        Transaction::Endorsed(e) => {
            let Ok(payload) = ProposalResponsePayload::decode(&e.response_payload) else {
                return fail(ValidationCode::BadResponsePayload, txid, ts);
            };
            let signers = signer_jobs(ctx, index, &e.endorsements, at, &mut jobs, |end| {
                Endorsement::signed_bytes(&e.response_payload, &end.endorser)
            });
            (
                PreparedKind::Endorsed {
                    tx: Box::new(e),
                    payload: Box::new(payload),
                    endorsers: Vec::new(),
                },
                signers,
            )
        }
    };
    Decoded {
        prepared: Prepared {
            early_code: None,
            txid,
            timestamp: ts,
            kind,
        },
        jobs,
        signers,
    }
}

/// Identifies each signer and queues its signature; a signer whose
/// certificate is refused simply does not count (recorded as `None`).
fn signer_jobs(
    ctx: &ChannelContext,
    index: usize,
    sigs: &[Endorsement],
    at: i64,
    jobs: &mut Vec<SigJob>,
    msg: impl Fn(&Endorsement) -> Vec<u8>,
) -> Vec<Option<Identity>> {
    sigs.iter()
        .enumerate()
        .map(|(s, end)| match ctx.identify(&end.endorser, at) {
            Ok(id) => {
                jobs.push(SigJob {
                    tx: index,
                    signer: Some(s),
                    key: id.public_key().clone(),
                    msg: msg(end),
                    sig: end.signature.clone(),
                });
                Some(id)
            }
            Err(e) => {
                debug!(tx = index, signer = s, error = %e, "signer certificate refused");
                None
            }
        })
        .collect()
}
