//! Attestation admission is one layer over every route (issue 11 item 5):
//! on a channel that requires attestation, a node (peer or orderer
//! certificate) without an admitting token is refused on every route the
//! peer serves — postcard API, JSON API, private data, admin, and routes
//! not found — except the short open list (`GET /channels`, the probe that
//! answers with the peer's own token, and `GET /openapi.json`). The routes
//! are read from the peer's source, so a new route is walked too.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::OnceLock;
use std::time::Duration;

use cairn_attest::{Platform, PlatformKey, PublicJwk, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::{AttestationClient, obtain_token};
use cairn_attest_service::{RunningService, ServiceConfig, serve};
use cairn_crypto::SigningIdentity;
use cairn_ledger::config::{AttestationRequirement, ChannelConfig};
use cairn_ledger::ids::Timestamp;
use cairn_net::{ATTESTATION_HEADER, TlsIdentity, Trust};
use cairn_peer::{PeerConfig, PeerNode, api};
use cairn_testkit::TestNet;
use serde_json::json;

const ADMIN: &str = "admin-token-for-the-admission-test";
const PEER_BUILD: &[u8] = b"peer.toml";
const CHANNEL: &str = "attested";
/// What the admission layer answers a node without a token.
const REFUSED: &str = "presented no attestation token";

fn measurement(config: &[u8]) -> VirtualMeasurement {
    static BINARY: OnceLock<VirtualMeasurement> = OnceLock::new();
    BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config)
}

fn platform_key() -> PlatformKey {
    PlatformKey::from_seed([9; 32])
}

/// Every `(method, path)` the peer's routers declare, read from its source.
fn declared_routes() -> Vec<(String, String)> {
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    // Every source file, subdirectories included.
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(open) = rest.find('"') else { break };
            let after = &rest[open + 1..];
            let close = after.find('"').unwrap();
            let path = after[..close].to_string();
            // The handlers follow the path, up to the end of the call.
            let call = &after[close..after.find(")\n").unwrap_or(after.len())];
            for method in ["get", "post"] {
                if call.contains(&format!("{method}(")) {
                    out.push((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn concrete(path: &str) -> String {
    path.replace("{channel}", CHANNEL)
        .replace("{number}", "0")
        .replace("{txid}", &"0".repeat(64))
}

#[test]
fn t50_a_node_that_is_not_admitted_is_refused_on_every_route_but_the_open_ones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The attestation service (virtual platform: no TEE here).
    let service: RunningService = rt
        .block_on(serve(ServiceConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().join("service"),
            ADMIN.into(),
        )))
        .unwrap();
    let attest = AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
    let policy = json!({
        "id": "nodes", "platform": "virtual",
        "allowed_measurements": [measurement(PEER_BUILD).hex()],
        "trusted_platform_keys": [platform_key().public_hex()],
        "token_ttl_secs": 600,
    });
    rt.block_on(attest.replace_policy(ADMIN, Platform::Virtual, policy.to_string().as_bytes()))
        .unwrap();
    let token = |id: &SigningIdentity| -> String {
        let key = PublicJwk::from_spki_der(&id.identity().public_key().to_spki_der()).unwrap();
        let attester = VirtualAttester::new(platform_key(), measurement(PEER_BUILD));
        rt.block_on(obtain_token(&attest, &attester, &key))
            .unwrap()
            .0
    };

    // A channel that requires attestation, and Org1's attested peer on it.
    let net = TestNet::generate_at(&dir.path().join("crypto"), 2);
    let orgs: Vec<_> = net.orgs.iter().map(|o| o.msp.clone()).collect();
    let mut config =
        ChannelConfig::with_defaults(CHANNEL, orgs.clone(), vec![net.orgs[0].msp_id.clone()]);
    config.attestation = Some(AttestationRequirement {
        issuer: service.issuer().to_owned(),
        jwks: String::from_utf8(rt.block_on(attest.jwks_json()).unwrap()).unwrap(),
        measurements: vec![measurement(PEER_BUILD).hex()],
        allow_virtual: true,
    });
    let genesis = cairn_store::genesis_block(
        &config,
        &net.orgs[0].orderer,
        Timestamp::now(),
        cairn_testkit::nonce(),
    )
    .unwrap();
    let port = cairn_testkit::reserve_port();
    let peer_config = PeerConfig::new(
        net.orgs[0].dir.join("peers/peer0"),
        dir.path().join("peer"),
        format!("127.0.0.1:{port}").parse().unwrap(),
    );
    peer_config.attestation.set(token(&net.orgs[0].peer));
    let peer = rt.block_on(PeerNode::start(peer_config)).unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let tls =
        |id: &SigningIdentity| TlsIdentity::new(id.clone(), Trust::new(&orgs).unwrap()).unwrap();
    let admin = cairn_net::Client::new(&tls(&net.orgs[0].admin)).unwrap();
    rt.block_on(api::join_channel(&admin, &url, &genesis))
        .unwrap();
    // A standalone peer keeps its data directory to itself.
    for d in [dir.path().join("peer"), dir.path().join("peer/channels")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }

    // HTTPS clients as Org2's peer, without and with an admitting token,
    // and as Org2's user (a client: the channel's policies judge it).
    let http = |id: &SigningIdentity, token: Option<String>| {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = token {
            headers.insert(ATTESTATION_HEADER, t.parse().unwrap());
        }
        reqwest::Client::builder()
            .use_preconfigured_tls((*tls(id).client_config()).clone())
            .default_headers(headers)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let org2 = &net.orgs[1];
    let unadmitted = http(&org2.peer, None);
    let admitted = http(&org2.peer, Some(token(&org2.peer)));
    let user = http(&org2.user, None);
    let call = |client: &reqwest::Client, method: &str, path: &str| -> (u16, String) {
        rt.block_on(async {
            let target = format!("{url}{}", concrete(path));
            let req = match method {
                "GET" => client.get(target),
                _ => client.post(target).body(Vec::new()),
            };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            // Streams stay open: read what arrives within a moment.
            let body = tokio::time::timeout(Duration::from_millis(300), resp.text())
                .await
                .map(|t| t.unwrap_or_default())
                .unwrap_or_default();
            (status, body)
        })
    };

    let routes = declared_routes();
    assert!(routes.len() >= 20, "the walk found the routes: {routes:?}");
    for (m, p) in [
        ("POST", "/private/push"),
        ("GET", "/channels/{channel}/config"),
        ("POST", "/api/v1/gateway/endorse"),
    ] {
        assert!(
            routes.contains(&(m.into(), p.into())),
            "{m} {p} in {routes:?}"
        );
    }
    let open = [("GET", "/channels"), ("GET", "/openapi.json")];
    let mut walk = routes.clone();
    walk.push(("GET".into(), "/no/such/route".into()));
    for (method, path) in &walk {
        let is_open = open.contains(&(method.as_str(), path.as_str()));
        let (status, body) = call(&unadmitted, method, path);
        if is_open {
            assert_eq!(status, 200, "{method} {path} is open: {body}");
        } else {
            assert_eq!(
                status, 403,
                "{method} {path} let an unadmitted node through: {body}"
            );
            assert!(body.contains(REFUSED), "{method} {path}: {body}");
        }
        // Positive controls: an admitted node and a client pass the layer
        // (other checks may still refuse them, but not for attestation).
        for (who, client) in [("admitted node", &admitted), ("client", &user)] {
            let (status, body) = call(client, method, path);
            assert!(
                !body.contains("attestation token") && !body.contains("not admitted"),
                "{method} {path} refused the {who} for attestation ({status}): {body}"
            );
        }
    }
    // The open probe answers with the peer's own token, for callers to check.
    let tokened = rt.block_on(async {
        let probe = unadmitted
            .get(format!("{url}/channels"))
            .send()
            .await
            .unwrap();
        probe.headers().contains_key(ATTESTATION_HEADER)
    });
    assert!(tokened);
    rt.block_on(async move { drop(peer) });
}
