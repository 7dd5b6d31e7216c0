//! Leak test: marker values sent in requests never reach the inference host's logs
//! (every level, every target), its files, its plaintext replies or the wire; the
//! positive control is the client, which decrypts them.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cairn_infer::client::{InferClient, InferError};
use cairn_infer::service::KeySource;
use support::*;

/// A string marker (echoed by the node's sealed error) and a number marker (a feature value).
const MARKER: &str = "PATIENT-MARKER-8c1f2e";
const NUMBER: f32 = 7373.737;
const NUMBER_TEXT: &str = "7373.737";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn markers_never_reach_the_hosts_logs_files_or_plaintext_replies() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();

    let (rows, _) = vectors();
    let mut row = rows[0].clone();
    row[3] = NUMBER;
    let good = serde_json::to_vec(&serde_json::json!({ "rows": [row] })).unwrap();
    let bad = format!(r#"{{"rows": [["{MARKER}"]]}}"#).into_bytes();
    let mut wire = Vec::new();

    // A prediction with the number marker.
    let (sealed, ctx) = client.seal(&verified, &good).unwrap();
    let answer_bytes = client.send(&sealed).await.unwrap();
    wire.extend_from_slice(&sealed);
    wire.extend_from_slice(&answer_bytes);
    let answer = client
        .open(&verified, ctx, &answer_bytes, good.clone())
        .unwrap();
    assert_eq!(answer.outputs.len(), 1);

    // A malformed request: the node's sealed error quotes the marker back.
    let (sealed, ctx) = client.seal(&verified, &bad).unwrap();
    let answer_bytes = client.send(&sealed).await.unwrap();
    wire.extend_from_slice(&sealed);
    wire.extend_from_slice(&answer_bytes);
    let echoed = match client.open(&verified, ctx, &answer_bytes, bad.clone()) {
        Err(InferError::Inner { error, .. }) => error,
        other => panic!("expected a sealed error, got {other:?}"),
    };
    // Positive control: where it is decrypted (the client), the marker is there.
    assert!(echoed.contains(MARKER), "{echoed}");

    // Altered requests get plaintext replies: they carry nothing of the request.
    let mut plaintext_replies = Vec::new();
    for pos in [0, 20, sealed.len() - 1] {
        let mut altered = sealed.clone();
        altered[pos] ^= 1;
        match client.send(&altered).await {
            Err(InferError::Status { text, .. }) => plaintext_replies.push(text),
            other => panic!("expected a plaintext refusal, got {other:?}"),
        }
    }

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The capture works: the node's own lines are in it.
    assert!(logs.contains("inference node serving"), "{logs}");
    assert!(logs.contains("answered a sealed request"), "{logs}");
    let mut files = Vec::new();
    files_under(w.dir.path(), &mut files);
    assert!(!files.is_empty());
    for needle in [MARKER, NUMBER_TEXT] {
        assert!(!logs.contains(needle), "{needle} in the logs");
        assert!(!contains(&wire, needle), "{needle} on the wire");
        for (path, bytes) in &files {
            assert!(!contains(bytes, needle), "{needle} in {path}");
        }
        for reply in &plaintext_replies {
            assert!(
                !reply.contains(needle),
                "{needle} in a plaintext reply: {reply}"
            );
        }
    }
}
