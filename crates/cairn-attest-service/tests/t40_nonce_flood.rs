//! The nonce endpoint under a flood, over real sockets: four clients on four loopback
//! addresses ask for nonces as fast as they can and never use them, more than the
//! service holds in total. Each is answered 429 with `Retry-After` and a JSON error
//! naming the limit once it holds its allowance, while a node on another address
//! renews its token again and again, during the flood.
//!
//! Before per-client bounds, one global bound (100,000) was the only limit: a flood
//! filled it and every client, renewing nodes included, got 503 until nonces expired.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cairn_attest::{Attester, Expectations, Platform, UnixTime, WorkloadKey, verify_token};
use cairn_attest_client::{AttestationClient, ClientError, obtain_token};
use cairn_attest_service::{ServiceConfig, serve};
use support::*;

const PER_CLIENT: usize = 8;
/// Less than the four flooders' allowances together, so the total bound is hit too.
const TOTAL: usize = 24;

#[derive(Default)]
struct FloodStats {
    issued: AtomicU64,
    throttled: AtomicU64,
    /// Largest Retry-After seen, and whether every 429 named the per-client limit.
    max_retry_after: AtomicU64,
    other_limit: AtomicBool,
}

fn client_from(issuer: &str, ca: &[u8], ip: &str) -> AttestationClient {
    AttestationClient::builder(issuer)
        .trust_ca_pem(ca)
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn flood(client: AttestationClient, stats: Arc<FloodStats>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match client.nonce().await {
            Ok(_) => {
                stats.issued.fetch_add(1, Ordering::SeqCst);
            }
            Err(ClientError::RateLimited {
                limit,
                retry_after_secs,
                ..
            }) => {
                stats.throttled.fetch_add(1, Ordering::SeqCst);
                stats
                    .max_retry_after
                    .fetch_max(retry_after_secs, Ordering::SeqCst);
                if limit != "nonces_per_client" && limit != "outstanding_nonces" {
                    stats.other_limit.store(true, Ordering::SeqCst);
                }
            }
            Err(e) => panic!("flooder got an unexpected error: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_is_answered_429_while_a_node_renews_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.to_owned(),
    );
    config.nonces_per_client = PER_CLIENT;
    config.max_outstanding_nonces = TOTAL;
    let service = serve(config).await.unwrap();
    let (issuer, ca) = (service.issuer().to_owned(), service.tls_cert_pem().to_vec());
    let admin = AttestationClient::new(&issuer, Some(&ca)).unwrap();
    let node_config = b"node0 config";
    let measurement = running_measurement(node_config).hex();
    admin
        .replace_policy(
            ADMIN,
            Platform::Virtual,
            &virtual_policy("flood", std::slice::from_ref(&measurement)),
        )
        .await
        .unwrap();

    // The node (127.0.0.2) gets its first token before the flood.
    let node = client_from(&issuer, &ca, "127.0.0.2");
    let node_key = WorkloadKey::generate().unwrap();
    let attester = attester(node_config);
    let (first, _) = obtain_token(&node, &attester, &node_key.public_jwk())
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = ["127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
        .into_iter()
        .map(|ip| {
            let stats = Arc::new(FloodStats::default());
            let task = tokio::spawn(flood(
                client_from(&issuer, &ca, ip),
                stats.clone(),
                stop.clone(),
            ));
            (stats, task)
        })
        .collect();
    // The flood is on once every flooder is being refused.
    let saturated = tokio::time::timeout(Duration::from_secs(60), async {
        while flooders
            .iter()
            .any(|(s, _)| s.throttled.load(Ordering::SeqCst) < 3)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(saturated.is_ok(), "the flooders were never refused");
    let throttled_before: u64 = flooders
        .iter()
        .map(|(s, _)| s.throttled.load(Ordering::SeqCst))
        .sum();

    // Renewal, three times, during the flood: each a fresh nonce and a fresh token.
    let jwks = admin.jwks().await.unwrap();
    let expect = Expectations::new(issuer.clone())
        .with_measurements([measurement.as_str()])
        .allowing_virtual();
    let mut jtis = vec![
        verify_token(&first, &jwks, &expect, UnixTime::now())
            .unwrap()
            .claims
            .jti,
    ];
    for round in 0..3 {
        let (token, rd) = obtain_token(&node, &attester, &node_key.public_jwk())
            .await
            .unwrap_or_else(|e| panic!("renewal {round} failed during the flood: {e}"));
        let v = verify_token(&token, &jwks, &expect, UnixTime::now()).unwrap();
        assert_eq!(
            v.claims.runtime_data.as_ref().map(|r| &r.nonce),
            Some(&rd.nonce)
        );
        assert!(
            !jtis.contains(&v.claims.jti),
            "renewal {round} reused a token"
        );
        jtis.push(v.claims.jti);
    }

    // The flood went on throughout: still being refused after the renewals.
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let now: u64 = flooders
                .iter()
                .map(|(s, _)| s.throttled.load(Ordering::SeqCst))
                .sum();
            if now > throttled_before + 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    for (stats, task) in flooders {
        task.await.unwrap();
        assert!(!stats.other_limit.load(Ordering::SeqCst));
        let retry = stats.max_retry_after.load(Ordering::SeqCst);
        assert!(
            (1..=300).contains(&retry),
            "Retry-After {retry} s is not within the nonce lifetime"
        );
        assert!(stats.issued.load(Ordering::SeqCst) >= 1);
        eprintln!(
            "flooder: {} nonces issued, {} answered 429 (max Retry-After {retry} s)",
            stats.issued.load(Ordering::SeqCst),
            stats.throttled.load(Ordering::SeqCst)
        );
    }
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_429_names_the_limit_and_a_slot_frees_when_a_nonce_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.to_owned(),
    );
    config.nonces_per_client = 2;
    config.nonce_ttl_secs = 120;
    let service = serve(config).await.unwrap();
    let client = client_from(service.issuer(), service.tls_cert_pem(), "127.0.0.6");
    let first = client.nonce().await.unwrap();
    client.nonce().await.unwrap();
    match client.nonce().await {
        Err(ClientError::RateLimited {
            limit,
            retry_after_secs,
            reason,
            ..
        }) => {
            assert_eq!(limit, "nonces_per_client");
            assert!((1..=120).contains(&retry_after_secs), "{retry_after_secs}");
            assert!(reason.contains("127.0.0.6"), "{reason}");
            assert!(reason.contains("limit per client"), "{reason}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Another address is not affected.
    let other = client_from(service.issuer(), service.tls_cert_pem(), "127.0.0.7");
    other.nonce().await.unwrap();
    // Submitting evidence consumes the nonce (even when refused), freeing a slot.
    let admin = AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
    let allowed = running_measurement(b"allowed").hex();
    admin
        .replace_policy(ADMIN, Platform::Virtual, &virtual_policy("p", &[allowed]))
        .await
        .unwrap();
    let rd =
        cairn_attest::RuntimeData::new(first.nonce, WorkloadKey::generate().unwrap().public_jwk());
    let evidence = attester(b"x").evidence(&rd.report_data()).unwrap();
    let refused = client
        .attest(Platform::Virtual, &evidence, Some(&rd))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "appraisal_refused"),
        "{refused}"
    );
    client.nonce().await.unwrap();
    assert!(matches!(
        client.nonce().await,
        Err(ClientError::RateLimited { .. })
    ));
    service.shutdown().await;
}
