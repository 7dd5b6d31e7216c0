//! The health records contract (`contracts/health-records`) on three orgs
//! with real ledgers: Org1 the hospital, Org2 the medical platform (the two
//! members of collection `hospitalPlatform`), Org3 the diagnostics provider.
//! Builders for valid inputs, so that each refusal test changes one field.
#![allow(dead_code, reason = "each test binary uses part of the support")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

use cairn_ledger::ids::Timestamp;
use cairn_ledger::private::parse_collections_config;
use serde_json::{Value, json};

use crate::pdc::{Chain, Endorsed, contains};

/// The contract's name on the channel.
pub const NAME: &str = "health";
/// The endorsement policy the network uses for it.
pub const POLICY: &str = "OR('Org1MSP.peer','Org2MSP.peer')";
/// The collection.
pub const COLLECTION: &str = "hospitalPlatform";
/// Peers (and orgs) by index.
pub const HOSPITAL: usize = 0;
pub const PLATFORM: usize = 1;
pub const DIAGNOSTICS: usize = 2;
pub const ALL: [usize; 3] = [HOSPITAL, PLATFORM, DIAGNOSTICS];

pub const MODEL_SHA: &str = "0b1f5c7e3a9d2486f0e1c2b3a4958677a6b5c4d3e2f10987654321fedcba9870";
pub const RECEIPT_SHA: &str = "9d2486f0e1c2b3a4958677a6b5c4d3e2f10987654321fedcba98700b1f5c7e3a";
pub const PLATFORM_MEASUREMENT: &str =
    "a1a2a3a4a5a6a7a8a9b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9d0d1d2";
pub const DIAGNOSTICS_MEASUREMENT: &str =
    "d2d1d0c9c8c7c6c5c4c3c2c1c0b9b8b7b6b5b4b3b2b1b0a9a8a7a6a5a4a3a2a1";
/// The features of [`diagnosis`] in the contract's canonical JSON (1001.0
/// is sent, 1001 is hashed: numbers in ECMAScript's shortest form).
pub const FEATURES_CANONICAL: &str = "[17.99,10.38,122.8,1001,0.1184,-2.5,0]";
/// The result of [`diagnosis`] in canonical JSON (keys sorted).
pub const RESULT_CANONICAL: &str =
    r#"{"label":"benign","outputs":[[0.02,0.98]],"probability":0.98}"#;

/// The public audit record's fields, exactly.
pub const AUDIT_FIELDS: [&str; 14] = [
    "diagnosisId",
    "diagnosticsMeasurement",
    "diagnosticsTokenJti",
    "inferenceReceiptSha256",
    "inputSha256",
    "modelName",
    "modelSha256",
    "modelVersion",
    "platformMeasurement",
    "platformTokenJti",
    "recordIdSha256",
    "recordedAt",
    "recordedBy",
    "resultSha256",
];

pub fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/health-records")
}

/// Three orgs with the contract committed with `collections.json`.
pub fn chain() -> Chain {
    let collections =
        parse_collections_config(&std::fs::read(contract_dir().join("collections.json")).unwrap())
            .unwrap();
    Chain::with_contract(
        3,
        &contract_dir(),
        "health-records_1.0",
        NAME,
        collections,
        POLICY,
    )
}

/// A patient id: "pt_" and 22 base64url characters made from `tag`.
pub fn pt(tag: &str) -> String {
    format!("pt_{tag:-<22}")
}

/// A diagnosis id made from `tag`.
pub fn dx(tag: &str) -> String {
    format!("dx_{tag:-<22}")
}

/// A valid intake form with every field.
pub fn intake(given: &str, family: &str, born: &str) -> Value {
    json!({
        "givenName": given, "familyName": family, "dateOfBirth": born,
        "sex": "female", "nationalId": "756.1234.5678.97",
        "address": { "line": "1 Main Street", "city": "Basel", "postalCode": "4051", "country": "CH" },
        "phone": "+41 61 000 00 00", "email": "ada@example.org",
        "allergies": ["penicillin"], "conditions": ["asthma"], "medications": ["salbutamol"],
        "insurance": { "provider": "Helsana", "memberId": "H-778" },
        "emergencyContact": { "name": "Lord Byron", "phone": "+41 61 000 00 01" },
    })
}

/// A valid diagnosis for `patient` (keys in any order; numbers as a Rust
/// client writes them: 1001.0).
pub fn diagnosis(patient: &str) -> Value {
    json!({
        "patientId": patient,
        "features": [17.99, 10.38, 122.8, 1001.0, 0.1184, -2.5, 0],
        "result": { "probability": 0.98, "outputs": [[0.02, 0.98]], "label": "benign" },
        "model": { "version": "1.0.0", "sha256": MODEL_SHA, "name": "breast-cancer" },
        "platform": { "tokenJti": "jti-platform-1", "measurement": PLATFORM_MEASUREMENT },
        "diagnostics": { "tokenJti": "jti-diagnostics-1", "measurement": DIAGNOSTICS_MEASUREMENT },
        "inferenceReceiptSha256": RECEIPT_SHA,
    })
}

/// Simulates `function` on `peer` for a client of org `client`.
pub fn call(
    chain: &Chain,
    peer: usize,
    client: usize,
    function: &str,
    args: &[&str],
    transient: &[(&str, &[u8])],
) -> Endorsed {
    chain
        .invoke(
            peer,
            &chain.net.orgs[client].user,
            function,
            args,
            transient,
        )
        .unwrap()
}

/// Endorses on `peer` (must succeed) and commits, offering the private
/// writes to every org's peer (as a careless dissemination would): only
/// members may keep them.
pub fn submit(
    chain: &Chain,
    peer: usize,
    client: usize,
    function: &str,
    args: &[&str],
    transient: &[(&str, &[u8])],
) -> Endorsed {
    let e = call(chain, peer, client, function, args, transient);
    assert_eq!(
        e.simulation.response.status, 200,
        "{function}: {:?}",
        e.simulation.response
    );
    let who = &chain.net.orgs[client].user;
    let code = chain.commit(&e, who, &[peer], &ALL);
    assert_eq!(code, cairn_ledger::validation::ValidationCode::Valid);
    e
}

/// Admits a patient through the hospital's peer; returns the endorsement.
pub fn admit(chain: &Chain, id: &str, form: &Value) -> Endorsed {
    let form = form.to_string();
    submit(
        chain,
        HOSPITAL,
        HOSPITAL,
        "AdmitPatient",
        &[id],
        &[("patient", form.as_bytes())],
    )
}

/// Records a diagnosis through the platform's peer.
pub fn record(chain: &Chain, id: &str, d: &Value) -> Endorsed {
    let d = d.to_string();
    submit(
        chain,
        PLATFORM,
        PLATFORM,
        "RecordDiagnosis",
        &[id],
        &[("diagnosis", d.as_bytes())],
    )
}

/// Endorses several transactions on one peer and commits them in one block.
pub fn submit_block(chain: &Chain, peer: usize, client: usize, endorsed: &[Endorsed]) {
    let who = &chain.net.orgs[client].user;
    let mut pd = cairn_ledger::private::PrivateData::new();
    let envs = endorsed
        .iter()
        .map(|e| {
            assert_eq!(
                e.simulation.response.status, 200,
                "{:?}",
                e.simulation.response
            );
            pd.insert(
                e.proposal.header.txid,
                e.simulation.private_writes().clone(),
            );
            chain.envelope(e, who, &[peer])
        })
        .collect();
    let b = chain.commit_block(envs, &pd, &ALL);
    assert!(
        b.metadata
            .validation_codes
            .iter()
            .all(|c| *c == cairn_ledger::validation::ValidationCode::Valid),
        "{:?}",
        b.metadata.validation_codes
    );
}

/// The answer as JSON (the call must have succeeded).
pub fn answer(e: &Endorsed) -> Value {
    serde_json::from_str(&crate::pdc::payload(&e.simulation)).unwrap()
}

/// The refusal's message (the call must have failed).
pub fn refusal(e: &Endorsed) -> String {
    assert_eq!(
        e.simulation.response.status, 500,
        "expected a refusal, got {:?}",
        e.simulation.response
    );
    assert!(
        e.simulation.rwset.namespaces.is_empty(),
        "a refused call endorses nothing"
    );
    assert!(
        e.simulation.private_writes().is_empty(),
        "nor writes privately"
    );
    assert!(e.simulation.events.is_empty(), "nor emits an event");
    e.simulation.response.message.clone()
}

/// A JSON object's keys, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// SHA-256 of the concatenated parts, lowercase hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    cairn_crypto::sha256(&parts.concat()).to_hex()
}

/// A timestamp as the contract's `getDateTimestamp().toISOString()` writes
/// it: UTC, nanoseconds rounded to the nearest millisecond (as Fabric's shim).
pub fn iso8601(ts: Timestamp) -> String {
    let ms = ts.seconds * 1000 + (i64::from(ts.nanos) + 500_000) / 1_000_000;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let secs = in_day / 1000;
    // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        in_day % 1000
    )
}

/// Marker values in the intake: names, an allergy and the national id.
pub const GIVEN_MARK: &str = "Givenmark-3f9a";
pub const FAMILY_MARK: &str = "Familymark-c81d";
pub const ALLERGY_MARK: &str = "allergy-marker-5b2e77";
pub const NATIONAL_ID: &str = "NID-MARKER-90417";
pub const LABEL_MARK: &str = "label-marker-e0c4";

pub fn assert_absent(haystack: &[u8], needles: &[&str], what: &str) {
    for n in needles {
        assert!(!contains(haystack, n.as_bytes()), "{n} found in {what}");
    }
}

pub fn public_writes(e: &Endorsed) -> Vec<(String, Vec<u8>)> {
    e.simulation
        .rwset
        .namespaces
        .iter()
        .flat_map(|ns| ns.writes.iter().map(|w| (w.key.clone(), w.value.clone())))
        .collect()
}
