//! The model registry contract (`contracts/model-registry`, issue 12 item 3)
//! on the in-process harness: a diagnostics org (Org1) registers ONNX models
//! by name, version, SHA-256 and input/output signature; a platform org
//! (Org2) shares the channel. Checks the rules the inference service and its
//! clients rely on: the first registration of a name makes the caller's org
//! its owner, a registered version never changes, one hash maps to one
//! (name, version), bad inputs are refused with a message naming the
//! argument and write nothing, and revocation marks a record without
//! removing it.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::cell::Cell;
use std::sync::Arc;

use cairn_contract::{ContractPackage, CreatorInfo, Simulation};
use cairn_crypto::Role;
use cairn_ledger::encoding::Canonical;
use serde_json::{Value, json};
use support::*;

const NAME: &str = "model-registry";
const H1: &str = "0b1f5c7e3a9d2486f0e1c2b3a4958677a6b5c4d3e2f10987654321fedcba9870";
const H2: &str = "9d2486f0e1c2b3a4958677a6b5c4d3e2f10987654321fedcba98700b1f5c7e3a";
const H3: &str = "e2f10987654321fedcba98700b1f5c7e3a9d2486f0e1c2b3a4958677a6b5c4d3";
/// Keys in an order other than the canonical one, to show the record is normalized.
const SIGNATURE: &str = r#"{"outputs":[{"shape":[-1],"name":"label","dtype":"int64"}],"inputs":[{"dtype":"float","name":"features","shape":[-1,30]}]}"#;
/// The transaction timestamp the harness gives every proposal, as ISO 8601.
const TX_TIME: &str = "2023-11-14T22:13:20.123Z";

struct World {
    peer: Peer,
    /// A client of the diagnostics org.
    diag: CreatorInfo,
    /// Another client of the diagnostics org.
    diag2: CreatorInfo,
    /// A client of the platform org.
    platform: CreatorInfo,
    nonce: Cell<u64>,
}

fn package() -> Arc<ContractPackage> {
    Arc::new(ContractPackage::load(&contract_dir("model-registry"), "model-registry_1.0").unwrap())
}

impl World {
    fn new() -> World {
        let org1 = Org::new("Org1");
        let org2 = Org::new("Org2");
        let peer = Peer::new(
            "Org1MSP",
            channel(&[&org1, &org2]),
            FixedResolver::with(NAME, package()),
        );
        World {
            peer,
            diag: org1.identity("lab@org1.cairn", Role::Client, &[]),
            diag2: org1.identity("release@org1.cairn", Role::Client, &[]),
            platform: org2.identity("app@org2.cairn", Role::Client, &[]),
            nonce: Cell::new(1),
        }
    }

    /// Simulates and, when it succeeds, commits; also returns the txid.
    fn call_tx(&self, who: &CreatorInfo, function: &str, args: &[&str]) -> (Simulation, String) {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        let p = proposal(who, NAME, function, args, n);
        (self.peer.submit(&p, who), p.header.txid.to_string())
    }

    fn call(&self, who: &CreatorInfo, function: &str, args: &[&str]) -> Simulation {
        self.call_tx(who, function, args).0
    }

    fn register(&self, who: &CreatorInfo, name: &str, version: &str, sha256: &str) -> Simulation {
        self.call(who, "RegisterModel", &[name, version, sha256, SIGNATURE])
    }

    fn get(&self, name: &str, version: &str) -> Simulation {
        self.call(&self.platform, "GetModel", &[name, version])
    }
}

/// Asserts a refusal with exactly this message, and that nothing was endorsed.
fn assert_refused(sim: &Simulation, message: &str) {
    assert_eq!(
        (sim.response.status, sim.response.message.as_str()),
        (500, message),
        "{:?}",
        sim.response
    );
    assert!(
        sim.rwset.namespaces.is_empty(),
        "a refused call endorses nothing"
    );
    assert!(sim.events.is_empty(), "a refused call emits no event");
}

fn not_registered(name: &str, version: &str) -> String {
    format!("model {name} version {version} is not registered")
}

fn record_key(name: &str, version: &str) -> String {
    format!("\u{0}model\u{0}{name}\u{0}{version}\u{0}")
}

#[test]
fn t80_a_registered_model_reads_back_by_name_version_and_hash() {
    let w = World::new();
    let (sim, txid) = w.call_tx(
        &w.diag,
        "RegisterModel",
        &["breast-cancer", "1.0.0", H1, SIGNATURE],
    );
    let registered = payload_json(&sim);
    let expected = json!({
        "name": "breast-cancer",
        "version": "1.0.0",
        "sha256": H1,
        "signature": {
            "inputs": [{ "name": "features", "dtype": "float", "shape": [-1, 30] }],
            "outputs": [{ "name": "label", "dtype": "int64", "shape": [-1] }],
        },
        "owner": "Org1MSP",
        "txid": txid,
        "registeredAt": TX_TIME,
        "revoked": false,
    });
    assert_eq!(registered, expected);

    // The event carries the record.
    assert_eq!(sim.events.len(), 1);
    assert_eq!(
        (sim.events[0].contract.as_str(), sim.events[0].name.as_str()),
        (NAME, "ModelRegistered")
    );
    assert_eq!(sim.events[0].payload, sim.response.payload);

    // On the ledger: canonical JSON (sorted keys, no white space), whatever
    // order the caller wrote the signature's fields in.
    let raw = String::from_utf8(
        w.peer
            .state
            .get(NAME, &record_key("breast-cancer", "1.0.0"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(raw, sorted_json(&expected));
    assert!(
        raw.starts_with(r#"{"name":"breast-cancer","owner":"Org1MSP","registeredAt":"#),
        "{raw}"
    );
    assert!(
        raw.contains(r#""inputs":[{"dtype":"float","name":"features","shape":[-1,30]}]"#),
        "{raw}"
    );

    // Any org's client reads it back, by name and version or by hash.
    let got = w.get("breast-cancer", "1.0.0");
    assert_eq!(payload_str(&got), raw);
    let found = w.call(&w.platform, "FindByHash", &[H1]);
    assert_eq!(payload_str(&found), raw);
}

#[test]
fn t80_list_versions_returns_one_names_records_in_version_order() {
    let w = World::new();
    assert_eq!(
        payload_str(&w.register(&w.diag, "resnet", "2.0", H2)),
        payload_str(&w.get("resnet", "2.0"))
    );
    w.register(&w.diag, "resnet", "1.0", H1);
    // A name that starts with the other must not appear in its listing.
    w.register(&w.diag, "resnet-50", "1.0", H3);

    let list = payload_json(&w.call(&w.platform, "ListVersions", &["resnet"]));
    let rows: Vec<(&str, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["version"].as_str().unwrap(),
                r["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("resnet", "1.0", H1), ("resnet", "2.0", H2)]);
    assert_eq!(list[1], payload_json(&w.get("resnet", "2.0")));

    let other = payload_json(&w.call(&w.platform, "ListVersions", &["resnet-50"]));
    assert_eq!(other.as_array().unwrap().len(), 1);
    assert_eq!(other[0]["sha256"], H3);

    // Positive controls above; an unknown name lists nothing.
    let none = w.call(&w.platform, "ListVersions", &["resnet-5"]);
    assert_eq!(payload_str(&none), "[]");
}

#[test]
fn t80_only_the_owner_org_registers_further_versions() {
    let w = World::new();
    let first = w.register(&w.diag, "sepsis", "1", H1);
    assert_eq!(payload_json(&first)["owner"], "Org1MSP");

    let foreign = w.register(&w.platform, "sepsis", "2", H2);
    assert_refused(
        &foreign,
        "model sepsis belongs to Org1MSP; only clients of Org1MSP may register its versions \
         (this client is of Org2MSP)",
    );
    assert_refused(&w.get("sepsis", "2"), &not_registered("sepsis", "2"));

    // Positive control: another client of the owner org adds the version.
    let second = w.register(&w.diag2, "sepsis", "2", H2);
    assert_eq!(payload_json(&second)["owner"], "Org1MSP");
    assert_eq!(payload_json(&w.get("sepsis", "2"))["sha256"], H2);

    // The platform org owns the names it registers first.
    let own = w.register(&w.platform, "triage", "1", H3);
    assert_eq!(payload_json(&own)["owner"], "Org2MSP");
}

#[test]
fn t80_a_registered_version_never_changes() {
    let w = World::new();
    let (first, txid) = w.call_tx(&w.diag, "RegisterModel", &["sepsis", "1", H1, SIGNATURE]);
    assert_eq!(first.response.status, 200, "{:?}", first.response);
    let refusal = format!(
        "model sepsis version 1 is already registered (sha256 {H1}, transaction {txid}); \
         a registered version never changes: register the new file under a new version"
    );

    // Neither another file nor the same one registers the version again.
    assert_refused(&w.register(&w.diag, "sepsis", "1", H2), &refusal);
    assert_refused(&w.register(&w.diag, "sepsis", "1", H1), &refusal);
    let other_signature = r#"{"inputs":[{"name":"x","dtype":"double","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#;
    assert_refused(
        &w.call(
            &w.diag,
            "RegisterModel",
            &["sepsis", "1", H1, other_signature],
        ),
        &refusal,
    );

    let kept = payload_json(&w.get("sepsis", "1"));
    assert_eq!(
        (kept["sha256"].as_str(), kept["txid"].as_str()),
        (Some(H1), Some(txid.as_str()))
    );
    assert_eq!(kept["signature"]["inputs"][0]["dtype"], "float");
    assert_refused(
        &w.call(&w.platform, "FindByHash", &[H2]),
        &format!("no model with sha256 {H2} is registered"),
    );
}

#[test]
fn t80_one_hash_maps_to_one_name_and_version() {
    let w = World::new();
    w.register(&w.diag, "sepsis", "1", H1);
    let refusal = format!(
        "a model with sha256 {H1} is already registered as sepsis version 1; \
         one model file is registered only once"
    );
    // Under another version, another name, or by another org: refused.
    assert_refused(&w.register(&w.diag, "sepsis", "2", H1), &refusal);
    assert_refused(&w.register(&w.diag, "sepsis-copy", "1", H1), &refusal);
    assert_refused(&w.register(&w.platform, "triage", "1", H1), &refusal);

    assert_refused(&w.get("sepsis", "2"), &not_registered("sepsis", "2"));
    assert_refused(
        &w.get("sepsis-copy", "1"),
        &not_registered("sepsis-copy", "1"),
    );
    // The refused first registration of a name did not claim it either.
    let claim = w.register(&w.platform, "sepsis-copy", "1", H2);
    assert_eq!(payload_json(&claim)["owner"], "Org2MSP");
    assert_eq!(
        payload_json(&w.call(&w.platform, "FindByHash", &[H1]))["version"],
        "1"
    );
}

#[test]
fn t80_bad_inputs_are_refused_with_their_reason_and_write_nothing() {
    let w = World::new();
    let ok = SIGNATURE;
    let long = "n".repeat(129);
    let upper = H1.to_uppercase();
    let not_hex = format!("{}g", &H1[..63]);
    let cases: Vec<([&str; 4], String)> = vec![
        (
            ["m", "1", "0B1F", ok],
            r#"sha256 "0B1F" is not 64 lowercase hexadecimal characters (it has 4); give the SHA-256 of the model file as sha256sum prints it"#.to_owned(),
        ),
        (
            ["m", "1", &upper, ok],
            format!(r#"sha256 "{upper}" has uppercase letters; write it in lowercase"#),
        ),
        (
            ["m", "1", &not_hex, ok],
            format!(r#"sha256 "{not_hex}" is not 64 lowercase hexadecimal characters (it has 64); give the SHA-256 of the model file as sha256sum prints it"#),
        ),
        (["", "1", H1, ok], "model name must not be empty".to_owned()),
        (["m", "", H1, ok], "model version must not be empty".to_owned()),
        (
            [&long, "1", H1, ok],
            "model name is 129 characters long; at most 128 are allowed".to_owned(),
        ),
        (
            ["m\u{7}", "1", H1, ok],
            r#"model name "m\u0007" contains a control character (U+0007 at position 1); use printable characters only"#.to_owned(),
        ),
        (
            ["m", "\u{10FFFF}1", H1, ok],
            "model version contains U+10FFFF, which ledger keys reserve; use printable characters only".to_owned(),
        ),
        (
            ["m", "1 ", H1, ok],
            r#"model version "1 " starts or ends with white space; remove it"#.to_owned(),
        ),
        (
            ["m", "1", H1, "{inputs:"],
            "signatureJson is not valid JSON".to_owned(),
        ),
        (
            ["m", "1", H1, "[]"],
            r#"signatureJson must be a JSON object with "inputs" and "outputs", e.g. {"inputs":[{"name":"x","dtype":"float","shape":[-1,30]}],"outputs":[{"name":"y","dtype":"int64","shape":[-1]}]}"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}],"model":"x"}"#],
            r#"signatureJson has an unknown field "model"; only "inputs", "outputs" are allowed"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            "signatureJson.inputs is empty; a model has at least one input".to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":[1]}]}"#],
            r#"signatureJson.outputs must be an array of {"name","dtype","shape"} objects"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"f32","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            r#"signatureJson.inputs[0].dtype "f32" is not an ONNX element type; use one of bfloat16, bool, complex128, complex64, double, float, float16, int16, int32, int64, int8, string, uint16, uint32, uint64, uint8"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":[-1,"30"]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            r#"signatureJson.inputs[0].shape[1] is "30"; each dimension is an integer from 0 to 2147483647, or -1 for a dynamic one"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[-2]}]}"#],
            "signatureJson.outputs[0].shape[0] is -2; each dimension is an integer from 0 to 2147483647, or -1 for a dynamic one".to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":2}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            "signatureJson.inputs[0].shape must be an array of integers (-1 for a dynamic dimension), e.g. [-1,30]".to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","dtype":"float","shape":[1]},{"name":"x","dtype":"float","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            r#"signatureJson.inputs[1].name "x" repeats inputs[0]; tensor names must be unique"#.to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"dtype":"float","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            "signatureJson.inputs[0].name is missing; give it as a string".to_owned(),
        ),
        (
            ["m", "1", H1, r#"{"inputs":[{"name":"x","type":"float","shape":[1]}],"outputs":[{"name":"y","dtype":"float","shape":[1]}]}"#],
            r#"signatureJson.inputs[0] has an unknown field "type"; only "name", "dtype", "shape" are allowed"#.to_owned(),
        ),
    ];
    for (args, message) in &cases {
        let sim = w.call(&w.diag, "RegisterModel", args);
        if message == "signatureJson is not valid JSON" {
            // The parser's own words follow; the prefix is ours.
            assert_eq!(sim.response.status, 500, "{args:?}: {:?}", sim.response);
            assert!(
                sim.response
                    .message
                    .starts_with("signatureJson is not valid JSON ("),
                "{args:?}: {:?}",
                sim.response
            );
            assert!(sim.rwset.namespaces.is_empty());
        } else {
            assert_refused(&sim, message);
        }
    }
    // Wrong argument counts are refused too, naming the parameters.
    assert_refused(
        &w.call(&w.diag, "RegisterModel", &["m", "1", H1]),
        "RegisterModel takes 4 arguments (name, version, sha256, signatureJson); got 3",
    );
    assert_refused(
        &w.call(&w.diag, "GetModel", &["m", "1", "extra"]),
        "GetModel takes 2 arguments (name, version); got 3",
    );

    // Nothing was written: no record, no hash, no owner...
    assert_refused(&w.get("m", "1"), &not_registered("m", "1"));
    assert_refused(
        &w.call(&w.platform, "FindByHash", &[H1]),
        &format!("no model with sha256 {H1} is registered"),
    );
    assert_eq!(
        payload_str(&w.call(&w.platform, "ListVersions", &["m"])),
        "[]"
    );
    // ...so another org can still claim the name: the positive control that
    // the same name, version and hash register once the inputs are right.
    let good = w.register(&w.platform, "m", "1", H1);
    assert_eq!(payload_json(&good)["owner"], "Org2MSP");
    assert_eq!(payload_json(&w.get("m", "1"))["sha256"], H1);
}

#[test]
fn t80_find_by_hash_finds_only_registered_hashes() {
    let w = World::new();
    w.register(&w.diag, "sepsis", "1", H1);
    w.register(&w.diag, "sepsis", "2", H2);

    let found = payload_json(&w.call(&w.platform, "FindByHash", &[H2]));
    assert_eq!(
        (found["name"].as_str(), found["version"].as_str()),
        (Some("sepsis"), Some("2"))
    );
    assert_eq!(found, payload_json(&w.get("sepsis", "2")));

    assert_refused(
        &w.call(&w.platform, "FindByHash", &[H3]),
        &format!("no model with sha256 {H3} is registered"),
    );
    // A malformed hash gets the format error, not "not registered".
    assert_refused(
        &w.call(&w.platform, "FindByHash", &[&H2.to_uppercase()]),
        &format!(
            r#"sha256 "{}" has uppercase letters; write it in lowercase"#,
            H2.to_uppercase()
        ),
    );
}

#[test]
fn t80_revocation_marks_the_record_and_keeps_it() {
    let w = World::new();
    let (reg, reg_txid) = w.call_tx(&w.diag, "RegisterModel", &["sepsis", "1", H1, SIGNATURE]);
    let before = payload_json(&reg);
    let reason = "calibration drift on the 2024 cohort";

    let foreign = w.call(&w.platform, "RevokeModel", &["sepsis", "1", reason]);
    assert_refused(
        &foreign,
        "model sepsis belongs to Org1MSP; only clients of Org1MSP may revoke its versions \
         (this client is of Org2MSP)",
    );
    assert_eq!(payload_json(&w.get("sepsis", "1"))["revoked"], false);

    let (revoked, txid) = w.call_tx(&w.diag2, "RevokeModel", &["sepsis", "1", reason]);
    assert_eq!(revoked.response.status, 200, "{:?}", revoked.response);
    assert_eq!(revoked.events[0].name, "ModelRevoked");
    let mut expected = before.clone();
    expected["revoked"] = json!(true);
    expected["revocation"] = json!({ "reason": reason, "revokedAt": TX_TIME, "txid": txid });
    assert_eq!(payload_json(&revoked), expected);
    assert_eq!(
        expected["txid"],
        reg_txid.as_str(),
        "the registration is kept"
    );

    // Still readable, by every route, marked revoked.
    assert_eq!(payload_json(&w.get("sepsis", "1")), expected);
    assert_eq!(
        payload_json(&w.call(&w.platform, "FindByHash", &[H1])),
        expected
    );
    assert_eq!(
        payload_json(&w.call(&w.platform, "ListVersions", &["sepsis"])),
        json!([expected])
    );

    assert_refused(
        &w.call(&w.diag, "RevokeModel", &["sepsis", "1", "again"]),
        &format!("model sepsis version 1 is already revoked (at {TX_TIME}: {reason})"),
    );
    assert_refused(
        &w.call(&w.diag, "RevokeModel", &["sepsis", "9", reason]),
        &not_registered("sepsis", "9"),
    );
    assert_refused(
        &w.call(&w.diag, "RevokeModel", &["sepsis", "1", ""]),
        "revocation reason must not be empty",
    );
    // A revoked file's hash stays taken: it cannot come back under a new version.
    assert_refused(
        &w.register(&w.diag, "sepsis", "1.1", H1),
        &format!(
            "a model with sha256 {H1} is already registered as sepsis version 1; \
             one model file is registered only once"
        ),
    );
}

#[test]
fn t80_two_endorsers_write_identical_bytes() {
    let org1 = Org::new("Org1");
    let org2 = Org::new("Org2");
    let who = org1.identity("lab@org1.cairn", Role::Client, &[]);
    let p = proposal(
        &who,
        NAME,
        "RegisterModel",
        &["sepsis", "1", H1, SIGNATURE],
        7,
    );
    let a = Peer::new(
        "Org1MSP",
        channel(&[&org1, &org2]),
        FixedResolver::with(NAME, package()),
    );
    let b = Peer::new(
        "Org2MSP",
        channel(&[&org1, &org2]),
        FixedResolver::with(NAME, package()),
    );
    // Peer A is warm from other calls; B is cold.
    for n in 100..103 {
        let other = proposal(&who, NAME, "GetModel", &["sepsis", &n.to_string()], n);
        a.simulate(&other, &who).unwrap();
    }
    let sa = a.simulate(&p, &who).unwrap();
    let sb = b.simulate(&p, &who).unwrap();
    assert_eq!(sa.response.status, 200, "{:?}", sa.response);
    assert_eq!(sa.rwset.encode().unwrap(), sb.rwset.encode().unwrap());
    assert_eq!(sa.response.payload, sb.response.payload);
    // Three keys: the record, the name's owner and the hash index.
    let ns = sa
        .rwset
        .namespaces
        .iter()
        .find(|ns| ns.namespace == NAME)
        .unwrap();
    assert_eq!(ns.writes.len(), 3, "{:?}", sa.rwset);
    let value: Value = serde_json::from_slice(&sa.response.payload).unwrap();
    assert_eq!(value["registeredAt"], TX_TIME);
}

/// `v` as JSON with every object's keys sorted and no white space, whatever order
/// `serde_json` keeps (its `preserve_order` feature is on in some workspace builds).
fn sorted_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        sorted_json(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(sorted_json).collect::<Vec<_>>().join(",")
        ),
        other => serde_json::to_string(other).unwrap(),
    }
}
