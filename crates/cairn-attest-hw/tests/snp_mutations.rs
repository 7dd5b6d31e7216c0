//! Changing any single byte of a real SNP report (its signature included), or of its
//! VCEK, ASK or ARK certificate, makes verification fail with a reason of the right
//! kind.
//!
//! Each signature check costs tens of milliseconds in a debug build, so the default
//! tests flip every third report byte and every seventh certificate byte; the `exhaustive_*`
//! tests flip every byte and run with `cargo nextest run -p cairn-attest-hw
//! --run-ignored only` (about two CPU-minutes in a debug build).
//!
//! Regression story: the first exhaustive run found that flipping byte 847 of the
//! VCEK (the signature BIT STRING's unused-bits count, outside the signed TBS) was
//! accepted, because the signature check reads only the raw bits. The verifier now
//! refuses a signature BIT STRING with unused bits.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{EvidenceError, UnixTime};
use cairn_attest_hw::SnpVerifier;
use serde_json::Value;

fn case(id: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sev_snp.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone()
}

fn der(v: &Value) -> Vec<u8> {
    STANDARD.decode(v["der_b64"].as_str().unwrap()).unwrap()
}

/// Inside every certificate's validity, the VLEK's (2024-12-10 .. 2025-12-10) included.
fn at() -> UnixTime {
    UnixTime::parse_rfc3339("2025-01-01T00:00:00Z").unwrap()
}

/// Asserts that `err` is one of the `allowed` kinds and says something.
fn assert_reason(what: &str, err: &EvidenceError, allowed: fn(&EvidenceError) -> bool) {
    assert!(allowed(err), "{what}: unexpected kind of error: {err:?}");
    assert!(err.to_string().len() > 20, "{what}: no reason: {err}");
}

/// A changed report byte: the signature, the canonical form, the TCB or the parse fails.
fn report_error(e: &EvidenceError) -> bool {
    matches!(
        e,
        EvidenceError::ReportSignature(_)
            | EvidenceError::NonCanonical(_)
            | EvidenceError::Tcb(_)
            | EvidenceError::Malformed(_)
    )
}

/// A changed certificate byte: the chain, the parse or the root check fails.
fn certificate_error(e: &EvidenceError) -> bool {
    matches!(
        e,
        EvidenceError::CertificateChain(_)
            | EvidenceError::Malformed(_)
            | EvidenceError::UntrustedRoot(_)
    )
}

fn report_bytes_matter(id: &str, stride: usize) {
    let c = case(id);
    let report = hex::decode(c["report_hex"].as_str().unwrap()).unwrap();
    let v = SnpVerifier::default();
    let (vek, ask, vlek) = if c["key_type"] == "VLEK" {
        (der(&c["vlek"]), der(&c["asvk"]), true)
    } else {
        (der(&c["vcek"]), der(&c["ask"]), false)
    };
    let vek = v
        .certify_vek(&vek, Some(&ask), None, None, vlek, at())
        .unwrap();
    v.verify_report(&report, &vek).unwrap();
    for i in (0..report.len()).step_by(stride) {
        let mut bad = report.clone();
        bad[i] ^= 0x01;
        match v.verify_report(&bad, &vek) {
            Ok(_) => panic!("{id}: flipping report byte {i} was accepted"),
            Err(e) => assert_reason(&format!("{id} report byte {i}"), &e, report_error),
        }
    }
}

fn certificate_bytes_matter(stride: usize, offset: usize) {
    let c = case("trustee-milan-vcek");
    let v = SnpVerifier::default();
    let (vcek, ask, ark) = (der(&c["vcek"]), der(&c["ask"]), der(&c["ark"]));
    v.certify_vek(&vcek, Some(&ask), Some(&ark), None, false, at())
        .unwrap();
    for (name, original) in [("vcek", &vcek), ("ask", &ask)] {
        for i in (offset..original.len()).step_by(stride) {
            let mut bad = original.clone();
            bad[i] ^= 0x01;
            let (vek_der, ask_der) = if name == "vcek" {
                (&bad, &ask)
            } else {
                (&vcek, &bad)
            };
            match v.certify_vek(vek_der, Some(ask_der), None, None, false, at()) {
                Ok(_) => panic!("flipping {name} byte {i} was accepted"),
                Err(e) => assert_reason(&format!("{name} byte {i}"), &e, certificate_error),
            }
        }
    }
}

#[test]
fn every_third_report_byte_matters() {
    report_bytes_matter("trustee-milan-vcek", 3);
}

#[test]
fn every_seventh_vlek_report_byte_matters() {
    report_bytes_matter("trustee-milan-vlek", 7);
}

#[test]
fn every_seventh_certificate_byte_matters() {
    // Offset 0 covers byte 847 (= 7 * 121) of the VCEK, the regression above.
    certificate_bytes_matter(7, 0);
}

#[test]
fn every_ark_byte_matters() {
    // The ARK is compared with the pinned one before any signature check, so every
    // byte is cheap to try.
    let c = case("trustee-milan-vcek");
    let v = SnpVerifier::default();
    let (vcek, ask, ark) = (der(&c["vcek"]), der(&c["ask"]), der(&c["ark"]));
    for i in 0..ark.len() {
        let mut bad = ark.clone();
        bad[i] ^= 0x01;
        match v.certify_vek(&vcek, Some(&ask), Some(&bad), None, false, at()) {
            Ok(_) => panic!("flipping ARK byte {i} was accepted"),
            Err(e) => assert_reason(&format!("ark byte {i}"), &e, certificate_error),
        }
    }
}

#[test]
#[ignore = "exhaustive: about a CPU-minute in debug builds"]
fn exhaustive_every_report_byte_matters() {
    report_bytes_matter("trustee-milan-vcek", 1);
    report_bytes_matter("trustee-milan-vlek", 1);
    report_bytes_matter("virtee-milan-vcek", 1);
}

#[test]
#[ignore = "exhaustive: about a CPU-minute in debug builds"]
fn exhaustive_every_certificate_byte_matters() {
    certificate_bytes_matter(1, 0);
}
