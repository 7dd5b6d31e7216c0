//! Mutual TLS between Cairn nodes over real sockets on 127.0.0.1: who is
//! let in, who is refused (at the handshake or per endpoint), and that every
//! refusal is logged with its reason.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use cairn_crypto::{MspConfig, Role, SigningIdentity};
use cairn_net::{
    Caller, Client, ClientError, Postcard, RequireRoles, ServerRequirement, TlsIdentity, Trust,
};
use cairn_testkit::TestNet;
use futures_util::stream;

/// Log lines written while a test runs (its runtime is single-threaded, so
/// a thread-local subscriber sees the server's tasks too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn orgs(net: &TestNet) -> Vec<MspConfig> {
    net.orgs.iter().map(|o| o.msp.clone()).collect()
}

fn tls(id: &SigningIdentity, orgs: &[MspConfig]) -> TlsIdentity {
    TlsIdentity::new(id.clone(), Trust::new(orgs).unwrap()).unwrap()
}

async fn whoami(Caller(id): Caller) -> Postcard<(String, String)> {
    Postcard((id.msp_id().to_string(), id.role().to_string()))
}

async fn add(Postcard((a, b)): Postcard<(u64, u64)>) -> Postcard<u64> {
    Postcard(a + b)
}

async fn count() -> axum::response::Response {
    cairn_net::frames(stream::iter(0u64..5))
}

/// Items sent already encoded (as the orderer serves stored blocks).
async fn count_encoded() -> axum::response::Response {
    let items = (5u64..8).map(|n| Ok(postcard::to_stdvec(&n).unwrap()));
    cairn_net::encoded_frames(stream::iter(items))
}

/// Starts a server as `server` trusting `trust`; returns its base URL.
async fn start(server: &TlsIdentity) -> (String, tokio::task::JoinHandle<()>) {
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route("/add", post(add))
        .route("/count", get(count))
        .route("/count-encoded", get(count_encoded))
        .merge(
            Router::new()
                .route("/nodes-only", get(whoami))
                .route_layer(RequireRoles::new(
                    "/nodes-only",
                    &[Role::Peer, Role::Orderer],
                )),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let server = server.clone();
    let task = tokio::spawn(async move {
        cairn_net::serve(listener, &server, router).await.unwrap();
    });
    (url, task)
}

#[tokio::test]
async fn t10_members_call_each_other_and_see_who_calls() {
    let net = TestNet::new(2);
    let orgs = orgs(&net);
    let (url, _server) = start(&tls(&net.orgs[0].peer, &orgs)).await;
    // A client of the other org: its identity reaches the handler.
    let client = Client::new(&tls(&net.orgs[1].user, &orgs)).unwrap();
    let who: (String, String) = client.get(&format!("{url}/whoami")).await.unwrap();
    assert_eq!(who, ("Org2MSP".to_string(), "client".to_string()));
    let sum: u64 = client
        .post(&format!("{url}/add"), &(40u64, 2u64))
        .await
        .unwrap();
    assert_eq!(sum, 42);
    // "localhost" is in the node certificates' SANs too.
    let local = url.replace("127.0.0.1", "localhost");
    let who: (String, String) = client.get(&format!("{local}/whoami")).await.unwrap();
    assert_eq!(who.1, "client");
    // An orderer may call the node-only endpoint.
    let orderer = Client::new(&tls(&net.orgs[1].orderer, &orgs)).unwrap();
    let who: (String, String) = orderer.get(&format!("{url}/nodes-only")).await.unwrap();
    assert_eq!(who, ("Org2MSP".to_string(), "orderer".to_string()));
    // Streams arrive frame by frame, in order, and end.
    let mut frames = client.frames::<u64>(&format!("{url}/count")).await.unwrap();
    let mut got = Vec::new();
    while let Some(item) = frames.next().await {
        got.push(item.unwrap());
    }
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    // Pre-encoded items arrive as the same frames.
    let mut frames = client
        .frames::<u64>(&format!("{url}/count-encoded"))
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(item) = frames.next().await {
        got.push(item.unwrap());
    }
    assert_eq!(got, vec![5, 6, 7]);
    // A malformed body is refused with a clear message.
    let err = client
        .post::<_, u64>(&format!("{url}/add"), &"not two numbers")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
}

#[tokio::test]
async fn t11_unknown_ca_is_refused_at_the_handshake_and_logged() {
    let logs = Logs::default();
    let _guard = logs.install();
    let net = TestNet::new(2);
    let rogue = Rogue::new(); // its own CA, unknown to the channel
    let orgs = orgs(&net);
    let (url, _server) = start(&tls(&net.orgs[0].peer, &orgs)).await;
    // The rogue client trusts the channel CAs (so it would accept the server)
    // but presents a certificate from its own CA.
    let mut rogue_trust = orgs.clone();
    rogue_trust.push(rogue.msp.clone());
    let rogue_client = Client::new(&tls(&rogue.user, &rogue_trust)).unwrap();
    let err = rogue_client
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Connect { .. } | ClientError::Body { .. }),
        "{err}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let text = logs.text();
    assert!(text.contains("TLS connection refused"), "{text}");
    assert!(
        text.contains("not issued by the CA of any channel organization"),
        "log must name the reason: {text}"
    );
    // A member still gets in.
    let client = Client::new(&tls(&net.orgs[1].user, &orgs)).unwrap();
    client
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap();
}

#[tokio::test]
async fn t12_client_refuses_a_server_of_an_unknown_ca_or_a_non_node() {
    let net = TestNet::new(1);
    let rogue = Rogue::new();
    let orgs = orgs(&net);
    let client = Client::new(&tls(&net.orgs[0].user, &orgs)).unwrap();
    // A server whose certificate is from a CA the client does not trust.
    let rogue_server = tls(&rogue.peer, std::slice::from_ref(&rogue.msp));
    let (url, _s1) = start(&rogue_server).await;
    let err = client
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Connect { .. }), "{text}");
    assert!(
        text.contains("not issued by the CA of any channel organization"),
        "{text}"
    );
    // A member whose certificate is not a node's cannot act as a server:
    // the client refuses it (no serverAuth EKU, no SAN, not a peer/orderer).
    let (url, _s2) = start(&tls(&net.orgs[0].admin, &orgs)).await;
    let err = client
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
}

/// An organization outside the channel, with its own CA.
struct Rogue {
    _dir: tempfile::TempDir,
    msp: MspConfig,
    peer: SigningIdentity,
    user: SigningIdentity,
}

impl Rogue {
    fn new() -> Rogue {
        let dir = tempfile::tempdir().unwrap();
        let opts = cairn_crypto::GenerateOptions::default();
        cairn_crypto::generate(&["Rogue".to_string()], dir.path(), &opts).unwrap();
        let org = dir.path().join("rogue");
        Rogue {
            msp: MspConfig::load(&org.join("msp.json")).unwrap(),
            peer: SigningIdentity::from_dir(&org.join("peers/peer0")).unwrap(),
            user: SigningIdentity::from_dir(&org.join("users/user1")).unwrap(),
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn t13_role_that_does_not_fit_is_refused_per_endpoint_and_logged() {
    let logs = Logs::default();
    let _guard = logs.install();
    let net = TestNet::new(2);
    let orgs = orgs(&net);
    let (url, _server) = start(&tls(&net.orgs[0].orderer, &orgs)).await;
    let user = Client::new(&tls(&net.orgs[1].user, &orgs)).unwrap();
    let err = user
        .get::<(String, String)>(&format!("{url}/nodes-only"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let text = logs.text();
    assert!(text.contains("request refused"), "{text}");
    assert!(
        text.contains("role client) may not use /nodes-only"),
        "{text}"
    );
}

#[tokio::test]
async fn t14_revoked_certificate_is_refused_even_on_an_open_connection() {
    let logs = Logs::default();
    let _guard = logs.install();
    let net = TestNet::new(2);
    let mut orgs = orgs(&net);
    let server = tls(&net.orgs[0].peer, &orgs);
    let (url, _server) = start(&server).await;
    let user = Client::new(&tls(&net.orgs[1].user, &orgs)).unwrap();
    user.get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap();
    // Org2 revokes its user; the server learns it (as from a config block).
    cairn_crypto::revoke(&mut orgs[1], net.orgs[1].user.identity().serial_hex()).unwrap();
    server.trust().update(&orgs).unwrap();
    // The pooled connection is re-checked on its next request...
    let err = user
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // ...and a new connection fails the handshake.
    let fresh = Client::new(&tls(
        &net.orgs[1].user,
        &net.orgs.iter().map(|o| o.msp.clone()).collect::<Vec<_>>(),
    ))
    .unwrap();
    let err = fresh
        .get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Connect { .. } | ClientError::Body { .. }),
        "{err}"
    );
    let text = logs.text();
    assert!(
        text.contains("revoked"),
        "log must say the certificate is revoked: {text}"
    );
    // Others are unaffected.
    let peer = Client::new(&tls(&net.orgs[1].peer, &orgs)).unwrap();
    peer.get::<(String, String)>(&format!("{url}/whoami"))
        .await
        .unwrap();
}

#[test]
fn t15_an_identity_outside_its_own_trust_is_a_configuration_error() {
    let net = TestNet::new(1);
    let other = TestNet::new(1);
    let err = TlsIdentity::new(
        net.orgs[0].peer.clone(),
        Trust::new(&[other.orgs[0].msp.clone()]).unwrap(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("not valid under the channel organizations"),
        "{err}"
    );
    assert!(Trust::new(&[]).is_err());
}

#[tokio::test]
async fn t16_a_pinned_client_reaches_only_the_org_and_role_it_pins() {
    let net = TestNet::new(3);
    let orgs = orgs(&net);
    // Org2's peer serves at an address the sender believes is Org3's peer.
    let (url, _server) = start(&tls(&net.orgs[1].peer, &orgs)).await;
    let sender = tls(&net.orgs[0].peer, &orgs);
    let timeout = std::time::Duration::from_secs(5);
    let to_org3 = Client::pinned(&sender, &ServerRequirement::peer_of("Org3MSP"), timeout).unwrap();
    let err = to_org3
        .post::<_, u64>(&format!("{url}/add"), &(1u64, 2u64))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Connect { .. }), "{text}");
    assert!(
        text.contains("Org2MSP") && text.contains("a peer of Org3MSP"),
        "the refusal names both orgs: {text}"
    );
    // The same address pinned to the org its certificate proves: it answers.
    let to_org2 = Client::pinned(&sender, &ServerRequirement::peer_of("Org2MSP"), timeout).unwrap();
    let sum: u64 = to_org2
        .post(&format!("{url}/add"), &(1u64, 2u64))
        .await
        .unwrap();
    assert_eq!(sum, 3);
    // The role is pinned too: Org2's orderer is not a peer of Org2.
    let (orderer_url, _o) = start(&tls(&net.orgs[1].orderer, &orgs)).await;
    let err = to_org2
        .get::<(String, String)>(&format!("{orderer_url}/whoami"))
        .await
        .unwrap_err();
    let text = err.to_string().to_lowercase();
    assert!(
        text.contains("orderer") && text.contains("a peer of org2msp"),
        "{text}"
    );
}
