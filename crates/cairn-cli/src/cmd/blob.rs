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

use anyhow::Context;
use cairn_blob::worm::PolicyChange;
use cairn_blob::{KeyRing, Store, SystemClock};

/// `cairn blob` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BlobCmd {
    /// Serve a store over the S3 API (plain HTTP, loopback only); prints
    /// `listening on http://ADDR` once it accepts requests.
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
        } => serve(&dir, listen, max_body),
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
        BlobCmd::Verify { target, dir } => verify(&dir, &target),
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

fn serve(dir: &Path, listen: SocketAddr, max_body: usize) -> anyhow::Result<ExitCode> {
    if !listen.ip().is_loopback() {
        anyhow::bail!(
            "{listen} is not a loopback address: the S3 API speaks plain HTTP, so it listens on \
             127.0.0.1 or ::1 only (put a TLS proxy in front to reach it from elsewhere)"
        );
    }
    let store = Arc::new(open(dir)?);
    let keys = Arc::new(KeyRing::load(dir)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!("listening on http://{}", listener.local_addr()?);
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

fn verify(dir: &Path, target: &str) -> anyhow::Result<ExitCode> {
    let (bucket, key, version) = parse_target(target)?;
    let report = open(dir)?.verify(&bucket, &key, version.as_deref())?;
    let v = &report.version;
    println!("{bucket}/{key} version {}", v.version_id);
    if v.delete_marker {
        println!(
            "  a delete marker: the key is hidden; its earlier versions are kept (list them with list-object-versions)"
        );
    }
    let intact = v.delete_marker || report.intact();
    if v.delete_marker {
    } else if intact {
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
    println!("  policy history:");
    for e in &v.history {
        println!("    {} {} {}", e.at, e.by, e.change);
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
