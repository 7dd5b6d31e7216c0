//! Real Intel SGX (quote v3) and TDX (quote v4) DCAP quotes with full collateral from
//! testdata/dcap.json (Phala-Network/dcap-qvl samples), verified at a time pinned
//! inside the collateral's validity, reproducing the expected TCB status.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{EvidenceError, EvidenceVerifier, Platform, UnixTime};
use cairn_attest_hw::DcapVerifier;
use serde_json::{Value, json};

fn case(id: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dcap.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone()
}

fn quote(c: &Value) -> Vec<u8> {
    hex::decode(c["quote_hex"].as_str().unwrap()).unwrap()
}

fn evidence(c: &Value) -> Value {
    json!({ "quote": STANDARD.encode(quote(c)), "collateral": c["collateral"] })
}

fn pinned(c: &Value) -> UnixTime {
    UnixTime(
        c["verification_time"]["now_secs_used_by_current_test"]
            .as_u64()
            .unwrap(),
    )
}

fn verifier(id: &str) -> DcapVerifier {
    if id == "sgx" {
        DcapVerifier::sgx(None)
    } else {
        DcapVerifier::tdx(None)
    }
}

#[test]
fn quotes_verify_with_the_expected_tcb_status_and_advisories() {
    for id in ["sgx", "tdx"] {
        let c = case(id);
        let v = verifier(id).verify(&evidence(&c), pinned(&c)).unwrap();
        let expected = &c["expected"];
        assert_eq!(
            v.tcb.status.as_deref(),
            expected["tcb_status"].as_str(),
            "{id}"
        );
        let advisories: Vec<&str> = expected["advisory_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(v.tcb.advisory_ids, advisories);
        assert!(v.hardware);
        assert!(!v.debug);
        let body = &c["expected_parsed_fields"]["body"];
        assert_eq!(
            hex::encode(v.report_data.0),
            body["report_data"].as_str().unwrap()
        );
        let header = &c["expected_parsed_fields"]["header"];
        assert_eq!(v.tcb.svn["qe_svn"], header["qe_svn"].as_u64().unwrap());
        assert_eq!(v.tcb.svn["pce_svn"], header["pce_svn"].as_u64().unwrap());
        if id == "sgx" {
            assert_eq!(v.platform, Platform::Sgx);
            assert_eq!(v.measurement, body["mr_enclave"].as_str().unwrap());
            assert_eq!(
                v.registers["mr_signer"],
                body["mr_signer"].as_str().unwrap()
            );
            assert_eq!(
                v.registers["attributes"],
                body["attributes"].as_str().unwrap()
            );
            assert_eq!(
                v.tcb.svn["isv_svn"],
                c["expected_parsed_fields"]["body_scalars"]["isv_svn"]
                    .as_u64()
                    .unwrap()
            );
        } else {
            assert_eq!(v.platform, Platform::Tdx);
            assert_eq!(v.measurement, body["mr_td"].as_str().unwrap());
            for (ours, theirs) in [
                ("mr_seam", "mr_seam"),
                ("rtmr0", "rt_mr0"),
                ("rtmr1", "rt_mr1"),
                ("rtmr2", "rt_mr2"),
                ("rtmr3", "rt_mr3"),
                ("td_attributes", "td_attributes"),
                ("xfam", "xfam"),
            ] {
                assert_eq!(v.registers[ours], body[theirs].as_str().unwrap(), "{ours}");
            }
        }
    }
}

#[test]
fn collateral_outside_its_validity_is_refused() {
    for id in ["sgx", "tdx"] {
        let c = case(id);
        for n in c["negative_derived_from_source_code"].as_array().unwrap() {
            let at = UnixTime(n["now_secs"].as_u64().unwrap());
            let err = verifier(id).verify(&evidence(&c), at).unwrap_err();
            assert!(
                matches!(err, EvidenceError::Collateral(_)),
                "{id} at {at}: {err}"
            );
        }
        // The window edges from the file are inside.
        let window = c["verification_time"]["valid_window_secs"]
            .as_array()
            .unwrap();
        let start = UnixTime(window[0].as_u64().unwrap());
        assert!(
            verifier(id).verify(&evidence(&c), start).is_ok(),
            "{id} at window start"
        );
    }
}

#[test]
fn a_quote_for_the_other_platform_is_refused() {
    let c = case("sgx");
    assert_eq!(
        DcapVerifier::tdx(None)
            .verify(&evidence(&c), pinned(&c))
            .unwrap_err(),
        EvidenceError::WrongPlatform {
            expected: Platform::Tdx,
            found: Platform::Sgx
        }
    );
}

#[test]
fn collateral_is_found_by_fmspc_in_the_collateral_directory() {
    let c = case("tdx");
    let dir = tempfile::tempdir().unwrap();
    let tcb: Value = serde_json::from_str(c["collateral"]["tcb_info"].as_str().unwrap()).unwrap();
    let fmspc = tcb["fmspc"].as_str().unwrap().to_ascii_lowercase();
    let ev = json!({ "quote": STANDARD.encode(quote(&c)) });
    assert!(matches!(
        DcapVerifier::tdx(Some(dir.path().to_owned())).verify(&ev, pinned(&c)),
        Err(EvidenceError::MissingCollateral(_))
    ));
    std::fs::write(
        dir.path().join(format!("{fmspc}.json")),
        c["collateral"].to_string(),
    )
    .unwrap();
    let v = DcapVerifier::tdx(Some(dir.path().to_owned()))
        .verify(&ev, pinned(&c))
        .unwrap();
    assert_eq!(v.tcb.status.as_deref(), Some("UpToDate"));
}

#[test]
fn changed_collateral_is_refused() {
    for id in ["sgx", "tdx"] {
        let c = case(id);
        let mut ev = evidence(&c);
        let tcb = ev["collateral"]["tcb_info"].as_str().unwrap().replacen(
            "\"tcbEvaluationDataNumber\":17",
            "\"tcbEvaluationDataNumber\":18",
            1,
        );
        ev["collateral"]["tcb_info"] = tcb.into();
        let err = verifier(id).verify(&ev, pinned(&c)).unwrap_err();
        assert!(matches!(err, EvidenceError::Collateral(_)), "{id}: {err}");
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let c = case("sgx");
    let mut q = quote(&c);
    q.push(7);
    let ev = json!({ "quote": STANDARD.encode(q), "collateral": c["collateral"] });
    assert!(matches!(
        DcapVerifier::sgx(None).verify(&ev, pinned(&c)),
        Err(EvidenceError::NonCanonical(_))
    ));
}

fn quote_bytes_matter(id: &str, stride: usize) {
    let c = case(id);
    let q = quote(&c);
    let collateral: dcap_qvl::QuoteCollateralV3 =
        serde_json::from_value(c["collateral"].clone()).unwrap();
    let v = verifier(id);
    v.verify_quote(&q, Some(collateral.clone()), pinned(&c))
        .unwrap();
    let mut accepted = Vec::new();
    for i in (0..q.len()).step_by(stride) {
        let mut bad = q.clone();
        bad[i] ^= 0x01;
        if v.verify_quote(&bad, Some(collateral.clone()), pinned(&c))
            .is_ok()
        {
            accepted.push(i);
        }
    }
    assert!(
        accepted.is_empty(),
        "{id}: flipped bytes accepted at {accepted:?}"
    );
}

#[test]
fn every_fifth_quote_byte_matters() {
    quote_bytes_matter("sgx", 5);
    quote_bytes_matter("tdx", 5);
}

#[test]
#[ignore = "exhaustive: several CPU-minutes in debug builds"]
fn exhaustive_every_quote_byte_matters() {
    quote_bytes_matter("sgx", 1);
    quote_bytes_matter("tdx", 1);
}

#[test]
fn the_pinned_intel_root_is_the_one_in_testdata() {
    use sha2::Digest;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dcap.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let root = &doc["trusted_root_ca"];
    assert_eq!(
        hex::encode(sha2::Sha256::digest(
            cairn_attest_hw::dcap::INTEL_SGX_ROOT_CA_DER
        )),
        root["sha256_of_der"].as_str().unwrap()
    );
    assert_eq!(
        STANDARD.encode(cairn_attest_hw::dcap::INTEL_SGX_ROOT_CA_DER),
        root["der_b64"].as_str().unwrap()
    );
}

fn pem_to_ders(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----BEGIN CERTIFICATE-----")
        .filter_map(|block| block.split("-----END CERTIFICATE-----").next())
        .map(|b64| {
            b64.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
        })
        .filter(|b64| !b64.is_empty())
        .map(|b64| STANDARD.decode(b64).unwrap())
        .collect()
}

fn ders_to_pem(ders: &[Vec<u8>]) -> String {
    let mut pem = String::new();
    for der in ders {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in STANDARD.encode(der).as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// Every variant of the collateral field `field` with one byte flipped, `stride` apart:
/// hex fields (signatures, CRLs) are flipped in their bytes, PEM chains in each
/// certificate's DER, JSON strings in their text.
fn collateral_mutations(collateral: &Value, field: &str, stride: usize) -> Vec<(String, Value)> {
    let text = collateral[field].as_str().unwrap();
    let mut out = Vec::new();
    let mut push = |what: String, new: String| {
        let mut c = collateral.clone();
        c[field] = new.into();
        out.push((what, c));
    };
    if text.starts_with("-----BEGIN") {
        let ders = pem_to_ders(text);
        assert!(!ders.is_empty());
        for (n, der) in ders.iter().enumerate() {
            for i in (0..der.len()).step_by(stride) {
                let mut bad = ders.clone();
                bad[n][i] ^= 0x01;
                push(
                    format!("{field} certificate {n} byte {i}"),
                    ders_to_pem(&bad),
                );
            }
        }
    } else if let Ok(bytes) = hex::decode(text) {
        for i in (0..bytes.len()).step_by(stride) {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            push(format!("{field} byte {i}"), hex::encode(bad));
        }
    } else {
        for i in (0..text.len()).step_by(stride) {
            let mut bad = text.as_bytes().to_vec();
            bad[i] ^= 0x01;
            push(format!("{field} byte {i}"), String::from_utf8(bad).unwrap());
        }
    }
    out
}

#[test]
fn changing_collateral_signatures_crls_or_certificates_is_refused_with_the_reason() {
    // Every byte of both ECDSA signatures; a stride through the CRLs, the three issuer
    // chains and the signed JSON (each check costs milliseconds in a debug build).
    let plan: [(&str, usize); 9] = [
        ("tcb_info_signature", 1),
        ("qe_identity_signature", 1),
        ("root_ca_crl", 3),
        ("pck_crl", 3),
        ("tcb_info_issuer_chain", 23),
        ("qe_identity_issuer_chain", 23),
        ("pck_crl_issuer_chain", 23),
        ("tcb_info", 41),
        ("qe_identity", 17),
    ];
    let c = case("sgx");
    let q = quote(&c);
    let v = verifier("sgx");
    let mut tried = 0;
    for (field, stride) in plan {
        for (what, collateral) in collateral_mutations(&c["collateral"], field, stride) {
            let collateral: dcap_qvl::QuoteCollateralV3 = match serde_json::from_value(collateral) {
                Ok(c) => c,
                Err(_) => continue, // not even collateral-shaped: refused before verification
            };
            match v.verify_quote(&q, Some(collateral), pinned(&c)) {
                Ok(_) => panic!("{what} was accepted"),
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            EvidenceError::Collateral(_)
                                | EvidenceError::CertificateChain(_)
                                | EvidenceError::ReportSignature(_)
                                | EvidenceError::Malformed(_)
                                | EvidenceError::UntrustedRoot(_)
                        ),
                        "{what}: {e:?}"
                    );
                    assert!(e.to_string().len() > 20, "{what}: {e}");
                }
            }
            tried += 1;
        }
    }
    assert!(tried > 400, "only {tried} mutations tried");
}
