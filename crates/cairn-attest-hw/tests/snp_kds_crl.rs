//! Real AMD KDS CRLs (testdata/amd_kds_crls.json: AMD's Milan and Genoa VCEK CRLs)
//! with real SEV-SNP evidence and AMD's real ASKs/ASVKs, through the public verifier
//! (AMD's pinned roots): the positive control that a CRL signed by AMD's ARK is
//! accepted and does not list AMD's current signing CAs, so real evidence verifies
//! with it and says `amd_crl_checked: true`.
//!
//! Times: the real-sample tests (`snp_samples.rs`) pin a day after the certificates'
//! `not_before` (2023), before these CRLs were issued. These tests pin a day after
//! the CRL's `thisUpdate` instead, and assert that this time is also inside the
//! sample certificates' validity, so the result does not depend on the clock. Both
//! CRLs are stale today (Milan's `nextUpdate` is 2026-05-12): the window tests show
//! they are refused outside it.
//!
//! Controls that the CRL is really checked, not ignored: the same CRL with one byte
//! changed, outside its window, or from another product's ARK is refused.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{EvidenceError, EvidenceVerifier, UnixTime, VerifiedEvidence};
use cairn_attest_hw::SnpVerifier;
use serde_json::{Value, json};
use sha2::Digest;
use x509_cert::crl::CertificateList;
use x509_cert::der::Decode;

fn read(name: &str) -> Value {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn find(list: &Value, key: &str, value: &str) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c[key] == value)
        .unwrap()
        .clone()
}

/// The real KDS CRL entry for `product` (`Milan`, `Genoa`).
fn kds_crl(product: &str) -> Value {
    find(&read("amd_kds_crls.json")["crls"], "product", product)
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn time(v: &Value) -> UnixTime {
    UnixTime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

/// A day after the CRL's `thisUpdate`: inside its window.
fn inside(crl: &Value) -> UnixTime {
    let at = time(&crl["this_update"]).plus(86_400);
    assert!(at <= time(&crl["next_update"]));
    at
}

/// A real Milan VCEK sample's evidence, with its ASK (and no ARK: the pinned one).
fn milan_evidence(id: &str, at: UnixTime) -> Value {
    let c = find(&read("sev_snp.json")["cases"], "id", id);
    let window = &c["verification_time"];
    assert!(
        time(&window["not_before"]) <= at && at <= time(&window["not_after"]),
        "{id}: {at} is outside the certificates' validity"
    );
    json!({
        "report": STANDARD.encode(hex::decode(c["report_hex"].as_str().unwrap()).unwrap()),
        "vek": c["vcek"]["der_b64"],
        "ask": c["ask"]["der_b64"],
    })
}

const MILAN_VCEK_CASES: [&str; 2] = ["virtee-milan-vcek", "trustee-milan-vcek"];

fn collateral_reason(result: Result<VerifiedEvidence, EvidenceError>) -> String {
    match result {
        Err(EvidenceError::Collateral(reason)) => reason,
        other => panic!("expected a collateral error, got {other:?}"),
    }
}

#[test]
fn the_real_crls_are_what_their_source_note_says() {
    for product in ["Milan", "Genoa"] {
        let note = kds_crl(product);
        let der = b64(&note["der_b64"]);
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&der)),
            note["sha256"].as_str().unwrap()
        );
        let source = note["source"].as_str().unwrap();
        assert!(source.starts_with("openpcc/openpcc@") && source.contains(':'));
        let crl = CertificateList::from_der(&der).unwrap();
        let tbs = &crl.tbs_cert_list;
        let issuer = tbs.issuer.to_string();
        assert!(
            issuer.contains(&format!("CN={}", note["issuer_cn"].as_str().unwrap())),
            "{issuer}"
        );
        assert_eq!(
            tbs.this_update.to_unix_duration().as_secs(),
            time(&note["this_update"]).secs()
        );
        assert_eq!(
            tbs.next_update.unwrap().to_unix_duration().as_secs(),
            time(&note["next_update"]).secs()
        );
        let listed: Vec<(String, u64)> = tbs
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| {
                (
                    hex::encode(r.serial_number.as_bytes()),
                    r.revocation_date.to_unix_duration().as_secs(),
                )
            })
            .collect();
        let noted: Vec<(String, u64)> = note["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["serial"].as_str().unwrap().to_owned(),
                    time(&r["revocation_date"]).secs(),
                )
            })
            .collect();
        assert_eq!(listed, noted, "{product}");
    }
    // Genoa's lists a real revoked serial, so "not listed" below is a real comparison.
    assert!(!kds_crl("Genoa")["revoked"].as_array().unwrap().is_empty());
}

#[test]
fn real_milan_evidence_verifies_with_amds_milan_crl_in_the_evidence() {
    let crl = kds_crl("Milan");
    let at = inside(&crl);
    for id in MILAN_VCEK_CASES {
        let mut ev = milan_evidence(id, at);
        let without = SnpVerifier::default().verify(&ev, at).unwrap();
        assert!(!without.flags["amd_crl_checked"], "{id}");
        ev["crl"] = crl["der_b64"].clone();
        let with = SnpVerifier::default().verify(&ev, at).unwrap();
        assert!(with.flags["amd_crl_checked"], "{id}");
        assert_eq!(with.measurement, without.measurement);
    }
}

#[test]
fn real_milan_evidence_verifies_with_amds_milan_crl_in_the_collateral_directory() {
    let crl = kds_crl("Milan");
    let at = inside(&crl);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("crl-milan.der"), b64(&crl["der_b64"])).unwrap();
    let v = SnpVerifier::new(Some(dir.path().to_owned()));
    for id in MILAN_VCEK_CASES {
        let ev = milan_evidence(id, at);
        let claims = v.verify(&ev, at).unwrap();
        assert!(claims.flags["amd_crl_checked"], "{id}");
        // With only the VCEK, the pinned Milan ASK is the one checked against the CRL.
        let vcek_only = json!({ "report": ev["report"], "vek": ev["vek"] });
        let claims = v.verify(&vcek_only, at).unwrap();
        assert!(claims.flags["amd_crl_checked"], "{id}");
    }
}

#[test]
fn real_crls_do_not_list_amds_current_asks_and_asvks() {
    let chains = &read("sev_snp.json")["vendor_chains_trustee"]["chains"];
    for product in ["Milan", "Genoa"] {
        let crl = kds_crl(product);
        let (der, at) = (b64(&crl["der_b64"]), inside(&crl));
        let dir = tempfile::tempdir().unwrap();
        let file = format!("crl-{}.der", product.to_ascii_lowercase());
        std::fs::write(dir.path().join(&file), &der).unwrap();
        let from_dir = SnpVerifier::new(Some(dir.path().to_owned()));
        let chain = &chains[product.to_ascii_lowercase()];
        let ark = b64(&chain[format!("ARK-{product}")]["der_b64"]);
        for name in [format!("SEV-{product}"), format!("SEV-VLEK-{product}")] {
            let ca = b64(&chain[&name]["der_b64"]);
            let given = SnpVerifier::default().certify_signing_ca(&ca, Some(&ark), Some(&der), at);
            assert_eq!(given.unwrap(), product, "{name}");
            assert_eq!(
                from_dir.certify_signing_ca(&ca, None, None, at).unwrap(),
                product,
                "{name} with {file}"
            );
        }
    }
}

#[test]
fn a_real_crl_is_refused_outside_its_validity_window() {
    let crl = kds_crl("Milan");
    let (this_update, next_update) = (time(&crl["this_update"]), time(&crl["next_update"]));
    // milan_evidence asserts that both ends, and a second around them, are inside the
    // VCEK's validity, so only the CRL decides.
    let before = UnixTime(this_update.secs() - 1);
    milan_evidence("trustee-milan-vcek", before);
    let mut ev = milan_evidence("trustee-milan-vcek", next_update.plus(1));
    ev["crl"] = crl["der_b64"].clone();
    let v = SnpVerifier::default();
    for at in [this_update, next_update] {
        assert!(v.verify(&ev, at).unwrap().flags["amd_crl_checked"]);
    }
    for at in [before, next_update.plus(1)] {
        let reason = collateral_reason(v.verify(&ev, at));
        assert!(
            reason.contains("fetch a current one from https://kdsintf.amd.com/vcek/v1/Milan/crl"),
            "{reason}"
        );
    }
}

#[test]
fn a_real_crl_with_one_byte_changed_is_refused() {
    let crl = kds_crl("Milan");
    let at = inside(&crl);
    let der = b64(&crl["der_b64"]);
    // One byte of the signature, and one second of thisUpdate in the signed part.
    let mut bad_signature = der.clone();
    *bad_signature.last_mut().unwrap() ^= 1;
    let this_update = b"250506123906Z";
    let i = der
        .windows(this_update.len())
        .position(|w| w == this_update)
        .unwrap();
    let mut bad_tbs = der.clone();
    bad_tbs[i + 11] = b'5';
    for (what, bytes) in [("signature", bad_signature), ("thisUpdate", bad_tbs)] {
        let mut ev = milan_evidence("virtee-milan-vcek", at);
        ev["crl"] = STANDARD.encode(bytes).into();
        let reason = collateral_reason(SnpVerifier::default().verify(&ev, at));
        assert!(
            reason.contains("does not verify with the key of ARK-Milan"),
            "{what}: {reason}"
        );
    }
}

#[test]
fn another_products_real_crl_is_refused_naming_the_one_to_fetch() {
    let genoa = kds_crl("Genoa");
    // Inside both CRLs' windows and the Milan VCEK's validity.
    let at = inside(&kds_crl("Milan"));
    assert!(at <= time(&genoa["next_update"]));
    let mut ev = milan_evidence("virtee-milan-vcek", at);
    ev["crl"] = genoa["der_b64"].clone();
    let reason = collateral_reason(SnpVerifier::default().verify(&ev, at));
    assert!(reason.contains("ARK-Genoa"), "{reason}");
    assert!(reason.contains("not by ARK-Milan"), "{reason}");
    assert!(
        reason.contains("https://kdsintf.amd.com/vcek/v1/Milan/crl"),
        "{reason}"
    );
}
