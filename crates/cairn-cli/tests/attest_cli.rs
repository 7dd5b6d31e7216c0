//! `cairn attest` end to end, through the real binary: offline evidence checks on the
//! public samples, and a running service issuing a token that `cairn attest verify`
//! checks with the JWKS alone.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{
    Appraisal, AttestationClaims, KeyRing, Platform, PolicyRef, ReportData, TcbState, UnixTime,
    VerifiedEvidence,
};
use serde_json::{Value, json};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .output()
        .unwrap()
}

fn testdata(name: &str) -> Value {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn check_evidence_verifies_the_dcap_samples_and_reports_the_tcb_status() {
    let dir = tempfile::tempdir().unwrap();
    for c in testdata("dcap.json")["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let quote = hex::decode(c["quote_hex"].as_str().unwrap()).unwrap();
        let file = write_json(
            dir.path(),
            id,
            &json!({ "quote": STANDARD.encode(&quote), "collateral": c["collateral"] }),
        );
        let at = UnixTime(
            c["verification_time"]["now_secs_used_by_current_test"]
                .as_u64()
                .unwrap(),
        )
        .to_string();
        let ok = cairn(&[
            "attest",
            "check-evidence",
            "--platform",
            id,
            &file,
            "--at",
            &at,
        ]);
        assert!(ok.status.success(), "{id}: {}", stderr(&ok));
        let claims: Value = serde_json::from_str(&stdout(&ok)).unwrap();
        assert_eq!(claims["tcb"]["status"], c["expected"]["tcb_status"]);
        assert_eq!(claims["hardware"], true);

        let late = cairn(&[
            "attest",
            "check-evidence",
            "--platform",
            id,
            &file,
            "--at",
            "2025-08-01T00:00:00Z",
        ]);
        assert_eq!(late.status.code(), Some(1), "{id}");
        assert!(
            stderr(&late).contains("collateral refused"),
            "{}",
            stderr(&late)
        );
    }
}

#[test]
fn check_evidence_verifies_an_snp_report_and_names_a_broken_signature() {
    let dir = tempfile::tempdir().unwrap();
    let doc = testdata("sev_snp.json");
    let c = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trustee-milan-vcek")
        .unwrap();
    let mut report = hex::decode(c["report_hex"].as_str().unwrap()).unwrap();
    let evidence = |report: &[u8]| json!({ "report": STANDARD.encode(report), "vek": c["vcek"]["der_b64"], "ask": c["ask"]["der_b64"] });
    let good = write_json(dir.path(), "good.json", &evidence(&report));
    let ok = cairn(&[
        "attest",
        "check-evidence",
        "--platform",
        "sev-snp",
        &good,
        "--at",
        "2024-06-01T00:00:00Z",
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let claims: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(
        claims["measurement"],
        c["report_fields_parsed_here"]["measurement"]
    );

    report[42] ^= 1;
    let bad = write_json(dir.path(), "bad.json", &evidence(&report));
    let refused = cairn(&[
        "attest",
        "check-evidence",
        "--platform",
        "sev-snp",
        &bad,
        "--at",
        "2024-06-01T00:00:00Z",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("report signature does not verify"),
        "{}",
        stderr(&refused)
    );
    // Wrong platform for the file.
    let wrong = cairn(&["attest", "check-evidence", "--platform", "sgx", &good]);
    assert_eq!(wrong.status.code(), Some(1));
}

fn claims(iss: &str, exp: u64) -> AttestationClaims {
    let evidence = VerifiedEvidence {
        platform: Platform::Tdx,
        hardware: true,
        measurement: hex::encode([0xab; 48]),
        registers: BTreeMap::new(),
        report_data: ReportData([0; 64]),
        debug: false,
        tcb: TcbState::default(),
        flags: BTreeMap::new(),
    };
    let appraisal = Appraisal {
        policy: PolicyRef {
            id: "p".into(),
            hash: "sha256:00".into(),
        },
        token_ttl_secs: exp - 1_000,
    };
    AttestationClaims::new(
        iss,
        &evidence,
        None,
        &appraisal,
        UnixTime(1_000),
        "jti".into(),
    )
}

#[test]
fn verify_checks_a_token_against_a_jwks_file() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::generate(UnixTime(1_000), 3_600).unwrap();
    let token = ring.sign(&claims("https://attest.test", 2_000)).unwrap();
    let jwks = write_json(
        dir.path(),
        "jwks.json",
        &serde_json::to_value(ring.jwks(UnixTime(1_000))).unwrap(),
    );
    let at = UnixTime(1_500).to_string();
    let base = [
        "attest",
        "verify",
        token.as_str(),
        "--jwks",
        jwks.as_str(),
        "--at",
        at.as_str(),
    ];

    let ok = cairn(&[&base[..], &["--issuer", "https://attest.test"]].concat());
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&ok)).unwrap()["platform"],
        "tdx"
    );

    let cases: [(&[&str], &str); 3] = [
        (&["--issuer", "https://other.test"], "issuer is"),
        (
            &[
                "--issuer",
                "https://attest.test",
                "--expect-measurement",
                &"cd".repeat(48),
            ],
            "is not one of the expected measurements",
        ),
        (
            &["--issuer", "https://attest.test", "--platform", "sev-snp"],
            "platform tdx is not accepted",
        ),
    ];
    for (extra, reason) in cases {
        let o = cairn(&[&base[..], extra].concat());
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        assert!(stderr(&o).contains(reason), "{extra:?}: {}", stderr(&o));
    }
    let expired = cairn(&[
        "attest",
        "verify",
        &token,
        "--jwks",
        &jwks,
        "--issuer",
        "https://attest.test",
    ]);
    assert_eq!(expired.status.code(), Some(1));
    assert!(
        stderr(&expired).contains("token expired"),
        "{}",
        stderr(&expired)
    );
    // A token from a key the JWKS does not hold.
    let rogue = KeyRing::generate(UnixTime(1_000), 3_600)
        .unwrap()
        .sign(&claims("https://attest.test", 2_000))
        .unwrap();
    let o = cairn(&[
        "attest",
        "verify",
        &rogue,
        "--jwks",
        &jwks,
        "--at",
        &at,
        "--issuer",
        "https://attest.test",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not in the JWKS"), "{}", stderr(&o));
    // The issuer cannot be guessed from a file.
    assert_eq!(cairn(&base).status.code(), Some(2));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_served_token_for_this_node_verifies_with_the_jwks_url() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(p("admin"), "cli-admin-token-0123456789\n").unwrap();
    std::fs::write(p("node.toml"), "role = \"peer\"\n").unwrap();
    let key = cairn(&["attest", "platform-key", "--file", &p("platform.pem")]);
    assert!(key.status.success(), "{}", stderr(&key));
    let platform_key = stdout(&key).trim().to_owned();
    let measured = cairn(&["attest", "measure", "--config", &p("node.toml")]);
    let measurement = serde_json::from_str::<Value>(&stdout(&measured)).unwrap()["measurement"]
        .as_str()
        .unwrap()
        .to_owned();
    write_json(
        dir.path(),
        "policy.json",
        &json!({
            "id": "cli-virtual",
            "platform": "virtual",
            "allowed_measurements": [measurement],
            "trusted_platform_keys": [platform_key],
        }),
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "attest",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            &p("state"),
            "--admin-token-file",
            &p("admin"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let ca = p("state/tls/cert.pem");

    let set = cairn(&[
        "attest",
        "set-policy",
        "--service",
        &url,
        "--ca",
        &ca,
        "--admin-token-file",
        &p("admin"),
        &p("policy.json"),
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    let token = cairn(&[
        "attest",
        "token",
        "--service",
        &url,
        "--ca",
        &ca,
        "--platform-key",
        &p("platform.pem"),
        "--config",
        &p("node.toml"),
        "--jwk-out",
        &p("node.jwk"),
    ]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = stdout(&token).trim().to_owned();

    let jwks = format!("{url}/.well-known/jwks.json");
    let ok = cairn(&[
        "attest",
        "verify",
        &token,
        "--jwks",
        &jwks,
        "--ca",
        &ca,
        "--allow-virtual",
        "--expect-measurement",
        &measurement,
        "--expect-key",
        &p("node.jwk"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let claims: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(
        (claims["platform"].as_str(), claims["hardware"].as_bool()),
        (Some("virtual"), Some(false))
    );
    assert_eq!(claims["iss"], url.as_str());

    let hardware_only = cairn(&["attest", "verify", &token, "--jwks", &jwks, "--ca", &ca]);
    assert_eq!(hardware_only.status.code(), Some(1));
    assert!(
        stderr(&hardware_only).contains("virtual"),
        "{}",
        stderr(&hardware_only)
    );
    // A config change is a different measurement: the service refuses to attest it.
    std::fs::write(p("node.toml"), "role = \"orderer\"\n").unwrap();
    let other = cairn(&[
        "attest",
        "token",
        "--service",
        &url,
        "--ca",
        &ca,
        "--platform-key",
        &p("platform.pem"),
        "--config",
        &p("node.toml"),
    ]);
    assert_eq!(other.status.code(), Some(2));
    assert!(
        stderr(&other).contains("appraisal_refused"),
        "{}",
        stderr(&other)
    );
}
