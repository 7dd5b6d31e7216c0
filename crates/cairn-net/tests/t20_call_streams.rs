//! Call streams over real mutual TLS on 127.0.0.1: many calls on one HTTP
//! request, each answered once, refusals as a plain request's, bad frames
//! ending the stream with a reason, and a server that dies failing the calls
//! at once, not after their timeout.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use cairn_crypto::MspConfig;
use cairn_net::{ApiError, CallStream, Client, StreamLimits, StreamPool, TlsIdentity, Trust};
use cairn_testkit::TestNet;

fn tls(net: &TestNet, org: usize) -> TlsIdentity {
    let orgs: Vec<MspConfig> = net.orgs.iter().map(|o| o.msp.clone()).collect();
    TlsIdentity::new(net.orgs[org].peer.clone(), Trust::new(&orgs).unwrap()).unwrap()
}

/// Doubles `n` after `delay_ms`; refuses 13.
async fn double((n, delay_ms): (u64, u64)) -> Result<u64, ApiError> {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    if n == 13 {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "13 is refused here",
        ));
    }
    Ok(n * 2)
}

async fn calls(body: Body) -> axum::response::Response {
    let limits = StreamLimits {
        max_frame: 64,
        max_in_flight: 8,
    };
    cairn_net::serve_calls(body, limits, double)
}

async fn start(
    server: &TlsIdentity,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new().route("/calls", post(calls));
    let server = server.clone();
    tokio::spawn(async move {
        cairn_net::serve(listener, &server, router).await.unwrap();
    })
}

/// A server of Org1's peer on a fresh port, and a client of Org2's peer:
/// the server's `/calls` URL, its task, the client.
async fn serve_org1_as_org2() -> (String, tokio::task::JoinHandle<()>, Client) {
    let net = TestNet::new(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}/calls",
        listener.local_addr().unwrap().port()
    );
    let server = start(&tls(&net, 0), listener).await;
    (url, server, Client::new(&tls(&net, 1)).unwrap())
}

fn served_calls() -> u64 {
    cairn_counters::snapshot()
        .get("served POST /calls")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t20_many_calls_share_one_request_and_each_gets_its_answer() {
    let (url, _server, client) = serve_org1_as_org2().await;
    let before = served_calls();
    let stream: CallStream<(u64, u64), u64> =
        CallStream::open(&client, &url, Duration::from_secs(5))
            .await
            .unwrap();
    // 40 concurrent calls, more than the server runs at once, finishing out
    // of order (later ones sooner): each gets its own answer.
    let answers = futures_util::future::join_all((0..40u64).map(|n| {
        let stream = &stream;
        async move { (n, stream.call(&(n, 40 - n)).await) }
    }))
    .await;
    for (n, a) in answers {
        match n {
            13 => {
                let e = a.unwrap_err();
                assert_eq!(e.status(), Some(409), "{e}");
                assert!(e.to_string().contains("13 is refused here"), "{e}");
            }
            _ => assert_eq!(a.unwrap(), n * 2),
        }
    }
    // One HTTP request carried all of them.
    assert_eq!(served_calls() - before, 1);
    assert!(stream.is_open());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t21_a_malformed_or_oversize_call_ends_the_stream_with_its_reason() {
    let (url, _server, client) = serve_org1_as_org2().await;

    // A running call is answered before the end; the bad one gets the reason.
    let stream: CallStream<(u64, u64), u64> =
        CallStream::open(&client, &url, Duration::from_secs(5))
            .await
            .unwrap();
    let bad: CallStream<Vec<u8>, u64> = CallStream::open(&client, &url, Duration::from_secs(5))
        .await
        .unwrap();
    let e = bad.call(&vec![1u8; 200]).await.unwrap_err();
    assert_eq!(e.status(), Some(413), "{e}");
    assert!(
        e.to_string()
            .contains("exceeds this stream's limit of 64 bytes"),
        "{e}"
    );
    assert!(!bad.is_open());
    let e = bad.call(&vec![1u8]).await.unwrap_err();
    assert_eq!(e.status(), Some(413), "a closed stream repeats why: {e}");

    let bad: CallStream<String, u64> = CallStream::open(&client, &url, Duration::from_secs(5))
        .await
        .unwrap();
    let e = bad.call(&"not two numbers".to_string()).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("malformed call"), "{e}");

    // Other streams on the same connection are untouched.
    assert_eq!(stream.call(&(21, 0)).await.unwrap(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t22_a_dead_server_fails_pending_calls_at_once_and_the_pool_reopens() {
    let net = TestNet::new(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("https://127.0.0.1:{}", addr.port());
    let server = start(&tls(&net, 0), listener).await;
    let client = Client::new(&tls(&net, 1)).unwrap();
    let pool: Arc<StreamPool<(u64, u64), u64>> =
        Arc::new(StreamPool::new("/calls", Duration::from_secs(20)));
    assert_eq!(pool.call(&client, &base, &(1, 0)).await.unwrap(), 2);

    // A call that would take 10 s, then the server stops (its connections
    // close, as when a node is killed).
    let pending = tokio::spawn({
        let (pool, client, base) = (pool.clone(), client.clone(), base.clone());
        async move {
            let started = Instant::now();
            (
                pool.call(&client, &base, &(5, 10_000)).await,
                started.elapsed(),
            )
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.abort();
    let (result, took) = pending.await.unwrap();
    let e = result.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(
        took < Duration::from_secs(5),
        "failed only after {took:?}: {e}"
    );

    // A call on the dead stream fails; once the server is back, the pool
    // opens a new stream and the call succeeds.
    assert!(pool.call(&client, &base, &(2, 0)).await.is_err());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _server = start(&tls(&net, 0), listener).await;
    assert_eq!(pool.call(&client, &base, &(3, 0)).await.unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t23_a_call_that_times_out_leaves_the_stream_usable() {
    let (url, _server, client) = serve_org1_as_org2().await;
    let stream: CallStream<(u64, u64), u64> =
        CallStream::open(&client, &url, Duration::from_millis(200))
            .await
            .unwrap();
    let e = stream.call(&(1, 1_000)).await.unwrap_err();
    assert!(matches!(e, cairn_net::ClientError::Timeout { .. }), "{e}");
    assert!(stream.is_open());
    assert_eq!(stream.call(&(4, 0)).await.unwrap(), 8);
}
