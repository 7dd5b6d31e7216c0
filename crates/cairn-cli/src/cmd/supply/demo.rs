//! `cairn demo supply-chain`: a product's life across five orgs, each with its
//! own orderer and peer process (`cairn up --org-names
//! Supplier,Manufacturer,Shipper,Warehouse,Retailer`).
//!
//! - the `supply-chain` contract (any org's peer endorses; each record's own
//!   key-level policy adds its custodian, and a shipment's both sides) with
//!   three two-org collections for terms, and `digest-anchor` for the
//!   retailer's sales table, both through the lifecycle;
//! - an immutable blob store (`cairn blob serve`, its own process) with a
//!   bucket under S3 Object Lock for the documents; each org writes with its
//!   own access key; the ledger records each document's SHA-256, size and
//!   version;
//! - the life: a batch (with its quality certificate), shipped to the
//!   manufacturer with the price in `SupplierManufacturer`, received (both
//!   orgs endorse), a unit produced (its quality certificate), carried by the
//!   shipper (freight terms in `ManufacturerShipper`), arriving at the
//!   warehouse, delivered to the retailer (terms in `WarehouseRetailer`),
//!   sold; the sale goes into the retailer's ledger table `sales` (SQLite),
//!   whose digest is anchored on the channel.
//!
//! `demo.json` in the demo directory names the unit, the ids, the files and
//! the commands to export and check the provenance. Every run adds a new
//! product on the same network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_blob::client::{BlobClient, ClientError};
use cairn_peer::{GatewayClient, invocation};
use cairn_sql::{Ledger, TableKind};
use rand::RngCore;
use serde_json::{Value, json};

use super::super::bench::deploy::{ensure_contract, heights};
use super::super::client::runtime;
use super::super::up::layout::Network;
use super::super::up::process::{self, NodeFiles};
use super::super::up::{self as up_cmd, DirArgs, UpArgs, setup};
use super::{BlobCredentials, CONTRACT};

const CONTRACT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/supply-chain");
const ANCHOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/digest-anchor");
const SAMPLE_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/asset-transfer"
);
/// The five orgs, in the order a product meets them.
pub const ORGS: [&str; 5] = [
    "Supplier",
    "Manufacturer",
    "Shipper",
    "Warehouse",
    "Retailer",
];
/// The bucket that keeps the documents.
pub const BUCKET: &str = "supply-docs";
const ANCHOR_CONTRACT: &str = "digest-anchor";

/// `cairn demo supply-chain` options.
#[derive(clap::Args, Debug)]
pub struct SupplyDemoArgs {
    /// The demo's directory: the network (`net/`), the blob store, the sales
    /// database, credentials, logs.
    #[arg(long, default_value = "cairn-supply-chain")]
    dir: PathBuf,
    /// First port of the network (as `cairn up`); the blob store uses BASE+320.
    #[arg(long, default_value_t = 7650)]
    base_port: u16,
    /// Run the product's life, then return and leave the network and the blob
    /// store running (stop them with `cairn down --dir DIR/net` and the pid in
    /// DIR/pids/blobs.pid).
    #[arg(long)]
    detach: bool,
}

fn msp(org: &str) -> String {
    format!("{org}MSP")
}

fn any_peer() -> String {
    let peers: Vec<String> = ORGS.iter().map(|o| format!("'{}.peer'", msp(o))).collect();
    format!("OR({})", peers.join(","))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs the demo.
pub fn run(args: SupplyDemoArgs) -> anyhow::Result<ExitCode> {
    cairn_crypto::private_file::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::path::absolute(&args.dir)?;
    let net_dir = dir.join("net");
    let blob_port = args
        .base_port
        .checked_add(320)
        .context("--base-port is too high for the ports the demo needs")?;
    println!("==> the network: {}", ORGS.join(", "));
    let code = up_cmd::up(UpArgs {
        dir: net_dir.clone(),
        orgs: 5,
        org_names: ORGS.iter().map(|o| (*o).to_owned()).collect(),
        peers_per_org: 1,
        orderers: None,
        base_port: args.base_port,
        channel: "supplychain".into(),
        contract: SAMPLE_CONTRACT.into(),
        detach: true,
        attest: false,
    })?;
    if code != ExitCode::SUCCESS {
        bail!("cairn up failed; see the logs in {}", net_dir.display());
    }
    let blobs = blob_files(&dir, blob_port);
    let result = life(&dir, &net_dir, &blobs, blob_port);
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
    }
    if args.detach && result.is_ok() {
        println!(
            "==> left running: the network (stop: cairn down --dir {}) and the blob store (pid in {})",
            net_dir.display(),
            blobs.pid.display()
        );
        return result;
    }
    if result.is_ok() {
        println!("==> press Ctrl-C to stop the network and the blob store");
        runtime()?.block_on(tokio::signal::ctrl_c())?;
    }
    println!("==> stopping the blob store and the network");
    let _ = process::stop(&blobs);
    up_cmd::down(DirArgs { dir: net_dir })?;
    result
}

fn blob_files(dir: &Path, port: u16) -> NodeFiles {
    let store = dir.join("blobs");
    NodeFiles {
        name: "blobs".into(),
        config: store.clone(),
        args: vec![
            "blob".into(),
            "serve".into(),
            "--dir".into(),
            store.into(),
            "--listen".into(),
            format!("127.0.0.1:{port}").into(),
        ],
        log: dir.join("logs").join("blobs.log"),
        pid: dir.join("pids").join("blobs.pid"),
    }
}

/// Each org's access key, issued once, kept 0600 under `credentials/`.
fn credentials(dir: &Path, port: u16) -> anyhow::Result<BTreeMap<String, BlobCredentials>> {
    let cdir = dir.join("credentials");
    cairn_crypto::private_file::create_dir_all(&cdir)?;
    cairn_crypto::private_file::create_dir_all(&dir.join("blobs"))?;
    let mut out = BTreeMap::new();
    for org in ORGS {
        let path = cdir.join(format!("{}.json", org.to_lowercase()));
        let creds = if let Ok(bytes) = std::fs::read(&path) {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not blob credentials", path.display()))?
        } else {
            let key = cairn_blob::keys::issue(&dir.join("blobs"), &msp(org), "user1", false)?;
            let creds = BlobCredentials {
                endpoint: format!("http://127.0.0.1:{port}"),
                id: key.id,
                secret: key.secret,
            };
            cairn_crypto::private_file::write_atomic(&path, &serde_json::to_vec_pretty(&creds)?)?;
            creds
        };
        out.insert(org.to_owned(), creds);
    }
    Ok(out)
}

/// The orgs' clients (user1 of each, through its own peer).
struct Parties {
    net: Network,
    clients: BTreeMap<String, GatewayClient>,
    blobs: BTreeMap<String, BlobClient>,
}

impl Parties {
    fn gw(&self, org: &str) -> anyhow::Result<&GatewayClient> {
        self.clients
            .get(org)
            .with_context(|| format!("no client of {org}"))
    }

    /// Submits `function(arg)` as `org`'s client; `endorsers` empty: the gateway plans.
    async fn submit(
        &self,
        org: &str,
        function: &str,
        arg: &Value,
        transient: &[(&str, String)],
        endorsers: &[&str],
    ) -> anyhow::Result<(String, u64)> {
        let transient = transient
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        let endorsers: Vec<String> = endorsers.iter().map(|o| msp(o)).collect();
        let done = self
            .gw(org)?
            .submit_invocation(
                invocation(CONTRACT, function, &[&arg.to_string()]),
                transient,
                &endorsers,
            )
            .await
            .with_context(|| format!("{org}: {function} failed"))?;
        println!(
            "    {org}: {function} -> tx {} in block {} (endorsed by {})",
            done.txid,
            done.block,
            done.endorsers.join(", ")
        );
        // The next step may go through another org's peer: it must have this block.
        self.wait_block(done.block).await?;
        Ok((done.txid.to_string(), done.block))
    }

    /// Waits until every peer has committed block `block`.
    async fn wait_block(&self, block: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = heights(&self.net).await?;
            if h.iter().all(|h| h.is_some_and(|h| h > block)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the peers did not all commit block {block} within 30 s: heights {h:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stores a document as `org` and answers its ledger record.
    async fn document(
        &self,
        org: &str,
        name: &str,
        kind: &str,
        key: &str,
        body: String,
    ) -> anyhow::Result<Value> {
        let blob = self
            .blobs
            .get(org)
            .with_context(|| format!("no blob key of {org}"))?;
        let size = body.len();
        let ack = blob
            .put(BUCKET, key, body.into_bytes())
            .await
            .with_context(|| format!("{org} cannot store {key}"))?;
        println!(
            "    {org}: stored {kind} {BUCKET}/{key} version {} sha256 {}",
            ack.version_id, ack.sha256
        );
        Ok(json!({
            "name": name, "kind": kind, "sha256": ack.sha256, "size": size,
            "bucket": BUCKET, "key": key, "versionId": ack.version_id,
        }))
    }
}

fn life(dir: &Path, net_dir: &Path, blobs: &NodeFiles, port: u16) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let net = Network::load(net_dir)?;
    println!(
        "==> contracts: {CONTRACT} (collections SupplierManufacturer, ManufacturerShipper, WarehouseRetailer), {ANCHOR_CONTRACT}"
    );
    let collections = std::fs::read_to_string(Path::new(CONTRACT_DIR).join("collections.json"))
        .context("the supply-chain collections file")?;
    rt.block_on(async {
        ensure_contract(
            &net,
            CONTRACT,
            Path::new(CONTRACT_DIR),
            &any_peer(),
            Some(&collections),
        )
        .await?;
        ensure_contract(
            &net,
            ANCHOR_CONTRACT,
            Path::new(ANCHOR_DIR),
            &any_peer(),
            None,
        )
        .await
    })?;

    println!("==> blob store http://127.0.0.1:{port} (documents, S3 Object Lock)");
    let creds = credentials(dir, port)?;
    if process::running(blobs).is_none() {
        process::spawn(blobs)?;
    }
    let mut parties = Parties {
        net: net.clone(),
        clients: BTreeMap::new(),
        blobs: BTreeMap::new(),
    };
    for org in ORGS {
        let peer = net
            .peers()
            .find(|p| p.msp_id == msp(org))
            .with_context(|| format!("the network has no {org} peer"))?;
        parties
            .clients
            .insert(org.to_owned(), setup::gateway(&net, peer, "users/user1")?);
        let c = creds.get(org).context("credentials")?.client()?;
        parties.blobs.insert(org.to_owned(), c);
    }
    let supplier_blobs = parties
        .blobs
        .get("Supplier")
        .context("no Supplier key")?
        .clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rt.block_on(supplier_blobs.create_bucket(BUCKET, true)) {
            Ok(()) => break,
            Err(ClientError::S3 { code, .. }) if code.starts_with("BucketAlready") => break,
            Err(e) if Instant::now() > deadline => {
                bail!(
                    "the blob store did not answer within 30 s ({e}); see {}",
                    blobs.log.display()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }

    let mut tag = [0u8; 3];
    rand::rng().fill_bytes(&mut tag);
    let run = hex::encode(tag);
    let mut cents = [0u8; 4];
    rand::rng().fill_bytes(&mut cents);
    let cents = u32::from_le_bytes(cents) % 5_000_000 + 1_000_000;
    let price = format!("{}.{:02}", cents / 100, cents % 100);
    let (batch, unit) = (format!("B-{run}"), format!("U-{run}"));
    let ships: Vec<String> = (1..=4).map(|i| format!("S-{run}-{i}")).collect();
    let sale = format!("SALE-{run}");

    let lived = rt.block_on(async {
        let p = &parties;
        println!("==> the participants (once)");
        let roles = json!({
            "supplier": msp("Supplier"), "manufacturer": msp("Manufacturer"), "shipper": msp("Shipper"),
            "warehouse": msp("Warehouse"), "retailer": msp("Retailer"),
        });
        p.submit("Supplier", "SetParticipants", &roles, &[], &[]).await?;

        println!("==> Supplier: batch {batch} with its quality certificate");
        let cert = p
            .document("Supplier", "quality certificate", "quality-certificate",
                &format!("batches/{batch}/quality-certificate.txt"),
                format!("QUALITY CERTIFICATE\nbatch {batch}\nmaterial: aluminium 6061-T6, 500 kg\ntensile strength: 310 MPa (EN 755-2)\nissued by SupplierMSP\n"))
            .await?;
        p.submit("Supplier", "CreateBatch",
            &json!({"id": batch, "material": "aluminium 6061-T6", "quantity": 500, "measure": "kg", "documents": [cert]}),
            &[], &[]).await?;

        println!("==> Supplier ships {batch} to Manufacturer; the price goes to SupplierManufacturer only");
        let terms = json!({"price": price, "currency": "EUR", "incoterms": "FCA", "paymentDays": 30}).to_string();
        p.submit("Supplier", "CreateShipment",
            &json!({"id": ships[0], "to": msp("Manufacturer"), "items": [{"type": "batch", "id": batch}]}),
            &[("terms", terms)], &[]).await?;
        println!("==> the handover: Manufacturer receives {}, both orgs' peers endorse", ships[0]);
        p.submit("Manufacturer", "ReceiveShipment", &json!({"id": ships[0]}), &[], &["Supplier", "Manufacturer"]).await?;

        println!("==> Manufacturer: unit {unit} from {batch}, with its quality certificate");
        let qc = p
            .document("Manufacturer", "unit inspection report", "quality-certificate",
                &format!("units/{unit}/inspection.txt"),
                format!("INSPECTION REPORT\nunit {unit} (bicycle frame)\nbatch {batch}\nweld inspection: passed\ndimensional check: passed\nissued by ManufacturerMSP\n"))
            .await?;
        p.submit("Manufacturer", "ProduceUnit",
            &json!({"id": unit, "product": "bicycle frame", "batches": [batch], "documents": [qc]}),
            &[], &[]).await?;

        let legs = [
            (&ships[1], "Manufacturer", "Shipper", Some(json!({"freight": "420.00", "currency": "EUR"}))),
            (&ships[2], "Shipper", "Warehouse", None),
            (&ships[3], "Warehouse", "Retailer", Some(json!({"storageFee": "12.50", "currency": "EUR"}))),
        ];
        for (id, from, to, terms) in legs {
            println!("==> {from} hands {unit} to {to} (shipment {id})");
            let bill = p
                .document(from, "shipping document", "shipping-document",
                    &format!("shipments/{id}/bill.txt"),
                    format!("SHIPPING DOCUMENT\nshipment {id}\nfrom {} to {}\nitems: unit {unit}\n", msp(from), msp(to)))
                .await?;
            let transient: Vec<(&str, String)> = terms.map(|t| ("terms", t.to_string())).into_iter().collect();
            p.submit(from, "CreateShipment",
                &json!({"id": id, "to": msp(to), "items": [{"type": "unit", "id": unit}], "documents": [bill]}),
                &transient, &[]).await?;
            p.submit(to, "ReceiveShipment", &json!({"id": id}), &[], &[from, to]).await?;
        }

        println!("==> Retailer sells {unit} ({sale})");
        p.submit("Retailer", "SellUnit", &json!({"id": unit, "saleId": sale}), &[], &[]).await?;
        anyhow::Ok(())
    });
    lived?;

    println!(
        "==> Retailer: the sale in its ledger table `sales`, the digest anchored on the channel"
    );
    let db = dir.join("retailer").join("sales.db");
    cairn_crypto::private_file::create_dir_all(db.parent().context("no parent")?)?;
    let url = format!("sqlite:{}", db.display());
    let mut ledger = Ledger::open(&url)?;
    ledger.enable()?;
    if ledger.table("sales").is_err() {
        ledger.create_table(
            "sales",
            TableKind::AppendOnly,
            "sale_id text primary key, unit_id text not null, product text not null, price_cents integer not null, currency text not null",
        )?;
    }
    ledger.exec(&format!(
        "INSERT INTO sales (sale_id, unit_id, product, price_cents, currency) VALUES ('{sale}', '{unit}', 'bicycle frame', 89900, 'EUR')"
    ))?;
    ledger.close_block()?;
    let digest = ledger.digest()?;
    let line = serde_json::to_string(&digest)?;
    let retailer = parties.gw("Retailer")?;
    let anchored = rt
        .block_on(retailer.submit_invocation(
            invocation(ANCHOR_CONTRACT, "RecordDigest", &[&line]),
            Default::default(),
            &[],
        ))
        .context("anchoring the sales table's digest failed")?;
    println!(
        "    digest of block {} of {} anchored in tx {} (channel block {})",
        digest.block_id, digest.database_name, anchored.txid, anchored.block
    );

    let cas: Vec<String> = ORGS
        .iter()
        .map(|o| {
            s(&net_dir
                .join("crypto")
                .join(o.to_lowercase())
                .join("ca/ca.pem"))
        })
        .collect();
    let bundle = dir.join(format!("provenance-{unit}.json"));
    let retailer_creds = dir.join("credentials/retailer.json");
    let facts = json!({
        "network": s(net_dir),
        "unit": unit, "batch": batch, "shipments": ships, "sale": sale,
        "blob_store": format!("http://127.0.0.1:{port}"), "bucket": BUCKET,
        "sales_db": url, "sales_digest_txid": anchored.txid.to_string(),
        "orderer_cas": cas,
        "supplier_manufacturer_price": price,
        "credentials": s(&dir.join("credentials")),
    });
    cairn_crypto::private_file::write_atomic(
        &dir.join("demo.json"),
        serde_json::to_string_pretty(&facts)?.as_bytes(),
    )?;
    let ca_args: String = cas.iter().map(|c| format!(" --ca {c}")).collect();
    print!(
        "\nThe supply-chain scenario ran: unit {unit} from batch {batch}, sold as {sale}.\n\
         Facts (the ids, the price between Supplier and Manufacturer): {}\n\
         Try:\n\
         \x20 cairn query --dir {nd} --org Retailer --contract {CONTRACT} GetProvenance {unit}\n\
         \x20 cairn query --dir {nd} --org Manufacturer --contract {CONTRACT} GetTerms {s0}   # a member: the price\n\
         \x20 cairn query --dir {nd} --org Retailer --contract {CONTRACT} GetTerms {s0}       # refused: not a member\n\
         \x20 cairn supply provenance {unit} --dir {nd} --org Retailer --blob-credentials {rc} --out {b}\n\
         \x20 cairn supply verify {b}{ca_args}\n\
         \x20 cairn sql verify --db {url} --channel --dir {nd} --org Retailer\n",
        s(&dir.join("demo.json")),
        nd = s(net_dir),
        s0 = ships[0],
        rc = s(&retailer_creds),
        b = s(&bundle),
    );
    Ok(ExitCode::SUCCESS)
}
