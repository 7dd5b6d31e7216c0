//! The web console's server side over real TLS (the browser test is
//! `crates/cairn-cli/tests/console_cli.rs`): an HTTPS client that trusts only
//! the console's own certificate logs in as the page does (signs the peer's
//! challenge with an org user's key) and checks what the peer accepts.
//!
//! - the page and its scripts are served with a strict CSP; the API without
//!   a session is 401;
//! - a login sets an HttpOnly, Secure, SameSite=Strict session; with it the
//!   JSON API answers as that identity (Readers: the channel is listed);
//! - refused, each naming why: a challenge used twice, a key that is not the
//!   certificate's, a peer's identity (a node, not a user), an org no channel
//!   trusts;
//! - the console only reads: a submit is 405;
//! - a certificate revoked by a config block loses its session at the next
//!   request (control: another org's session still reads).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use cairn_crypto::SigningIdentity;
use common::{CHANNEL, Net};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// An HTTPS client trusting only the console certificate at `cert_pem`.
fn console_client(cert_pem: &str) -> reqwest::Client {
    let body: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

/// What a call answered: status, body, Set-Cookie.
struct Answer {
    status: u16,
    body: Value,
    cookie: Option<String>,
}

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = http.request(method.parse().unwrap(), url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        cookie,
    }
}

/// Signs a fresh challenge as the page does; the login's answer.
async fn login(
    http: &reqwest::Client,
    base: &str,
    cert_of: &SigningIdentity,
    key_of: &SigningIdentity,
) -> (Answer, String) {
    let c = call(
        http,
        "GET",
        &format!("{base}/console/challenge"),
        None,
        None,
    )
    .await;
    assert_eq!(c.status, 200);
    let challenge = c.body["challenge"].as_str().unwrap().to_string();
    let answer = login_with(http, base, cert_of, key_of, &challenge).await;
    (answer, challenge)
}

async fn login_with(
    http: &reqwest::Client,
    base: &str,
    cert_of: &SigningIdentity,
    key_of: &SigningIdentity,
    challenge: &str,
) -> Answer {
    let mut message = b"cairn-console-login-v1\0".to_vec();
    message.extend_from_slice(&hex::decode(challenge).unwrap());
    let body = json!({
        "certificate": cert_of.identity().certificate().to_pem(),
        "challenge": challenge,
        "signature": hex::encode(key_of.sign(&message)),
    });
    call(
        http,
        "POST",
        &format!("{base}/console/login"),
        None,
        Some(body),
    )
    .await
}

/// The `name=value` part of a Set-Cookie header.
fn session(a: &Answer) -> String {
    let c = a.cookie.as_deref().unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(c.contains(attr), "{attr} missing from {c}");
    }
    c.split(';').next().unwrap().to_string()
}

#[test]
fn console_logins_act_as_the_org_identity_and_nothing_else() {
    let mut net = Net::start();
    net.kill_peer(0);
    net.start_peer_with(0, |c| {
        c.console_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let addr = net.peer(0).console_addr().unwrap();
    let base = format!("https://127.0.0.1:{}", addr.port());
    let cert_pem =
        std::fs::read_to_string(net.peer_data_dir(0).join("console-tls/cert.pem")).unwrap();
    let http = console_client(&cert_pem);
    let org1 = net.orgs.orgs[0].user.clone();
    let org2 = net.orgs.orgs[1].user.clone();
    let peer = SigningIdentity::from_dir(&net.orgs.orgs[0].dir.join("peers/peer0")).unwrap();
    let rogue = net.rogue.clone();
    let channels = format!("{base}/api/v1/channels");

    let org2_session = net.rt.block_on(async {
        let page = http.get(format!("{base}/")).send().await.unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("Sign in with an org identity")
        );
        let script = call(&http, "GET", &format!("{base}/receipt.js"), None, None).await;
        assert!(script.body.as_str().unwrap().contains("RFC 9162"));

        let none = call(&http, "GET", &channels, None, None).await;
        assert_eq!(none.status, 401, "{}", none.body);

        // Org1's user logs in; the JSON API answers as that identity.
        let (ok, challenge) = login(&http, &base, &org1, &org1).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.body["msp_id"], "Org1MSP");
        assert_eq!(ok.body["role"], "client");
        let org1_session = session(&ok);
        let listed = call(&http, "GET", &channels, Some(&org1_session), None).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert_eq!(listed.body[0]["name"], CHANNEL);

        // Refusals, each naming why.
        let again = login_with(&http, &base, &org1, &org1, &challenge).await;
        assert_eq!(again.status, 401);
        assert!(
            again.body["error"]
                .as_str()
                .unwrap()
                .contains("unknown, used or expired"),
            "{}",
            again.body
        );
        let (mixed, _) = login(&http, &base, &org1, &org2).await;
        assert_eq!(mixed.status, 401);
        assert!(
            mixed.body["error"]
                .as_str()
                .unwrap()
                .contains("does not verify"),
            "{}",
            mixed.body
        );
        assert!(mixed.cookie.is_none());
        let (node, _) = login(&http, &base, &peer, &peer).await;
        assert_eq!(node.status, 403);
        assert!(
            node.body["error"].as_str().unwrap().contains("is a peer"),
            "{}",
            node.body
        );
        let (stranger, _) = login(&http, &base, &rogue, &rogue).await;
        assert_eq!(stranger.status, 403);
        assert!(
            stranger.body["error"]
                .as_str()
                .unwrap()
                .contains("certificate refused"),
            "{}",
            stranger.body
        );

        // The console only reads.
        let submit = call(
            &http,
            "POST",
            &format!("{base}/api/v1/gateway/submit"),
            Some(&org1_session),
            Some(json!({"transaction": "00", "signature": "00"})),
        )
        .await;
        assert_eq!(submit.status, 405, "{}", submit.body);

        let (ok2, _) = login(&http, &base, &org2, &org2).await;
        assert_eq!(ok2.status, 200, "{}", ok2.body);
        (org1_session, session(&ok2))
    });
    let (org1_session, org2_session) = org2_session;

    // Revoke Org2's user in a config block: its session ends at once.
    let mut config = net.peer(0).ledger(CHANNEL).unwrap().config();
    config.sequence += 1;
    config
        .orgs
        .iter_mut()
        .find(|o| o.msp_id == "Org2MSP")
        .unwrap()
        .revoke(org2.identity().serial_hex())
        .unwrap();
    let admins: Vec<&SigningIdentity> = net.orgs.orgs[..2].iter().map(|o| &o.admin).collect();
    let envelope = cairn_ledger::client::config_update(
        &config,
        admins[0],
        &admins,
        cairn_testkit::nonce(),
        cairn_ledger::ids::Timestamp::now(),
    )
    .unwrap();
    let admin = net.gateway(admins[0], 1, CHANNEL);
    let ordered = net.rt.block_on(admin.submit_envelope(&envelope)).unwrap();
    assert_eq!(
        ordered.code,
        cairn_ledger::validation::ValidationCode::Valid
    );
    net.wait_peers(ordered.block + 1, WAIT);
    net.rt.block_on(async {
        let revoked = call(&http, "GET", &channels, Some(&org2_session), None).await;
        assert_eq!(revoked.status, 403, "{}", revoked.body);
        assert!(
            revoked.body["error"]
                .as_str()
                .unwrap()
                .contains("certificate refused"),
            "{}",
            revoked.body
        );
        let still = call(&http, "GET", &channels, Some(&org1_session), None).await;
        assert_eq!(still.status, 200, "control: {}", still.body);
    });
}
