//! `cairn bench --preload N`: writes N keys into the contract's public state
//! before the measured load, through the ledger like any transaction
//! (`putBatch` of the bench contract, [`BATCH_KEYS`] keys per transaction), so the bench
//! measures a peer whose state already holds them.
//!
//! Batches go through every org's gateway in turn, [`IN_FLIGHT`] at a time,
//! each waiting for its commit; a batch that fails is retried once (a batch
//! writes fixed keys and values, so one that committed after all is merely
//! written twice), then the preload fails: a sweep point on a half-filled
//! state would be wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_peer::{GatewayClient, invocation};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

/// Keys per `putBatch` transaction: ~150 KB of writes with 100-byte values.
pub const BATCH_KEYS: u64 = 1000;
/// Batches between endorsement and commit at any time.
const IN_FLIGHT: usize = 4;

/// What the preload did.
#[derive(Clone, Copy, Debug)]
pub struct Preloaded {
    /// Keys written.
    pub keys: u64,
    /// How long it took.
    pub took: Duration,
}

/// Writes `keys` keys of `value_bytes` bytes under the seed `seed` into
/// `contract`, through `gateways` in turn, showing progress on stderr.
pub async fn run(
    gateways: Vec<Arc<GatewayClient>>,
    contract: &'static str,
    keys: u64,
    value_bytes: usize,
    seed: &str,
) -> anyhow::Result<Preloaded> {
    if gateways.is_empty() {
        bail!("the preload needs at least one gateway");
    }
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(Some(keys), indicatif::ProgressDrawTarget::stderr())
        .with_style(
        ProgressStyle::with_template(
            "{spinner} preloading {wide_bar} {human_pos}/{human_len} keys ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for w in 0..IN_FLIGHT {
        let gw = gateways[w % gateways.len()].clone();
        let (next, bar, seed) = (next.clone(), bar.clone(), seed.to_string());
        workers.spawn(async move {
            loop {
                let first = next.fetch_add(BATCH_KEYS, Ordering::Relaxed);
                if first >= keys {
                    return Ok::<(), anyhow::Error>(());
                }
                let n = BATCH_KEYS.min(keys - first);
                let args = [
                    seed.clone(),
                    first.to_string(),
                    n.to_string(),
                    value_bytes.to_string(),
                ];
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut tries = 0;
                loop {
                    tries += 1;
                    match gw
                        .submit_invocation(
                            invocation(contract, "putBatch", &args),
                            Default::default(),
                            &[],
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if tries < 2 => {
                            bar.println(format!(
                                "warning: preload batch at {first} failed ({e}); retrying"
                            ));
                        }
                        Err(e) => {
                            return Err(anyhow::Error::new(e)).with_context(|| {
                                format!("the preload batch of keys {first}.. failed twice")
                            });
                        }
                    }
                }
                bar.inc(n);
            }
        });
    }
    let mut result = Ok(());
    while let Some(done) = workers.join_next().await {
        let outcome = done.context("a preload task panicked").and_then(|r| r);
        if outcome.is_err() && result.is_ok() {
            // Stop handing out batches; the others finish theirs.
            next.store(keys, Ordering::Relaxed);
            result = outcome;
        }
    }
    bar.finish_and_clear();
    result?;
    Ok(Preloaded {
        keys,
        took: started.elapsed(),
    })
}
