//! `cairn node --attest URL`: the node side of attested nodes. The node
//! measures itself (this executable and its config file, the `virtual`
//! platform), obtains a token from the attestation service binding the key
//! of its TLS certificate, presents it with every call, and renews it
//! before it expires.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use cairn_attest::{PlatformKey, PublicJwk, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::{AttestationClient, obtain_token};
use cairn_crypto::SigningIdentity;
use cairn_net::AttestationToken;
use tracing::{info, warn};

/// How long a node keeps trying to get its first token (the service may be starting too).
const FIRST_TOKEN_WITHIN: Duration = Duration::from_secs(30);

/// Pause after a failed renewal.
const RETRY: Duration = Duration::from_secs(5);

/// `cairn node` options for attested nodes.
#[derive(clap::Args, Debug, Clone)]
pub struct AttestArgs {
    /// Attestation service URL: obtain a token for this node (virtual
    /// platform: the measurement is SHA-384 of this executable and the
    /// config file) and present it to the channel's other nodes; renewed
    /// before it expires. Needed on channels that require attested nodes.
    #[arg(long, value_name = "URL")]
    pub attest: Option<String>,
    /// CA certificate (PEM) to trust for the attestation service.
    #[arg(long, requires = "attest", value_name = "FILE")]
    pub attest_ca: Option<PathBuf>,
    /// This host's virtual platform key (created if missing; its public key
    /// goes in the service's policy).
    #[arg(long, requires = "attest", value_name = "FILE")]
    pub platform_key: Option<PathBuf>,
}

/// Obtains the node's first token (or fails saying why), then keeps it
/// renewed in the background. `None` without `--attest`.
pub async fn start(
    args: &AttestArgs,
    config_file: &Path,
    identity_dir: &Path,
) -> anyhow::Result<Option<AttestationToken>> {
    let Some(url) = &args.attest else {
        return Ok(None);
    };
    let ca = args
        .attest_ca
        .as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
        .transpose()?;
    let client = AttestationClient::new(url, ca.as_deref())
        .with_context(|| format!("attestation service {url}"))?;
    let config = std::fs::read(config_file)
        .with_context(|| format!("cannot read {}", config_file.display()))?;
    let measurement = VirtualMeasurement::of_running_binary(&config)
        .context("cannot read this executable to measure it")?;
    let key_path = match &args.platform_key {
        Some(p) => p.clone(),
        None => config_file.with_file_name("platform.key"),
    };
    let platform = PlatformKey::load_or_create(&key_path)
        .with_context(|| format!("platform key {}", key_path.display()))?;
    let signer = SigningIdentity::from_dir(identity_dir)
        .with_context(|| format!("node identity {}", identity_dir.display()))?;
    let node_key = PublicJwk::from_spki_der(&signer.identity().public_key().to_spki_der())
        .context("the node's TLS key cannot be bound into a token")?;
    let attester = VirtualAttester::new(platform, measurement);
    info!(measurement = %attester.measurement().hex(), service = %url, "obtaining an attestation token (virtual platform)");

    let deadline = tokio::time::Instant::now() + FIRST_TOKEN_WITHIN;
    let token = loop {
        match obtain_token(&client, &attester, &node_key).await {
            Ok((token, _)) => break token,
            Err(e) if tokio::time::Instant::now() < deadline && retryable(&e) => {
                warn!(reason = %e, "attestation service not ready; retrying");
                tokio::time::sleep(retry_delay(&e)).await;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "no attestation token from {url} for measurement {} (check the service's \
                     virtual policy lists it and trusts this host's platform key {})",
                    attester.measurement().hex(),
                    key_path.display()
                )));
            }
        }
    };
    let slot = AttestationToken::new();
    let renew_in = renewal_delay(&token);
    slot.set(token);
    info!(
        renew_in_s = renew_in.as_secs(),
        "attestation token obtained"
    );
    tokio::spawn(renew(client, attester, node_key, slot.clone(), renew_in));
    Ok(Some(slot))
}

/// Renews the token at two thirds of its lifetime, retrying on failure.
async fn renew(
    client: AttestationClient,
    attester: VirtualAttester,
    key: PublicJwk,
    slot: AttestationToken,
    mut delay: Duration,
) {
    loop {
        tokio::time::sleep(delay).await;
        delay = match obtain_token(&client, &attester, &key).await {
            Ok((token, _)) => {
                let next = renewal_delay(&token);
                slot.set(token);
                info!(renew_in_s = next.as_secs(), "attestation token renewed");
                next
            }
            Err(e) => {
                warn!(reason = %e, "attestation token renewal failed; retrying");
                RETRY
            }
        };
    }
}

/// Two thirds of the token's lifetime (`exp - iat`), read from our own
/// token's claims (only to schedule renewal; verifiers check it properly).
fn renewal_delay(token: &str) -> Duration {
    let lifetime = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|c| {
            Some(
                c.get("exp")?
                    .as_u64()?
                    .saturating_sub(c.get("iat")?.as_u64()?),
            )
        })
        .unwrap_or(60);
    Duration::from_secs((lifetime * 2 / 3).max(1))
}

/// Transport failures (the service is not listening yet) and rate limits
/// (the service is flooded: wait as it says); refusals are final.
fn retryable(e: &cairn_attest_client::ClientError) -> bool {
    matches!(
        e,
        cairn_attest_client::ClientError::Transport { .. }
            | cairn_attest_client::ClientError::RateLimited { .. }
    )
}

/// How long to wait before asking again: the service's `Retry-After` (at
/// most 30 s, so a node keeps trying within its start deadline), else 1 s.
fn retry_delay(e: &cairn_attest_client::ClientError) -> Duration {
    match e {
        cairn_attest_client::ClientError::RateLimited {
            retry_after_secs, ..
        } => Duration::from_secs((*retry_after_secs).clamp(1, 30)),
        _ => Duration::from_secs(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[test]
    fn a_rate_limited_first_token_is_retried_after_the_services_delay() {
        let limited = cairn_attest_client::ClientError::RateLimited {
            url: "https://127.0.0.1:1/nonce".into(),
            limit: "nonces_per_client".into(),
            retry_after_secs: 7,
            reason: "too many outstanding nonces".into(),
        };
        assert!(retryable(&limited));
        assert_eq!(retry_delay(&limited), Duration::from_secs(7));
    }

    #[test]
    fn renewal_comes_at_two_thirds_of_the_lifetime() {
        let t = token_with(r#"{"iat":1000,"exp":1900}"#);
        assert_eq!(renewal_delay(&t), Duration::from_secs(600));
        // Unreadable claims: renew soon rather than never.
        assert_eq!(renewal_delay("garbage"), Duration::from_secs(40));
    }
}
