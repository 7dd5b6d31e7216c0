//! AMD CRL checks against a test PKI whose ARK key the tests hold (AMD's pinned roots
//! are swapped for it, which only unit tests can do): a revoked ASK or ARK is refused
//! with its own error, and a CRL that is forged, foreign, stale or carries a critical
//! extension is refused as collateral. The positive controls: the same chain verifies
//! with no CRL (flag false) and with a current CRL that lists other serials (flag true).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::serial_number::SerialNumber;

use super::*;

#[path = "../../tests/support/amd_pki.rs"]
mod amd_pki;

use amd_pki::{ARK_SERIAL, ASK_SERIAL, AT, CrlSpec, der, pki};

fn verifier(collateral_dir: Option<PathBuf>) -> SnpVerifier {
    let p = pki();
    SnpVerifier {
        collateral_dir,
        test_roots: Some(vec![Root {
            product: "Test",
            ark: p.ark.clone().into(),
            ask: p.ask.clone().into(),
        }]),
    }
}

fn certify(v: &SnpVerifier, crl: Option<&[u8]>, at: u64) -> Result<CertifiedVek, EvidenceError> {
    let p = pki();
    v.certify_vek(
        &der(&p.vcek),
        Some(&der(&p.ask)),
        None,
        crl,
        false,
        UnixTime(at),
    )
}

fn serial(n: u32) -> SerialNumber {
    SerialNumber::from(n)
}

fn collateral_error(result: Result<CertifiedVek, EvidenceError>) -> String {
    match result {
        Err(EvidenceError::Collateral(reason)) => reason,
        Err(other) => panic!("expected a collateral error, got {other}"),
        Ok(_) => panic!("expected a collateral error, the chain was accepted"),
    }
}

#[test]
fn without_a_crl_the_chain_verifies_and_says_no_crl_was_checked() {
    let vek = certify(&verifier(None), None, AT).unwrap();
    assert_eq!(vek.product(), "Test");
    assert!(!vek.crl_checked());
}

#[test]
fn a_current_crl_that_lists_other_serials_is_checked_and_passes() {
    let crl = CrlSpec::new()
        .revoking(&[serial(7), serial(ASK_SERIAL + 1)])
        .der();
    let vek = certify(&verifier(None), Some(&crl), AT).unwrap();
    assert!(vek.crl_checked());
    // An empty list too.
    let empty = CrlSpec::new().der();
    assert!(
        certify(&verifier(None), Some(&empty), AT)
            .unwrap()
            .crl_checked()
    );
}

#[test]
fn an_ask_listed_in_the_crl_is_refused_as_revoked() {
    let crl = CrlSpec::new()
        .revoking(&[serial(7), serial(ASK_SERIAL)])
        .der();
    match certify(&verifier(None), Some(&crl), AT) {
        Err(EvidenceError::Revoked {
            subject,
            serial: listed,
            crl,
            revoked_at,
        }) => {
            assert_eq!(subject, "ASK-Test");
            assert_eq!(listed, hex::encode(serial(ASK_SERIAL).as_bytes()));
            assert_eq!(crl, "evidence field crl");
            assert!(revoked_at.secs() < AT);
        }
        Err(other) => panic!("expected Revoked, got {other}"),
        Ok(_) => panic!("a revoked ASK was accepted"),
    }
}

#[test]
fn a_revoked_ark_is_refused_too_and_the_signing_ca_check_applies_it() {
    let crl = CrlSpec::new().revoking(&[serial(ARK_SERIAL)]).der();
    assert!(matches!(
        certify(&verifier(None), Some(&crl), AT),
        Err(EvidenceError::Revoked { subject, .. }) if subject == "ARK-Test"
    ));
    let v = verifier(None);
    let ask = der(&pki().ask);
    assert_eq!(
        v.certify_signing_ca(&ask, None, None, UnixTime(AT))
            .unwrap(),
        "Test"
    );
    let revoking_ask = CrlSpec::new().revoking(&[serial(ASK_SERIAL)]).der();
    assert!(matches!(
        v.certify_signing_ca(&ask, None, Some(&revoking_ask), UnixTime(AT)),
        Err(EvidenceError::Revoked { .. })
    ));
}

#[test]
fn the_crl_in_the_collateral_directory_is_read_by_product_and_key_kind() {
    let dir = tempfile::tempdir().unwrap();
    let v = verifier(Some(dir.path().to_owned()));
    assert!(!certify(&v, None, AT).unwrap().crl_checked());
    // A VLEK chain's CRL does not stand in for a VCEK chain's.
    let revoking = CrlSpec::new().revoking(&[serial(ASK_SERIAL)]).der();
    std::fs::write(dir.path().join("crl-vlek-test.der"), &revoking).unwrap();
    assert!(!certify(&v, None, AT).unwrap().crl_checked());
    std::fs::write(dir.path().join("crl-test.der"), CrlSpec::new().der()).unwrap();
    assert!(certify(&v, None, AT).unwrap().crl_checked());
    std::fs::write(dir.path().join("crl-test.der"), &revoking).unwrap();
    match certify(&v, None, AT) {
        Err(EvidenceError::Revoked { crl, .. }) => assert!(crl.ends_with("crl-test.der"), "{crl}"),
        Err(other) => panic!("expected Revoked, got {other}"),
        Ok(_) => panic!("the directory's CRL was not read"),
    }
    // Every CRL supplied counts: a clean one in the evidence does not hide the
    // directory's.
    let clean = CrlSpec::new().der();
    assert!(matches!(
        certify(&v, Some(&clean), AT),
        Err(EvidenceError::Revoked { .. })
    ));
}

#[test]
fn a_crl_not_signed_by_the_chains_ark_is_refused() {
    let p = pki();
    let mut forged = CrlSpec::new();
    forged.signer = &p.rogue_key;
    let reason = collateral_error(certify(&verifier(None), Some(&forged.der()), AT));
    assert!(
        reason.contains("does not verify with the key of ARK-Test"),
        "{reason}"
    );

    let mut foreign = CrlSpec::new();
    foreign.issuer = std::str::FromStr::from_str("CN=ARK-Genoa,O=Advanced Micro Devices").unwrap();
    let reason = collateral_error(certify(&verifier(None), Some(&foreign.der()), AT));
    assert!(reason.contains("not by ARK-Test"), "{reason}");
    assert!(
        reason.contains("https://kdsintf.amd.com/vcek/v1/Test/crl"),
        "{reason}"
    );

    // A changed byte in the list itself (the last byte of the listed serial).
    let good = CrlSpec::new().revoking(&[serial(7)]).der();
    let at = good
        .windows(3)
        .position(|w| w == [0x02, 0x01, 0x07])
        .unwrap()
        + 2;
    let mut tampered = good.clone();
    tampered[at] = 0x08;
    let reason = collateral_error(certify(&verifier(None), Some(&tampered), AT));
    assert!(reason.contains("signature does not verify"), "{reason}");
}

#[test]
fn a_stale_future_or_open_ended_crl_is_refused() {
    let crl = CrlSpec::new().der();
    let v = verifier(None);
    let stale = collateral_error(certify(&v, Some(&crl), AT + 31 * 86_400));
    assert!(
        stale.contains("fetch a current one from https://kdsintf.amd.com"),
        "{stale}"
    );
    let early = collateral_error(certify(&v, Some(&crl), AT - 31 * 86_400));
    assert!(early.contains("not at"), "{early}");
    let mut open = CrlSpec::new();
    open.next_update = None;
    let reason = collateral_error(certify(&v, Some(&open.der()), AT));
    assert!(reason.contains("no nextUpdate"), "{reason}");
}

#[test]
fn a_crl_with_a_critical_extension_or_not_der_is_refused() {
    let mut spec = CrlSpec::new();
    spec.critical_extension = true;
    let reason = collateral_error(certify(&verifier(None), Some(&spec.der()), AT));
    assert!(reason.contains("critical extension 2.5.29.28"), "{reason}");
    let reason = collateral_error(certify(&verifier(None), Some(b"not a crl"), AT));
    assert!(reason.contains("not a DER X.509 CRL"), "{reason}");
    let mut trailing = CrlSpec::new().der();
    trailing.push(0);
    assert!(collateral_error(certify(&verifier(None), Some(&trailing), AT)).contains("DER"));
}

#[test]
fn amds_own_signature_algorithm_passes_the_crl_algorithm_check() {
    // AMD's ARK signs with explicit RSASSA-PSS parameters (SHA-384, MGF1-SHA-384, salt
    // 48, trailer field spelled out); a real AMD CRL carries the same identifier.
    let ark: x509_cert::Certificate = builtin::milan::ark().unwrap().into();
    let list = x509_cert::crl::CertificateList::from_der(&CrlSpec::new().der()).unwrap();
    let mut amd = list.clone();
    amd.signature_algorithm = ark.signature_algorithm.clone();
    amd.tbs_cert_list.signature = ark.signature_algorithm.clone();
    let source = crl::CrlSource {
        name: "test".into(),
        kds_url: String::new(),
    };
    crl::check_algorithm(&amd, &source).unwrap();
    // The check is not a formality: PKCS#1 v1.5, or PSS with a 32-byte salt, is refused.
    let refused = |alg: x509_cert::spki::AlgorithmIdentifierOwned| {
        let mut other = amd.clone();
        other.signature_algorithm = alg.clone();
        other.tbs_cert_list.signature = alg;
        crl::check_algorithm(&other, &source)
            .unwrap_err()
            .to_string()
    };
    let pkcs1 = refused(x509_cert::spki::AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"),
        parameters: None,
    });
    assert!(pkcs1.contains("as AMD signs"), "{pkcs1}");
    let params = rsa::pkcs1::RsaPssParams::new::<sha2_v010::Sha384>(32);
    let salt32 = refused(x509_cert::spki::AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10"),
        parameters: Some(x509_cert::der::Any::encode_from(&params).unwrap()),
    });
    assert!(salt32.contains("48-byte salt"), "{salt32}");
}
