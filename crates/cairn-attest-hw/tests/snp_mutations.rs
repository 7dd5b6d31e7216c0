//! Changing any single byte of a real SNP report, or of its VCEK or ASK certificate,
//! makes verification fail with a reason.
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
use cairn_attest::UnixTime;
use cairn_attest_hw::SnpVerifier;
use serde_json::Value;

fn case() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sev_snp.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cases"][2].clone()
}

fn der(v: &Value) -> Vec<u8> {
    STANDARD.decode(v["der_b64"].as_str().unwrap()).unwrap()
}

fn at() -> UnixTime {
    UnixTime::parse_rfc3339("2024-01-01T00:00:00Z").unwrap()
}

fn report_bytes_matter(stride: usize) {
    let c = case();
    assert_eq!(c["id"], "trustee-milan-vcek");
    let report = hex::decode(c["report_hex"].as_str().unwrap()).unwrap();
    let v = SnpVerifier::default();
    let vek = v
        .certify_vek(&der(&c["vcek"]), Some(&der(&c["ask"])), None, false, at())
        .unwrap();
    v.verify_report(&report, &vek).unwrap();
    for i in (0..report.len()).step_by(stride) {
        let mut bad = report.clone();
        bad[i] ^= 0x01;
        assert!(
            v.verify_report(&bad, &vek).is_err(),
            "flipping report byte {i} was accepted"
        );
    }
}

fn certificate_bytes_matter(stride: usize, offset: usize) {
    let c = case();
    let v = SnpVerifier::default();
    let (vcek, ask) = (der(&c["vcek"]), der(&c["ask"]));
    for (name, original) in [("vcek", &vcek), ("ask", &ask)] {
        for i in (offset..original.len()).step_by(stride) {
            let mut bad = original.clone();
            bad[i] ^= 0x01;
            let (vek_der, ask_der) = if name == "vcek" {
                (&bad, &ask)
            } else {
                (&vcek, &bad)
            };
            assert!(
                v.certify_vek(vek_der, Some(ask_der), None, false, at())
                    .is_err(),
                "flipping {name} byte {i} was accepted"
            );
        }
    }
}

#[test]
fn every_third_report_byte_matters() {
    report_bytes_matter(3);
}

#[test]
fn every_seventh_certificate_byte_matters() {
    // Offset 0 covers byte 847 (= 7 * 121) of the VCEK, the regression above.
    certificate_bytes_matter(7, 0);
}

#[test]
#[ignore = "exhaustive: about a CPU-minute in debug builds"]
fn exhaustive_every_report_byte_matters() {
    report_bytes_matter(1);
}

#[test]
#[ignore = "exhaustive: about a CPU-minute in debug builds"]
fn exhaustive_every_certificate_byte_matters() {
    certificate_bytes_matter(1, 0);
}
