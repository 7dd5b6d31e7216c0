//! The health records contract's diagnoses and audit (`contracts/health-records`,
//! issue 13) on three orgs with real ledgers (see `t81_health_records.rs`
//! for the setting): a diagnosis writes exactly the public audit fields,
//! whose salted hashes recompute in Rust from the salt kept in the private
//! record (derived as documented, with and without a `saltSeed`); every bad
//! diagnosis is refused naming the field and writes nothing; the private
//! values never reach public writes, events, endorsements, arguments or
//! Org3's ledger; Org3 (the diagnostics provider) reads the audit but not
//! the records; diagnoses list in time order; and VerifyAudit names the
//! hash a tampered private record breaks.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod health;
mod pdc;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Timestamp;
use cairn_ledger::private::{PrivateWrite, PrivateWriteSet};
use cairn_ledger::rwset::CollectionHashedRwSet;
use cairn_ledger::validation::ValidationCode;
use health::*;
use pdc::contains;
use serde_json::{Value, json};

#[test]
fn t82_record_diagnosis_writes_exactly_the_audit_publicly_and_the_record_privately() {
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
    // Sorted explicitly: workspace builds turn on serde_json's preserve_order.
    let sorted: std::collections::BTreeMap<&String, &Value> =
        audit.as_object().unwrap().iter().collect();
    assert_eq!(
        public[0].1,
        serde_json::to_vec(&sorted).unwrap(),
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
fn t82_a_salt_seed_makes_the_salt_underivable_from_public_data() {
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
fn t82_bad_diagnoses_are_refused_naming_the_field_and_write_nothing() {
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
            "diagnosis.patientId is not a valid id",
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
        assert!(
            !message.contains("756.1234"),
            "a national id is never echoed: {message}"
        );
    }
    let d = diagnosis(&patient).to_string();
    for (args, expected) in [
        (
            vec!["dx_short"],
            r#"diagnosisId is not a valid id: expected "dx_" followed by 22 base64url characters"#,
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
fn t82_diagnosis_markers_never_reach_public_writes_events_arguments_or_blocks() {
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
fn t82_non_members_read_the_audit_but_not_the_private_records() {
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
fn t82_list_diagnoses_orders_by_time_then_id() {
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
fn t82_verify_audit_passes_and_names_the_field_a_tampered_record_breaks() {
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

    // Fields removed, and a record that is not JSON: still an answer, not an error.
    let verify =
        |chain: &pdc::Chain| answer(&call(chain, HOSPITAL, HOSPITAL, "VerifyAudit", &[&id], &[]));
    let mut original: Value = serde_json::from_slice(
        &e.simulation
            .private_writes()
            .collection(NAME, COLLECTION)
            .unwrap()
            .writes[0]
            .value,
    )
    .unwrap();
    original.as_object_mut().unwrap().remove("features");
    original.as_object_mut().unwrap().remove("patientId");
    overwrite_private(&chain, &key, original.to_string().into_bytes());
    assert_eq!(
        verify(&chain),
        json!({ "ok": false, "mismatches": ["inputSha256", "recordIdSha256"] })
    );
    overwrite_private(&chain, &key, b"not json".to_vec());
    let mut all: Vec<&str> = AUDIT_FIELDS.to_vec();
    all.push("salt");
    all.sort_unstable();
    assert_eq!(verify(&chain), json!({ "ok": false, "mismatches": all }));
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
