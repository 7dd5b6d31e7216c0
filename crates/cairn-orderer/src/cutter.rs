//! Block cutting: which envelopes go into the next block and when it is cut.
//! [`BlockCutter`] is the pure rule (no clock, no I/O: the caller passes the
//! time); [`run`] is the leader's loop that seals each cut batch on the
//! ledger, proposes it through Raft and answers the submitters once the block
//! is committed.
//!
//! Rules (Fabric's block cutter): a block is cut when it holds
//! `max_tx_count` envelopes, before an envelope would make it exceed
//! `max_bytes`, or `timeout` after its first envelope arrived; a config
//! transaction is always alone in its block. The leader loop cuts sooner
//! when waiting cannot help (see [`run`]): one block is in flight at a
//! time, so a batch is what arrived while the previous block was ordered.
//!
//! Cost per block, not per envelope: one seal (validation and one header
//! signature), one Raft entry (one log write and sync per node, one append
//! RPC per follower), one ledger commit per node.

use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::config::BatchConfig;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::validation::ValidationCode;
use openraft::ServerState;
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::admission::{config_refusal, config_tx};
use crate::api::BroadcastResponse;
use crate::error::BroadcastError;
use crate::node::Shared;
use crate::types::Applied;

/// Envelopes waiting for the next block, and when to cut it.
#[derive(Debug)]
pub struct BlockCutter<T> {
    limits: BatchConfig,
    pending: Vec<T>,
    bytes: u64,
    first_at: Option<Instant>,
}

impl<T> BlockCutter<T> {
    /// An empty cutter with these limits.
    pub fn new(limits: BatchConfig) -> BlockCutter<T> {
        BlockCutter {
            limits,
            pending: Vec::new(),
            bytes: 0,
            first_at: None,
        }
    }

    /// Replaces the limits (after a config block); pending envelopes stay.
    pub fn set_limits(&mut self, limits: BatchConfig) {
        self.limits = limits;
    }

    /// Adds an envelope of `size` bytes that arrived at `now`; returns the
    /// batches to cut now, in order. `alone` envelopes (config transactions)
    /// get a block of their own.
    pub fn push(&mut self, item: T, size: u64, alone: bool, now: Instant) -> Vec<Vec<T>> {
        let mut cut = Vec::new();
        let overflows = self.bytes + size > self.limits.max_bytes;
        if (alone || overflows) && !self.pending.is_empty() {
            cut.extend(self.cut());
        }
        if alone {
            cut.push(vec![item]);
            return cut;
        }
        self.pending.push(item);
        self.bytes += size;
        self.first_at.get_or_insert(now);
        if self.pending.len() >= self.limits.max_tx_count.max(1) as usize
            || self.bytes >= self.limits.max_bytes
        {
            cut.extend(self.cut());
        }
        cut
    }

    /// When the pending batch must be cut, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.first_at
            .map(|t| t + Duration::from_millis(self.limits.timeout_ms))
    }

    /// Cuts whatever is pending.
    pub fn cut(&mut self) -> Option<Vec<T>> {
        self.bytes = 0;
        self.first_at = None;
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }

    /// Number of pending envelopes.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// An admitted envelope waiting for its block.
pub(crate) struct Pending {
    pub bytes: Vec<u8>,
    pub txid: TxId,
    pub alone: bool,
    /// Its submitter sent it before and got no answer (a stream that broke,
    /// a leader that failed): it may be in a block already.
    pub resent: bool,
    pub reply: Reply,
}

/// Where the outcome of ordering one envelope goes.
pub(crate) type Reply = oneshot::Sender<Result<BroadcastResponse, Unordered>>;

/// The transactions this leader is ordering, with the submitters of the
/// same transaction that arrived meanwhile: an envelope sent again (over a
/// new stream, or to this leader after a failover) waits for the first
/// copy's outcome instead of entering a block twice. Every [`Pending`] is
/// answered through [`InFlight::settle`], which answers them too.
#[derive(Default)]
pub(crate) struct InFlight(std::sync::Mutex<std::collections::HashMap<TxId, Vec<Reply>>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<TxId, Vec<Reply>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `txid` as being ordered, or, if it already is, returns
    /// where its outcome will arrive.
    pub(crate) fn join(
        &self,
        txid: TxId,
    ) -> Option<oneshot::Receiver<Result<BroadcastResponse, Unordered>>> {
        let mut map = self.lock();
        match map.get_mut(&txid) {
            Some(waiters) => {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                Some(rx)
            }
            None => {
                map.insert(txid, Vec::new());
                None
            }
        }
    }

    /// Forgets `txid` (its envelope never reached the cutter); a submitter
    /// that joined it tries again with its own copy.
    fn abandon(&self, txid: &TxId) {
        for w in self.lock().remove(txid).unwrap_or_default() {
            let _ = w.send(Err(Unordered::NotLeader));
        }
    }

    /// Answers `p` and every submitter that joined it. Those get the
    /// outcome only if `p` was ordered: a copy refused for itself (a bad
    /// signature, say a forgery that arrived first) says nothing of theirs,
    /// so they try again with their own copy.
    pub(crate) fn settle(&self, p: Pending, result: Result<BroadcastResponse, Unordered>) {
        for w in self.lock().remove(&p.txid).unwrap_or_default() {
            let copy = match &result {
                Ok(r) => Ok(r.clone()),
                Err(_) => Err(Unordered::NotLeader),
            };
            let _ = w.send(copy);
        }
        let _ = p.reply.send(result);
    }
}

/// A transaction registered in [`InFlight`] by a submitter that has not
/// handed its envelope to the cutter yet: dropped before that (the request
/// went away, the queue was closed), it forgets the registration, so no
/// later copy waits for an envelope that will never be ordered.
pub(crate) struct Registered<'a> {
    inflight: &'a InFlight,
    txid: TxId,
    armed: bool,
}

impl<'a> Registered<'a> {
    /// Guards `txid`, just registered in `inflight`.
    pub(crate) fn new(inflight: &'a InFlight, txid: TxId) -> Registered<'a> {
        Registered {
            inflight,
            txid,
            armed: true,
        }
    }

    /// The cutter has the envelope: it settles the registration.
    pub(crate) fn handed_over(mut self) {
        self.armed = false;
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inflight.abandon(&self.txid);
        }
    }
}

/// Why the leader loop did not order an envelope.
#[derive(Debug)]
pub(crate) enum Unordered {
    /// This node is not (or no longer) the leader: submit to the leader.
    NotLeader,
    /// Ordering failed for a reason that may pass: retry.
    Failed(BroadcastError),
}

/// How long the leader keeps collecting envelopes that arrive in quick
/// succession before it cuts: the submitters answered by the previous
/// block send their next envelopes a moment after it.
const LINGER_GAP: Duration = Duration::from_millis(2);

/// The longest it keeps collecting (never longer than the batch timeout).
const LINGER_MAX: Duration = Duration::from_millis(10);

/// The leader loop; runs on every orderer, and orders only while leader.
///
/// Blocks are ordered one at a time (the next is sealed on the ledger the
/// previous one produced), so while one is replicated and applied the
/// envelopes that arrive queue up; when it is done they are cut together
/// (group commit), after collecting for as long as more keep arriving in
/// quick succession ([`LINGER_GAP`], at most [`LINGER_MAX`]): the
/// submitters the previous block answered send their next envelopes just
/// then. Batches thus grow with the load, up to the channel's limits, and
/// an idle cluster orders a lone envelope within a couple of milliseconds
/// rather than after the batch timeout, which could only add latency since
/// nothing else uses Raft meanwhile. The timeout therefore always holds.
pub(crate) async fn run(node: Arc<Shared>, mut rx: mpsc::Receiver<Pending>) {
    let mut cutter = BlockCutter::new(node.ledger.context().config().batch.clone());
    loop {
        let mut ready = Vec::new();
        if cutter.is_empty() {
            match rx.recv().await {
                Some(p) => ready.extend(push(&mut cutter, p)),
                None => return,
            }
        }
        let linger = LINGER_MAX.min(Duration::from_millis(cutter.limits.timeout_ms));
        let until = Instant::now() + linger;
        while ready.is_empty() {
            let wait = until
                .saturating_duration_since(Instant::now())
                .min(LINGER_GAP);
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(p)) => ready.extend(push(&mut cutter, p)),
                Ok(None) => return,
                Err(_) => break,
            }
        }
        if ready.is_empty() {
            ready.extend(cutter.cut());
        }
        for batch in ready {
            order(&node, batch).await;
            cutter.set_limits(node.ledger.context().config().batch.clone());
        }
    }
}

fn push(cutter: &mut BlockCutter<Pending>, p: Pending) -> Vec<Vec<Pending>> {
    let size = p.bytes.len() as u64;
    let alone = p.alone;
    cutter.push(p, size, alone, Instant::now())
}

/// Seals `batch` as the next block, proposes it, and answers its submitters.
async fn order(node: &Shared, mut batch: Vec<Pending>) {
    let answer =
        |batch: Vec<Pending>, f: &dyn Fn(usize, TxId) -> Result<BroadcastResponse, Unordered>| {
            for (i, p) in batch.into_iter().enumerate() {
                let r = f(i, p.txid);
                node.inflight.settle(p, r);
            }
        };
    if let Err(e) = ready_to_seal(node).await {
        answer(batch, &|_, _| Err(e.clone_reason()));
        return;
    }
    // An envelope sent again may be in a block already (its first copy
    // ordered before a stream broke or a leader failed): its submitter gets
    // that block's answer, and no block holds it twice. Looked up only now,
    // with every committed block applied to this ledger.
    if batch.iter().any(|p| p.resent) {
        let mut kept = Vec::with_capacity(batch.len());
        for p in batch {
            let found = if p.resent {
                node.ledger.tx(&p.txid).ok().flatten()
            } else {
                None
            };
            match found {
                Some(loc) => {
                    cairn_counters::inc(cairn_counters::Counter::ResentFound);
                    let r = BroadcastResponse {
                        txid: p.txid,
                        block: loc.block,
                        code: loc.code,
                    };
                    node.inflight.settle(p, Ok(r));
                }
                None => kept.push(p),
            }
        }
        batch = kept;
        if batch.is_empty() {
            return;
        }
    }
    let started = Instant::now();
    // Sealing validates the block, which verifies each creator's signature:
    // the one check of it on the ordering service (admission does not
    // repeat it). Envelopes that fail it are refused, not ordered, and the
    // rest sealed again, so a block from a correct leader holds none.
    let sealed = loop {
        let data: Vec<Vec<u8>> = batch.iter().map(|p| p.bytes.clone()).collect();
        let (ledger, signer) = (node.ledger.clone(), node.signer.clone());
        let sealed =
            tokio::task::spawn_blocking(move || ledger.seal(data, Timestamp::now(), &signer)).await;
        let Ok(Ok(block)) = &sealed else {
            break sealed;
        };
        let codes = &block.metadata.validation_codes;
        if !codes.contains(&ValidationCode::BadCreatorSignature) {
            break sealed;
        }
        let (bad, good): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .zip(codes.iter().copied())
            .partition(|(_, c)| *c == ValidationCode::BadCreatorSignature);
        warn!(
            refused = bad.len(),
            "envelopes whose signature does not verify with their creator's certificate refused"
        );
        for (p, _) in bad {
            let refusal = BroadcastError::Forbidden(
                "the envelope's signature does not verify with its creator's certificate".into(),
            );
            node.inflight.settle(p, Err(Unordered::Failed(refusal)));
        }
        batch = good.into_iter().map(|(p, _)| p).collect();
        if batch.is_empty() {
            return;
        }
    };
    let block = match sealed {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            warn!(reason = %e, "sealing a block failed");
            answer(batch, &|_, _| {
                Err(Unordered::Failed(BroadcastError::Unavailable(
                    "sealing the block failed".into(),
                )))
            });
            return;
        }
        Err(e) => {
            warn!(reason = %e, "sealing task failed");
            answer(batch, &|_, _| {
                Err(Unordered::Failed(BroadcastError::Unavailable(
                    "sealing the block failed".into(),
                )))
            });
            return;
        }
    };
    let number = block.header.number;
    let codes = block.metadata.validation_codes.clone();
    // An invalid configuration update is refused, not ordered (as Fabric's
    // orderer does): its submitter learns why, and no block records it.
    if let [only] = batch.as_slice()
        && only.alone
        && codes.first() != Some(&ValidationCode::Valid)
    {
        let code = codes.first().copied().unwrap_or(ValidationCode::BadPayload);
        let refusal = match config_tx(&only.bytes) {
            Some(tx) => config_refusal(&node.ledger.context(), &tx, code),
            None => BroadcastError::Malformed(format!("not a valid transaction ({code})")),
        };
        warn!(reason = %refusal, "configuration update refused");
        answer(batch, &|_, _| Err(Unordered::Failed(refusal.clone())));
        return;
    }
    let sealed_in = started.elapsed();
    debug!(
        block = number,
        txs = codes.len(),
        ?sealed_in,
        "proposing block"
    );
    let written = node.raft.client_write(block).await;
    debug!(
        block = number,
        ?sealed_in,
        ordered_in = ?started.elapsed() - sealed_in,
        "block ordered"
    );
    match written {
        Ok(resp) => match resp.data {
            Applied::Committed(n) => answer(batch, &|i, txid| {
                Ok(BroadcastResponse {
                    txid,
                    block: n,
                    code: codes[i],
                })
            }),
            other => {
                warn!(block = number, outcome = ?other, "proposed block was not committed");
                answer(batch, &|_, _| {
                    Err(Unordered::Failed(BroadcastError::Unavailable(
                        "leadership changed while the block was ordered".into(),
                    )))
                });
            }
        },
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
            answer(batch, &|_, _| Err(Unordered::NotLeader))
        }
        Err(e) => {
            warn!(block = number, reason = %e, "proposing the block failed");
            answer(batch, &|_, _| {
                Err(Unordered::Failed(BroadcastError::Unavailable(
                    "the block could not be replicated".into(),
                )))
            });
        }
    }
}

impl Unordered {
    fn clone_reason(&self) -> Unordered {
        match self {
            Unordered::NotLeader => Unordered::NotLeader,
            Unordered::Failed(e) => Unordered::Failed(e.clone()),
        }
    }
}

/// Waits until this node is the leader with every log entry applied to its
/// ledger, so the block it seals extends the ledger every node will have.
async fn ready_to_seal(node: &Shared) -> Result<(), Unordered> {
    let mut metrics = node.raft.metrics();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        {
            let m = metrics.borrow_and_update();
            if m.current_leader != Some(node.id) || m.state != ServerState::Leader {
                return Err(Unordered::NotLeader);
            }
            if m.last_applied.map(|l| l.index) == m.last_log_index {
                return Ok(());
            }
        }
        match tokio::time::timeout_at(deadline, metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return Err(Unordered::Failed(BroadcastError::Unavailable(
                    "the orderer is stopping".into(),
                )));
            }
            Err(_) => {
                return Err(Unordered::Failed(BroadcastError::Unavailable(
                    "the new leader is still applying the log".into(),
                )));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn limits(count: u32, bytes: u64) -> BatchConfig {
        BatchConfig {
            max_tx_count: count,
            max_bytes: bytes,
            timeout_ms: 200,
        }
    }

    #[test]
    fn cuts_at_max_count() {
        let now = Instant::now();
        let mut c = BlockCutter::new(limits(3, 1000));
        assert!(c.push(1, 10, false, now).is_empty());
        assert!(c.push(2, 10, false, now).is_empty());
        assert_eq!(c.push(3, 10, false, now), vec![vec![1, 2, 3]]);
        assert!(c.is_empty());
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn cuts_before_exceeding_max_bytes_and_alone_when_oversized() {
        let now = Instant::now();
        let mut c = BlockCutter::new(limits(100, 100));
        assert!(c.push(1, 60, false, now).is_empty());
        // 60 + 50 > 100: block [1] is cut, 2 starts the next.
        assert_eq!(c.push(2, 50, false, now), vec![vec![1]]);
        assert_eq!(c.len(), 1);
        // An envelope as big as the limit fills a block by itself.
        assert_eq!(c.push(3, 100, false, now), vec![vec![2], vec![3]]);
        assert!(c.is_empty());
    }

    #[test]
    fn config_transactions_get_a_block_of_their_own() {
        let now = Instant::now();
        let mut c = BlockCutter::new(limits(100, 1000));
        c.push(1, 10, false, now);
        assert_eq!(c.push(2, 10, true, now), vec![vec![1], vec![2]]);
        assert!(c.is_empty());
        assert_eq!(c.push(3, 10, true, now), vec![vec![3]]);
    }

    #[test]
    fn deadline_runs_from_the_first_pending_envelope() {
        let t0 = Instant::now();
        let mut c = BlockCutter::new(limits(100, 1000));
        c.push(1, 10, false, t0);
        c.push(2, 10, false, t0 + Duration::from_millis(150));
        assert_eq!(c.deadline(), Some(t0 + Duration::from_millis(200)));
        assert_eq!(c.cut(), Some(vec![1, 2]));
        assert_eq!(c.cut(), None);
        assert_eq!(c.deadline(), None);
    }
}
