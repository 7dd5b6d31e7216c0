//! `cairn up --attest`: the network's attestation service (a `cairn attest
//! serve` child process), its virtual policy listing every node's
//! measurement, and the channel's attestation requirement pinning the
//! service's JWKS and the same measurements.

use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_attest::{Platform, PlatformKey, VirtualMeasurement};
use cairn_attest_client::AttestationClient;
use cairn_ledger::config::AttestationRequirement;
use rand::RngCore;
use tokio::runtime::Runtime;

use super::layout::Network;
use super::process;

/// Token lifetime in the generated policy (nodes renew at two thirds).
const TOKEN_TTL_SECS: u64 = 3600;

/// Starts the attestation service and waits until it answers (its TLS
/// certificate exists and its JWKS is served).
pub fn start_service(net: &Network, rt: &Runtime) -> anyhow::Result<(Child, AttestationClient)> {
    let files = net
        .attest_files()
        .context("this network has no attestation service")?;
    let url = net.attest_url().context("no attestation port")?;
    let mut child = process::spawn(&files)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the attestation service exited ({status}) while starting; see {}",
                files.log.display()
            );
        }
        if let Ok(ca) = std::fs::read(net.attest_ca()) {
            let client = AttestationClient::new(&url, Some(&ca))?;
            if rt.block_on(client.jwks_json()).is_ok() {
                return Ok((child, client));
            }
        }
        if Instant::now() > deadline {
            let _ = process::stop(&files);
            bail!(
                "the attestation service did not answer within 30 s; see {}",
                files.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// First start of an attested network: admin token, platform key, the
/// service, and a virtual policy listing the measurement of every node
/// (this executable with each node's config file). Returns the channel's
/// requirement and the running service.
pub fn setup(net: &Network, rt: &Runtime) -> anyhow::Result<(AttestationRequirement, Child)> {
    let dir = net.attest_dir();
    // The service's state (signing keys), its admin token, the platform key.
    cairn_crypto::private_file::create_dir_all(&dir)?;
    let mut token = [0u8; 24];
    rand::rng().fill_bytes(&mut token);
    cairn_crypto::private_file::write_atomic(
        &net.attest_admin_token(),
        hex::encode(token).as_bytes(),
    )?;
    let platform = PlatformKey::load_or_create(&net.platform_key())?;
    let mut measurements = Vec::new();
    for n in &net.nodes {
        let path = net.files(n).config;
        let config =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let m = VirtualMeasurement::of_running_binary(&config)
            .context("cannot read this executable to measure it")?;
        measurements.push(m.hex());
    }
    let (child, client) = start_service(net, rt)?;
    let policy = serde_json::json!({
        "id": "cairn-up",
        "platform": "virtual",
        "allowed_measurements": measurements,
        "trusted_platform_keys": [platform.public_hex()],
        "token_ttl_secs": TOKEN_TTL_SECS,
    });
    let admin = hex::encode(token);
    let configured = rt.block_on(async {
        client
            .replace_policy(&admin, Platform::Virtual, policy.to_string().as_bytes())
            .await?;
        let jwks = client.jwks_json().await?;
        let issuer = client.openid_configuration().await?;
        anyhow::Ok((jwks, issuer))
    });
    let (jwks, openid) = match configured {
        Ok(x) => x,
        Err(e) => {
            if let Some(files) = net.attest_files() {
                let _ = process::stop(&files);
            }
            return Err(e.context("configuring the attestation service"));
        }
    };
    let issuer = openid
        .get("issuer")
        .and_then(|i| i.as_str())
        .context("the attestation service's openid-configuration names no issuer")?
        .to_string();
    let requirement = AttestationRequirement {
        issuer,
        jwks: String::from_utf8(jwks).context("the service's JWKS is not UTF-8")?,
        measurements,
        allow_virtual: true,
    };
    Ok((requirement, child))
}
