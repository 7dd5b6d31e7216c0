//! `cairn blob`: immutable blob storage (docs/blobs.md). `serve` runs the
//! S3-compatible API over a store directory; `key issue` gives an org
//! identity an access key; `verify` re-hashes a stored version against its
//! record and prints its policy history; `policy`, `hold` and `append` are
//! Azure's container-level model on the same store (run while the server is
//! stopped: the store is one process's at a time).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_blob::worm::PolicyChange;
use cairn_blob::{KeyRing, Store, SystemClock};
use cairn_peer::{GatewayClient, invocation};

use super::client::ClientOpts;

/// `cairn blob` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BlobCmd {
    /// Serve a store over the S3 API (plain HTTP, loopback only); prints
    /// `listening on http://ADDR (store ID)` once it accepts requests.
    Serve {
        /// The store directory (created if missing).
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
        /// Where to listen (a loopback address; port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:9400")]
        listen: SocketAddr,
        /// The largest object accepted in one PUT, in bytes.
        #[arg(long, default_value_t = cairn_blob::s3::DEFAULT_MAX_BODY)]
        max_body: usize,
        #[command(flatten)]
        anchor: AnchorArgs,
    },
    /// Access keys for the S3 API.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Check a version's bytes against its recorded SHA-256 and print its
    /// retention, legal hold and policy history. Exit 0 intact, 1 not.
    Verify {
        /// `BUCKET/KEY` (the current version) or `BUCKET/KEY?versionId=ID`.
        target: String,
        /// The store directory.
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
        /// Also check the bytes against the hash anchored on this network's
        /// channel (the directory `cairn up` made) and print the ledger's record
        /// and policy history.
        #[arg(long)]
        network: Option<PathBuf>,
        /// The org whose client asks the ledger.
        #[arg(long, default_value = "Org1")]
        org: String,
        /// The anchoring contract.
        #[arg(long, default_value = ANCHOR_CONTRACT)]
        contract: String,
        /// With --network: write the receipt of the version's anchoring
        /// transaction here (check it offline with `cairn receipt verify`).
        #[arg(long)]
        receipt_out: Option<PathBuf>,
    },
    /// Change a bucket's Azure-style container retention policy.
    Policy {
        /// The bucket (container).
        bucket: String,
        /// set (create or update, unlocked), lock (one-way), extend (locked: at most 5 times), remove (unlocked only).
        #[arg(value_parser = ["set", "lock", "extend", "remove"])]
        action: String,
        /// The period in days (set, extend).
        #[arg(long)]
        days: Option<u32>,
        /// Allow protected append writes (set).
        #[arg(long)]
        allow_protected_append: bool,
        /// The store directory.
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
    },
    /// Set or clear a container legal-hold tag.
    Hold {
        /// The bucket (container).
        bucket: String,
        /// The tag (3 to 23 letters or digits).
        tag: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The store directory.
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
    },
    /// Append a file's bytes to an object (a new version extending the current one).
    Append {
        /// `BUCKET/KEY`.
        target: String,
        /// The bytes to append.
        file: PathBuf,
        /// The store directory.
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
    },
}

/// The contract `cairn blob` anchors with (contracts/blob-anchor).
pub const ANCHOR_CONTRACT: &str = "blob-anchor";

/// Where `cairn blob serve` anchors: a network made by `cairn up`.
#[derive(clap::Args, Debug)]
pub struct AnchorArgs {
    /// Anchor every version's SHA-256 and size and every policy change on
    /// this network's channel (the directory `cairn up` made), through the
    /// `blob-anchor` contract; without it they wait in the store's outbox.
    #[arg(long = "anchor")]
    network: Option<PathBuf>,
    /// The org whose client submits the anchors.
    #[arg(long = "anchor-org", default_value = "Org1")]
    org: String,
    /// The identity that submits them.
    #[arg(long = "anchor-user", default_value = "user1")]
    user: String,
    /// The anchoring contract.
    #[arg(long = "anchor-contract", default_value = ANCHOR_CONTRACT)]
    contract: String,
}

/// `cairn blob key` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeyCmd {
    /// Issue an access key to an org identity; prints it as JSON (the secret
    /// is shown once; the store directory keeps it in a 0600 file).
    Issue {
        /// The org's MSP id.
        #[arg(long)]
        org: String,
        /// The identity within the org.
        #[arg(long)]
        identity: String,
        /// Allow this key to bypass governance retention (with the bypass header).
        #[arg(long)]
        allow_bypass_governance: bool,
        /// The store directory.
        #[arg(long, default_value = "cairn-blobs")]
        dir: PathBuf,
    },
}

/// Runs a `cairn blob` subcommand.
pub fn run(cmd: BlobCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BlobCmd::Serve {
            dir,
            listen,
            max_body,
            anchor,
        } => serve(&dir, listen, max_body, &anchor),
        BlobCmd::Key(KeyCmd::Issue {
            org,
            identity,
            allow_bypass_governance,
            dir,
        }) => {
            let key = cairn_blob::keys::issue(&dir, &org, &identity, allow_bypass_governance)?;
            println!(
                "{}",
                serde_json::json!({
                    "access_key_id": key.id,
                    "secret_access_key": key.secret,
                    "org": key.org,
                    "identity": key.identity,
                    "bypass_governance": key.bypass_governance,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        BlobCmd::Verify {
            target,
            dir,
            network,
            org,
            contract,
            receipt_out,
        } => {
            let ledger = network.map(|dir| Ledger {
                opts: ClientOpts {
                    dir,
                    org,
                    user: "user1".to_owned(),
                    peer: None,
                },
                contract,
                receipt_out,
            });
            verify(&dir, &target, ledger.as_ref())
        }
        BlobCmd::Policy {
            bucket,
            action,
            days,
            allow_protected_append,
            dir,
        } => {
            let need_days = || days.with_context(|| format!("`{action}` needs --days N"));
            let change = match action.as_str() {
                "set" => PolicyChange::Set {
                    days: need_days()?,
                    allow_protected_append,
                },
                "lock" => PolicyChange::Lock,
                "extend" => PolicyChange::Extend { days: need_days()? },
                _ => PolicyChange::Remove,
            };
            let b = open(&dir)?.change_container_policy(&bucket, change, "cli")?;
            println!("{}", serde_json::to_string(&b.container_policy)?);
            Ok(ExitCode::SUCCESS)
        }
        BlobCmd::Hold {
            bucket,
            tag,
            state,
            dir,
        } => {
            let b = open(&dir)?.set_container_hold(&bucket, &tag, state == "on", "cli")?;
            println!("{}", serde_json::to_string(&b.container_holds)?);
            Ok(ExitCode::SUCCESS)
        }
        BlobCmd::Append { target, file, dir } => {
            let (bucket, key, _) = parse_target(&target)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = open(&dir)?.append(&bucket, &key, &bytes, "cli")?;
            println!("{} {} bytes sha256 {}", v.version_id, v.size, v.sha256);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(dir: &Path) -> anyhow::Result<Store> {
    Store::open(dir, Box::new(SystemClock))
        .with_context(|| format!("cannot open the blob store {}", dir.display()))
}

fn serve(
    dir: &Path,
    listen: SocketAddr,
    max_body: usize,
    anchor: &AnchorArgs,
) -> anyhow::Result<ExitCode> {
    if !listen.ip().is_loopback() {
        anyhow::bail!(
            "{listen} is not a loopback address: the S3 API speaks plain HTTP, so it listens on \
             127.0.0.1 or ::1 only (put a TLS proxy in front to reach it from elsewhere)"
        );
    }
    let store = Arc::new(open(dir)?);
    let keys = Arc::new(KeyRing::load(dir)?);
    let store_id = store.store_id()?;
    let gateway = match &anchor.network {
        Some(network) => Some(
            ClientOpts {
                dir: network.clone(),
                org: anchor.org.clone(),
                user: anchor.user.clone(),
                peer: None,
            }
            .gateway()
            .with_context(|| format!("cannot reach the anchoring network {}", network.display()))?,
        ),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(gw) = gateway {
        rt.spawn(anchor_loop(store.clone(), gw, anchor.contract.clone()));
    }
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!(
            "listening on http://{} (store {store_id})",
            listener.local_addr()?
        );
        let router = cairn_blob::s3::router(store, keys, max_body);
        tokio::select! {
            r = cairn_blob::s3::serve(listener, router) => r.context("the S3 API stopped")?,
            _ = shutdown() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// `BUCKET/KEY[?versionId=ID]` → (bucket, key, version).
fn parse_target(target: &str) -> anyhow::Result<(String, String, Option<String>)> {
    let (path, version) = match target.split_once('?') {
        Some((p, q)) => {
            let v = q.strip_prefix("versionId=").unwrap_or(q);
            (p, Some(v.to_owned()).filter(|v| !v.is_empty()))
        }
        None => (target, None),
    };
    match path.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned(), version)),
        _ => anyhow::bail!("{target:?} is not BUCKET/KEY or BUCKET/KEY?versionId=ID"),
    }
}

/// Where `verify` checks the ledger.
struct Ledger {
    opts: ClientOpts,
    contract: String,
    receipt_out: Option<PathBuf>,
}

/// Drains the store's anchoring outbox onto the channel, one job at a time,
/// retrying (never skipping) a job that fails.
async fn anchor_loop(store: Arc<Store>, gw: GatewayClient, contract: String) {
    let store_id = match store.store_id() {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "anchoring stopped: cannot read the store id");
            return;
        }
    };
    loop {
        let s = store.clone();
        let jobs = match tokio::task::spawn_blocking(move || s.anchor_backlog(32)).await {
            Ok(Ok(jobs)) => jobs,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the anchoring outbox; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return,
        };
        if jobs.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for job in jobs {
            let (function, args) = job.kind.invocation(&store_id);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let submitted = gw
                .submit_invocation(
                    invocation(&contract, function, &refs),
                    Default::default(),
                    &[],
                )
                .await;
            let done = match submitted {
                Ok(done) => done,
                Err(e) => {
                    // Logged without the job's content: keys can be private.
                    tracing::warn!(job = job.seq, error = %e, "anchoring failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    break;
                }
            };
            // The contract answers the record; after a crash between the ledger
            // commit and the mark, that is the first transaction's record.
            let txid = serde_json::from_slice::<serde_json::Value>(&done.payload)
                .ok()
                .and_then(|v| v["txid"].as_str().map(str::to_owned))
                .unwrap_or_else(|| done.txid.to_string());
            let s = store.clone();
            let seq = job.seq;
            match tokio::task::spawn_blocking(move || s.mark_anchored(seq, &txid)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(job = seq, error = %e, "cannot mark an anchor; it will be submitted again");
                    break;
                }
                Err(_) => return,
            }
        }
    }
}

fn verify(dir: &Path, target: &str, ledger: Option<&Ledger>) -> anyhow::Result<ExitCode> {
    let (bucket, key, version) = parse_target(target)?;
    let store = open(dir)?;
    let report = store.verify(&bucket, &key, version.as_deref())?;
    let store_id = store.store_id()?;
    drop(store);
    let v = &report.version;
    println!("{bucket}/{key} version {} (store {store_id})", v.version_id);
    let mut intact = v.delete_marker || report.intact();
    if v.delete_marker {
        println!(
            "  a delete marker: the key is hidden; its earlier versions are kept (list them with list-object-versions)"
        );
    } else if report.intact() {
        println!("  intact: sha256 {} ({} bytes)", v.sha256, v.size);
    } else {
        match (&report.actual_sha256, report.actual_size) {
            (Some(found), Some(size)) => println!(
                "  TAMPERED: recorded sha256 {} ({} bytes), the stored bytes hash to {found} ({size} bytes)",
                v.sha256, v.size
            ),
            _ => println!(
                "  MISSING: recorded sha256 {} ({} bytes), but the stored bytes cannot be read",
                v.sha256, v.size
            ),
        }
    }
    match v.retention {
        Some(r) => println!("  retention: {} until {}", r.mode, r.until),
        None => println!("  retention: none"),
    }
    println!("  legal hold: {}", if v.legal_hold { "ON" } else { "OFF" });
    println!("  written {} by {}", v.created, v.owner);
    match &v.anchor_txid {
        Some(tx) => println!("  anchored in transaction {tx}"),
        None => println!("  not anchored yet (run `cairn blob serve --anchor NETWORK`)"),
    }
    println!("  policy history:");
    for e in &v.history {
        let tx = e
            .txid
            .as_deref()
            .map_or("not anchored yet".to_owned(), |t| format!("tx {t}"));
        println!("    {} {} {} ({tx})", e.at, e.by, e.change);
    }
    if let Some(ledger) = ledger {
        intact &= verify_on_ledger(ledger, &store_id, &report)?;
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Compares the bytes with the ledger's anchor; prints the ledger's record,
/// its policy history, and writes the anchoring transaction's receipt.
fn verify_on_ledger(
    ledger: &Ledger,
    store_id: &str,
    report: &cairn_blob::store::Verification,
) -> anyhow::Result<bool> {
    let v = &report.version;
    let gw = ledger.opts.gateway()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let args = [
        store_id,
        v.bucket.as_str(),
        v.key.as_str(),
        v.version_id.as_str(),
    ];
    let payload = rt
        .block_on(gw.evaluate(&ledger.contract, "GetVersion", &args))
        .with_context(|| {
            format!(
                "the ledger has no anchor for version {} of {}/{}",
                v.version_id, v.bucket, v.key
            )
        })?;
    drop(rt);
    let doc: serde_json::Value =
        serde_json::from_slice(&payload).context("the anchoring contract's answer is not JSON")?;
    let record = &doc["version"];
    let txid = record["txid"].as_str().unwrap_or_default().to_owned();
    let sha = record["sha256"].as_str().unwrap_or_default();
    let size = record["size"].as_u64();
    println!(
        "  ledger: anchored in transaction {txid}, recorded by {} at {}",
        record["recordedBy"].as_str().unwrap_or("?"),
        record["recordedAt"].as_str().unwrap_or("?")
    );
    let matches = if v.delete_marker {
        record["deleteMarker"].as_bool() == Some(true)
    } else {
        report.actual_sha256.as_deref() == Some(sha) && report.actual_size == size
    };
    if matches {
        println!(
            "  the bytes match the ledger: sha256 {sha} ({} bytes)",
            size.unwrap_or(0)
        );
    } else {
        println!(
            "  LEDGER MISMATCH: the ledger anchored sha256 {sha} ({} bytes), the stored bytes hash to {} ({} bytes)",
            size.unwrap_or(0),
            report.actual_sha256.as_deref().unwrap_or("(unreadable)"),
            report.actual_size.unwrap_or(0)
        );
    }
    println!("  ledger policy history:");
    for e in doc["policy"].as_array().into_iter().flatten() {
        println!(
            "    {} {} {} (tx {})",
            e["at"].as_str().unwrap_or("?"),
            e["by"].as_str().unwrap_or("?"),
            e["change"].as_str().unwrap_or("?"),
            e["txid"].as_str().unwrap_or("?")
        );
    }
    if let Some(out) = &ledger.receipt_out {
        super::client::receipt_get(&ledger.opts, &txid, Some(out.clone()))?;
        println!(
            "  check it offline: cairn receipt verify {} --ca ORDERER_ORG_CA --show-writes",
            out.display()
        );
    }
    Ok(matches)
}
