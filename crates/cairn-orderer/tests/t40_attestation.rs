//! Attested nodes (issue 5 part 5) on a real ordering service: the channel
//! config requires tokens from an attestation service (running here over
//! HTTPS) and lists the allowed node measurements. Orderers holding tokens
//! for a listed build form the Raft cluster; a peer may pull blocks only
//! with a token for a listed build bound to its own TLS key; an orderer of
//! an unlisted build neither gets votes counted nor catches up; and adding
//! a measurement is a config update signed by a majority of admins.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cairn_attest::{Platform, PlatformKey, PublicJwk, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::{AttestationClient, obtain_token};
use cairn_attest_service::{RunningService, ServiceConfig, serve};
use cairn_crypto::SigningIdentity;
use cairn_ledger::client::config_update;
use cairn_ledger::config::{AttestationRequirement, ChannelConfig};
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_net::{AttestationToken, Client, ClientError, TlsIdentity, Trust};
use cairn_orderer::api;
use cairn_testkit::{nonce, now};
use common::{Cluster, define_basic, fast_raft, submit, write_tx};
use serde_json::json;

const ADMIN: &str = "admin-token-for-attested-orderers";
const ORDERER_BUILD: &[u8] = b"orderer.toml";
const PEER_BUILD: &[u8] = b"peer.toml";
const ROGUE_BUILD: &[u8] = b"peer.toml + debug hooks";

fn measurement(config: &[u8]) -> VirtualMeasurement {
    static BINARY: OnceLock<VirtualMeasurement> = OnceLock::new();
    BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config)
}

fn platform_key() -> PlatformKey {
    PlatformKey::from_seed([7; 32])
}

/// The attestation service, on its own runtime; its appraisal policy accepts
/// every build used here (the channel decides which ones may join).
struct Service {
    rt: tokio::runtime::Runtime,
    running: RunningService,
    client: AttestationClient,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = ServiceConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().to_owned(),
            ADMIN.into(),
        );
        let running = rt.block_on(serve(config)).unwrap();
        let client =
            AttestationClient::new(running.issuer(), Some(running.tls_cert_pem())).unwrap();
        let allowed = [ORDERER_BUILD, PEER_BUILD, ROGUE_BUILD].map(|b| measurement(b).hex());
        let policy = json!({
            "id": "nodes",
            "platform": "virtual",
            "allowed_measurements": allowed,
            "trusted_platform_keys": [platform_key().public_hex()],
            "token_ttl_secs": 600,
        });
        rt.block_on(client.replace_policy(ADMIN, Platform::Virtual, policy.to_string().as_bytes()))
            .unwrap();
        Service {
            rt,
            running,
            client,
            _dir: dir,
        }
    }

    fn requirement(&self, builds: &[&[u8]]) -> AttestationRequirement {
        AttestationRequirement {
            issuer: self.running.issuer().to_owned(),
            jwks: String::from_utf8(self.rt.block_on(self.client.jwks_json()).unwrap()).unwrap(),
            measurements: builds.iter().map(|b| measurement(b).hex()).collect(),
            allow_virtual: true,
        }
    }

    /// A token for a node of build `build` whose TLS identity is `id`.
    fn token(&self, build: &[u8], id: &SigningIdentity) -> String {
        let key = PublicJwk::from_spki_der(&id.identity().public_key().to_spki_der()).unwrap();
        let attester = VirtualAttester::new(platform_key(), measurement(build));
        self.rt
            .block_on(obtain_token(&self.client, &attester, &key))
            .unwrap()
            .0
    }
}

/// A client presenting `id`'s certificate and, if given, an attestation token.
fn node_client(cluster: &Cluster, id: &SigningIdentity, token: Option<String>) -> Client {
    let slot = AttestationToken::new();
    if let Some(t) = token {
        slot.set(t);
    }
    let tls = TlsIdentity::new(id.clone(), Trust::new(&cluster.orgs()).unwrap())
        .unwrap()
        .with_attestation(slot);
    Client::new(&tls).unwrap()
}

/// Pulls blocks from `from` on until `count` arrived, or the refusal.
fn pull(
    cluster: &Cluster,
    client: &Client,
    url: &str,
    from: u64,
    count: usize,
) -> Result<Vec<u64>, ClientError> {
    cluster.rt.block_on(async {
        let mut stream = api::deliver(client, url, from).await?;
        let mut got = Vec::new();
        while got.len() < count {
            let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .expect("deliver stalled");
            match next {
                Some(Ok(b)) => got.push(b.header.number),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(got)
    })
}

fn update(cluster: &Cluster, new: &ChannelConfig, admins: &[usize]) -> Envelope {
    let orgs = &cluster.net.orgs;
    let signers: Vec<&SigningIdentity> = admins.iter().map(|i| &orgs[*i].admin).collect();
    config_update(new, &orgs[admins[0]].admin, &signers, nonce(), now()).unwrap()
}

fn forbidden(err: &ClientError, needle: &str) {
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(
        err.to_string().contains(needle),
        "expected {needle:?} in: {err}"
    );
}

#[test]
fn t40_only_nodes_of_listed_builds_join_a_channel_that_requires_attestation() {
    let service = Service::start();
    let requirement = service.requirement(&[ORDERER_BUILD, PEER_BUILD]);
    let cluster = Cluster::start_with(3, fast_raft(), |c| c.attestation = Some(requirement));
    for (i, org) in cluster.net.orgs.iter().enumerate() {
        cluster.tokens[i].set(service.token(ORDERER_BUILD, &org.orderer));
    }
    let leader = cluster.wait_leader(Duration::from_secs(20));
    let user = cluster.client(&cluster.net.orgs[0].user);
    let urls = cluster.urls();
    let deadline = || Instant::now() + Duration::from_secs(20);
    let r = cluster
        .rt
        .block_on(submit(
            &user,
            &urls,
            leader,
            &define_basic(&cluster.net),
            deadline(),
        ))
        .unwrap();
    assert_eq!(r.code, ValidationCode::Valid);
    cluster.wait_height(2, Duration::from_secs(10));

    let org1 = &cluster.net.orgs[0];
    // A peer of a listed build, presenting a token bound to its own TLS key, pulls blocks.
    let listed = node_client(
        &cluster,
        &org1.peer,
        Some(service.token(PEER_BUILD, &org1.peer)),
    );
    assert_eq!(pull(&cluster, &listed, &urls[0], 0, 2).unwrap(), vec![0, 1]);

    // No token: refused, and told what to do.
    let bare = node_client(&cluster, &org1.peer, None);
    forbidden(
        &pull(&cluster, &bare, &urls[1], 0, 1).unwrap_err(),
        "presented no attestation token",
    );

    // Admission is one layer over every route: a node without a token is
    // refused on each (the ordering API, the Raft RPCs, a route not found),
    // except the probe `GET /status`.
    cluster.rt.block_on(async {
        for (method, path) in [
            ("POST", "/broadcast"),
            ("POST", "/raft/append"),
            ("POST", "/raft/vote"),
            ("POST", "/raft/snapshot"),
            ("POST", "/raft/forward"),
            ("GET", "/no/such/route"),
        ] {
            let url = format!("{}{path}", urls[0]);
            let err = match method {
                "GET" => bare.get::<()>(&url).await.unwrap_err(),
                _ => bare.post::<_, ()>(&url, &()).await.unwrap_err(),
            };
            forbidden(&err, "presented no attestation token");
        }
        let status: cairn_orderer::api::NodeStatus =
            bare.get(&format!("{}/status", urls[0])).await.unwrap();
        assert!(status.height >= 2);
    });

    // A build the attestation service vouches for, but the channel does not list.
    let rogue_token = service.token(ROGUE_BUILD, &org1.peer);
    let rogue = node_client(&cluster, &org1.peer, Some(rogue_token.clone()));
    let err = pull(&cluster, &rogue, &urls[2], 0, 1).unwrap_err();
    forbidden(
        &err,
        &format!(
            "measurement {} is not one of the expected",
            measurement(ROGUE_BUILD).hex()
        ),
    );

    // A listed token copied to another node's connection: the key binding fails.
    let org2 = &cluster.net.orgs[1];
    let thief = node_client(
        &cluster,
        &org2.peer,
        Some(service.token(PEER_BUILD, &org1.peer)),
    );
    forbidden(
        &pull(&cluster, &thief, &urls[0], 0, 1).unwrap_err(),
        "token binds key",
    );

    // Clients are not nodes: the channel's policies alone decide for them.
    assert_eq!(pull(&cluster, &user, &urls[0], 0, 1).unwrap(), vec![0]);

    // One admin of three cannot change the list; a majority can.
    let mut wider = cluster.ledger(leader).config();
    wider.sequence += 1;
    wider
        .attestation
        .as_mut()
        .unwrap()
        .measurements
        .push(measurement(ROGUE_BUILD).hex());
    let one = update(&cluster, &wider, &[0]);
    let err = cluster
        .rt
        .block_on(api::broadcast(&user, &urls[leader], &one))
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("Admins"), "{err}");
    assert!(pull(&cluster, &rogue, &urls[2], 0, 1).is_err());

    let majority = update(&cluster, &wider, &[0, 1]);
    let r = cluster
        .rt
        .block_on(submit(&user, &urls, leader, &majority, deadline()))
        .unwrap();
    assert_eq!(r.code, ValidationCode::Valid);
    cluster.wait_height(3, Duration::from_secs(10));
    // The rogue build is on the list now: the same token is accepted.
    assert_eq!(
        pull(&cluster, &rogue, &urls[2], 0, 3).unwrap(),
        vec![0, 1, 2]
    );
}

#[test]
fn t41_an_orderer_of_an_unlisted_build_neither_votes_nor_catches_up() {
    let service = Service::start();
    let requirement = service.requirement(&[ORDERER_BUILD]);
    let cluster = Cluster::start_with(3, fast_raft(), |c| c.attestation = Some(requirement));
    let orgs = &cluster.net.orgs;
    cluster.tokens[0].set(service.token(ORDERER_BUILD, &orgs[0].orderer));
    cluster.tokens[1].set(service.token(ORDERER_BUILD, &orgs[1].orderer));
    cluster.tokens[2].set(service.token(ROGUE_BUILD, &orgs[2].orderer));

    // Orderers 1 and 2 are a majority of three: they elect one of themselves and order.
    let leader = cluster.wait_leader_among(&[0, 1], Duration::from_secs(20));
    let user = cluster.client(&orgs[0].user);
    let urls = cluster.urls();
    let deadline = Instant::now() + Duration::from_secs(20);
    cluster
        .rt
        .block_on(submit(
            &user,
            &urls[..2],
            leader,
            &define_basic(&cluster.net),
            deadline,
        ))
        .unwrap();
    for n in 0..5 {
        let (_, env) = write_tx(&cluster.net, &format!("k{n}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        cluster
            .rt
            .block_on(submit(&user, &urls[..2], leader, &env, deadline))
            .unwrap();
    }
    cluster.wait_height_on(&[0, 1], 7, Duration::from_secs(10));
    // The unlisted orderer refuses nothing itself, but nobody answers it or
    // counts its answers: it stays at the genesis block and never leads.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cluster.ledger(2).height(), 1);
    for i in [0, 1] {
        assert_ne!(cluster.node(i).status().leader, Some(3));
    }
}
