//! `cairn blob` as processes: a server killed with SIGKILL in the middle of
//! uploads loses no acknowledged object and shows no partial one after a
//! restart; `cairn blob verify` reports one flipped byte in a stored object.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_blob::client::BlobClient;
use sha2::{Digest, Sha256};

fn cairn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
}

/// `cairn blob key issue` → (id, secret).
fn issue_key(dir: &Path) -> (String, String) {
    let out = cairn()
        .args([
            "blob",
            "key",
            "issue",
            "--org",
            "Org1MSP",
            "--identity",
            "writer",
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["access_key_id"].as_str().unwrap().to_owned(),
        v["secret_access_key"].as_str().unwrap().to_owned(),
    )
}

/// Starts `cairn blob serve` on a free loopback port; returns it and its URL.
fn serve(dir: &Path) -> (Child, String) {
    let mut child = cairn()
        .args(["blob", "serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

/// Deterministic content of a given size for (writer, n).
fn content(writer: u64, n: u64) -> Vec<u8> {
    const SIZES: [usize; 4] = [1_000, 40_000, 300_000, 3_000_000];
    let size = SIZES[usize::try_from((writer + n) % 4).unwrap()];
    cairn_testkit::xorshift_bytes(writer.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n, size)
}

#[test]
fn sigkill_during_uploads_keeps_every_acknowledged_object_and_no_partial_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (id, secret) = issue_key(&dir);
    let (mut server, url) = serve(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = BlobClient::new(&url, &id, &secret).unwrap();
    rt.block_on(client.create_bucket("crash", false)).unwrap();

    // Four writers upload until the server dies; each records what was acknowledged.
    let acked: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let (client, acked) = (client.clone(), acked.clone());
            rt.spawn(async move {
                for n in 0..10_000u64 {
                    let body = content(w, n);
                    let key = format!("obj-{}", hex::encode(Sha256::digest(&body)));
                    match client.put("crash", &key, body).await {
                        Ok(ack) => acked
                            .lock()
                            .unwrap()
                            .push((key, ack.version_id, ack.sha256)),
                        Err(_) => return n,
                    }
                }
                10_000
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < 40 {
        assert!(Instant::now() < deadline, "uploads too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL, mid-upload: four writers are sending.
    server.wait().unwrap();
    let attempts: Vec<u64> = writers
        .into_iter()
        .map(|w| rt.block_on(w).unwrap())
        .collect();
    let acked = acked.lock().unwrap().clone();
    assert!(
        attempts.iter().all(|&n| n < 10_000),
        "every writer must have been cut off: {attempts:?}"
    );

    let (mut server, url) = serve(&dir);
    let client = BlobClient::new(&url, &id, &secret).unwrap();
    // Every acknowledged version is there, byte for byte.
    for (key, version, sha) in &acked {
        let bytes = rt
            .block_on(client.get("crash", key, Some(version)))
            .unwrap();
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha, "{key} {version}");
    }
    // Every visible version is whole: its bytes hash to the name it was uploaded under.
    let listed = rt.block_on(client.list_versions("crash", "")).unwrap();
    assert!(
        listed.len() >= acked.len(),
        "{} listed, {} acknowledged",
        listed.len(),
        acked.len()
    );
    for (key, version) in &listed {
        let bytes = rt
            .block_on(client.get("crash", key, Some(version)))
            .unwrap();
        assert_eq!(
            Some(hex::encode(Sha256::digest(&bytes)).as_str()),
            key.strip_prefix("obj-"),
            "{key} {version}"
        );
    }
    // Uploads cut off by the kill left nothing behind in tmp/.
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn blob_verify_reports_one_flipped_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (id, secret) = issue_key(&dir);
    let (mut server, url) = serve(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = BlobClient::new(&url, &id, &secret).unwrap();
    rt.block_on(client.create_bucket("evidence", true)).unwrap();
    let body = content(7, 3); // 300 kB: stored as a file, not inline
    let ack = rt
        .block_on(client.put("evidence", "scan.bin", body))
        .unwrap();
    let small = rt
        .block_on(client.put("evidence", "note.txt", b"a note".to_vec()))
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();

    let verify = |target: &str| {
        let out = cairn()
            .args(["blob", "verify", target, "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let target = format!("evidence/scan.bin?versionId={}", ack.version_id);
    let (code, text) = verify(&target);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("intact") && text.contains(&ack.sha256),
        "{text}"
    );
    let (code, text) = verify(&format!("evidence/note.txt?versionId={}", small.version_id));
    assert_eq!(code, Some(0), "{text}");

    let file = dir.join("objects").join(&ack.sha256[..2]).join(&ack.sha256);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1234] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (code, text) = verify(&target);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("TAMPERED") && text.contains(&ack.sha256),
        "{text}"
    );
    let flipped = hex::encode(Sha256::digest(&bytes));
    assert!(
        text.contains(&flipped),
        "the report names the hash found: {text}"
    );
    // The current version (no version id) is the same object.
    assert_eq!(verify("evidence/scan.bin").0, Some(1));
}
