//! The attestation client speaks only HTTPS: a plain `http://` service URL is refused
//! before anything is sent, with an error that says to use https and names the
//! loopback-only opt-in; the opt-in reaches a plain-http server on a loopback address
//! (the positive control: the refusal is not a failure to connect), still refuses any
//! other host, and no client follows a redirect.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_attest_client::{AttestationClient, ClientError, fetch_jwks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A plain-http server on 127.0.0.1 that answers every request with `response` and
/// counts the connections it accepted.
async fn plain_http_server(response: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(response.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (url, accepted)
}

fn json_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_refused_before_anything_is_sent() {
    let (url, accepted) = plain_http_server(json_response(r#"{"issuer":"plain"}"#)).await;

    let err = AttestationClient::new(&url, None).err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, ClientError::InsecureUrl { .. }), "{err:?}");
    assert!(text.contains("use https://"), "{text}");
    assert!(
        text.contains("danger_allow_insecure_loopback_http"),
        "{text}"
    );
    // Relying parties fetching a JWKS go through the same check.
    let err = fetch_jwks(&format!("{url}/.well-known/jwks.json"), None)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::InsecureUrl { .. }), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a request was sent");

    // Positive control: with the opt-in the same URL is reached, so the refusal above
    // is the https rule and not a server that cannot be reached.
    let client = AttestationClient::builder(&url)
        .danger_allow_insecure_loopback_http()
        .build()
        .unwrap();
    let doc = client.openid_configuration().await.unwrap();
    assert_eq!(doc["issuer"], "plain");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_opt_in_is_refused_for_a_host_that_is_not_loopback() {
    // 192.0.2.1 (TEST-NET-1) would time out if a connection were attempted; the
    // refusal comes at once, from the URL check.
    let started = std::time::Instant::now();
    let err = AttestationClient::builder("http://192.0.2.1:8443")
        .danger_allow_insecure_loopback_http()
        .build()
        .err()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    match err {
        ClientError::InsecureUrl { reason, .. } => {
            assert!(reason.contains("only to a loopback IP address"), "{reason}");
            assert!(reason.contains("192.0.2.1"), "{reason}");
        }
        other => panic!("expected InsecureUrl, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed() {
    let (target, reached) = plain_http_server(json_response(r#"{"issuer":"moved"}"#)).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: {target}/.well-known/openid-configuration\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
    );
    let (url, _) = plain_http_server(redirect).await;
    let client = AttestationClient::builder(&url)
        .danger_allow_insecure_loopback_http()
        .build()
        .unwrap();
    let err = client.openid_configuration().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Refused { status: 302, .. }),
        "{err:?}"
    );
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}
