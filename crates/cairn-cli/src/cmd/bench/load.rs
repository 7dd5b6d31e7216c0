//! The load: N client tasks submit `put(unique key, value)` (100 bytes
//! unless `--value-bytes` names another size)
//! through their own org's gateway, and one watcher per peer follows that
//! peer's transaction events. A transaction counts as committed when every
//! peer has reported it `VALID`; its commit time is the arrival of the last
//! peer's event.
//!
//! Clients pipeline: a client does not wait for commits, only for the
//! orderer's answer to its broadcast; at most `window` of its transactions
//! are between proposal and that answer at any time.
//!
//! Every observation goes, stamped, through one channel to one collector
//! task, which therefore needs no locks. A client announces a transaction
//! before sending its proposal, so the collector always knows a
//! transaction before any event about it arrives.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_ledger::ids::TxId;
use cairn_ledger::validation::ValidationCode;
use cairn_peer::{GatewayClient, invocation};
use rand::RngCore;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::deploy::contract_name;

/// Bytes of every value written unless the bench names another size (the
/// contract's own default: without a size argument it checks for exactly this).
pub const VALUE_BYTES: usize = 100;
/// The largest value the contract accepts (64 KiB).
pub const MAX_VALUE_BYTES: usize = 65536;
/// A client gives up after this many failures in a row.
const MAX_CONSECUTIVE_FAILURES: u32 = 10;

/// When the measured phase ends.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many measured transactions have been submitted.
    Txs(u64),
    /// After this long.
    Duration(Duration),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// One gateway client per client task.
    pub clients: Vec<Arc<GatewayClient>>,
    /// One event source per peer: (peer name, a client whose gateway is that peer).
    pub watchers: Vec<(String, GatewayClient)>,
    /// The block to start following events from (the height before the load).
    pub from_block: u64,
    /// Transactions per client between proposal and broadcast answer.
    pub window: usize,
    /// Submitted but not counted, before the measured phase.
    pub warmup: Duration,
    /// The measured phase.
    pub stop: Stop,
    /// How long to wait for outstanding commits once clients stop.
    pub drain: Duration,
    /// Write into the private data collection (`putPrivate`, the value as
    /// transient data) instead of public state.
    pub private: bool,
    /// Bytes of every value.
    pub value_bytes: usize,
}

/// Counters the progress display reads while the load runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Measured transactions committed on every peer.
    pub committed: AtomicU64,
    /// Transactions (any phase) invalid on some peer.
    pub invalid: AtomicU64,
    /// Transactions that failed before ordering.
    pub failed: AtomicU64,
    /// Set when the measured phase has begun.
    pub measuring: AtomicBool,
    /// Set to stop issuing new transactions (Ctrl-C).
    pub stop: AtomicBool,
    /// The thread the event watchers run on (0 until it started), so the
    /// report can tell their CPU from the clients'.
    pub watch_tid: std::sync::atomic::AtomicI32,
    /// That thread's CPU ticks when the watchers stopped.
    pub watch_ticks_end: AtomicU64,
}

/// One transaction's life, as the collector saw it.
#[derive(Clone, Debug)]
pub struct TxRecord {
    /// Submitted during the measured phase.
    pub measured: bool,
    /// The client started it (built and sent its proposal).
    pub start: Instant,
    /// The gateway answered with agreeing endorsements.
    pub endorsed: Option<Instant>,
    /// The orderer answered the broadcast.
    pub ordered: Option<Instant>,
    /// The last peer's event arrived (all peers reported it).
    pub committed: Option<Instant>,
    /// Its validation code: the first non-`VALID` one any peer reported.
    pub code: ValidationCode,
    /// Where it failed before ordering, and why.
    pub failure: Option<(&'static str, String)>,
    /// The block holding it, as the first peer reported it.
    pub block: Option<u64>,
    /// Peers reported different validation codes for it (a consistency bug).
    pub disagree: bool,
    first_code: Option<ValidationCode>,
    seen: u64,
}

/// Everything the load observed.
#[derive(Debug)]
pub struct Outcome {
    /// Every transaction the clients started.
    pub txs: Vec<TxRecord>,
    /// When the measured phase began.
    pub measure_start: Instant,
    /// Problems of the event streams (reconnections), by peer.
    pub watch_errors: BTreeMap<String, String>,
}

enum Msg {
    Started {
        txid: TxId,
        at: Instant,
        measured: bool,
    },
    Endorsed {
        txid: TxId,
        at: Instant,
    },
    Ordered {
        txid: TxId,
        at: Instant,
    },
    Failed {
        txid: TxId,
        stage: &'static str,
        error: String,
    },
    Event {
        peer: usize,
        txid: TxId,
        block: u64,
        code: ValidationCode,
        at: Instant,
    },
    WatchError {
        peer: usize,
        error: String,
    },
    ClientDone,
}

/// Decides, per new transaction, whether to send it and whether it is measured.
struct Issuer {
    warmup_end: Instant,
    stop: Stop,
    issued: AtomicU64,
    progress: Arc<Progress>,
}

impl Issuer {
    fn next(&self) -> Option<bool> {
        if self.progress.stop.load(Ordering::Relaxed) {
            return None;
        }
        let now = Instant::now();
        if now < self.warmup_end {
            return Some(false);
        }
        match self.stop {
            Stop::Txs(n) => (self.issued.fetch_add(1, Ordering::Relaxed) < n).then_some(true),
            Stop::Duration(d) => (now < self.warmup_end + d).then_some(true),
        }
    }
}

/// Runs the load to the end and answers what it observed. `on_measure`
/// runs once, when the measured phase begins (to snapshot CPU counters).
pub async fn run(
    plan: Plan,
    progress: Arc<Progress>,
    on_measure: impl Future<Output = ()> + Send + 'static,
) -> Outcome {
    let start = Instant::now();
    let measure_start = start + plan.warmup;
    let (tx, rx) = mpsc::unbounded_channel();
    let issuer = Arc::new(Issuer {
        warmup_end: measure_start,
        stop: plan.stop,
        issued: AtomicU64::new(0),
        progress: progress.clone(),
    });
    let peer_names: Vec<String> = plan.watchers.iter().map(|(n, _)| n.clone()).collect();
    let (stop_watching, watching) = tokio::sync::oneshot::channel::<()>();
    let watcher_thread = {
        let (watchers, from, tx, progress) =
            (plan.watchers, plan.from_block, tx.clone(), progress.clone());
        std::thread::Builder::new()
            .name("bench-watch".into())
            .spawn(move || watch_all(watchers, from, tx, progress, watching))
    };
    let marker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_start.into()).await;
            on_measure.await;
            progress.measuring.store(true, Ordering::Relaxed);
        })
    };
    let run_id = hex::encode(random_bytes(4));
    let clients = plan.clients.len();
    for (i, gw) in plan.clients.into_iter().enumerate() {
        let c = Client {
            id: i,
            run_id: run_id.clone(),
            gw,
            tx: tx.clone(),
            issuer: issuer.clone(),
            window: plan.window.max(1),
            private: plan.private,
            value_bytes: plan.value_bytes,
        };
        tokio::spawn(c.run());
    }
    drop(tx);
    let outcome = collect(
        rx,
        peer_names,
        clients,
        plan.drain,
        &progress,
        measure_start,
    )
    .await;
    // A load shorter than its warm-up still gets its measurement mark.
    let _ = marker.await;
    let _ = stop_watching.send(());
    if let Ok(t) = watcher_thread {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    outcome
}

/// Runs one watcher per peer on this thread (a runtime of its own), until
/// `stop` fires or is dropped: the watchers' CPU is then this thread's.
fn watch_all(
    watchers: Vec<(String, GatewayClient)>,
    from: u64,
    tx: mpsc::UnboundedSender<Msg>,
    progress: Arc<Progress>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    if let Some(tid) = super::cpu::current_tid() {
        progress.watch_tid.store(tid, Ordering::Relaxed);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            for peer in 0..watchers.len() {
                let _ = tx.send(Msg::WatchError {
                    peer,
                    error: format!("cannot start the watchers' runtime: {e}"),
                });
            }
            return;
        }
    };
    rt.block_on(async move {
        let mut set = JoinSet::new();
        for (i, (_, gw)) in watchers.into_iter().enumerate() {
            set.spawn(watch(i, gw, from, tx.clone()));
        }
        drop(tx);
        let _ = stop.await;
        set.abort_all();
    });
    if let Some(ticks) = super::cpu::current_tid().and_then(super::cpu::thread_ticks) {
        progress.watch_ticks_end.store(ticks, Ordering::Relaxed);
    }
}

/// The collector: folds every message into the transactions' records.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    peers: Vec<String>,
    mut clients: usize,
    drain: Duration,
    progress: &Progress,
    measure_start: Instant,
) -> Outcome {
    let all_seen: u64 = if peers.len() >= 64 {
        u64::MAX
    } else {
        (1u64 << peers.len()) - 1
    };
    let mut txs: HashMap<TxId, TxRecord> = HashMap::new();
    let mut open = 0usize;
    let mut watch_errors = BTreeMap::new();
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    loop {
        if clients == 0 && open == 0 {
            break;
        }
        let msg = match drain_deadline {
            Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                Ok(m) => m,
                Err(_) => break,
            },
            None => rx.recv().await,
        };
        let Some(msg) = msg else { break };
        match msg {
            Msg::Started { txid, at, measured } => {
                open += 1;
                txs.insert(
                    txid,
                    TxRecord {
                        measured,
                        start: at,
                        endorsed: None,
                        ordered: None,
                        committed: None,
                        code: ValidationCode::Valid,
                        failure: None,
                        block: None,
                        disagree: false,
                        first_code: None,
                        seen: 0,
                    },
                );
            }
            Msg::Endorsed { txid, at } => {
                if let Some(r) = txs.get_mut(&txid) {
                    r.endorsed = Some(at);
                }
            }
            Msg::Ordered { txid, at } => {
                if let Some(r) = txs.get_mut(&txid) {
                    r.ordered = Some(at);
                }
            }
            Msg::Failed { txid, stage, error } => {
                if let Some(r) = txs.get_mut(&txid)
                    && r.failure.is_none()
                    && r.committed.is_none()
                {
                    r.failure = Some((stage, error));
                    open -= 1;
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Msg::Event {
                peer,
                txid,
                block,
                code,
                at,
            } => {
                let Some(r) = txs.get_mut(&txid) else {
                    continue;
                };
                let bit = 1u64 << peer.min(63);
                if r.seen & bit != 0 || r.committed.is_some() {
                    continue;
                }
                r.seen |= bit;
                r.block.get_or_insert(block);
                r.disagree |= *r.first_code.get_or_insert(code) != code;
                if code != ValidationCode::Valid && r.code == ValidationCode::Valid {
                    r.code = code;
                }
                if r.seen == all_seen {
                    r.committed = Some(at);
                    // A broadcast that failed on the client side but was
                    // ordered anyway still committed.
                    if r.failure.take().is_some() {
                        progress.failed.fetch_sub(1, Ordering::Relaxed);
                    } else {
                        open -= 1;
                    }
                    if r.code != ValidationCode::Valid {
                        progress.invalid.fetch_add(1, Ordering::Relaxed);
                    } else if r.measured {
                        progress.committed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Msg::WatchError { peer, error } => {
                let name = peers.get(peer).cloned().unwrap_or_default();
                watch_errors.insert(name, error);
            }
            Msg::ClientDone => {
                clients -= 1;
                if clients == 0 {
                    drain_deadline = Some(tokio::time::Instant::now() + drain);
                }
            }
        }
    }
    Outcome {
        txs: txs.into_values().collect(),
        measure_start,
        watch_errors,
    }
}

/// Follows one peer's transaction events from `from` on, reconnecting
/// (from the last block it saw: the collector ignores repeats) if the
/// stream breaks.
async fn watch(peer: usize, gw: GatewayClient, from: u64, tx: mpsc::UnboundedSender<Msg>) {
    let mut next = from;
    loop {
        match gw.tx_events(next).await {
            Ok(mut stream) => {
                while let Some(item) = stream.next().await {
                    let at = Instant::now();
                    match item {
                        Ok(frame) => {
                            next = frame.block;
                            for ev in frame.statuses {
                                let Some(txid) = ev.txid else { continue };
                                let msg = Msg::Event {
                                    peer,
                                    txid,
                                    block: ev.block,
                                    code: ev.code,
                                    at,
                                };
                                if tx.send(msg).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::WatchError {
                                peer,
                                error: e.to_string(),
                            });
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                let _ = tx.send(Msg::WatchError {
                    peer,
                    error: e.to_string(),
                });
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One client: an identity of one org, calling that org's gateway.
struct Client {
    id: usize,
    run_id: String,
    gw: Arc<GatewayClient>,
    tx: mpsc::UnboundedSender<Msg>,
    issuer: Arc<Issuer>,
    window: usize,
    private: bool,
    value_bytes: usize,
}

impl Client {
    async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.window));
        let failures = Arc::new(AtomicU64::new(0));
        let mut inflight = JoinSet::new();
        let mut seq = 0u64;
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            if failures.load(Ordering::Relaxed) >= u64::from(MAX_CONSECUTIVE_FAILURES) {
                break;
            }
            let Some(measured) = self.issuer.next() else {
                break;
            };
            seq += 1;
            let key = format!("{}-{:04}-{seq:09}", self.run_id, self.id);
            let value = random_value(self.value_bytes);
            // The default size goes without a size argument, so a default
            // run sends the very transactions earlier figures were made with.
            let size = (self.value_bytes != VALUE_BYTES).then(|| self.value_bytes.to_string());
            let proposal = if self.private {
                let args: Vec<&str> = [key.as_str()].into_iter().chain(size.as_deref()).collect();
                self.gw.proposal(
                    invocation(contract_name(true), "putPrivate", &args),
                    BTreeMap::from([("value".to_string(), value.into_bytes())]),
                )
            } else {
                let args: Vec<&str> = [key.as_str(), value.as_str()]
                    .into_iter()
                    .chain(size.as_deref())
                    .collect();
                self.gw.proposal(
                    invocation(contract_name(false), "put", &args),
                    BTreeMap::new(),
                )
            };
            let txid = proposal.header.txid;
            let started = Msg::Started {
                txid,
                at: Instant::now(),
                measured,
            };
            if self.tx.send(started).is_err() {
                break;
            }
            let (gw, tx, failures) = (self.gw.clone(), self.tx.clone(), failures.clone());
            inflight.spawn(async move {
                let _slot = slot;
                let failed = |stage, error: String| Msg::Failed { txid, stage, error };
                let msg = match gw.endorse(&proposal, &[]).await {
                    Err(e) => failed("endorse", e.to_string()),
                    Ok(endorsed) => {
                        let _ = tx.send(Msg::Endorsed {
                            txid,
                            at: Instant::now(),
                        });
                        match gw.assemble(&endorsed) {
                            Err(e) => failed("assemble", e.to_string()),
                            Ok(envelope) => match gw.submit_envelope(&envelope).await {
                                Err(e) => failed("submit", e.to_string()),
                                Ok(r) if r.txid != txid => {
                                    failed("submit", format!("the orderer answered for {}", r.txid))
                                }
                                Ok(_) => Msg::Ordered {
                                    txid,
                                    at: Instant::now(),
                                },
                            },
                        }
                    }
                };
                if matches!(msg, Msg::Failed { .. }) {
                    failures.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.store(0, Ordering::Relaxed);
                }
                let _ = tx.send(msg);
            });
            while inflight.try_join_next().is_some() {}
        }
        while inflight.join_next().await.is_some() {}
        let _ = self.tx.send(Msg::ClientDone);
    }
}

/// `n` random hex digits (printable, so it passes as a string argument).
fn random_value(n: usize) -> String {
    let mut v = hex::encode(random_bytes(n.div_ceil(2)));
    v.truncate(n);
    v
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(warmup: Duration, stop: Stop) -> Issuer {
        Issuer {
            warmup_end: Instant::now() + warmup,
            stop,
            issued: AtomicU64::new(0),
            progress: Arc::new(Progress::default()),
        }
    }

    #[test]
    fn a_count_stop_issues_exactly_that_many_measured_txs() {
        let i = issuer(Duration::ZERO, Stop::Txs(3));
        let got: Vec<_> = (0..5).map(|_| i.next()).collect();
        assert_eq!(got, [Some(true), Some(true), Some(true), None, None]);
    }

    #[test]
    fn warmup_txs_are_not_measured_and_ctrl_c_stops() {
        let i = issuer(Duration::from_secs(60), Stop::Txs(1));
        assert_eq!(i.next(), Some(false));
        i.progress.stop.store(true, Ordering::Relaxed);
        assert_eq!(i.next(), None);
    }

    #[test]
    fn a_duration_stop_ends_after_the_window() {
        let i = issuer(Duration::ZERO, Stop::Duration(Duration::ZERO));
        assert_eq!(i.next(), None);
        let i = issuer(Duration::ZERO, Stop::Duration(Duration::from_secs(60)));
        assert_eq!(i.next(), Some(true));
    }

    fn started(txid: TxId) -> Msg {
        Msg::Started {
            txid,
            at: Instant::now(),
            measured: true,
        }
    }

    fn event(peer: usize, txid: TxId, code: ValidationCode) -> Msg {
        Msg::Event {
            peer,
            txid,
            block: 7,
            code,
            at: Instant::now(),
        }
    }

    /// Feeds `msgs` to a collector of three peers and one client.
    fn collected(msgs: Vec<Msg>) -> (Vec<TxRecord>, Arc<Progress>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for m in msgs {
            tx.send(m).unwrap();
        }
        tx.send(Msg::ClientDone).unwrap();
        let progress = Arc::new(Progress::default());
        let peers = vec!["p0".into(), "p1".into(), "p2".into()];
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let drain = Duration::from_millis(200);
        let out = rt.block_on(collect(rx, peers, 1, drain, &progress, Instant::now()));
        (out.txs, progress)
    }

    #[test]
    fn a_tx_commits_only_when_every_peer_reported_it() {
        let (a, b) = (TxId::compute(b"a", b"x"), TxId::compute(b"b", b"x"));
        let msgs = vec![
            started(a),
            started(b),
            event(0, a, ValidationCode::Valid),
            event(0, a, ValidationCode::Valid), // a repeat after a reconnection
            event(1, a, ValidationCode::Valid),
            event(2, a, ValidationCode::Valid),
            event(0, b, ValidationCode::Valid),
            event(1, b, ValidationCode::Valid),
        ];
        let (txs, progress) = collected(msgs);
        assert_eq!(txs.len(), 2);
        assert_eq!(progress.committed.load(Ordering::Relaxed), 1);
        let committed = txs.iter().filter(|t| t.committed.is_some()).count();
        assert_eq!(committed, 1, "b was seen by 2 of 3 peers only");
    }

    #[test]
    fn invalid_codes_failures_and_disagreements_are_recorded() {
        let (a, b, c) = (
            TxId::compute(b"a", b"x"),
            TxId::compute(b"b", b"x"),
            TxId::compute(b"c", b"x"),
        );
        let msgs = vec![
            started(a),
            started(b),
            started(c),
            event(0, a, ValidationCode::MvccReadConflict),
            event(1, a, ValidationCode::MvccReadConflict),
            event(2, a, ValidationCode::MvccReadConflict),
            Msg::Failed {
                txid: b,
                stage: "endorse",
                error: "refused".into(),
            },
            event(0, c, ValidationCode::Valid),
            event(1, c, ValidationCode::Valid),
            event(2, c, ValidationCode::MvccReadConflict),
        ];
        let (txs, progress) = collected(msgs);
        assert_eq!(progress.committed.load(Ordering::Relaxed), 0);
        assert_eq!(progress.invalid.load(Ordering::Relaxed), 2);
        assert_eq!(progress.failed.load(Ordering::Relaxed), 1);
        assert_eq!(txs.iter().filter(|t| t.disagree).count(), 1);
        assert!(
            txs.iter()
                .any(|t| matches!(&t.failure, Some(("endorse", e)) if e == "refused"))
        );
        assert!(
            txs.iter()
                .filter(|t| t.committed.is_some())
                .all(|t| t.code == ValidationCode::MvccReadConflict)
        );
    }

    #[test]
    fn values_have_the_promised_size() {
        for n in [1, VALUE_BYTES, 1023, MAX_VALUE_BYTES] {
            let v = random_value(n);
            assert_eq!(v.len(), n);
            assert!(v.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
