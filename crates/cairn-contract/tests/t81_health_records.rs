//! The health records contract (`contracts/health-records`, issue 13) on
//! three orgs with real ledgers, the collection `hospitalPlatform` (Org1 the
//! hospital, Org2 the medical platform) defined through `_lifecycle` from
//! the package's own `collections.json`, Org3 (the diagnostics provider) a
//! channel member outside it.
//!
//! Checks what the platform service and the audit rely on: patients admitted
//! from the transient map read back and are found by name prefix and date of
//! birth; every bad input is refused naming the field and writes nothing;
//! private values (marker strings, the national id) never reach arguments,
//! public writes, events, endorsements, blocks, or a non-member's ledger,
//! while they do reach the members' ledgers; a diagnosis writes exactly the
//! public audit fields, whose salted hashes recompute in Rust from the salt
//! in the private record; Org3 reads the audit but not the record; and
//! VerifyAudit names the hash a tampered private record breaks.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod health;
mod pdc;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Timestamp;
use cairn_ledger::private::{PrivateWrite, PrivateWriteSet, parse_collections_config};
use cairn_ledger::rwset::CollectionHashedRwSet;
use cairn_ledger::validation::ValidationCode;
use health::*;
use pdc::{Endorsed, contains};
use serde_json::{Value, json};

#[test]
fn t81_collections_file_is_the_one_the_network_deploys() {
    let bytes = std::fs::read(contract_dir().join("collections.json")).unwrap();
    let parsed = parse_collections_config(&bytes).unwrap();
    assert_eq!(parsed.len(), 1);
    let c = &parsed[0];
    assert_eq!(c.name, COLLECTION);
    assert_eq!(c.policy, "OR('Org1MSP.member','Org2MSP.member')");
    assert_eq!(
        (c.required_peer_count, c.max_peer_count, c.block_to_live),
        (0, 1, 0)
    );
    assert!(c.member_only_read && c.member_only_write);
    assert!(c.endorsement_policy.is_none());
}

#[test]
fn t81_admitted_patients_read_back_and_are_found_by_name_and_birth_date() {
    let chain = chain();
    let ada = pt("ada");
    let e = admit(&chain, &ada, &intake("Ada", "Byron", "1815-12-10"));
    assert_eq!(answer(&e), json!({ "id": ada }));
    let mut sparse = json!({ "givenName": "Annabella", "familyName": "byron", "dateOfBirth": "1792-05-17",
        "sex": null, "nationalId": "", "address": { "city": "" } });
    let bella = pt("bella");
    admit(&chain, &bella, &sparse);
    let charles = pt("charles");
    admit(
        &chain,
        &charles,
        &intake("Charles", "Babbage", "1791-12-26"),
    );

    // The record: the form as sent, plus id, admittedAt (the transaction's
    // time) and admittedBy (the client's org); read on either member's peer.
    for peer in [HOSPITAL, PLATFORM] {
        let got = answer(&call(&chain, peer, peer, "GetPatient", &[&ada], &[]));
        let mut expected = intake("Ada", "Byron", "1815-12-10");
        expected["id"] = json!(ada);
        expected["admittedAt"] = json!(iso8601(e.proposal.header.timestamp));
        expected["admittedBy"] = json!("Org1MSP");
        assert_eq!(got, expected, "on peer {peer}");
    }
    // Optional fields given as null or "" (and groups left empty) are not stored.
    let got = answer(&call(
        &chain,
        PLATFORM,
        PLATFORM,
        "GetPatient",
        &[&bella],
        &[],
    ));
    sparse =
        json!({ "givenName": "Annabella", "familyName": "byron", "dateOfBirth": "1792-05-17" });
    assert_eq!(
        keys(&got),
        [
            "admittedAt",
            "admittedBy",
            "dateOfBirth",
            "familyName",
            "givenName",
            "id"
        ]
    );
    for f in ["givenName", "familyName", "dateOfBirth"] {
        assert_eq!(got[f], sparse[f]);
    }

    let find = |query: Value| -> Vec<String> {
        let q = query.to_string();
        let found = answer(&call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "FindPatients",
            &[],
            &[("query", q.as_bytes())],
        ));
        found["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // Family-name prefix, any case, sorted by family then given name; the
    // summary has exactly id, names and date of birth.
    assert_eq!(
        find(json!({ "familyName": "BYR" })),
        [ada.clone(), bella.clone()]
    );
    assert_eq!(
        find(json!({ "familyName": "b" })),
        [charles.clone(), ada.clone(), bella.clone()]
    );
    let q = json!({ "familyName": "byron", "givenName": "ad" }).to_string();
    let found = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "FindPatients",
        &[],
        &[("query", q.as_bytes())],
    ));
    assert_eq!(
        found,
        json!({ "patients": [{ "id": ada, "givenName": "Ada", "familyName": "Byron", "dateOfBirth": "1815-12-10" }] })
    );
    // Given name alone, date of birth alone (exact), and combined.
    assert_eq!(
        find(json!({ "givenName": "a" })),
        [ada.clone(), bella.clone()]
    );
    assert_eq!(find(json!({ "givenName": "CHAR" })), [charles.as_str()]);
    assert_eq!(
        find(json!({ "dateOfBirth": "1791-12-26" })),
        [charles.as_str()]
    );
    assert_eq!(
        find(json!({ "dateOfBirth": "1815-12-10", "givenName": "ada" })),
        [ada.as_str()]
    );
    // Negative lookups, beside the positive ones above.
    assert!(find(json!({ "familyName": "Lovelace" })).is_empty());
    assert!(find(json!({ "familyName": "Byronic" })).is_empty());
    assert!(find(json!({ "dateOfBirth": "1815-12-11" })).is_empty());
    assert!(find(json!({ "familyName": "Byron", "dateOfBirth": "1791-12-26" })).is_empty());

    let unknown = pt("nobody");
    assert_eq!(
        refusal(&call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "GetPatient",
            &[&unknown],
            &[]
        )),
        format!("patient {unknown} not found")
    );
}

#[test]
fn t81_find_patients_answers_at_most_fifty_in_order() {
    let chain = chain();
    // 55 "Many" patients in one block, admitted in an order unlike the answer's.
    let ids: Vec<String> = (0..55).map(|i| pt(&format!("many{i:02}"))).collect();
    let endorsed: Vec<Endorsed> = ids
        .iter()
        .enumerate()
        .rev()
        .map(|(i, id)| {
            let form = json!({ "givenName": format!("G{:02}", 54 - i), "familyName": "Many", "dateOfBirth": "1990-01-01" }).to_string();
            call(&chain, HOSPITAL, HOSPITAL, "AdmitPatient", &[id], &[("patient", form.as_bytes())])
        })
        .collect();
    submit_block(&chain, HOSPITAL, HOSPITAL, &endorsed);
    for query in [
        json!({ "familyName": "many" }),
        json!({ "givenName": "g" }),
        json!({ "dateOfBirth": "1990-01-01" }),
    ] {
        let q = query.to_string();
        let found = answer(&call(
            &chain,
            PLATFORM,
            PLATFORM,
            "FindPatients",
            &[],
            &[("query", q.as_bytes())],
        ));
        let given: Vec<&str> = found["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["givenName"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("G{i:02}")).collect();
        assert_eq!(given, expected, "{query}");
    }
}

#[test]
fn t81_bad_intake_and_duplicates_are_refused_naming_the_field_and_write_nothing() {
    let chain = chain();
    let id = pt("dup");
    admit(&chain, &id, &intake("Ada", "Byron", "1815-12-10"));
    let again = intake("Other", "Person", "1900-01-01").to_string();
    let dup = call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "AdmitPatient",
        &[&id],
        &[("patient", again.as_bytes())],
    );
    assert_eq!(
        refusal(&dup),
        format!("patient {id} already exists; draw a new id (128 random bits) for a new patient")
    );
    // The first record is unchanged.
    let got = answer(&call(&chain, HOSPITAL, HOSPITAL, "GetPatient", &[&id], &[]));
    assert_eq!(got["givenName"], "Ada");

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/givenName",
            Value::Null,
            "patient.givenName is missing; it is required",
        ),
        (
            "/familyName",
            json!(""),
            "patient.familyName is missing; it is required",
        ),
        (
            "/dateOfBirth",
            Value::Null,
            "patient.dateOfBirth is missing; it is required",
        ),
        (
            "/givenName",
            json!(7),
            "patient.givenName must be a string, not a number",
        ),
        (
            "/givenName",
            json!("x".repeat(101)),
            "patient.givenName is 101 characters long; at most 100 are allowed",
        ),
        (
            "/familyName",
            json!("By\nron"),
            "patient.familyName contains a control character (U+000A at position 2); use printable characters only",
        ),
        (
            "/familyName",
            json!("Byron "),
            "patient.familyName starts or ends with white space; remove it",
        ),
        (
            "/dateOfBirth",
            json!("10.12.1815"),
            "patient.dateOfBirth must be a date written YYYY-MM-DD (e.g. 1984-02-29)",
        ),
        (
            "/dateOfBirth",
            json!("1815-02-29"),
            "patient.dateOfBirth 1815-02-29 is not a real calendar date",
        ),
        (
            "/dateOfBirth",
            json!("1815-13-01"),
            "patient.dateOfBirth 1815-13-01 is not a real calendar date",
        ),
        (
            "/dateOfBirth",
            json!("2999-01-01"),
            "patient.dateOfBirth 2999-01-01 is after the transaction's date",
        ),
        (
            "/sex",
            json!("f"),
            r#"patient.sex must be one of "female", "male", "other", "unknown""#,
        ),
        (
            "/nationalId",
            json!("1".repeat(33)),
            "patient.nationalId is 33 characters long; at most 32 are allowed",
        ),
        (
            "/address/zip",
            json!("4051"),
            r#"patient.address has an unknown field "zip"; only "line", "city", "postalCode", "country" are allowed"#,
        ),
        (
            "/address",
            json!("Basel"),
            "patient.address must be a JSON object with",
        ),
        ("/phone", json!("call me"), "patient.phone must hold digits"),
        (
            "/email",
            json!("ada at example.org"),
            "patient.email must be an email address",
        ),
        (
            "/allergies",
            json!("penicillin"),
            "patient.allergies must be an array of strings, not a string",
        ),
        (
            "/allergies",
            json!(["ok", ""]),
            "patient.allergies[1] must not be empty",
        ),
        (
            "/conditions",
            json!([1]),
            "patient.conditions[0] must be a string, not a number",
        ),
        (
            "/insurance/plan",
            json!("gold"),
            r#"patient.insurance has an unknown field "plan""#,
        ),
        (
            "/emergencyContact/phone",
            json!("none"),
            "patient.emergencyContact.phone must hold digits",
        ),
        (
            "/ssn",
            json!("123-45-6789"),
            r#"patient has an unknown field "ssn"; only"#,
        ),
    ];
    for (n, (pointer, value, expected)) in cases.into_iter().enumerate() {
        let mut form = intake("Grace", "Hopper", "1906-12-09");
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut form
        } else {
            form.pointer_mut(parent).unwrap()
        };
        if value.is_null() {
            target.as_object_mut().unwrap().remove(field);
        } else {
            target[field] = value;
        }
        let id = pt(&format!("bad{n}"));
        let text = form.to_string();
        let e = call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "AdmitPatient",
            &[&id],
            &[("patient", text.as_bytes())],
        );
        let message = refusal(&e);
        assert!(message.starts_with(expected), "{pointer}: {message}");
        // The message never echoes the private value it refuses.
        assert!(
            !message.contains("Grace") && !message.contains("Hopper"),
            "{message}"
        );
        let text = r#"{"familyName":"Hopper"}"#;
        let q = call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "FindPatients",
            &[],
            &[("query", text.as_bytes())],
        );
        assert_eq!(
            answer(&q),
            json!({ "patients": [] }),
            "{pointer} stored nothing"
        );
    }
    // Positive control: the same form, unchanged, is admitted and found.
    admit(
        &chain,
        &pt("good"),
        &intake("Grace", "Hopper", "1906-12-09"),
    );
    let text = r#"{"familyName":"Hopper"}"#;
    let q = call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "FindPatients",
        &[],
        &[("query", text.as_bytes())],
    );
    assert_eq!(answer(&q)["patients"][0]["id"], json!(pt("good")));

    let form = intake("Grace", "Hopper", "1906-12-09").to_string();
    let t: &[(&str, &[u8])] = &[("patient", form.as_bytes())];
    let x = pt("x");
    let x = x.as_str();
    for (args, transient, expected) in [
        (
            vec!["pt_short"],
            t,
            r#"patientId "pt_short" is not a valid id: expected "pt_" followed by 22 base64url characters"#,
        ),
        (
            vec!["756.1234.5678.97"],
            t,
            r#"patientId "756.1234.5678.97" is not a valid id"#,
        ),
        (
            vec![],
            t,
            "AdmitPatient takes 1 argument (patientId); got 0",
        ),
        (
            vec!["pt_a", "Grace"],
            t,
            "AdmitPatient takes 1 argument (patientId); got 2",
        ),
        (
            vec![x],
            &[],
            r#"pass the patient as transient data "patient""#,
        ),
        (
            vec![x],
            &[("patient", b"{not json")],
            r#"transient "patient" is not valid JSON"#,
        ),
        (
            vec![x],
            &[("patient", b"[]")],
            r#"transient "patient" must be a JSON object, not an array"#,
        ),
    ] {
        let message = refusal(&call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "AdmitPatient",
            &args,
            transient,
        ));
        assert!(message.starts_with(expected), "{args:?}: {message}");
    }
    for (query, expected) in [
        (
            r#"{}"#,
            r#"query needs at least one of "familyName", "givenName""#,
        ),
        (
            r#"{"nationalId":"756"}"#,
            r#"query has an unknown field "nationalId""#,
        ),
        (
            r#"{"dateOfBirth":"1815-02-30"}"#,
            "query.dateOfBirth 1815-02-30 is not a real calendar date",
        ),
    ] {
        let message = refusal(&call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "FindPatients",
            &[],
            &[("query", query.as_bytes())],
        ));
        assert!(message.starts_with(expected), "{query}: {message}");
    }
    let message = refusal(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "FindPatients",
        &["Byron"],
        &[],
    ));
    assert_eq!(
        message,
        "FindPatients takes no arguments; private inputs go in the transient map; got 1"
    );
}

#[test]
fn t81_a_birth_date_may_be_the_transaction_date_but_not_after_it() {
    let chain = chain();
    // 2024-02-29T23:59:59.999Z: the transaction's date is a leap day, UTC.
    chain.set_time(Some(Timestamp {
        seconds: 1_709_251_199,
        nanos: 999_000_000,
    }));
    let born = admit(&chain, &pt("leapday"), &intake("New", "Born", "2024-02-29"));
    assert_eq!(
        iso8601(born.proposal.header.timestamp),
        "2024-02-29T23:59:59.999Z"
    );
    let form = intake("Not", "Yet", "2024-03-01").to_string();
    let e = call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "AdmitPatient",
        &[&pt("tomorrow")],
        &[("patient", form.as_bytes())],
    );
    assert_eq!(
        refusal(&e),
        "patient.dateOfBirth 2024-03-01 is after the transaction's date 2024-02-29; a date of birth cannot be in the future"
    );
    let got = answer(&call(
        &chain,
        PLATFORM,
        PLATFORM,
        "GetPatient",
        &[&pt("leapday")],
        &[],
    ));
    assert_eq!(got["admittedAt"], "2024-02-29T23:59:59.999Z");
    // The contract's clock rounds to the millisecond (as Fabric's shim): 0.4 ms
    // before midnight is already the next day, where that birth date is valid.
    chain.set_time(Some(Timestamp {
        seconds: 1_709_251_199,
        nanos: 999_600_000,
    }));
    let e = admit(&chain, &pt("tomorrow"), &intake("Not", "Yet", "2024-03-01"));
    assert_eq!(
        iso8601(e.proposal.header.timestamp),
        "2024-03-01T00:00:00.000Z"
    );
    let got = answer(&call(
        &chain,
        PLATFORM,
        PLATFORM,
        "GetPatient",
        &[&pt("tomorrow")],
        &[],
    ));
    assert_eq!(got["admittedAt"], "2024-03-01T00:00:00.000Z");
}

/// Marker values in the intake: names, an allergy and the national id.
const GIVEN_MARK: &str = "Givenmark-3f9a";
const FAMILY_MARK: &str = "Familymark-c81d";
const ALLERGY_MARK: &str = "allergy-marker-5b2e77";
const NATIONAL_ID: &str = "NID-MARKER-90417";
const LABEL_MARK: &str = "label-marker-e0c4";

fn assert_absent(haystack: &[u8], needles: &[&str], what: &str) {
    for n in needles {
        assert!(!contains(haystack, n.as_bytes()), "{n} found in {what}");
    }
}

fn public_writes(e: &Endorsed) -> Vec<(String, Vec<u8>)> {
    e.simulation
        .rwset
        .namespaces
        .iter()
        .flat_map(|ns| ns.writes.iter().map(|w| (w.key.clone(), w.value.clone())))
        .collect()
}

#[test]
fn t81_intake_markers_and_national_id_never_leave_the_collection() {
    let chain = chain();
    let id = pt("marked");
    let mut form = intake(GIVEN_MARK, FAMILY_MARK, "1970-01-01");
    form["allergies"] = json!([ALLERGY_MARK]);
    form["nationalId"] = json!(NATIONAL_ID);
    let markers = [GIVEN_MARK, FAMILY_MARK, ALLERGY_MARK, NATIONAL_ID];
    let e = admit(&chain, &id, &form);

    // Arguments: the opaque id only.
    assert_eq!(e.proposal.invocation.args, vec![id.as_bytes().to_vec()]);
    // No public write at all, and nothing in the signed endorsement or the
    // transaction the orderer sees.
    assert!(
        public_writes(&e).is_empty(),
        "AdmitPatient writes no public state"
    );
    let signed = e
        .simulation
        .response_payload(&e.proposal)
        .unwrap()
        .encode()
        .unwrap();
    assert_absent(&signed, &markers, "the endorsement");
    let envelope = chain.envelope(&e, &chain.net.orgs[HOSPITAL].user, &[HOSPITAL]);
    assert_absent(&envelope, &markers, "the transaction");
    assert!(e.simulation.events.is_empty());
    // Positive control: the private write holds every marker, as the record.
    let writes = e
        .simulation
        .private_writes()
        .collection(NAME, COLLECTION)
        .unwrap();
    let record = writes
        .writes
        .iter()
        .find(|w| w.key == format!("patient\u{0}{id}"))
        .unwrap();
    for m in markers {
        assert!(
            contains(&record.value, m.as_bytes()),
            "{m} is in the private record"
        );
    }
    // The national id is stored, never a key: the index keys hold lowercase
    // names and the id only.
    let index: Vec<&str> = writes.writes.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(index.len(), 4);
    assert!(index.iter().all(|k| !k.contains(NATIONAL_ID)));
    assert!(index.contains(
        &format!("patientByFamily\u{0}familymark-c81d\u{0}givenmark-3f9a\u{0}{id}").as_str()
    ));

    // Committed with the private writes offered to all three peers: the
    // members keep them, Org3 and the orderer never hold them.
    for org in [HOSPITAL, PLATFORM] {
        assert!(
            contains(&chain.ledger_file(org), NATIONAL_ID.as_bytes()),
            "org {org}"
        );
    }
    // Org3's ledger holds the block (the transaction the orderer saw) and
    // the hashes, never the values.
    assert_absent(&chain.ledger_file(DIAGNOSTICS), &markers, "Org3's ledger");
    assert!(
        contains(&chain.ledger_file(DIAGNOSTICS), id.as_bytes()),
        "the block is there"
    );
}

#[test]
fn t81_record_diagnosis_writes_exactly_the_audit_publicly_and_the_record_privately() {
    let chain = chain();
    let patient = pt("dxpatient");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    let id = dx("first");
    let e = record(&chain, &id, &diagnosis(&patient));
    let txid = e.proposal.header.txid.to_string();
    let at = iso8601(e.proposal.header.timestamp);

    // The salt, derived as documented (no saltSeed given), and the three hashes.
    let salt =
        cairn_crypto::sha256(&[b"cairn/health/salt", txid.as_bytes(), id.as_bytes()].concat());
    let salt = salt.as_bytes().to_vec();
    let record_id = sha256_hex(&[&salt, patient.as_bytes(), b"\0", id.as_bytes()]);
    let input = sha256_hex(&[&salt, FEATURES_CANONICAL.as_bytes()]);
    let result = sha256_hex(&[&salt, RESULT_CANONICAL.as_bytes()]);
    let audit = json!({
        "diagnosisId": id,
        "recordIdSha256": record_id, "inputSha256": input, "resultSha256": result,
        "modelSha256": MODEL_SHA, "modelName": "breast-cancer", "modelVersion": "1.0.0",
        "platformMeasurement": PLATFORM_MEASUREMENT, "platformTokenJti": "jti-platform-1",
        "diagnosticsMeasurement": DIAGNOSTICS_MEASUREMENT, "diagnosticsTokenJti": "jti-diagnostics-1",
        "inferenceReceiptSha256": RECEIPT_SHA, "recordedAt": at, "recordedBy": "Org2MSP",
    });
    assert_eq!(keys(&audit), AUDIT_FIELDS);
    assert_eq!(answer(&e), json!({ "id": id, "audit": audit }));

    // Exactly one public write: the audit record, canonical JSON, these fields.
    let public = public_writes(&e);
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].0, format!("audit\u{0}{id}"));
    let written: Value = serde_json::from_slice(&public[0].1).unwrap();
    assert_eq!(keys(&written), AUDIT_FIELDS);
    assert_eq!(written, audit);
    assert_eq!(
        public[0].1,
        audit.to_string().into_bytes(),
        "canonical: sorted keys, no spaces"
    );
    // The event carries the same record.
    assert_eq!(e.simulation.events.len(), 1);
    assert_eq!(e.simulation.events[0].name, "DiagnosisRecorded");
    assert_eq!(e.simulation.events[0].payload, public[0].1);

    // The private record: the diagnosis as sent (normalized), plus id, salt,
    // createdAt, createdBy and the three hashes; and the patient's list entry.
    let writes = e
        .simulation
        .private_writes()
        .collection(NAME, COLLECTION)
        .unwrap();
    let keys_written: Vec<&str> = writes.writes.iter().map(|w| w.key.as_str()).collect();
    let list_key = format!("patientDiagnosis\u{0}{patient}\u{0}{id}");
    assert_eq!(keys_written, [format!("diagnosis\u{0}{id}"), list_key]);
    let stored: Value = serde_json::from_slice(&writes.writes[0].value).unwrap();
    let mut expected = diagnosis(&patient);
    for (k, v) in [
        ("id", json!(id)),
        ("salt", json!(hex::encode(&salt))),
        ("createdAt", json!(at)),
        ("createdBy", json!("Org2MSP")),
        ("recordIdSha256", json!(record_id)),
        ("inputSha256", json!(input)),
        ("resultSha256", json!(result)),
    ] {
        expected[k] = v;
    }
    // Stored in canonical form: 1001.0 as sent is 1001, the text that was hashed.
    expected["features"] = serde_json::from_str(FEATURES_CANONICAL).unwrap();
    assert_eq!(stored, expected);
    let canonical = format!("\"features\":{FEATURES_CANONICAL}");
    assert!(contains(&writes.writes[0].value, canonical.as_bytes()));
    let canonical = format!("\"result\":{RESULT_CANONICAL}");
    assert!(contains(&writes.writes[0].value, canonical.as_bytes()));
    let got = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "GetDiagnosis",
        &[&id],
        &[],
    ));
    assert_eq!(
        got, expected,
        "the hospital reads what the platform recorded"
    );
    assert_eq!(
        answer(&call(
            &chain,
            DIAGNOSTICS,
            DIAGNOSTICS,
            "GetAudit",
            &[&id],
            &[]
        )),
        audit
    );

    // The same id again, an unknown patient, and an unknown diagnosis.
    let d = diagnosis(&patient).to_string();
    let again = call(
        &chain,
        PLATFORM,
        PLATFORM,
        "RecordDiagnosis",
        &[&id],
        &[("diagnosis", d.as_bytes())],
    );
    assert_eq!(
        refusal(&again),
        format!(
            "diagnosis {id} already exists; draw a new id (128 random bits) for a new diagnosis"
        )
    );
    let stranger = pt("stranger");
    let d = diagnosis(&stranger).to_string();
    let other = dx("other");
    let e2 = call(
        &chain,
        PLATFORM,
        PLATFORM,
        "RecordDiagnosis",
        &[&other],
        &[("diagnosis", d.as_bytes())],
    );
    assert_eq!(
        refusal(&e2),
        format!("patient {stranger} not found; admit the patient before recording a diagnosis")
    );
    for function in ["GetDiagnosis", "VerifyAudit"] {
        assert_eq!(
            refusal(&call(&chain, HOSPITAL, HOSPITAL, function, &[&other], &[])),
            format!("diagnosis {other} not found")
        );
    }
    assert_eq!(
        refusal(&call(
            &chain,
            DIAGNOSTICS,
            DIAGNOSTICS,
            "GetAudit",
            &[&other],
            &[]
        )),
        format!("diagnosis {other} has no audit record on this channel")
    );
}

#[test]
fn t81_a_salt_seed_makes_the_salt_underivable_from_public_data() {
    let chain = chain();
    let patient = pt("seeded");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    let id = dx("seeded");
    let seed = [0x5au8; 32];
    let d = diagnosis(&patient).to_string();
    let e = submit(
        &chain,
        PLATFORM,
        PLATFORM,
        "RecordDiagnosis",
        &[&id],
        &[("diagnosis", d.as_bytes()), ("saltSeed", &seed)],
    );
    let txid = e.proposal.header.txid.to_string();
    let public_salt =
        cairn_crypto::sha256(&[b"cairn/health/salt", txid.as_bytes(), id.as_bytes()].concat());
    let salt = cairn_crypto::sha256(
        &[
            &b"cairn/health/salt"[..],
            txid.as_bytes(),
            id.as_bytes(),
            &seed,
        ]
        .concat(),
    );
    let stored = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "GetDiagnosis",
        &[&id],
        &[],
    ));
    assert_eq!(stored["salt"], json!(salt.to_hex()));
    assert_ne!(stored["salt"], json!(public_salt.to_hex()));
    let audit = answer(&call(
        &chain,
        DIAGNOSTICS,
        DIAGNOSTICS,
        "GetAudit",
        &[&id],
        &[],
    ));
    let input = sha256_hex(&[salt.as_bytes(), FEATURES_CANONICAL.as_bytes()]);
    assert_eq!(audit["inputSha256"], json!(input));
    assert_ne!(
        audit["inputSha256"],
        json!(sha256_hex(&[
            public_salt.as_bytes(),
            FEATURES_CANONICAL.as_bytes()
        ]))
    );
    // The seed is private input: never in the transaction.
    let envelope = chain.envelope(&e, &chain.net.orgs[PLATFORM].user, &[PLATFORM]);
    assert!(!contains(&envelope, &seed));
    let short = call(
        &chain,
        PLATFORM,
        PLATFORM,
        "RecordDiagnosis",
        &[&dx("short")],
        &[("diagnosis", d.as_bytes()), ("saltSeed", &[1u8; 8])],
    );
    assert_eq!(
        refusal(&short),
        r#"transient "saltSeed" is 8 bytes; give 16 to 1024 random bytes (32 is right)"#
    );
}

#[test]
fn t81_bad_diagnoses_are_refused_naming_the_field_and_write_nothing() {
    let chain = chain();
    let patient = pt("badx");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/patientId",
            Value::Null,
            "diagnosis.patientId is missing; it is required",
        ),
        (
            "/patientId",
            json!("756.1234.5678.97"),
            r#"diagnosis.patientId "756.1234.5678.97" is not a valid id"#,
        ),
        (
            "/features",
            json!([]),
            "diagnosis.features must not be empty",
        ),
        (
            "/features",
            json!([1, "2"]),
            "diagnosis.features[1] must be a finite number, not a string",
        ),
        (
            "/features",
            json!({ "x": 1 }),
            "diagnosis.features must be an array of numbers, not an object",
        ),
        (
            "/result/label",
            json!(""),
            "diagnosis.result.label must not be empty",
        ),
        (
            "/result/probability",
            json!(1.5),
            "diagnosis.result.probability must be between 0 and 1",
        ),
        (
            "/result/outputs",
            json!([0.1]),
            "diagnosis.result.outputs[0] must be an array of numbers, not a number",
        ),
        (
            "/result/outputs",
            json!([]),
            "diagnosis.result.outputs must be an array of 1 to 64 arrays of numbers",
        ),
        (
            "/result/patientName",
            json!("x"),
            r#"diagnosis.result has an unknown field "patientName""#,
        ),
        (
            "/model/sha256",
            json!("ABC"),
            r#"diagnosis.model.sha256 must be a SHA-256 in 64 lowercase hexadecimal characters; got "ABC""#,
        ),
        (
            "/model/name",
            Value::Null,
            "diagnosis.model.name is missing; give it as a string",
        ),
        (
            "/platform/measurement",
            json!("xyz"),
            "diagnosis.platform.measurement must be the attested measurement in lowercase hexadecimal",
        ),
        (
            "/diagnostics/tokenJti",
            json!("a b"),
            "diagnosis.diagnostics.tokenJti must be the attestation token's jti",
        ),
        (
            "/diagnostics/nonce",
            json!("n"),
            r#"diagnosis.diagnostics has an unknown field "nonce""#,
        ),
        (
            "/inferenceReceiptSha256",
            json!("00"),
            "diagnosis.inferenceReceiptSha256 must be a SHA-256",
        ),
        (
            "/nationalId",
            json!("756"),
            r#"diagnosis has an unknown field "nationalId""#,
        ),
    ];
    for (n, (pointer, value, expected)) in cases.into_iter().enumerate() {
        let mut d = diagnosis(&patient);
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut d
        } else {
            d.pointer_mut(parent).unwrap()
        };
        if value.is_null() {
            target.as_object_mut().unwrap().remove(field);
        } else {
            target[field] = value;
        }
        let text = d.to_string();
        let id = dx(&format!("bad{n}"));
        let message = refusal(&call(
            &chain,
            PLATFORM,
            PLATFORM,
            "RecordDiagnosis",
            &[&id],
            &[("diagnosis", text.as_bytes())],
        ));
        assert!(message.starts_with(expected), "{pointer}: {message}");
    }
    let d = diagnosis(&patient).to_string();
    for (args, expected) in [
        (
            vec!["dx_short"],
            r#"diagnosisId "dx_short" is not a valid id: expected "dx_" followed by 22 base64url characters"#,
        ),
        (
            vec![],
            "RecordDiagnosis takes 1 argument (diagnosisId); got 0",
        ),
    ] {
        let message = refusal(&call(
            &chain,
            PLATFORM,
            PLATFORM,
            "RecordDiagnosis",
            &args,
            &[("diagnosis", d.as_bytes())],
        ));
        assert!(message.starts_with(expected), "{message}");
    }
    // Nothing was recorded: the patient has no diagnosis; then the unchanged
    // diagnosis (positive control) is recorded and listed.
    let list = |chain: &pdc::Chain| {
        answer(&call(
            chain,
            HOSPITAL,
            HOSPITAL,
            "ListDiagnoses",
            &[&patient],
            &[],
        ))
    };
    assert_eq!(list(&chain), json!({ "diagnoses": [] }));
    record(&chain, &dx("good"), &diagnosis(&patient));
    assert_eq!(list(&chain)["diagnoses"][0]["id"], json!(dx("good")));
}

#[test]
fn t81_diagnosis_markers_never_reach_public_writes_events_arguments_or_blocks() {
    let chain = chain();
    let patient = pt("dxmarked");
    let mut form = intake(GIVEN_MARK, FAMILY_MARK, "1970-01-01");
    form["nationalId"] = json!(NATIONAL_ID);
    admit(&chain, &patient, &form);
    let mut d = diagnosis(&patient);
    d["result"]["label"] = json!(LABEL_MARK);
    d["features"] = json!([31415.92653, 2.5]);
    let id = dx("marked");
    let e = record(&chain, &id, &d);
    let private = [LABEL_MARK, "31415.92653", patient.as_str()];
    let all: Vec<&str> = private
        .iter()
        .copied()
        .chain([GIVEN_MARK, FAMILY_MARK, NATIONAL_ID])
        .collect();

    assert_eq!(e.proposal.invocation.args, vec![id.as_bytes().to_vec()]);
    for (key, value) in public_writes(&e) {
        assert_absent(key.as_bytes(), &all, "a public key");
        assert_absent(&value, &all, "a public value");
    }
    assert_absent(&e.simulation.events[0].payload, &all, "the event");
    assert_absent(&e.simulation.response.payload, &all, "the response");
    let signed = e
        .simulation
        .response_payload(&e.proposal)
        .unwrap()
        .encode()
        .unwrap();
    assert_absent(&signed, &all, "the endorsement");
    let envelope = chain.envelope(&e, &chain.net.orgs[PLATFORM].user, &[PLATFORM]);
    assert_absent(&envelope, &all, "the transaction");
    // Positive controls: the private write holds them; so do the members' ledgers.
    let writes = e
        .simulation
        .private_writes()
        .collection(NAME, COLLECTION)
        .unwrap();
    for m in private {
        assert!(
            contains(&writes.writes[0].value, m.as_bytes()),
            "{m} in the private record"
        );
    }
    for org in [HOSPITAL, PLATFORM] {
        assert!(
            contains(&chain.ledger_file(org), LABEL_MARK.as_bytes()),
            "org {org}"
        );
    }
    // (The patient id is in the block of its AdmitPatient, an argument.)
    let values = [
        LABEL_MARK,
        "31415.92653",
        GIVEN_MARK,
        FAMILY_MARK,
        NATIONAL_ID,
    ];
    assert_absent(&chain.ledger_file(DIAGNOSTICS), &values, "Org3's ledger");
    // Org3's ledger does hold the public audit (the same block's public part).
    assert!(contains(
        &chain.ledger_file(DIAGNOSTICS),
        RECEIPT_SHA.as_bytes()
    ));
}

#[test]
fn t81_non_members_read_the_audit_but_not_the_private_records() {
    let chain = chain();
    let patient = pt("nonmember");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    let id = dx("nonmember");
    let audit = answer(&record(&chain, &id, &diagnosis(&patient)))["audit"].clone();

    // Org3's client on a member peer: memberOnlyRead refuses it.
    for (function, arg) in [
        ("GetDiagnosis", &id),
        ("GetPatient", &patient),
        ("ListDiagnoses", &patient),
        ("VerifyAudit", &id),
    ] {
        let message = refusal(&call(&chain, HOSPITAL, DIAGNOSTICS, function, &[arg], &[]));
        assert!(
            message.starts_with(
                "the client's org Org3MSP may not read collection hospitalPlatform (memberOnlyRead"
            ),
            "{function}: {message}"
        );
        // A member's client on Org3's peer: the peer has no data.
        let message = refusal(&call(&chain, DIAGNOSTICS, HOSPITAL, function, &[arg], &[]));
        assert!(
            message.starts_with(
                "this peer's org Org3MSP is not a member of collection hospitalPlatform"
            ),
            "{function}: {message}"
        );
    }
    // ...but anyone on the channel reads the audit, on any peer.
    for (peer, client) in [
        (DIAGNOSTICS, DIAGNOSTICS),
        (HOSPITAL, DIAGNOSTICS),
        (PLATFORM, HOSPITAL),
    ] {
        assert_eq!(
            answer(&call(&chain, peer, client, "GetAudit", &[&id], &[])),
            audit
        );
    }
    // Org3 cannot admit patients (memberOnlyWrite; its read is refused first).
    let form = intake("Eve", "Spy", "1980-01-01").to_string();
    let message = refusal(&call(
        &chain,
        HOSPITAL,
        DIAGNOSTICS,
        "AdmitPatient",
        &[&pt("eve")],
        &[("patient", form.as_bytes())],
    ));
    assert!(
        message.starts_with("the client's org Org3MSP may not read collection hospitalPlatform"),
        "{message}"
    );
}

#[test]
fn t81_list_diagnoses_orders_by_time_then_id() {
    let chain = chain();
    let patient = pt("listed");
    let other = pt("other");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    admit(&chain, &other, &intake("Charles", "Babbage", "1791-12-26"));
    // Two at the same time (in one block: ordered by id), then a later one
    // with a smaller id.
    let t0 = Timestamp {
        seconds: 1_750_000_000,
        nanos: 250_000_000,
    };
    let t1 = Timestamp {
        seconds: 1_750_000_001,
        nanos: 0,
    };
    chain.set_time(Some(t0));
    let d = diagnosis(&patient).to_string();
    let t: &[(&str, &[u8])] = &[("diagnosis", d.as_bytes())];
    let (b, a) = (dx("bbb"), dx("aaa"));
    let first = [
        call(&chain, PLATFORM, PLATFORM, "RecordDiagnosis", &[&b], t),
        call(&chain, PLATFORM, PLATFORM, "RecordDiagnosis", &[&a], t),
    ];
    submit_block(&chain, PLATFORM, PLATFORM, &first);
    chain.set_time(Some(t1));
    let mut later = diagnosis(&patient);
    later["result"] =
        json!({ "label": "malignant", "probability": 0.75, "outputs": [[0.75, 0.25]] });
    let zero = dx("000");
    record(&chain, &zero, &later);
    record(&chain, &dx("others"), &diagnosis(&other));
    chain.set_time(None);

    let list = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "ListDiagnoses",
        &[&patient],
        &[],
    ));
    assert_eq!(
        list,
        json!({ "diagnoses": [
            { "id": a, "createdAt": "2025-06-15T15:06:40.250Z", "label": "benign", "probability": 0.98 },
            { "id": b, "createdAt": "2025-06-15T15:06:40.250Z", "label": "benign", "probability": 0.98 },
            { "id": zero, "createdAt": "2025-06-15T15:06:41.000Z", "label": "malignant", "probability": 0.75 },
        ] })
    );
    assert_eq!(
        iso8601(t0),
        "2025-06-15T15:06:40.250Z",
        "the test's own clock reading"
    );
    let unknown = pt("unknown");
    assert_eq!(
        refusal(&call(
            &chain,
            HOSPITAL,
            HOSPITAL,
            "ListDiagnoses",
            &[&unknown],
            &[]
        )),
        format!("patient {unknown} not found")
    );
}

#[test]
fn t81_verify_audit_passes_and_names_the_field_a_tampered_record_breaks() {
    let chain = chain();
    let patient = pt("verified");
    admit(&chain, &patient, &intake("Ada", "Byron", "1815-12-10"));
    let id = dx("verified");
    let e = record(&chain, &id, &diagnosis(&patient));
    for peer in [HOSPITAL, PLATFORM] {
        let v = answer(&call(&chain, peer, peer, "VerifyAudit", &[&id], &[]));
        assert_eq!(v, json!({ "ok": true, "mismatches": [] }));
    }

    // A rogue endorser of a member org overwrites the private record with a
    // different result (the public audit stays): the transaction is well
    // signed and its private value matches its hash, so it commits.
    let key = format!("diagnosis\u{0}{id}");
    let mut stored: Value = serde_json::from_slice(
        &e.simulation
            .private_writes()
            .collection(NAME, COLLECTION)
            .unwrap()
            .writes[0]
            .value,
    )
    .unwrap();
    stored["result"]["label"] = json!("malignant");
    let code = overwrite_private(&chain, &key, stored.to_string().into_bytes());
    assert_eq!(code, ValidationCode::Valid);
    let got = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "GetDiagnosis",
        &[&id],
        &[],
    ));
    assert_eq!(
        got["result"]["label"], "malignant",
        "the tampered record is what members read"
    );
    let v = answer(&call(
        &chain,
        HOSPITAL,
        HOSPITAL,
        "VerifyAudit",
        &[&id],
        &[],
    ));
    assert_eq!(v, json!({ "ok": false, "mismatches": ["resultSha256"] }));

    // Features, model and salt altered too: each names its field.
    stored["features"][0] = json!(18.0);
    stored["model"]["sha256"] = json!(RECEIPT_SHA);
    overwrite_private(&chain, &key, stored.to_string().into_bytes());
    let v = answer(&call(
        &chain,
        PLATFORM,
        PLATFORM,
        "VerifyAudit",
        &[&id],
        &[],
    ));
    assert_eq!(
        v,
        json!({ "ok": false, "mismatches": ["inputSha256", "modelSha256", "resultSha256"] })
    );
    stored["salt"] = json!("00");
    overwrite_private(&chain, &key, stored.to_string().into_bytes());
    let v = answer(&call(
        &chain,
        PLATFORM,
        PLATFORM,
        "VerifyAudit",
        &[&id],
        &[],
    ));
    assert_eq!(
        v,
        json!({ "ok": false, "mismatches": ["inputSha256", "modelSha256", "recordIdSha256", "resultSha256", "salt"] })
    );
}

/// Commits a transaction whose only write puts `value` at `key` in the
/// collection: an endorsement of an unrelated call on the hospital's peer
/// with its read/write set replaced, signed by that peer.
fn overwrite_private(chain: &pdc::Chain, key: &str, value: Vec<u8>) -> ValidationCode {
    let form = intake("Any", "One", "2000-01-01").to_string();
    let n = format!("tamper{}", chain.orderer.height());
    let mut e = call(
        chain,
        HOSPITAL,
        HOSPITAL,
        "AdmitPatient",
        &[&pt(&n)],
        &[("patient", form.as_bytes())],
    );
    let write = PrivateWrite {
        key: key.to_owned(),
        is_delete: false,
        is_purge: false,
        value,
    };
    let mut writes = PrivateWriteSet::default();
    writes.insert(NAME, COLLECTION, write.clone());
    let collection = writes.collection(NAME, COLLECTION).unwrap();
    let ns = &mut e.simulation.rwset.namespaces;
    ns.retain(|n| n.namespace == NAME);
    ns[0].reads.clear();
    ns[0].writes.clear();
    ns[0].collections = vec![CollectionHashedRwSet {
        collection: COLLECTION.to_owned(),
        hashed_reads: Vec::new(),
        hashed_writes: vec![write.hashed()],
        private_rwset_hash: collection.rwset_hash().unwrap(),
    }];
    let who = &chain.net.orgs[HOSPITAL].user;
    let env = chain.envelope(&e, who, &[HOSPITAL]);
    let pd = pdc::private_data(e.proposal.header.txid, writes);
    chain
        .commit_block(vec![env], &pd, &ALL)
        .metadata
        .validation_codes[0]
}
