//! The health records contract's patients (`contracts/health-records`,
//! issue 13) on three orgs with real ledgers, the collection
//! `hospitalPlatform` (Org1 the hospital, Org2 the medical platform) defined
//! through `_lifecycle` from the package's own `collections.json`, Org3 (the
//! diagnostics provider) a channel member outside it.
//!
//! Checks what the platform service relies on: patients admitted from the
//! transient map read back and are found by name prefix and date of birth;
//! every bad input and a duplicate id are refused naming the field and
//! write nothing; private values (marker strings, the national id) never
//! reach arguments, public writes, endorsements, blocks, or a non-member's
//! ledger, while they do reach the members' ledgers. Diagnoses and the
//! audit: `t82_health_audit.rs`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod health;
mod pdc;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Timestamp;
use cairn_ledger::private::parse_collections_config;
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
        assert!(!message.contains("756.1234"), "{message}");
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
            r#"patientId is not a valid id: expected "pt_" followed by 22 base64url characters (A-Z a-z 0-9 _ -), 128 random bits; got 8 characters"#,
        ),
        (vec!["756.1234.5678.97"], t, "patientId is not a valid id"),
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
        assert!(
            !message.contains("756.1234"),
            "a national id is never echoed: {message}"
        );
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
