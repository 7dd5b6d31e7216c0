//! Real SEV-SNP reports and AMD certificate chains from testdata/sev_snp.json
//! (virtee/sev and Confidential Containers Trustee test data), verified at a time
//! pinned inside the certificates' validity, plus every negative in the file and
//! exhaustive single-byte mutations.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{EvidenceError, EvidenceVerifier, Platform, UnixTime};
use cairn_attest_hw::SnpVerifier;
use serde_json::{Value, json};

fn doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sev_snp.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn case(id: &str) -> Value {
    doc()["cases"]
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

fn report(c: &Value) -> Vec<u8> {
    hex::decode(c["report_hex"].as_str().unwrap()).unwrap()
}

/// One day after the start of the window in which every certificate is valid.
fn pinned(c: &Value) -> UnixTime {
    UnixTime::parse_rfc3339(c["verification_time"]["not_before"].as_str().unwrap())
        .unwrap()
        .plus(86_400)
}

/// (VEK, ASK-or-ASVK, ARK) DER for a case.
fn chain(c: &Value) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    if c["key_type"] == "VLEK" {
        (der(&c["vlek"]), der(&c["asvk"]), der(&c["ark"]))
    } else {
        (der(&c["vcek"]), der(&c["ask"]), der(&c["ark"]))
    }
}

fn evidence(c: &Value) -> Value {
    let (vek, ask, ark) = chain(c);
    json!({
        "report": STANDARD.encode(report(c)),
        "vek": STANDARD.encode(vek),
        "ask": STANDARD.encode(ask),
        "ark": STANDARD.encode(ark),
    })
}

const REPORT_CASES: [&str; 3] = [
    "virtee-milan-vcek",
    "trustee-milan-vcek",
    "trustee-milan-vlek",
];

#[test]
fn real_reports_verify_and_yield_the_fields_in_the_report() {
    for id in REPORT_CASES {
        let c = case(id);
        let v = SnpVerifier::default()
            .verify(&evidence(&c), pinned(&c))
            .unwrap();
        let f = &c["report_fields_parsed_here"];
        assert_eq!(v.platform, Platform::SevSnp);
        assert!(v.hardware);
        assert_eq!(v.measurement, f["measurement"].as_str().unwrap(), "{id}");
        assert_eq!(
            hex::encode(v.report_data.0),
            f["report_data"].as_str().unwrap()
        );
        assert_eq!(v.registers["host_data"], f["host_data"].as_str().unwrap());
        assert_eq!(v.registers["chip_id"], f["chip_id"].as_str().unwrap());
        assert_eq!(v.tcb.svn["guest_svn"], f["guest_svn"].as_u64().unwrap());
        assert_eq!(v.tcb.svn["vmpl"], f["vmpl"].as_u64().unwrap());
        // reported_tcb (pre-Turin layout): bootloader, tee, 4 reserved, snp, microcode.
        let tcb = hex::decode(f["reported_tcb"].as_str().unwrap()).unwrap();
        assert_eq!(v.tcb.svn["bootloader"], u64::from(tcb[0]));
        assert_eq!(v.tcb.svn["tee"], u64::from(tcb[1]));
        assert_eq!(v.tcb.svn["snp"], u64::from(tcb[6]));
        assert_eq!(v.tcb.svn["microcode"], u64::from(tcb[7]));
        let policy =
            u64::from_str_radix(f["policy"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
        assert_eq!(v.debug, policy & (1 << 19) != 0);
        assert_eq!(v.flags["migrate_ma"], policy & (1 << 18) != 0);
        assert_eq!(v.flags["smt"], policy & (1 << 16) != 0);
        assert_eq!(v.flags["vlek"], c["key_type"] == "VLEK");
    }
}

#[test]
fn reports_verify_with_only_the_vcek_using_pinned_amd_certificates() {
    for id in ["virtee-milan-vcek", "trustee-milan-vcek"] {
        let c = case(id);
        let ev = json!({ "report": STANDARD.encode(report(&c)), "vek": STANDARD.encode(der(&c["vcek"])) });
        assert!(
            SnpVerifier::default().verify(&ev, pinned(&c)).is_ok(),
            "{id}"
        );
    }
    // A VLEK needs its ASVK: AMD does not ship it in the pinned set.
    let c = case("trustee-milan-vlek");
    let ev =
        json!({ "report": STANDARD.encode(report(&c)), "vek": STANDARD.encode(der(&c["vlek"])) });
    assert!(matches!(
        SnpVerifier::default().verify(&ev, pinned(&c)),
        Err(EvidenceError::MissingCollateral(_))
    ));
}

#[test]
fn turin_chain_verifies_to_the_pinned_turin_ark() {
    let c = case("virtee-turin-vcek-chain");
    let (vek, ask, ark) = chain(&c);
    let certified = SnpVerifier::default()
        .certify_vek(&vek, Some(&ask), Some(&ark), None, false, pinned(&c))
        .unwrap();
    assert_eq!(certified.product(), "Turin");
    let milan = case("virtee-milan-vcek");
    assert!(matches!(
        SnpVerifier::default().certify_vek(
            &vek,
            Some(&der(&milan["ask"])),
            None,
            None,
            false,
            pinned(&c)
        ),
        Err(EvidenceError::CertificateChain(_))
    ));
}

#[test]
fn certificate_validity_is_enforced_at_the_pinned_time() {
    let c = case("trustee-milan-vlek");
    let before = UnixTime::parse_rfc3339("2024-12-10T22:14:20Z").unwrap();
    let after = UnixTime::parse_rfc3339("2025-12-10T22:14:22Z").unwrap();
    for at in [before, after] {
        match SnpVerifier::default().verify(&evidence(&c), at) {
            Err(EvidenceError::CertificateTime { subject, .. }) => assert_eq!(subject, "VLEK"),
            other => panic!("expected a certificate time error, got {other:?}"),
        }
    }
    let c = case("virtee-milan-vcek");
    let late = UnixTime::parse_rfc3339("2031-01-01T00:00:00Z").unwrap();
    assert!(matches!(
        SnpVerifier::default().verify(&evidence(&c), late),
        Err(EvidenceError::CertificateTime { .. })
    ));
}

/// Applies a mutation written like `report[21] ^= 0x80` or `vcek_der[42] += 1`.
fn mutate(bytes: &mut [u8], op: &str) {
    let (_, rest) = op.split_once('[').unwrap();
    let (index, rest) = rest.split_once(']').unwrap();
    let i: usize = index.parse().unwrap();
    let rest = rest.trim();
    if let Some(v) = rest.strip_prefix("^=") {
        bytes[i] ^= u8::from_str_radix(v.trim().trim_start_matches("0x"), 16).unwrap();
    } else if let Some(v) = rest.strip_prefix("+=") {
        let v: u8 = v.split_whitespace().next().unwrap().parse().unwrap();
        bytes[i] = bytes[i].wrapping_add(v);
    } else {
        panic!("unknown mutation {op}");
    }
}

#[test]
fn negatives_from_the_sources_fail_with_the_expected_reason() {
    let mut checked = 0;
    for c in doc()["cases"].as_array().unwrap() {
        for n in c["negative"].as_array().into_iter().flatten() {
            let op = n["mutation"].as_str().unwrap();
            let expected = n["expected"].as_str().unwrap();
            let mut ev = evidence(c);
            if op.starts_with("verify VCEK against ASVK") {
                let asvk = &doc()["vendor_chains_trustee"]["chains"]["milan"]["SEV-VLEK-Milan"];
                ev["ask"] = STANDARD.encode(der(asvk)).into();
            } else {
                let (field, mut bytes) = if op.starts_with("report") {
                    ("report", report(c))
                } else {
                    ("vek", chain(c).0)
                };
                mutate(&mut bytes, op);
                ev[field] = STANDARD.encode(bytes).into();
            }
            let err = SnpVerifier::default().verify(&ev, pinned(c)).unwrap_err();
            let ok = match expected {
                e if e.starts_with("chain verification fails") => {
                    matches!(
                        err,
                        EvidenceError::CertificateChain(_) | EvidenceError::Malformed(_)
                    )
                }
                e if e.starts_with("report signature") => {
                    matches!(err, EvidenceError::ReportSignature(_))
                }
                e if e.starts_with("TCB check fails") => matches!(err, EvidenceError::Tcb(_)),
                other => panic!("unknown expectation {other}"),
            };
            assert!(ok, "{} {op}: expected {expected}, got {err}", c["id"]);
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}

#[test]
fn amd_vendor_chains_verify_to_the_pinned_arks() {
    // Trustee's {milan,genoa,turin}_ask_ark_asvk.pem: the ARK is AMD's (equal to the one
    // the sev crate pins, and self-signed), and both the ASK and the ASVK are signed by it.
    let chains = &doc()["vendor_chains_trustee"]["chains"];
    let v = SnpVerifier::default();
    for (key, product) in [("milan", "Milan"), ("genoa", "Genoa"), ("turin", "Turin")] {
        let chain = &chains[key];
        let ark = der(&chain[format!("ARK-{product}")]);
        let names = [format!("SEV-{product}"), format!("SEV-VLEK-{product}")];
        // Pinned inside every certificate's validity: a day after the latest start.
        let at = names
            .iter()
            .chain([&format!("ARK-{product}")])
            .map(|n| UnixTime::parse_rfc3339(chain[n]["not_before"].as_str().unwrap()).unwrap())
            .max()
            .unwrap()
            .plus(86_400);
        for name in &names {
            let ca = der(&chain[name]);
            assert_eq!(
                v.certify_signing_ca(&ca, Some(&ark), None, at).unwrap(),
                product,
                "{name}"
            );
            assert_eq!(v.certify_signing_ca(&ca, None, None, at).unwrap(), product);
            // Before the ASK/ASVK was issued it is not valid.
            let issued =
                UnixTime::parse_rfc3339(chain[name]["not_before"].as_str().unwrap()).unwrap();
            assert!(matches!(
                v.certify_signing_ca(&ca, Some(&ark), None, UnixTime(issued.secs() - 1)),
                Err(EvidenceError::CertificateTime { .. })
            ));
        }
    }
    // Another product's ARK does not sign Milan's ASK.
    let milan_ask = der(&chains["milan"]["SEV-Milan"]);
    let genoa_ark = der(&chains["genoa"]["ARK-Genoa"]);
    let at = UnixTime::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
    assert!(matches!(
        v.certify_signing_ca(&milan_ask, Some(&genoa_ark), None, at),
        Err(EvidenceError::UntrustedRoot(_))
    ));
}

#[test]
fn every_case_carries_its_source_note() {
    for c in doc()["cases"].as_array().unwrap() {
        let source = c["source"].as_str().unwrap();
        assert!(
            source.contains('@') && source.contains(':'),
            "{}: {source}",
            c["id"]
        );
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dcap.json");
    let dcap: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for c in dcap["cases"].as_array().unwrap() {
        assert!(c["source"].as_str().unwrap().contains("dcap-qvl@"));
    }
    assert!(dcap["trusted_root_ca"]["source"].is_string());
}
