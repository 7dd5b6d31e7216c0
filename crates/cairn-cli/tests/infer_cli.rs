//! Confidential inference with the real binary and a real network (issue 12): the
//! model registry on the ledger (`contracts/model-registry` through `cairn up`'s
//! gateway), `cairn attest serve`, `cairn infer serve|register|run`, and the
//! inference receipt checked offline by `cairn receipt verify`.
//!
//! - a node refuses to start while its model is not registered, then serves once
//!   Org3 (the diagnostics org) registered it;
//! - `cairn infer run` with a policy that requires a registered model gets the
//!   model's answer, says "virtual: not hardware-attested", and writes a receipt that
//!   verifies offline with the JWKS alone (and fails once altered);
//! - after the owner revokes the model, that client refuses the node.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{cairn, deploy, stderr, stdout, text};
use serde_json::{Value, json};

const ANY_PEER: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')";

/// Kills its processes (and stops the network) even when an assertion fails.
struct Cleanup {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = cairn(&["down", "--dir", self.dir.to_str().unwrap()]);
    }
}

/// Spawns `cairn args`, returns the child and its first stdout line with `prefix` stripped.
fn spawn(args: &[&str], prefix: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep reading: a closed pipe would make the server's later output fail.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let rest = line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
        .to_owned();
    (child, rest)
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn a_registered_model_is_served_sealed_and_its_receipt_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let net = dir.join("net");
    let d = net.to_str().unwrap().to_owned();
    let mut cleanup = Cleanup {
        dir: net.clone(),
        children: vec![],
    };
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&["up", "--dir", &d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let contract = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/model-registry"
    );
    deploy(&d, "model-registry", contract, ANY_PEER, "[]", 3);

    // The attestation service, with a virtual policy for `cairn infer serve` + its config.
    std::fs::write(p(dir, "admin"), "infer-admin-token-0123456789\n").unwrap();
    std::fs::write(p(dir, "infer.toml"), "model = \"breast-cancer\"\n").unwrap();
    let key = cairn(&["attest", "platform-key", "--file", &p(dir, "platform.pem")]);
    assert!(key.status.success(), "{}", stderr(&key));
    let measured = cairn(&["attest", "measure", "--config", &p(dir, "infer.toml")]);
    let measurement = serde_json::from_str::<Value>(&stdout(&measured)).unwrap()["measurement"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = json!({
        "id": "infer-virtual", "platform": "virtual",
        "allowed_measurements": [measurement],
        "trusted_platform_keys": [stdout(&key).trim()],
    });
    std::fs::write(p(dir, "policy.json"), policy.to_string()).unwrap();
    let (attest, url) = spawn(
        &[
            "attest",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            &p(dir, "state"),
            "--admin-token-file",
            &p(dir, "admin"),
        ],
        "listening on ",
    );
    cleanup.children.push(attest);
    let ca = p(dir, "state/tls/cert.pem");
    let set = cairn(&[
        "attest",
        "set-policy",
        "--service",
        &url,
        "--ca",
        &ca,
        "--admin-token-file",
        &p(dir, "admin"),
        &p(dir, "policy.json"),
    ]);
    assert!(set.status.success(), "{}", stderr(&set));

    let serve = |org: &str| {
        vec![
            "infer".to_owned(),
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--config".into(),
            p(dir, "infer.toml"),
            "--attest".into(),
            url.clone(),
            "--attest-ca".into(),
            ca.clone(),
            "--platform-key".into(),
            p(dir, "platform.pem"),
            "--dir".into(),
            d.clone(),
            "--org".into(),
            org.into(),
        ]
    };
    let args = serve("Org3");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Not registered yet: the node refuses to start, saying why.
    let refused = cairn(&args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("is not registered on the ledger"),
        "{}",
        text(&refused)
    );

    // Org3 (diagnostics) registers the bundled model; then the node serves.
    let reg = cairn(&[
        "infer",
        "register",
        "--dir",
        &d,
        "--org",
        "Org3",
        "--name",
        "breast-cancer",
        "--version",
        "1",
    ]);
    assert!(reg.status.success(), "{}", text(&reg));
    let sha = stdout(&reg)
        .split("sha256 ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    let (node, node_url) = spawn(&args, "listening on ");
    cleanup.children.push(node);

    // Shared keys: a bundle made, rotated and pushed with the CLI; a node started
    // with --key-secret serves the bundle's current key (id 2 after the rotation).
    let bundle = p(dir, "bundle.json");
    let made = cairn(&["infer", "keys", "new", &bundle]);
    assert!(made.status.success(), "{}", text(&made));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&bundle).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let rotated = cairn(&["infer", "keys", "rotate", &bundle, "--grace", "60"]);
    assert!(
        stdout(&rotated).contains("current key id 2"),
        "{}",
        text(&rotated)
    );
    let pushed = cairn(&[
        "infer",
        "keys",
        "push",
        &bundle,
        "--attest",
        &url,
        "--attest-ca",
        &ca,
        "--admin-token-file",
        &p(dir, "admin"),
        "--allow-measurement",
        &measurement,
    ]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let mut shared = args.clone();
    shared.extend(["--key-secret", "infer-ohttp-keys"]);
    let (shared_node, shared_url) = spawn(&shared, "listening on ");
    cleanup.children.push(shared_node);
    let info = cairn(&["infer", "info", "--url", &shared_url]);
    let info: Value = serde_json::from_str(&stdout(&info)).unwrap();
    assert_eq!(info["key_id"], 2, "{info}");
    let own: Value =
        serde_json::from_str(&stdout(&cairn(&["infer", "info", "--url", &node_url]))).unwrap();
    assert_eq!(own["key_id"], 1, "{own}");

    // A client (Org1) whose policy requires a registered model.
    let rows: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/breast-cancer/vectors.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let input = json!({ "rows": [rows["inputs"][0], rows["inputs"][1]] });
    std::fs::write(p(dir, "input.json"), input.to_string()).unwrap();
    let client_policy = json!({
        "attestation_url": url, "attestation_ca": ca, "issuer": url,
        "measurements": [measurement], "models": [sha],
        "allow_virtual": true, "require_registered": true,
    });
    std::fs::write(p(dir, "client.json"), client_policy.to_string()).unwrap();
    let client_json = p(dir, "client.json");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "infer",
            "run",
            "--url",
            &node_url,
            "--policy",
            &client_json,
            "--dir",
            &d,
            "--org",
            "Org1",
        ];
        a.extend_from_slice(extra);
        cairn(&a)
    };
    let receipt = p(dir, "receipt.json");
    let jwks = p(dir, "jwks.json");
    let ok = run(&[
        "--receipt-out",
        &receipt,
        "--jwks-out",
        &jwks,
        &p(dir, "input.json"),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let out: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    for i in 0..2 {
        let got = out["outputs"][i][0].as_f64().unwrap();
        let want = rows["onnxruntime_probability"][i].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-5, "row {i}: {got} vs {want}");
    }
    assert_eq!(out["model"], "breast-cancer 1");
    assert_eq!(out["notice"], "virtual: not hardware-attested");
    assert!(stderr(&ok).contains("virtual: not hardware-attested"));

    // Offline: the receipt verifies with the JWKS alone; altered, it does not.
    let v = cairn(&["receipt", "verify", &receipt, "--jwks", &jwks]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(stdout(&v).contains(&sha), "{}", stdout(&v));
    assert!(stdout(&v).contains("virtual: not hardware-attested"));
    let mut r: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    r["time"] = json!(r["time"].as_u64().unwrap() + 1);
    std::fs::write(p(dir, "altered.json"), r.to_string()).unwrap();
    let bad = cairn(&[
        "receipt",
        "verify",
        &p(dir, "altered.json"),
        "--jwks",
        &jwks,
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(stdout(&bad).contains("does NOT verify"), "{}", text(&bad));
    // Without its trust root, the verifier says which one to give.
    let no_root = cairn(&["receipt", "verify", &receipt]);
    assert!(stderr(&no_root).contains("--jwks"), "{}", text(&no_root));

    // Only the owner org may revoke; after it does, the client refuses the node.
    let revoke = |org: &str| {
        cairn(&[
            "invoke",
            "--dir",
            &d,
            "--org",
            org,
            "--contract",
            "model-registry",
            "RevokeModel",
            "breast-cancer",
            "1",
            "recalled: calibration drift",
        ])
    };
    assert!(!revoke("Org1").status.success());
    let out = revoke("Org3");
    assert!(out.status.success(), "{}", text(&out));
    let refused = run(&[&p(dir, "input.json")]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(stderr(&refused).contains("recalled"), "{}", text(&refused));
}
