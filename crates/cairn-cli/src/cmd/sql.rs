//! `cairn sql`: ledger tables on SQLite and PostgreSQL (crate `cairn-sql`,
//! docs/ledger-tables.md), with digests anchored on a Cairn channel through the
//! `digest-anchor` contract so that each digest has a receipt.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_peer::invocation;
use cairn_sql::digest::parse_digests;
use cairn_sql::{Digest, Ledger, TableKind, Value};

use super::client::{ClientOpts, runtime};

/// The contract that records digests.
pub const ANCHOR_CONTRACT: &str = "digest-anchor";

/// `cairn sql` subcommands. `--db` takes `sqlite:PATH` or `postgresql://USER@HOST:PORT/DB`.
#[derive(clap::Subcommand, Debug)]
pub enum SqlCmd {
    /// Make a database a ledger database (metadata tables and guards; idempotent).
    Enable {
        /// The database URL.
        #[arg(long)]
        db: String,
    },
    /// Create a ledger table: COLUMNS like "id integer primary key, name text not null".
    /// Types: integer, real, text, blob, boolean; a primary key is required.
    CreateTable {
        /// The database URL.
        #[arg(long)]
        db: String,
        /// Append-only (INSERT only) instead of updatable.
        #[arg(long)]
        append_only: bool,
        /// Table name.
        name: String,
        /// Column definitions.
        columns: String,
    },
    /// Drop a ledger table: renamed and kept, still verified.
    DropTable {
        /// The database URL.
        #[arg(long)]
        db: String,
        /// Table name.
        name: String,
    },
    /// Run SQL as one ledger transaction; a SELECT prints its rows as JSON lines.
    Exec {
        /// The database URL.
        #[arg(long)]
        db: String,
        /// The statements.
        sql: String,
    },
    /// Print a table's ledger view (every INSERT and DELETE with transaction and
    /// sequence number; an UPDATE shows as both) as JSON lines.
    History {
        /// The database URL.
        #[arg(long)]
        db: String,
        /// Table name.
        table: String,
    },
    /// Close a block over what changed and print the database digest (JSON); with
    /// --anchor, record it on a channel (a receipt then proves it).
    Digest(DigestArgs),
    /// Recompute every hash; report every inconsistency (table, transaction, sequence
    /// number, row key, kind) and the last verified block. Exit 0 if all is intact, 1
    /// if anything is inconsistent, 2 if it could not run.
    Verify(VerifyArgs),
    /// Print one row with its proof up to a digest (`--verify` checks it first).
    Get(GetArgs),
}

/// Where digests are anchored: a network made by `cairn up`.
#[derive(clap::Args, Debug, Clone)]
pub struct AnchorOpts {
    #[command(flatten)]
    client: ClientOpts,
    /// The anchoring contract.
    #[arg(long = "anchor-contract", default_value = ANCHOR_CONTRACT)]
    contract: String,
}

/// `cairn sql digest` arguments.
#[derive(clap::Args, Debug)]
pub struct DigestArgs {
    /// The database URL.
    #[arg(long)]
    db: String,
    /// Also append the digest as a JSON line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Record the digest on the channel (RecordDigest of the anchoring contract).
    #[arg(long)]
    anchor: bool,
    /// Keep running: every SECS seconds, a digest if anything changed.
    #[arg(long)]
    every: Option<u64>,
    /// With --every: stop after this many digests.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    net: AnchorOpts,
}

/// `cairn sql verify` arguments.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The database URL.
    #[arg(long)]
    db: String,
    /// Trusted digests (JSON lines, an array, or one object); may be repeated.
    #[arg(long)]
    digests: Vec<PathBuf>,
    /// Trust the digests anchored on the channel (GetDigests of the anchoring contract).
    #[arg(long)]
    channel: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    net: AnchorOpts,
}

/// `cairn sql get` arguments.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The database URL.
    #[arg(long)]
    db: String,
    /// Table name.
    #[arg(long)]
    table: String,
    /// The row's primary key as JSON, e.g. '{"id": 1}'.
    #[arg(long)]
    key: String,
    /// Add the proof up to the latest trusted digest, checked before printing.
    #[arg(long)]
    verify: bool,
    /// Trusted digests (as for verify).
    #[arg(long)]
    digests: Vec<PathBuf>,
    /// Trust the digests anchored on the channel, and write the digest's receipt to
    /// --receipt-out (check it with `cairn receipt verify FILE --ca ORDERER_CA --show-writes`).
    #[arg(long)]
    channel: bool,
    /// Where to write the digest's receipt (with --channel).
    #[arg(long)]
    receipt_out: Option<PathBuf>,
    #[command(flatten)]
    net: AnchorOpts,
}

/// Runs a `cairn sql` subcommand.
pub fn run(cmd: SqlCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SqlCmd::Enable { db } => {
            Ledger::open(&db)?.enable()?;
            println!("ledger enabled on {db}");
        }
        SqlCmd::CreateTable {
            db,
            append_only,
            name,
            columns,
        } => {
            let kind = if append_only {
                TableKind::AppendOnly
            } else {
                TableKind::Updatable
            };
            let t = Ledger::open(&db)?.create_table(&name, kind, &columns)?;
            println!(
                "created {} ledger table {} (history {}, view {})",
                kind.as_str(),
                t.name,
                if kind == TableKind::Updatable {
                    t.history_name.as_str()
                } else {
                    "none"
                },
                t.view_name
            );
        }
        SqlCmd::DropTable { db, name } => {
            let t = Ledger::open(&db)?.drop_table(&name)?;
            println!("dropped {name}: kept as {} (still verified)", t.table_name);
        }
        SqlCmd::Exec { db, sql } => {
            let mut ledger = Ledger::open(&db)?;
            let lower = sql.trim_start().to_ascii_lowercase();
            if lower.starts_with("select") || lower.starts_with("with") {
                print_rows(&ledger.query(&sql, &[])?)?;
            } else {
                ledger.exec(&sql)?;
            }
        }
        SqlCmd::History { db, table } => print_rows(&Ledger::open(&db)?.ledger_view(&table)?)?,
        SqlCmd::Digest(args) => digest(args)?,
        SqlCmd::Verify(args) => return verify(args),
        SqlCmd::Get(args) => get(args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_rows(rows: &cairn_sql::Rows) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for row in &rows.rows {
        let object: serde_json::Map<String, serde_json::Value> = rows
            .columns
            .iter()
            .cloned()
            .zip(row.iter().map(Value::to_json))
            .collect();
        writeln!(out, "{}", serde_json::Value::Object(object))?;
    }
    Ok(())
}

fn digest(args: DigestArgs) -> anyhow::Result<()> {
    let mut ledger = Ledger::open(&args.db)?;
    let mut made = 0u64;
    loop {
        // In the automatic mode a digest is produced only when a block closed.
        let changed = ledger.close_block()?.is_some();
        if args.every.is_none() || changed {
            let d = ledger.digest()?;
            emit(&d, &args)?;
            made += 1;
        }
        let Some(secs) = args.every else {
            return Ok(());
        };
        if args.count.is_some_and(|c| made >= c) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(secs));
    }
}

fn emit(d: &Digest, args: &DigestArgs) -> anyhow::Result<()> {
    let line = serde_json::to_string(d)?;
    println!("{line}");
    if let Some(path) = &args.out {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        writeln!(f, "{line}")?;
    }
    if args.anchor {
        let net = &args.net;
        let done = runtime()?.block_on(async {
            let gw = net.client.gateway()?;
            gw.submit_invocation(
                invocation(&net.contract, "RecordDigest", &[&line]),
                Default::default(),
                &[],
            )
            .await
            .map_err(anyhow::Error::from)
        })?;
        eprintln!(
            "anchored block {} of {} in transaction {} (channel block {}); its receipt: cairn receipt get {}",
            d.block_id, d.database_name, done.txid, done.block, done.txid
        );
    }
    Ok(())
}

/// The anchored digest records of a database (with the anchoring transaction's id).
fn anchored(net: &AnchorOpts, database: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let payload = runtime()?.block_on(async {
        let gw = net.client.gateway()?;
        gw.evaluate(&net.contract, "GetDigests", &[database])
            .await
            .map_err(anyhow::Error::from)
    })?;
    serde_json::from_slice(&payload)
        .context("the anchoring contract answered something that is not a JSON array")
}

fn trusted(
    ledger: &Ledger,
    files: &[PathBuf],
    channel: bool,
    net: &AnchorOpts,
) -> anyhow::Result<Vec<Digest>> {
    let mut digests = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read digests {}", f.display()))?;
        digests.extend(parse_digests(&text).with_context(|| format!("in {}", f.display()))?);
    }
    if channel {
        for record in anchored(net, ledger.database_name())? {
            digests.push(
                serde_json::from_value(record).context("an anchored digest is not a digest")?,
            );
        }
    }
    Ok(digests)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut ledger = Ledger::open(&args.db)?;
    let digests = trusted(&ledger, &args.digests, args.channel, &args.net)?;
    let report = ledger.verify(&digests)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for i in &report.inconsistencies {
            let mut at = Vec::new();
            if let Some(b) = i.block_id {
                at.push(format!("block {b}"));
            }
            if let Some(t) = &i.table {
                at.push(format!("table {t}"));
            }
            if let Some(t) = i.transaction_id {
                at.push(format!("transaction {t}"));
            }
            if let Some(s) = i.sequence_number {
                at.push(format!("sequence {s}"));
            }
            if let Some(k) = &i.row_key {
                at.push(format!("row {k}"));
            }
            let kind = serde_json::to_value(i.kind)?;
            println!(
                "{}: {}: {}",
                kind.as_str().unwrap_or("?"),
                at.join(", "),
                i.detail
            );
        }
        let show = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |b| b.to_string());
        println!(
            "{} blocks, {} row events, {} digests checked; {} inconsistencies; last verified block: {}; last anchored block: {}",
            report.blocks,
            report.row_events,
            report.digests,
            report.inconsistencies.len(),
            show(report.last_verified_block_id),
            show(report.last_anchored_block_id)
        );
        if digests.is_empty() {
            eprintln!(
                "warning: no trusted digest given (--digests FILE or --channel): this proves the database consistent with itself, not unchanged"
            );
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn get(args: GetArgs) -> anyhow::Result<()> {
    let mut ledger = Ledger::open(&args.db)?;
    let key: serde_json::Value = serde_json::from_str(&args.key)
        .context("--key must be a JSON object such as '{\"id\": 1}'")?;
    if !args.verify {
        let proof_less = ledger.table(&args.table)?;
        let conditions: Vec<String> = proof_less
            .key_columns()
            .map(|c| format!("{} = {}", c.name, sql_literal(key.get(&c.name))))
            .collect();
        print_rows(&ledger.query(
            &format!(
                "SELECT * FROM {} WHERE {}",
                proof_less.table_name,
                conditions.join(" AND ")
            ),
            &[],
        )?)?;
        return Ok(());
    }
    let digests = trusted(&ledger, &args.digests, args.channel, &args.net)?;
    let Some(digest) = digests.iter().max_by_key(|d| d.block_id).cloned() else {
        bail!("--verify needs a trusted digest: --digests FILE or --channel");
    };
    let proof = ledger.row_proof(&args.table, &key, &digest)?;
    proof
        .verify(&digest)
        .context("the row's proof does not hold")?;
    let mut receipt_txid = None;
    if args.channel {
        let records = anchored(&args.net, ledger.database_name())?;
        receipt_txid = records
            .iter()
            .find(|r| {
                r.get("block_id").and_then(serde_json::Value::as_i64) == Some(digest.block_id)
            })
            .and_then(|r| r.get("txid").and_then(|t| t.as_str()).map(str::to_owned));
        if let (Some(txid), Some(out)) = (&receipt_txid, &args.receipt_out) {
            write_receipt(&args.net.client, txid, out)?;
        }
    }
    let row: serde_json::Map<String, serde_json::Value> = proof
        .columns
        .iter()
        .map(|c| c.name.clone())
        .zip(proof.values.iter().map(Value::to_json))
        .collect();
    let out = serde_json::json!({
        "table": args.table,
        "row": row,
        "verified": true,
        "digest": digest,
        "anchor_txid": receipt_txid,
        "proof": proof,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Writes a transaction's receipt through `cairn receipt get` (run as a child, so that
/// its progress line stays off this command's standard output, which is the JSON).
fn write_receipt(client: &ClientOpts, txid: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the cairn executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["receipt", "get", "--dir"])
        .arg(&client.dir)
        .args(["--org", &client.org, "--user", &client.user]);
    if let Some(peer) = &client.peer {
        cmd.args(["--peer", peer]);
    }
    let done = cmd
        .arg(txid)
        .arg("--out")
        .arg(out)
        .output()
        .context("cannot run cairn receipt get")?;
    if !done.status.success() {
        bail!(
            "cannot get the receipt of the anchoring transaction {txid}: {}",
            String::from_utf8_lossy(&done.stderr).trim()
        );
    }
    eprint!("{}", String::from_utf8_lossy(&done.stdout));
    Ok(())
}

/// A key value written into SQL (numbers as is, strings quoted with '' doubled).
fn sql_literal(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(serde_json::Value::String(s)) => format!("'{}'", s.replace('\'', "''")),
        _ => "NULL".into(),
    }
}
