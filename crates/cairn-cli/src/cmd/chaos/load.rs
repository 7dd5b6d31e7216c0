//! The chaos load: client tasks submit `benchkv.put(unique key, 100 bytes)`
//! and wait for the commit, each through its own org's peer, moving to the
//! next peer when a call fails or hangs. Every transaction a gateway
//! reported committed is recorded, to be looked for on every peer at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_ledger::ids::TxId;
use cairn_peer::GatewayClient;

/// A call that takes longer than this is abandoned (a paused node).
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// A transaction a gateway reported committed.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Its id.
    pub txid: TxId,
    /// When the client started it.
    pub started: Instant,
    /// When the gateway reported it committed.
    pub reported: Instant,
}

/// What the clients share.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set to make the clients stop after their current call.
    pub stop: AtomicBool,
    /// Every transaction reported committed.
    pub committed: Mutex<Vec<Committed>>,
    /// Calls that failed or timed out (each retried with a new transaction).
    pub failed: AtomicU64,
}

impl Shared {
    /// Transactions reported committed so far.
    pub fn committed_count(&self) -> usize {
        self.committed.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// One client: `gateways` are every peer's gateway, its own first.
pub async fn client(id: usize, run: String, gateways: Vec<GatewayClient>, shared: Arc<Shared>) {
    let value = "v".repeat(crate::cmd::bench::VALUE_BYTES);
    let mut via = 0usize;
    let mut i = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let key = format!("chaos-{run}-{id}-{i}");
        i += 1;
        let gw = &gateways[via % gateways.len()];
        let started = Instant::now();
        let args = [key.as_str(), value.as_str()];
        let call = gw.submit(crate::cmd::bench::deploy::CONTRACT, "put", &args);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(done)) => {
                if let Ok(mut c) = shared.committed.lock() {
                    c.push(Committed {
                        txid: done.txid,
                        started,
                        reported: Instant::now(),
                    });
                }
            }
            Ok(Err(_)) | Err(_) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                via += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
