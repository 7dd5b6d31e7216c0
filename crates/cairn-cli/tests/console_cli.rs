//! The web console (issue 18) in a real headless Chromium, on the
//! supply-chain network of processes (`cairn demo supply-chain --detach`,
//! whose `cairn up` prints each peer's console URL and certificate pin):
//!
//! - Chromium trusts each console only through its pinned key
//!   (`--ignore-certificate-errors-spki-list`), and logs in with an org
//!   user's key file and certificate (the page signs the peer's challenge);
//! - logged in as the Supplier on its peer, the provenance page shows one
//!   timeline step per transaction of the unit's life (as many as the
//!   contract's `GetProvenance` names), each receipt verified in the page,
//!   and the price agreed with the Manufacturer, whose SHA-256 the page
//!   checks against the ledger's value hash;
//! - a Manufacturer user with a P-256 key (the page's ECDSA login path)
//!   logs in and sees the price too (a member); the Supplier's session on
//!   its console survives that login on another port of the same host, and
//!   its transaction page of the shipment shows the terms in clear, matched
//!   to the ledger's hashes;
//! - the page's receipt check fails, naming the check, for a receipt with a
//!   changed header field, a changed validation code, a changed envelope, or
//!   without the orderer CAs;
//! - logged in as the Retailer, on its own peer and on the Supplier's: the
//!   same timeline verified, the terms as the ledger's value hash only; the
//!   price is in no byte of those pages (positive control: the Supplier's
//!   page), nor of the Retailer peer's directory and log (positive control:
//!   the Supplier peer's directory);
//! - receipts checked against CA files loaded in the page instead of the
//!   peer's channel configuration: the orderer orgs' CAs verify every step,
//!   another network's CA none;
//! - the other pages, as the Retailer: the network (five peers with their
//!   heights, five orderers, one Raft leader), the channel's orgs with their CA fingerprints, the committed
//!   contracts with their collections, the blocks with a handover endorsed by
//!   one side only shown as ENDORSEMENT_POLICY_FAILURE (its receipt verified
//!   in the page all the same), the shipment's transaction with the terms'
//!   hash and not the price;
//! - the console only reads (a submit is refused with 405), nothing without
//!   a session (401; control: 200 with one), and a key file that is not the
//!   certificate's does not log in ("does not verify").

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_testkit::browser::fantoccini::Locator;
use cairn_testkit::browser::{Browser, spki_pin_flag};
use common::{cairn, files_containing, stdout, text};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CHANNEL: &str = "supplychain";

/// Stops the network and the blob store even when an assertion fails.
struct Cleanup {
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        common::terminate_if(&self.dir.join("pids/blobs.pid"), "blob");
        let _ = cairn(&["down", "--dir", self.dir.join("net").to_str().unwrap()]);
    }
}

/// `peer0.ORG -> (console URL, certificate pin)` from `cairn up`'s output lines
/// `peer0.supplier   console: https://127.0.0.1:P/  (certificate pin sha256/B64)`.
fn consoles(out: &str) -> BTreeMap<String, (String, String)> {
    out.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(" console: ")?;
            let (url, pin) = rest.split_once("(certificate pin sha256/")?;
            Some((
                name.trim().to_string(),
                (
                    url.trim().to_string(),
                    pin.trim_end_matches(')').to_string(),
                ),
            ))
        })
        .collect()
}

/// Logs `user_dir`'s identity in at the console `url` (signing out first).
async fn login(b: &Browser, url: &str, user_dir: &Path, msp: &str) {
    let (key, cert) = (user_dir.join("key.pem"), user_dir.join("cert.pem"));
    if let Err(e) = try_login(b, url, &key, &cert, msp).await {
        panic!("{e}");
    }
}

/// Signs out, then in with `key` and `cert`; the page's error if it refuses.
async fn try_login(
    b: &Browser,
    url: &str,
    key: &Path,
    cert: &Path,
    msp: &str,
) -> Result<(), String> {
    let c = b.client();
    c.goto(url).await.unwrap();
    b.wait_until(
        "document.readyState === 'complete'",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    c.execute_async(
        "const done = arguments[0]; fetch('/console/logout', {method: 'POST'}).then(() => done(true), () => done(false));",
        Vec::new(),
    )
    .await
    .unwrap();
    c.goto(url).await.unwrap();
    b.wait_until(
        "document.querySelector('#login') && !document.querySelector('#login').hidden",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    for (id, file) in [("key-file", key), ("cert-file", cert)] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
    }
    c.find(Locator::Id("login-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = format!(
        "document.querySelector('#whoami').dataset.msp === '{msp}' || document.querySelector('#login-error').textContent !== ''"
    );
    b.wait_until(&done, Duration::from_secs(30)).await.unwrap();
    let error = c
        .execute(
            "return document.querySelector('#login-error').textContent;",
            Vec::new(),
        )
        .await
        .unwrap();
    match error.as_str() {
        Some("") => Ok(()),
        _ => Err(format!("the page says {error}")),
    }
}

/// Opens `hash` at the console `url`, waits for `ready` (JavaScript), and
/// returns the page's HTML.
async fn page(b: &Browser, url: &str, hash: &str, ready: &str) -> String {
    let c = b.client();
    c.goto(&format!("{url}{hash}")).await.unwrap();
    let cond = format!("({ready}) || !!document.querySelector('#page-error')");
    b.wait_until(&cond, Duration::from_secs(60)).await.unwrap();
    let html = c.source().await.unwrap();
    assert!(!html.contains("id=\"page-error\""), "{hash}: {html}");
    html
}

/// `fetch(path, {method})` in the page: the HTTP status.
async fn status_of(b: &Browser, method: &str, path: &str) -> u64 {
    let script = "const [m, p, done] = arguments; fetch(p, {method: m, headers: {'content-type': 'application/json'}, body: m === 'GET' ? undefined : '{}'}).then((r) => done(r.status), () => done(0));";
    b.client()
        .execute_async(script, vec![Value::from(method), Value::from(path)])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

async fn js(b: &Browser, script: &str) -> Value {
    b.client().execute(script, Vec::new()).await.unwrap()
}

/// Opens the unit's provenance page and waits until every receipt was
/// checked; returns (steps, steps verified, page HTML).
async fn provenance(b: &Browser, url: &str, unit: &str) -> (u64, u64, String) {
    let c = b.client();
    c.goto(&format!("{url}#/provenance/{CHANNEL}/supply-chain/{unit}"))
        .await
        .unwrap();
    b.wait_until(
        "document.querySelector('#provenance-status') && ['done', 'error'].includes(document.querySelector('#provenance-status').dataset.state)",
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    let status = c
        .execute(
            "const s = document.querySelector('#provenance-status'); return [s.dataset.state, s.textContent, s.dataset.steps, s.dataset.verified, document.querySelectorAll('#timeline > li.step[data-verified=\"true\"]').length, s.dataset.ms];",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(status[0], "done", "{status}");
    let num = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    let (steps, verified) = (num(&status[2]), num(&status[3]));
    assert_eq!(status[4].as_u64().unwrap(), verified, "{status}");
    // A figure for the report, not a check: how long the page took.
    eprintln!(
        "{url}: {steps} receipts fetched and verified in the page in {} ms",
        status[5].as_str().unwrap_or("?")
    );
    (steps, verified, c.source().await.unwrap())
}

/// The page's receipt check on one receipt as served and altered four
/// ways: the names of the checks that failed, per case.
async fn tampered_receipts(b: &Browser, txid: &str) -> Value {
    let script = r#"
const [channel, txid, done] = arguments;
(async () => {
  const r = await (await fetch(`/api/v1/channels/${channel}/transactions/${txid}/receipt`)).json();
  const cfg = await (await fetch(`/api/v1/channels/${channel}/config`)).json();
  const cas = cfg.orgs.filter((o) => cfg.orderer_orgs.includes(o.msp_id)).map((o) => ({ msp_id: o.msp_id, ca_pem: o.ca_pem }));
  const failed = async (receipt, trusted) => (await CairnReceipt.verify(receipt, trusted, txid)).checks.filter((c) => !c.ok).map((c) => c.name);
  const header = structuredClone(r); header.header.timestamp.nanos = (header.header.timestamp.nanos + 1) % 1000000000;
  const code = structuredClone(r); code.code = 10;
  const envelope = structuredClone(r);
  const last = envelope.envelope.slice(-1);
  envelope.envelope = envelope.envelope.slice(0, -1) + (last === '0' ? '1' : '0');
  return {
    as_served: await failed(r, cas),
    header: await failed(header, cas),
    code: await failed(code, cas),
    envelope: await failed(envelope, cas),
    no_ca: await failed(r, []),
  };
})().then(done, (e) => done({ error: e.message }));
"#;
    b.client()
        .execute_async(script, vec![Value::from(CHANNEL), Value::from(txid)])
        .await
        .unwrap()
}

async fn screenshot(b: &Browser, dir: &Path, name: &str) {
    let path = dir.join(format!("{name}.png"));
    b.screenshot(&path).await.unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
    if std::env::var_os("CAIRN_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&path, docs.join(format!("{name}.png"))).unwrap();
    }
}

/// Polls `check` for up to 20 s (another org's peer may be a block behind).
fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..80 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("the condition did not hold within 20 s");
}

fn has(html: &str, needle: &str) -> bool {
    html.contains(needle)
}

#[test]
fn two_orgs_see_the_provenance_verified_in_the_browser_and_only_members_see_the_price() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let _cleanup = Cleanup { dir: dir.clone() };
    let ports = common::port_block();
    let port = ports.base.to_string();
    let demo = cairn(&[
        "demo",
        "supply-chain",
        "--dir",
        dir.to_str().unwrap(),
        "--base-port",
        &port,
        "--detach",
    ]);
    assert!(demo.status.success(), "{}", text(&demo));
    let urls = consoles(&stdout(&demo));
    for org in ["supplier", "retailer"] {
        assert!(
            urls.contains_key(&format!("peer0.{org}")),
            "no console URL printed for {org}: {}",
            stdout(&demo)
        );
    }
    let facts: Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo.json")).unwrap()).unwrap();
    let net = dir.join("net");
    let n = net.to_str().unwrap();
    let unit = facts["unit"].as_str().unwrap();
    let price = facts["supplier_manufacturer_price"].as_str().unwrap();
    let shipment = facts["shipments"][0].as_str().unwrap();

    // What the pages must show, found independently with the CLI: one step per
    // transaction that wrote the unit, its batches or its shipments ...
    let out = cairn(&[
        "query",
        "--dir",
        n,
        "--org",
        "Retailer",
        "--contract",
        "supply-chain",
        "GetProvenance",
        unit,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let p: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let mut txids = BTreeSet::new();
    let records = p["batches"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p["shipments"].as_array().unwrap())
        .chain([&p["unit"]]);
    for r in records {
        for s in r["steps"].as_array().unwrap() {
            txids.insert(s["txid"].as_str().unwrap().to_string());
        }
    }
    assert!(
        txids.len() >= 8,
        "a product's life has many steps: {txids:?}"
    );
    // ... and the terms, whose SHA-256 is the value hash every peer keeps.
    let out = cairn(&[
        "query",
        "--dir",
        n,
        "--org",
        "Manufacturer",
        "--contract",
        "supply-chain",
        "GetTerms",
        shipment,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let terms = stdout(&out).trim_end_matches('\n').to_string();
    assert!(terms.contains(price), "{terms}");
    let value_hash = hex::encode(Sha256::digest(terms.as_bytes()));
    let shipment_tx = p["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == shipment)
        .unwrap()["steps"][0]["txid"]
        .as_str()
        .unwrap()
        .to_string();

    // A handover endorsed by the receiver only: on the ledger, invalid.
    let invoke = |org: &str, endorsers: &[&str], args: &[&str]| {
        let mut a = vec![
            "invoke",
            "--dir",
            n,
            "--org",
            org,
            "--contract",
            "supply-chain",
        ];
        for e in endorsers {
            a.extend(["--endorsing-org", e]);
        }
        a.extend(args);
        cairn(&a)
    };
    let batch =
        serde_json::json!({"id": "B-console", "material": "steel", "quantity": 2, "measure": "t"});
    let out = invoke("Supplier", &[], &["CreateBatch", &batch.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let ship = serde_json::json!({"id": "S-console", "to": "ManufacturerMSP", "items": [{"type": "batch", "id": "B-console"}]});
    let out = invoke("Supplier", &[], &["CreateShipment", &ship.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    eventually(|| {
        cairn(&[
            "query",
            "--dir",
            n,
            "--org",
            "Manufacturer",
            "--contract",
            "supply-chain",
            "GetShipment",
            "S-console",
        ])
        .status
        .success()
    });
    let one_sided = invoke(
        "Manufacturer",
        &["ManufacturerMSP"],
        &["ReceiveShipment", r#"{"id":"S-console"}"#],
    );
    let said = text(&one_sided);
    assert!(said.contains("ENDORSEMENT_POLICY_FAILURE"), "{said}");
    let invalid_tx = said
        .split_whitespace()
        .skip_while(|w| *w != "transaction")
        .nth(1)
        .unwrap()
        .to_owned();
    let supplier_ca = {
        use base64::Engine as _;
        let pem = std::fs::read_to_string(net.join("crypto/supplier/ca/ca.pem")).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        hex::encode(Sha256::digest(der))
    };

    let other = tmp.path().join("other");
    let made = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Other",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let foreign = other.join("other/ca/ca.pem");
    // A Manufacturer user with a P-256 key (Fabric's default algorithm),
    // issued by its org's CA: the page's ECDSA login path.
    let p256_user = tmp.path().join("manufacturer-p256");
    {
        use cairn_crypto::{CertificateAuthority, IssueRequest, KeyType, Role};
        let ca_dir = net.join("crypto/manufacturer/ca");
        let ca = CertificateAuthority::from_pem(
            &std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap(),
            &std::fs::read_to_string(ca_dir.join("ca.key")).unwrap(),
        )
        .unwrap();
        let (cert, key) = ca
            .issue(
                &IssueRequest::new("p256@manufacturer.cairn", Role::Client, 1),
                KeyType::P256,
            )
            .unwrap();
        std::fs::create_dir_all(&p256_user).unwrap();
        std::fs::write(p256_user.join("cert.pem"), cert.to_pem()).unwrap();
        std::fs::write(
            p256_user.join("key.pem"),
            key.to_pkcs8_pem().unwrap().as_bytes(),
        )
        .unwrap();
    }
    let shots = tmp.path().join("shots");
    let crypto = net.join("crypto");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pins: Vec<String> = urls.values().map(|(_, pin)| pin.clone()).collect();
        let b = Browser::start_with_args(&[spki_pin_flag(&pins)]).await.unwrap_or_else(|e| panic!("{e}"));
        let supplier_url = &urls["peer0.supplier"].0;
        let retailer_url = &urls["peer0.retailer"].0;

        // The Supplier, on its own peer: every step verified, the price shown
        // and checked against the ledger's hash.
        login(&b, supplier_url, &crypto.join("supplier/users/user1"), "SupplierMSP").await;
        let (steps, verified, html) = provenance(&b, supplier_url, unit).await;
        assert_eq!(steps, txids.len() as u64, "one timeline step per transaction");
        assert_eq!(verified, steps, "every step's receipt verified in the page");
        assert!(has(&html, price), "positive control: the Supplier's page shows the price");
        let matches = b.client().execute(
            &format!("const t = document.querySelector('.terms[data-shipment=\"{shipment}\"] .terms-value'); return t ? t.dataset.matches : null;"),
            Vec::new(),
        ).await.unwrap();
        assert_eq!(matches, "true", "the terms hash to the ledger's value hash");
        screenshot(&b, &shots, "console-provenance-supplier").await;
        js(&b, "document.querySelector('#terms').scrollIntoView(); return true;").await;
        screenshot(&b, &shots, "console-terms-supplier").await;

        // A P-256 identity logs in too (WebCrypto's raw ECDSA signature sent
        // as low-S DER; about half of the signatures need the S flip, so
        // three logins would all pass by luck once in eight runs at most).
        let manufacturer_url = &urls["peer0.manufacturer"].0;
        for _ in 0..3 {
            login(&b, manufacturer_url, &p256_user, "ManufacturerMSP").await;
        }
        let (_, verified, html) = provenance(&b, manufacturer_url, unit).await;
        assert_eq!(verified, txids.len() as u64);
        assert!(has(&html, price), "the Manufacturer, a member, sees the price");

        // The shipment's transaction page: the Supplier, a member, reads the
        // terms in clear, matched to the ledger's hashes.
        let ready = format!("document.querySelector('#tx-receipt')?.dataset.txid === '{shipment_tx}'");
        let html = page(&b, supplier_url, &format!("#/tx/{CHANNEL}/{shipment_tx}"), &ready).await;
        assert!(has(&html, price), "positive control: the member's transaction page shows the price");
        let rows = js(&b, "return [...document.querySelectorAll('#private-values tr')].map((r) => r.dataset.matches);").await;
        assert_eq!(rows, serde_json::json!(["true"]), "one private write, matching its hashes");
        screenshot(&b, &shots, "console-transaction-supplier").await;

        // The page's check is the one that fails, by name, when a receipt is altered.
        let first = txids.iter().next().unwrap();
        let t = tampered_receipts(&b, first).await;
        assert_eq!(t["as_served"], serde_json::json!([]), "{t}");
        assert_eq!(t["header"], serde_json::json!(["header signed by a trusted orderer"]), "{t}");
        assert_eq!(t["code"], serde_json::json!(["Merkle inclusion (RFC 9162)"]), "{t}");
        assert_eq!(t["envelope"], serde_json::json!(["transaction in the envelope"]), "{t}");
        assert_eq!(t["no_ca"], serde_json::json!(["header signed by a trusted orderer"]), "{t}");

        // The Retailer, on its own peer and on the Supplier's: the same
        // timeline verified, the terms as a hash only.
        for (url, name) in [(retailer_url, "console-provenance-retailer"), (supplier_url, "console-retailer-on-supplier-peer")] {
            login(&b, url, &crypto.join("retailer/users/user1"), "RetailerMSP").await;
            let (steps, verified, html) = provenance(&b, url, unit).await;
            assert_eq!((steps, verified), (txids.len() as u64, txids.len() as u64), "{url}");
            assert!(!has(&html, price), "the price reached the Retailer's page at {url}");
            assert!(has(&html, &value_hash), "the Retailer sees the terms' value hash at {url}");
            let hash_only = b.client().execute(
                &format!("return !!document.querySelector('.terms[data-shipment=\"{shipment}\"] .terms-hash') && !document.querySelector('.terms[data-shipment=\"{shipment}\"] .terms-value');"),
                Vec::new(),
            ).await.unwrap();
            assert_eq!(hash_only, true, "{url}");
            screenshot(&b, &shots, name).await;
            if url == retailer_url {
                js(&b, "document.querySelector('#terms').scrollIntoView(); return true;").await;
                screenshot(&b, &shots, "console-terms-retailer").await;
            }
        }

        // The other pages, as the Retailer on its own peer.
        login(&b, retailer_url, &crypto.join("retailer/users/user1"), "RetailerMSP").await;

        // Receipts checked against CA files the user loads instead of the
        // peer's channel configuration: the orderer orgs' CAs verify every
        // step, another network's CA none.
        let real: Vec<String> = ["supplier", "manufacturer", "shipper", "warehouse", "retailer"]
            .iter()
            .map(|o| crypto.join(format!("{o}/ca/ca.pem")).display().to_string())
            .collect();
        let done = "document.querySelector('#provenance-status')?.dataset.state === 'done'";
        page(&b, retailer_url, &format!("#/provenance/{CHANNEL}/supply-chain/{unit}"), done).await;
        for (files, expect) in [(real.join("\n"), txids.len()), (foreign.display().to_string(), 0)] {
            js(&b, "document.querySelector('#provenance-status').remove(); return true;").await;
            b.client().find(Locator::Id("ca-files")).await.unwrap().send_keys(&files).await.unwrap();
            b.wait_until(done, Duration::from_secs(60)).await.unwrap();
            let got = js(&b, "return [document.querySelector('.trust').dataset.source, document.querySelector('#provenance-status').dataset.verified];").await;
            assert_eq!(got, serde_json::json!(["files", expect.to_string()]), "{files}");
        }
        js(&b, "document.querySelector('#provenance-status').remove(); document.querySelector('#ca-reset').click(); return true;").await;
        b.wait_until(done, Duration::from_secs(60)).await.unwrap();
        let got = js(&b, "return [document.querySelector('.trust').dataset.source, document.querySelector('#provenance-status').dataset.verified];").await;
        assert_eq!(got, serde_json::json!(["config", txids.len().to_string()]));
        page(&b, retailer_url, "#/network", "document.querySelectorAll('table.orderers tr[data-leader]').length === 5").await;
        let peers = js(&b, "return document.querySelectorAll('table.peers tr[data-ok=\"true\"]').length;").await;
        assert_eq!(peers, 5, "the network page shows the five orgs' peers and their heights");
        let leaders = js(&b, "return document.querySelectorAll('table.orderers tr[data-leader=\"true\"]').length;").await;
        assert_eq!(leaders, 1, "the network page names one Raft leader");
        screenshot(&b, &shots, "console-network").await;
        page(&b, retailer_url, &format!("#/channel/{CHANNEL}"), "document.querySelectorAll('#orgs tr[data-msp]').length === 5").await;
        let shown = js(&b, "return document.querySelector('#orgs tr[data-msp=\"SupplierMSP\"] td.hash').textContent;").await;
        assert_eq!(shown, supplier_ca.as_str(), "the channel page shows the Supplier CA's fingerprint");
        page(&b, retailer_url, &format!("#/contracts/{CHANNEL}"), "!!document.querySelector('tr[data-contract=\"supply-chain\"]')").await;
        let collection = js(&b, "return document.querySelector('tr[data-contract=\"supply-chain\"] li[data-collection=\"SupplierManufacturer\"]').textContent;").await;
        assert!(collection.as_str().unwrap().contains("members only read"), "{collection}");
        screenshot(&b, &shots, "console-contracts").await;
        page(&b, retailer_url, &format!("#/blocks/{CHANNEL}"), "!!document.querySelector('.code.ENDORSEMENT_POLICY_FAILURE')").await;
        screenshot(&b, &shots, "console-blocks").await;
        page(&b, retailer_url, &format!("#/tx/{CHANNEL}/{invalid_tx}"), &format!("document.querySelector('#tx-receipt')?.dataset.txid === '{invalid_tx}'")).await;
        let tx = js(&b, "return [document.querySelector('#tx-receipt').dataset.verified, !!document.querySelector('p .code.ENDORSEMENT_POLICY_FAILURE')];").await;
        assert_eq!(tx, serde_json::json!(["true", true]), "the invalid handover: its receipt verifies, its code shown");
        let html = page(&b, retailer_url, &format!("#/tx/{CHANNEL}/{shipment_tx}"), &format!("document.querySelector('#tx-receipt')?.dataset.txid === '{shipment_tx}'")).await;
        assert!(has(&html, &value_hash) && !has(&html, price), "the shipment's transaction page: the terms' hash, not the price");
        assert_eq!(js(&b, "return document.querySelector('#private-values').dataset.count;").await, "0");
        screenshot(&b, &shots, "console-transaction").await;

        // The console only reads; without a session, nothing.
        assert_eq!(status_of(&b, "POST", "/api/v1/gateway/submit").await, 405);
        assert_eq!(status_of(&b, "GET", "/api/v1/channels").await, 200, "control: the session reads");
        assert_eq!(status_of(&b, "POST", "/console/logout").await, 204);
        assert_eq!(status_of(&b, "GET", "/api/v1/channels").await, 401);
        assert_eq!(status_of(&b, "GET", &format!("/api/v1/channels/{CHANNEL}/transactions/{shipment_tx}/writes")).await, 401);
        // A key that is not the certificate's: refused, and said so.
        let refused = try_login(
            &b,
            retailer_url,
            &crypto.join("supplier/users/user1/key.pem"),
            &crypto.join("retailer/users/user1/cert.pem"),
            "RetailerMSP",
        )
        .await;
        let said = refused.expect_err("a key that is not the certificate's logged in");
        assert!(said.contains("does not verify"), "{said}");
        b.close().await;
    });

    // Nor in the Retailer peer's storage or log; positive control: the Supplier's peer.
    let node = |name: &str| net.join("nodes").join(name);
    assert!(
        !files_containing(&node("peer0.supplier"), price.as_bytes()).is_empty(),
        "positive control: the Supplier peer stores the price"
    );
    let leaked = files_containing(&node("peer0.retailer"), price.as_bytes());
    assert!(
        leaked.is_empty(),
        "the price is in the Retailer peer's files {leaked:?}"
    );
    let log = std::fs::read(net.join("logs/peer0.retailer.log")).unwrap();
    assert!(!log.is_empty(), "the Retailer peer logs");
    assert!(
        !log.windows(price.len()).any(|w| w == price.as_bytes()),
        "the price is in the Retailer peer's log"
    );
}
