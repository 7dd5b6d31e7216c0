//! AMD CRLs with real SEV-SNP evidence, through the public verifier (AMD's pinned
//! roots), using forged CRLs: these tests show that the CRL is read (from the
//! evidence field `crl` and from the collateral directory, by product and key kind)
//! and that a CRL not signed by AMD's ARK is refused. Real AMD KDS CRLs are accepted
//! in `snp_kds_crl.rs`; the revoked-ASK refusal itself is shown with a test ARK in
//! `src/snp/tests.rs` (no certificate AMD revoked is in testdata).
//!
//! Positive controls: the same evidence verifies without a CRL (and says
//! `amd_crl_checked: false`), and a VLEK chain ignores the VCEK chain's CRL file.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{EvidenceError, EvidenceVerifier, UnixTime};
use cairn_attest_hw::SnpVerifier;
use serde_json::{Value, json};
use support::amd_pki::{CrlSpec, der};
use x509_cert::der::Decode;

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

fn evidence(c: &Value) -> Value {
    let report = hex::decode(c["report_hex"].as_str().unwrap()).unwrap();
    let (vek, ask) = if c["key_type"] == "VLEK" {
        ("vlek", "asvk")
    } else {
        ("vcek", "ask")
    };
    json!({
        "report": STANDARD.encode(report),
        "vek": c[vek]["der_b64"],
        "ask": c[ask]["der_b64"],
    })
}

/// Inside the certificates' validity (and the test CRLs': they are made current now).
fn at() -> UnixTime {
    UnixTime::parse_rfc3339("2025-01-01T00:00:00Z").unwrap()
}

/// A CRL that claims to be from AMD's Milan ARK (its exact name) but is signed by a
/// test key.
fn forged_milan_crl(c: &Value) -> Vec<u8> {
    let ark = STANDARD
        .decode(c["ark"]["der_b64"].as_str().unwrap())
        .unwrap();
    let ark = x509_cert::Certificate::from_der(&ark).unwrap();
    let mut spec = CrlSpec::new();
    spec.issuer = ark.tbs_certificate.subject.clone();
    spec.this_update = at().secs() - 86_400;
    spec.next_update = Some(at().secs() + 86_400);
    spec.der()
}

fn collateral_reason(result: Result<cairn_attest::VerifiedEvidence, EvidenceError>) -> String {
    match result {
        Err(EvidenceError::Collateral(reason)) => reason,
        other => panic!("expected a collateral error, got {other:?}"),
    }
}

#[test]
fn without_a_crl_real_evidence_verifies_and_says_no_crl_was_checked() {
    for id in ["trustee-milan-vcek", "trustee-milan-vlek"] {
        let c = case(id);
        let v = SnpVerifier::default().verify(&evidence(&c), at()).unwrap();
        assert_eq!(v.flags.get("amd_crl_checked"), Some(&false), "{id}");
    }
}

#[test]
fn a_crl_in_the_evidence_not_signed_by_amds_ark_is_refused() {
    let c = case("trustee-milan-vcek");
    let mut ev = evidence(&c);
    ev["crl"] = STANDARD.encode(forged_milan_crl(&c)).into();
    let reason = collateral_reason(SnpVerifier::default().verify(&ev, at()));
    assert!(reason.contains("evidence field crl"), "{reason}");
    assert!(
        reason.contains("does not verify with the key of ARK-Milan"),
        "{reason}"
    );

    // A CRL from another ARK (the test one) names the one to fetch instead.
    ev["crl"] = STANDARD.encode(CrlSpec::new().der()).into();
    let reason = collateral_reason(SnpVerifier::default().verify(&ev, at()));
    assert!(reason.contains("not by ARK-Milan"), "{reason}");
    assert!(
        reason.contains("https://kdsintf.amd.com/vcek/v1/Milan/crl"),
        "{reason}"
    );

    ev["crl"] = "not base64!".into();
    assert!(matches!(
        SnpVerifier::default().verify(&ev, at()),
        Err(EvidenceError::Malformed(_))
    ));
}

#[test]
fn the_collateral_directory_crl_is_read_for_the_chains_product_and_key_kind() {
    let dir = tempfile::tempdir().unwrap();
    let v = SnpVerifier::new(Some(dir.path().to_owned()));
    let vcek = case("trustee-milan-vcek");
    let vlek = case("trustee-milan-vlek");
    assert!(v.verify(&evidence(&vcek), at()).is_ok());

    std::fs::write(dir.path().join("crl-milan.der"), forged_milan_crl(&vcek)).unwrap();
    let reason = collateral_reason(v.verify(&evidence(&vcek), at()));
    assert!(reason.contains("crl-milan.der"), "{reason}");
    // The VCEK chain's CRL is not the VLEK chain's.
    let unaffected = v.verify(&evidence(&vlek), at()).unwrap();
    assert_eq!(unaffected.flags.get("amd_crl_checked"), Some(&false));

    std::fs::write(
        dir.path().join("crl-vlek-milan.der"),
        forged_milan_crl(&vlek),
    )
    .unwrap();
    let reason = collateral_reason(v.verify(&evidence(&vlek), at()));
    assert!(reason.contains("crl-vlek-milan.der"), "{reason}");
    assert!(
        reason.contains("does not verify with the key of ARK-Milan"),
        "{reason}"
    );
}

#[test]
fn the_test_pki_is_not_trusted_by_the_public_verifier() {
    // The test ARK signs the CRLs above; without the unit tests' root swap its chain
    // is not AMD's, so nothing here can pass for real evidence by accident.
    let p = support::amd_pki::pki();
    let err = SnpVerifier::default()
        .certify_vek(&der(&p.vcek), Some(&der(&p.ask)), None, None, false, at())
        .err()
        .unwrap();
    assert!(matches!(err, EvidenceError::CertificateChain(_)), "{err}");
}
