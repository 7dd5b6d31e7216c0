//! `cairn attest` end to end, through the real binary: offline evidence checks on the
//! public samples, and a running service issuing a token that `cairn attest verify`
//! checks with the JWKS alone.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{
    Appraisal, AttestationClaims, KeyRing, Platform, PolicyRef, ReportData, TcbState, UnixTime,
    VerifiedEvidence,
};
use common::{cairn, stderr, stdout};
use serde_json::{Value, json};

fn testdata(name: &str) -> Value {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
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

#[test]
fn help_lists_every_subcommand_option_and_exit_status() {
    let top = cairn(&["attest", "--help"]);
    assert!(top.status.success());
    for sub in [
        "serve",
        "verify",
        "check-evidence",
        "measure",
        "platform-key",
        "token",
        "set-policy",
        "rotate-key",
    ] {
        assert!(stdout(&top).contains(sub), "attest --help lacks {sub}");
        let help = cairn(&["attest", sub, "--help"]);
        assert!(help.status.success(), "{sub}");
        assert!(
            stdout(&help).contains("Exit status"),
            "{sub} --help does not document its exit status"
        );
    }
    let verify = stdout(&cairn(&["attest", "verify", "--help"]));
    for option in [
        "<TOKEN>",
        "--jwks",
        "--issuer",
        "--expect-measurement",
        "--expect-nonce",
        "--expect-key",
        "--platform",
        "--allow-virtual",
        "--allow-debug",
        "--ca",
        "--at",
        "1  the token was refused",
    ] {
        assert!(verify.contains(option), "verify --help lacks {option}");
    }
    let check = stdout(&cairn(&["attest", "check-evidence", "--help"]));
    for option in [
        "<FILE>",
        "--platform",
        "sev-snp, sgx, tdx or virtual",
        "--collateral",
        "--at",
        "--policy",
        "--runtime-data",
        "1  the evidence was rejected",
    ] {
        assert!(
            check.contains(option),
            "check-evidence --help lacks {option}"
        );
    }
}

fn bound_claims(iss: &str, nonce: &str, key: &cairn_attest::PublicJwk) -> AttestationClaims {
    let mut c = claims(iss, 2_000);
    let rd = cairn_attest::RuntimeData::new(nonce, key.clone());
    c.nonce = Some(nonce.to_owned());
    c.runtime_data = Some(rd);
    c
}

#[test]
fn verify_names_nonce_key_and_signature_failures_and_reads_token_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let ring = KeyRing::generate(UnixTime(1_000), 3_600).unwrap();
    let key = cairn_attest::WorkloadKey::derive(&[1; 32]).public_jwk();
    let token = ring
        .sign(&bound_claims("https://attest.test", "n-1", &key))
        .unwrap();
    let jwks = write_json(
        dir.path(),
        "jwks.json",
        &serde_json::to_value(ring.jwks(UnixTime(1_000))).unwrap(),
    );
    std::fs::write(p("token"), format!("{token}\n")).unwrap();
    std::fs::write(p("key.jwk"), serde_json::to_vec(&key).unwrap()).unwrap();
    let other = cairn_attest::WorkloadKey::derive(&[2; 32]).public_jwk();
    std::fs::write(p("other.jwk"), serde_json::to_vec(&other).unwrap()).unwrap();
    let at = UnixTime(1_500).to_string();
    let verify = |token: &str, extra: &[&str]| {
        let base = [
            "attest",
            "verify",
            token,
            "--jwks",
            &jwks,
            "--issuer",
            "https://attest.test",
            "--at",
            &at,
        ];
        cairn(&[&base[..], extra].concat())
    };

    let ok = verify(
        &format!("@{}", p("token")),
        &["--expect-nonce", "n-1", "--expect-key", &p("key.jwk")],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("token verified"), "{}", stderr(&ok));

    let cases: [(&[&str], &str); 2] = [
        (
            &["--expect-nonce", "n-2"],
            "nonce is \"n-1\", expected \"n-2\"",
        ),
        (&["--expect-key", &p("other.jwk")], "token binds key"),
    ];
    for (extra, reason) in cases {
        let o = verify(&token, extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        assert!(stderr(&o).contains(reason), "{extra:?}: {}", stderr(&o));
    }

    // One changed signature byte.
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let mut sig = cairn_attest::jwk::b64url_decode(sig).unwrap();
    sig[10] ^= 1;
    let forged = format!("{signed}.{}", cairn_attest::jwk::b64url(&sig));
    let o = verify(&forged, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("signature does not verify"),
        "{}",
        stderr(&o)
    );

    // The token on stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "attest",
            "verify",
            "-",
            "--jwks",
            &jwks,
            "--issuer",
            "https://attest.test",
            "--at",
            &at,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes()).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // Usage errors exit 2 with the reason: plain-http JWKS, a file that is not a JWKS,
    // a bad time.
    for (args, reason) in [
        (vec!["--jwks", "http://127.0.0.1:9/jwks.json"], "plain http"),
        (vec!["--jwks", &p("token"), "--issuer", "x"], "not a JWKS"),
        (
            vec!["--jwks", &jwks, "--issuer", "x", "--at", "yesterday"],
            "RFC 3339",
        ),
    ] {
        let o = cairn(&[&["attest", "verify", &token][..], &args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(reason), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn check_evidence_appraises_virtual_evidence_against_a_policy_and_runtime_data() {
    use cairn_attest::{Attester, PlatformKey, RuntimeData, VirtualAttester, VirtualMeasurement};
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let host = PlatformKey::from_seed([3; 32]);
    let host_hex = host.public_hex();
    let measurement = VirtualMeasurement::of(b"binary", b"config");
    let rd = RuntimeData::new(
        "nonce-1",
        cairn_attest::WorkloadKey::derive(&[4; 32]).public_jwk(),
    );
    let evidence = VirtualAttester::new(host, measurement.clone())
        .evidence(&rd.report_data())
        .unwrap();
    let file = write_json(dir.path(), "evidence.json", &evidence);
    write_json(dir.path(), "rd.json", &serde_json::to_value(&rd).unwrap());
    let other_rd = RuntimeData::new("nonce-2", rd.tee_pubkey.clone());
    write_json(
        dir.path(),
        "other-rd.json",
        &serde_json::to_value(&other_rd).unwrap(),
    );
    let policy = |allowed: &str| {
        json!({
            "id": "dev",
            "platform": "virtual",
            "allowed_measurements": [allowed],
            "trusted_platform_keys": [host_hex],
        })
    };
    write_json(dir.path(), "ok-policy.json", &policy(&measurement.hex()));
    write_json(dir.path(), "other-policy.json", &policy(&"ee".repeat(48)));
    let check = |extra: &[&str]| {
        cairn(
            &[
                &["attest", "check-evidence", "--platform", "virtual", &file][..],
                extra,
            ]
            .concat(),
        )
    };

    let plain = check(&[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(
        stderr(&plain).contains("software-only"),
        "{}",
        stderr(&plain)
    );
    let claims: Value = serde_json::from_str(&stdout(&plain)).unwrap();
    assert_eq!(claims["hardware"], false);
    assert_eq!(claims["measurement"], measurement.hex().as_str());

    let ok = check(&[
        "--policy",
        &p("ok-policy.json"),
        "--runtime-data",
        &p("rd.json"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stderr(&ok).contains("accepted by policy dev"),
        "{}",
        stderr(&ok)
    );

    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--policy",
                &p("other-policy.json"),
                "--runtime-data",
                &p("rd.json"),
            ],
            "is not allowed by policy dev",
        ),
        (
            &[
                "--policy",
                &p("ok-policy.json"),
                "--runtime-data",
                &p("other-rd.json"),
            ],
            "does not bind the runtime data",
        ),
        (
            &["--runtime-data", &p("other-rd.json")],
            "does not bind the runtime data",
        ),
    ];
    for (extra, reason) in cases {
        let o = check(extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        assert!(stderr(&o).contains(reason), "{extra:?}: {}", stderr(&o));
    }
    // A policy file that is not a policy is a usage error.
    let o = check(&["--policy", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a valid policy"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_evidence_reads_missing_certificates_and_collateral_from_the_collateral_dir() {
    let dir = tempfile::tempdir().unwrap();
    let collateral = dir.path().join("collateral");
    std::fs::create_dir(&collateral).unwrap();
    let collateral = collateral.display().to_string();

    // SEV-SNP: only the report in the evidence; the VCEK comes from vcek.der.
    let doc = testdata("sev_snp.json");
    let c = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "virtee-milan-vcek")
        .unwrap();
    let report = hex::decode(c["report_hex"].as_str().unwrap()).unwrap();
    let file = write_json(
        dir.path(),
        "snp.json",
        &json!({ "report": STANDARD.encode(report) }),
    );
    let snp = |extra: &[&str]| {
        let base = [
            "attest",
            "check-evidence",
            "--platform",
            "sev-snp",
            &file,
            "--at",
            "2024-06-01T00:00:00Z",
        ];
        cairn(&[&base[..], extra].concat())
    };
    let missing = snp(&["--collateral", &collateral]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("missing collateral"),
        "{}",
        stderr(&missing)
    );
    let vcek = STANDARD
        .decode(c["vcek"]["der_b64"].as_str().unwrap())
        .unwrap();
    std::fs::write(dir.path().join("collateral/vcek.der"), vcek).unwrap();
    let ok = snp(&["--collateral", &collateral]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // TDX: the quote alone; the collateral comes from <fmspc>.json.
    let c = &testdata("dcap.json")["cases"][1];
    assert_eq!(c["id"], "tdx");
    let quote = hex::decode(c["quote_hex"].as_str().unwrap()).unwrap();
    let file = write_json(
        dir.path(),
        "tdx.json",
        &json!({ "quote": STANDARD.encode(quote) }),
    );
    let tcb: Value = serde_json::from_str(c["collateral"]["tcb_info"].as_str().unwrap()).unwrap();
    let fmspc = tcb["fmspc"].as_str().unwrap().to_ascii_lowercase();
    std::fs::write(
        dir.path().join(format!("collateral/{fmspc}.json")),
        c["collateral"].to_string(),
    )
    .unwrap();
    let at = c["verification_time"]["now_iso"].as_str().unwrap();
    let ok = cairn(&[
        "attest",
        "check-evidence",
        "--platform",
        "tdx",
        &file,
        "--collateral",
        &collateral,
        "--at",
        at,
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let claims: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(claims["tcb"]["status"], "UpToDate");
    // A bad --at is a usage error.
    let bad = cairn(&[
        "attest",
        "check-evidence",
        "--platform",
        "tdx",
        &file,
        "--at",
        "soon",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn commands_that_call_the_service_refuse_plain_http() {
    // Refused before any file is read or anything is sent: the paths do not exist and
    // nothing listens on port 9.
    let http = "http://127.0.0.1:9";
    for args in [
        vec![
            "token",
            "--service",
            http,
            "--platform-key",
            "/nonexistent/k",
            "--config",
            "/nonexistent/c",
        ],
        vec![
            "set-policy",
            "--service",
            http,
            "--admin-token-file",
            "/nonexistent/t",
            "/nonexistent/p",
        ],
        vec![
            "rotate-key",
            "--service",
            http,
            "--admin-token-file",
            "/nonexistent/t",
        ],
    ] {
        let o = cairn(&[&["attest"][..], &args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains("use https://"), "{args:?}: {e}");
        assert!(
            !e.contains("/nonexistent"),
            "{args:?} read a file first: {e}"
        );
    }
}
