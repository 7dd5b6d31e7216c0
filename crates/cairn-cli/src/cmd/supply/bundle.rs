//! The provenance bundle of a unit and its offline check.
//!
//! A bundle holds only what a verifier cannot get elsewhere: the receipts of
//! the transactions that wrote the unit, its batches and its shipments, and
//! the bytes of every document those records name. It holds no claim of its
//! own: the verifier rebuilds the history from the public writes the receipts
//! prove, and checks each document's bytes against the hash and size a proven
//! write recorded. Nothing private is in it (the terms stay in their
//! collections; receipts carry only the hashes of private writes).
//!
//! Checking is in two parts: [`prove`] verifies every receipt against the
//! trusted orderer CAs and keeps the records they prove; [`check`] (no I/O,
//! no cryptography but SHA-256) decides what is complete and intact.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::receipt::Receipt;
use cairn_ledger::tx::{Envelope, ProposalResponsePayload, Transaction};
use cairn_ledger::validation::ValidationCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The bundle's `kind`.
pub const BUNDLE_KIND: &str = "cairn-supply-provenance/v1";

/// A unit's provenance bundle (the file `cairn supply provenance` writes).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_KIND`].
    pub kind: String,
    /// The contract (namespace) whose writes tell the history.
    pub contract: String,
    /// The unit.
    pub unit: String,
    /// One receipt per transaction of the history.
    pub receipts: Vec<Receipt>,
    /// The documents' bytes, by location.
    pub documents: Vec<DocumentBytes>,
}

/// A document's bytes and where the blob store keeps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentBytes {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Version id.
    pub version_id: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub content_base64: String,
}

/// One version of a record, proven by a verified receipt.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenRecord {
    /// The record as written (`type`, `id`, `steps`, `documents`, …).
    pub record: Value,
    /// The transaction that wrote it.
    pub txid: String,
    /// Its block.
    pub block: u64,
    /// The orderers that signed the block header.
    pub signers: Vec<String>,
}

/// What the check found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The history, oldest first: one line per step.
    pub timeline: Vec<String>,
    /// Every document checked: `name (bucket/key?versionId=V) sha256 H, N bytes`.
    pub documents: Vec<String>,
    /// Everything wrong; empty when the bundle verifies.
    pub problems: Vec<String>,
}

/// Verifies every receipt against any of the trusted CAs (PEM) and answers the
/// records they prove, plus a problem per receipt that does not verify or
/// whose transaction is not `VALID`.
pub fn prove(bundle: &Bundle, cas: &[String]) -> (Vec<ProvenRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    // One history is on one channel: the first verified receipt names it.
    let mut channel: Option<String> = None;
    for r in &bundle.receipts {
        let mut last = None;
        let verified = cas.iter().find_map(|ca| match r.verify(ca) {
            Ok(v) => Some(v),
            Err(e) => {
                last = Some(e.to_string());
                None
            }
        });
        let Some(v) = verified else {
            problems.push(format!(
                "the receipt of transaction {} does NOT verify with the trusted CA(s): {}",
                r.txid,
                last.unwrap_or_else(|| "no CA given".into())
            ));
            continue;
        };
        match &channel {
            None => channel = Some(v.channel.clone()),
            Some(c) if *c != v.channel => {
                problems.push(format!(
                    "transaction {} is on channel {}, the rest of the history on {c}",
                    v.txid, v.channel
                ));
                continue;
            }
            Some(_) => {}
        }
        if v.code != ValidationCode::Valid {
            problems.push(format!(
                "transaction {} is on the ledger as {}, not VALID: it proves nothing",
                v.txid, v.code
            ));
            continue;
        }
        match public_writes(&r.envelope, &bundle.contract) {
            Ok(values) => {
                for value in values {
                    let Ok(record) = serde_json::from_slice::<Value>(&value) else {
                        continue;
                    };
                    let txid = v.txid.to_string();
                    // A record's last step names the transaction that wrote it.
                    let last_step = record["steps"]
                        .as_array()
                        .and_then(|s| s.last())
                        .and_then(|s| s["txid"].as_str());
                    if record["type"].is_string() && last_step == Some(txid.as_str()) {
                        records.push(ProvenRecord {
                            record,
                            txid,
                            block: v.block,
                            signers: v.signers.clone(),
                        });
                    }
                }
            }
            Err(e) => problems.push(format!("transaction {}: {e}", v.txid)),
        }
    }
    (records, problems)
}

/// The values `contract` writes in the envelope's transaction.
fn public_writes(envelope: &[u8], contract: &str) -> Result<Vec<Vec<u8>>, String> {
    let tx = Envelope::decode(envelope)
        .map_err(|e| format!("its envelope does not decode: {e}"))?
        .transaction()
        .map_err(|e| format!("its transaction does not decode: {e}"))?;
    let Transaction::Endorsed(tx) = tx else {
        return Ok(Vec::new());
    };
    let payload = ProposalResponsePayload::decode(&tx.response_payload)
        .map_err(|e| format!("its response payload does not decode: {e}"))?;
    Ok(payload
        .rwset
        .namespaces
        .iter()
        .filter(|ns| ns.namespace == contract)
        .flat_map(|ns| ns.writes.iter().filter(|w| !w.is_delete))
        .map(|w| w.value.clone())
        .collect())
}

/// Decides, from proven records only, whether the unit's history is complete
/// (every step of the unit, its batches and its shipments has a proven
/// transaction) and every document's bytes match their recorded hash and size.
pub fn check(unit: &str, proven: &[ProvenRecord], documents: &[DocumentBytes]) -> Report {
    let mut report = Report::default();
    // The latest proven version of each record: the one with the most steps.
    let mut latest: BTreeMap<(String, String), &ProvenRecord> = BTreeMap::new();
    for p in proven {
        let (Some(t), Some(id)) = (p.record["type"].as_str(), p.record["id"].as_str()) else {
            continue;
        };
        let steps = |r: &ProvenRecord| r.record["steps"].as_array().map_or(0, Vec::len);
        let k = (t.to_owned(), id.to_owned());
        if latest.get(&k).is_none_or(|old| steps(p) > steps(old)) {
            latest.insert(k, p);
        }
    }
    let by_tx: BTreeMap<&str, &ProvenRecord> =
        proven.iter().map(|p| (p.txid.as_str(), p)).collect();
    let Some(u) = latest.get(&("unit".into(), unit.into())) else {
        report.problems.push(format!(
            "no verified receipt proves a record of unit {unit}"
        ));
        return report;
    };
    // The unit, its batches, and every shipment their steps name.
    let mut wanted: Vec<(String, String)> = vec![("unit".into(), unit.into())];
    for b in u.record["batches"].as_array().into_iter().flatten() {
        if let Some(b) = b.as_str() {
            wanted.push(("batch".into(), b.into()));
        }
    }
    let mut shipments = BTreeSet::new();
    for k in wanted.clone() {
        if let Some(r) = latest.get(&k) {
            for s in steps(&r.record) {
                if let Some(id) = s["shipment"].as_str() {
                    shipments.insert(id.to_owned());
                }
            }
        }
    }
    wanted.extend(shipments.into_iter().map(|s| ("shipment".to_owned(), s)));

    // One line per transaction (in time order): who, and what it did to which record.
    let mut lines: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    let mut docs: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    for k in &wanted {
        let Some(r) = latest.get(k) else {
            report.problems.push(format!(
                "{} {}: no verified receipt proves its record",
                k.0, k.1
            ));
            continue;
        };
        for (i, s) in steps(&r.record).iter().enumerate() {
            let txid = s["txid"].as_str().unwrap_or_default();
            let step = s["step"].as_str().unwrap_or("?");
            let Some(p) = by_tx.get(txid) else {
                report.problems.push(format!(
                    "{} {}: step {} ({step}) names transaction {txid}, and no verified receipt proves it",
                    k.0,
                    k.1,
                    i + 1
                ));
                continue;
            };
            let mut extra = String::new();
            if let Some(sh) = s["shipment"].as_str().filter(|_| k.0 != "shipment") {
                extra = format!(" (shipment {sh})");
            } else if let Some(sale) = s["saleId"].as_str() {
                extra = format!(" (sale {sale})");
            } else if let Some(unit) = s["unit"].as_str() {
                extra = format!(" (into unit {unit})");
            }
            let at = s["at"].as_str().unwrap_or_default().to_owned();
            let head = format!(
                "{at}  {} ({})  tx {txid} in block {}, receipt verified (header signed by {})",
                s["org"].as_str().unwrap_or("?"),
                s["role"].as_str().unwrap_or("?"),
                p.block,
                p.signers
                    .iter()
                    .map(|n| common_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let entry = lines
                .entry((at, txid.to_owned()))
                .or_insert_with(|| (head, Vec::new()));
            entry.1.push(format!("{} {}: {step}{extra}", k.0, k.1));
        }
        for d in r.record["documents"].as_array().into_iter().flatten() {
            let loc = |f: &str| d[f].as_str().unwrap_or_default().to_owned();
            docs.insert((loc("bucket"), loc("key"), loc("versionId")), d.clone());
        }
    }
    report.timeline = lines
        .into_values()
        .map(|(head, what)| format!("{head}\n      {}", what.join("; ")))
        .collect();

    for ((bucket, key, version), d) in &docs {
        let name = d["name"].as_str().unwrap_or("?");
        let place = format!("{bucket}/{key}?versionId={version}");
        let recorded = d["sha256"].as_str().unwrap_or_default();
        let size = d["size"].as_u64();
        let Some(bytes) = documents
            .iter()
            .find(|b| &b.bucket == bucket && &b.key == key && &b.version_id == version)
        else {
            report.problems.push(format!(
                "document {name} ({place}): not in the bundle (recorded sha256 {recorded})"
            ));
            continue;
        };
        let content = match base64::engine::general_purpose::STANDARD.decode(&bytes.content_base64)
        {
            Ok(c) => c,
            Err(e) => {
                report.problems.push(format!(
                    "document {name} ({place}): its content is not base64: {e}"
                ));
                continue;
            }
        };
        let actual = cairn_crypto::sha256(&content).to_string();
        if actual != recorded || size != Some(content.len() as u64) {
            report.problems.push(format!(
                "document {name} ({place}) is TAMPERED: the ledger records sha256 {recorded} ({} bytes), the bundle's bytes have sha256 {actual} ({} bytes)",
                size.map_or("?".into(), |s| s.to_string()),
                content.len()
            ));
            continue;
        }
        report.documents.push(format!(
            "{name} ({place}) sha256 {actual}, {} bytes: matches the ledger",
            content.len()
        ));
    }
    report
}

/// The CN of a subject such as `CN=orderer0.org1.cairn,OU=orderer,O=Org1`, or the whole subject.
fn common_name(subject: &str) -> &str {
    subject
        .split(',')
        .find_map(|p| p.trim().strip_prefix("CN="))
        .unwrap_or(subject)
}

fn steps(record: &Value) -> Vec<Value> {
    record["steps"].as_array().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use serde_json::json;

    use super::*;

    fn step(step: &str, txid: &str, extra: Value) -> Value {
        let mut s = json!({"at": format!("2026-12-07T00:00:0{}Z", txid.len() % 10), "org": "SupplierMSP",
                           "role": "supplier", "step": step, "txid": txid});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    }

    fn proven(record: Value, txid: &str) -> ProvenRecord {
        ProvenRecord {
            record,
            txid: txid.into(),
            block: 3,
            signers: vec!["orderer0".into()],
        }
    }

    fn doc(content: &[u8]) -> (Value, DocumentBytes) {
        let sha = cairn_crypto::sha256(content).to_string();
        (
            json!({"name": "cert.pdf", "sha256": sha, "size": content.len(),
                   "bucket": "docs", "key": "c", "versionId": "v1"}),
            DocumentBytes {
                bucket: "docs".into(),
                key: "c".into(),
                version_id: "v1".into(),
                content_base64: base64::engine::general_purpose::STANDARD.encode(content),
            },
        )
    }

    /// A unit made from one batch shipped once: three transactions.
    fn history(document: Value) -> Vec<ProvenRecord> {
        let s1 = step("shipped", "t2", json!({"shipment": "S"}));
        let batch_v1 = json!({"type": "batch", "id": "B", "steps": [step("created", "t1", json!({}))],
                              "documents": [document]});
        let mut batch_v2 = batch_v1.clone();
        batch_v2["steps"].as_array_mut().unwrap().push(s1.clone());
        let shipment = json!({"type": "shipment", "id": "S", "steps": [s1], "documents": []});
        let unit = json!({"type": "unit", "id": "U", "batches": ["B"], "documents": [],
                          "steps": [step("produced", "t3", json!({}))]});
        vec![
            proven(batch_v1, "t1"),
            proven(batch_v2, "t2"),
            proven(shipment, "t2"),
            proven(unit, "t3"),
        ]
    }

    #[test]
    fn a_complete_history_with_intact_documents_verifies() {
        let (d, bytes) = doc(b"quality certificate");
        let r = check("U", &history(d), &[bytes]);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        // Three transactions; t2 wrote the batch and the shipment.
        assert_eq!(r.timeline.len(), 3, "{:?}", r.timeline);
        assert!(
            r.timeline.iter().any(|l| l.contains("tx t2 in block 3")
                && l.ends_with("batch B: shipped (shipment S); shipment S: shipped")),
            "{:?}",
            r.timeline
        );
        assert_eq!(r.documents.len(), 1);
    }

    #[test]
    fn a_tampered_document_is_named_with_both_hashes() {
        let (d, mut bytes) = doc(b"quality certificate");
        let recorded = d["sha256"].as_str().unwrap().to_owned();
        bytes.content_base64 =
            base64::engine::general_purpose::STANDARD.encode(b"quality certificatE");
        let actual = cairn_crypto::sha256(b"quality certificatE").to_string();
        let r = check("U", &history(d), &[bytes]);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        let p = &r.problems[0];
        assert!(
            p.contains("document cert.pdf (docs/c?versionId=v1) is TAMPERED"),
            "{p}"
        );
        assert!(p.contains(&recorded) && p.contains(&actual), "{p}");
    }

    #[test]
    fn a_missing_receipt_or_document_is_reported() {
        let (d, bytes) = doc(b"x");
        let mut h = history(d.clone());
        h.remove(2); // the shipment's record (t2 still proves the batch's step)
        let r = check("U", &h, &[bytes]);
        assert_eq!(
            r.problems,
            ["shipment S: no verified receipt proves its record"]
        );
        let mut h = history(d);
        h.remove(0);
        h.remove(0);
        h.remove(0); // only the unit is proven
        let r = check("U", &h, &[]);
        assert_eq!(
            r.problems,
            ["batch B: no verified receipt proves its record"]
        );
        let r = check("V", &history(doc(b"x").0), &[]);
        assert_eq!(
            r.problems,
            ["no verified receipt proves a record of unit V"]
        );
    }
}
