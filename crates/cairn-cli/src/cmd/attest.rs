//! `cairn attest`: the attestation service, relying-party token checks, offline
//! evidence checks, and the node/admin sides of the attestation API.
//!
//! Exit codes: 0 success, 1 the token/evidence was refused (the reason is printed),
//! 2 usage or environment errors (from `main`, and clap's own usage errors).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn_attest::{
    Expectations, Jwks, Platform, PlatformKey, PublicJwk, RuntimeData, UnixTime, VirtualAttester,
    VirtualMeasurement, WorkloadKey, verify_token,
};
use cairn_attest_client::{AttestationClient, fetch_jwks, obtain_token};
use cairn_attest_service::{SecretStore, ServiceConfig, TlsSource, serve};

const EXIT_VERIFY: &str = "\
Exit status:
  0  the token passed every check; its claims are printed as JSON on stdout
  1  the token was refused; the reason is printed on stderr (\"refused: ...\")
  2  usage or I/O error (unreadable token, JWKS not reachable or not a JWKS)

Keys come only from --jwks: a key reference in the token header (jku, x5u, jwk,
x5c) is refused. Tokens from the software-only virtual platform are refused
unless --allow-virtual is given.";

const EXIT_CHECK_EVIDENCE: &str = "\
Exit status:
  0  the evidence is authentic at the verification time (and, with --policy,
     accepted); the claims it would be appraised on are printed as JSON on stdout
  1  the evidence was rejected or refused by the policy; the reason is on stderr
  2  usage or I/O error (unreadable file, bad --at time, invalid policy file)

Hardware evidence has certificates and collateral with validity periods: verify
old samples with --at inside them. SEV-SNP evidence is
{\"report\",\"vek\",\"ask\"?,\"ark\"?,\"crl\"?} (standard base64); SGX/TDX evidence
is {\"quote\",\"collateral\"?}; missing certificates (vcek.der, vlek.der, ask.der,
asvk.der) or DCAP collateral (<fmspc>.json) are read from --collateral. AMD's CRL
(https://kdsintf.amd.com/vcek/v1/<Milan|Genoa|Turin>/crl, /vlek/v1/... for VLEK
chains) is checked when given as \"crl\" or as crl-<product>.der (crl-vlek-<product>.der)
in --collateral: a revoked ASK or ARK is rejected, a stale or forged CRL too. The
claims say amd_crl_checked, which SEV-SNP policies require unless they list their own
required_flags.";

const EXIT_OTHER: &str =
    "Exit status: 0 success; 2 usage, I/O or service error (the reason is printed on stderr).";

/// `cairn attest` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum AttestCmd {
    /// Run the attestation service (HTTPS/JSON) until interrupted.
    ///
    /// Endpoints: POST /attest/nonce, POST /attest/{platform}, GET
    /// /.well-known/openid-configuration, GET /.well-known/jwks.json, POST /keys/{name},
    /// PUT|GET /admin/policies/{platform}, POST /admin/keys/rotate. Policies live in
    /// STATE/policies/<platform>.json and are replaced with `cairn attest set-policy`
    /// (admin token required); every change is appended to STATE/policies/changes.log.
    /// The first line on stdout is "listening on <issuer URL>".
    #[command(after_help = EXIT_OTHER)]
    Serve {
        /// Address to listen on (port 0 picks one; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// State directory: policies, signing keys, generated TLS certificate.
        #[arg(long)]
        state_dir: PathBuf,
        /// File holding the admin bearer token (at least 16 characters).
        #[arg(long)]
        admin_token_file: PathBuf,
        /// Token issuer / public base URL (default https://<listen address>).
        #[arg(long)]
        issuer: Option<String>,
        /// TLS certificate chain (PEM); without it a self-signed one is generated.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Offline collateral: SNP vcek.der/ask.der... and AMD CRLs crl-<product>.der /
        /// crl-vlek-<product>.der (product in lowercase), DCAP <fmspc>.json.
        #[arg(long)]
        collateral: Option<PathBuf>,
        /// Secrets the key broker may release: JSON {"secrets": {NAME: {"value_b64",
        /// "release": {"platforms", "allowed_measurements", "required_registers"?,
        /// "allow_debug"?}}}}.
        #[arg(long)]
        secrets: Option<PathBuf>,
        /// Nonce lifetime in seconds.
        #[arg(long, default_value_t = 300)]
        nonce_ttl: u64,
        /// Unexpired nonces one client (source address; IPv6 per /64) may hold; more
        /// are answered 429 with Retry-After.
        #[arg(long, default_value_t = 16)]
        nonces_per_client: usize,
        /// Unexpired nonces held in total (then expired ones go first, then the oldest
        /// of the client holding the most).
        #[arg(long, default_value_t = 100_000)]
        max_outstanding_nonces: usize,
        /// Rotate the token signing key every this many seconds.
        #[arg(long)]
        rotate_every: Option<u64>,
    },
    /// Verify an attestation token with a JWKS, as a relying party.
    ///
    /// Checks the signature with the JWKS key the token's kid names, the issuer, expiry
    /// and not-before, then the expectations given (measurements, nonce, bound key,
    /// platforms, virtual and debug opt-ins); every refusal says which check failed.
    #[command(after_help = EXIT_VERIFY)]
    Verify {
        /// The token, `@FILE` to read it from a file, or `-` for stdin.
        token: String,
        /// JWKS URL (https://.../.well-known/jwks.json) or file; plain http is refused.
        #[arg(long)]
        jwks: String,
        /// Expected issuer (default: the JWKS URL without /.well-known/jwks.json).
        #[arg(long)]
        issuer: Option<String>,
        /// Accept only these measurements (hex; repeat for several).
        #[arg(long = "expect-measurement")]
        expect_measurement: Vec<String>,
        /// Require this nonce.
        #[arg(long)]
        expect_nonce: Option<String>,
        /// Require the token to bind this public key (JWK file).
        #[arg(long)]
        expect_key: Option<PathBuf>,
        /// Accept only these platforms (repeatable).
        #[arg(long = "platform")]
        platforms: Vec<Platform>,
        /// Accept tokens from the software-only virtual platform.
        #[arg(long)]
        allow_virtual: bool,
        /// Accept debug-enabled TEEs.
        #[arg(long)]
        allow_debug: bool,
        /// CA certificate (PEM) to trust for an https JWKS URL.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Verify as of this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Verify evidence offline and print the claims it would appraise, or why it fails.
    #[command(after_help = EXIT_CHECK_EVIDENCE)]
    CheckEvidence {
        /// sev-snp, sgx, tdx or virtual.
        #[arg(long)]
        platform: Platform,
        /// Evidence JSON file (the platform's evidence form).
        file: PathBuf,
        /// Offline collateral directory.
        #[arg(long)]
        collateral: Option<PathBuf>,
        /// Verify as of this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Also appraise against this policy file.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Runtime data JSON ({"nonce", "tee_pubkey"}) the report data must bind.
        #[arg(long)]
        runtime_data: Option<PathBuf>,
    },
    /// Print the virtual measurement of a binary and its configuration (for policies).
    #[command(after_help = EXIT_OTHER)]
    Measure {
        /// The binary (default: this cairn executable).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// The configuration file the binary runs with.
        #[arg(long)]
        config: PathBuf,
    },
    /// Create (if missing) this host's virtual platform key and print its public key.
    ///
    /// The printed hex goes in a virtual policy's trusted_platform_keys.
    #[command(after_help = EXIT_OTHER)]
    PlatformKey {
        /// Key file (PKCS#8 PEM, created with mode 0600).
        #[arg(long)]
        file: PathBuf,
    },
    /// Obtain a token for this node from its virtual evidence (node side of attested nodes).
    ///
    /// Prints the token on stdout.
    #[command(after_help = EXIT_OTHER)]
    Token {
        /// Attestation service URL (https://; plain http is refused).
        #[arg(long)]
        service: String,
        /// CA certificate (PEM) to trust for the service.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// This host's virtual platform key.
        #[arg(long)]
        platform_key: PathBuf,
        /// The node's configuration file (part of the measurement).
        #[arg(long)]
        config: PathBuf,
        /// The measured binary (default: this cairn executable).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Write the node's X25519 key seed here (mode 0600) to reopen released secrets.
        #[arg(long)]
        key_out: Option<PathBuf>,
        /// Write the node's public key (JWK) here.
        #[arg(long)]
        jwk_out: Option<PathBuf>,
    },
    /// Replace the active appraisal policy of a platform (admin).
    #[command(after_help = EXIT_OTHER)]
    SetPolicy {
        /// Attestation service URL (https://; plain http is refused).
        #[arg(long)]
        service: String,
        /// CA certificate (PEM) to trust for the service.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// File holding the admin token.
        #[arg(long)]
        admin_token_file: PathBuf,
        /// The policy file (its `platform` field names the platform).
        file: PathBuf,
    },
    /// Rotate the service's token signing key (admin).
    ///
    /// The old key stays in the JWKS until every token it signed has expired.
    #[command(after_help = EXIT_OTHER)]
    RotateKey {
        /// Attestation service URL (https://; plain http is refused).
        #[arg(long)]
        service: String,
        /// CA certificate (PEM) to trust for the service.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// File holding the admin token.
        #[arg(long)]
        admin_token_file: PathBuf,
    },
}

/// Runs a `cairn attest` subcommand.
pub fn run(cmd: AttestCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AttestCmd::CheckEvidence {
            platform,
            file,
            collateral,
            at,
            policy,
            runtime_data,
        } => check_evidence(
            platform,
            &file,
            collateral,
            at.as_deref(),
            policy.as_deref(),
            runtime_data.as_deref(),
        ),
        AttestCmd::Measure { binary, config } => {
            let config = read(&config)?;
            let binary = match binary {
                Some(b) => b,
                None => std::env::current_exe().context("locating this executable")?,
            };
            let m = VirtualMeasurement::of_file(&binary, &config)
                .with_context(|| format!("reading {}", binary.display()))?;
            print_json(&serde_json::json!({
                "measurement": m.hex(),
                "binary_sha384": hex::encode(m.binary_sha384),
                "config_sha384": hex::encode(m.config_sha384),
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        AttestCmd::PlatformKey { file } => {
            let key = PlatformKey::load_or_create(&file)?;
            println!("{}", key.public_hex());
            Ok(ExitCode::SUCCESS)
        }
        other => runtime()?.block_on(run_async(other)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn run_async(cmd: AttestCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AttestCmd::Serve {
            listen,
            state_dir,
            admin_token_file,
            issuer,
            tls_cert,
            tls_key,
            collateral,
            secrets,
            nonce_ttl,
            nonces_per_client,
            max_outstanding_nonces,
            rotate_every,
        } => {
            let admin = read_secret_line(&admin_token_file)?;
            let mut config = ServiceConfig::new(listen, state_dir, admin);
            config.issuer = issuer;
            config.collateral_dir = collateral;
            config.nonce_ttl_secs = nonce_ttl;
            config.nonces_per_client = nonces_per_client;
            config.max_outstanding_nonces = max_outstanding_nonces;
            config.rotate_every_secs = rotate_every;
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                config.tls = TlsSource::Files { cert, key };
            }
            if let Some(path) = secrets {
                config.secrets = SecretStore::load(&path)?;
            }
            let service = serve(config).await?;
            // The first stdout line is the URL, so scripts and tests can read it.
            println!("listening on {}", service.issuer());
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            service.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        AttestCmd::Verify {
            token,
            jwks,
            issuer,
            expect_measurement,
            expect_nonce,
            expect_key,
            platforms,
            allow_virtual,
            allow_debug,
            ca,
            at,
        } => {
            let token = read_token(&token)?;
            let ca = ca.map(|p| read(&p)).transpose()?;
            if jwks.starts_with("http://") {
                bail!(
                    "refusing to fetch the JWKS over plain http ({jwks}): an attacker on the path could substitute keys; use https or a file"
                );
            }
            let (keys, derived_issuer) = if jwks.starts_with("https://") {
                let keys = fetch_jwks(&jwks, ca.as_deref()).await?;
                (
                    keys,
                    jwks.strip_suffix("/.well-known/jwks.json")
                        .map(str::to_owned),
                )
            } else {
                (Jwks::parse(&read(Path::new(&jwks))?)?, None)
            };
            let Some(issuer) = issuer.or(derived_issuer) else {
                bail!("pass --issuer: it cannot be derived from a JWKS file");
            };
            let mut expect = Expectations::new(issuer).with_measurements(&expect_measurement);
            expect.nonce = expect_nonce;
            expect.allow_virtual = allow_virtual;
            expect.allow_debug = allow_debug;
            if !platforms.is_empty() {
                expect.platforms = Some(platforms.into_iter().collect());
            }
            if let Some(path) = expect_key {
                let jwk: PublicJwk = serde_json::from_slice(&read(&path)?)
                    .with_context(|| format!("{} is not a public JWK", path.display()))?;
                expect.tee_pubkey = Some(jwk);
            }
            match verify_token(&token, &keys, &expect, time(at.as_deref())?) {
                Ok(v) => {
                    eprintln!("token verified (kid {})", v.kid);
                    print_json(&v.claims)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => {
                    eprintln!("refused: {refusal}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AttestCmd::Token {
            service,
            ca,
            platform_key,
            config,
            binary,
            key_out,
            jwk_out,
        } => {
            let ca = ca.map(|p| read(&p)).transpose()?;
            let client = AttestationClient::new(&service, ca.as_deref())?;
            let config = read(&config)?;
            let binary = match binary {
                Some(b) => b,
                None => std::env::current_exe().context("locating this executable")?,
            };
            let measurement = VirtualMeasurement::of_file(&binary, &config)
                .with_context(|| format!("reading {}", binary.display()))?;
            let attester =
                VirtualAttester::new(PlatformKey::load_or_create(&platform_key)?, measurement);
            let seed = WorkloadKey::random_seed()?;
            let key = WorkloadKey::derive(&seed);
            if let Some(path) = key_out {
                cairn_crypto::private_file::write_atomic(&path, hex::encode(seed).as_bytes())?;
            }
            if let Some(path) = jwk_out {
                std::fs::write(&path, serde_json::to_vec(&key.public_jwk())?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let (token, _) = obtain_token(&client, &attester, &key.public_jwk()).await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        AttestCmd::SetPolicy {
            service,
            ca,
            admin_token_file,
            file,
        } => {
            let ca = ca.map(|p| read(&p)).transpose()?;
            let client = AttestationClient::new(&service, ca.as_deref())?;
            let policy = read(&file)?;
            let parsed = cairn_attest::AppraisalPolicy::parse(&policy)
                .with_context(|| format!("{} is not a valid policy", file.display()))?;
            let admin = read_secret_line(&admin_token_file)?;
            let r = client
                .replace_policy(&admin, parsed.platform(), &policy)
                .await?;
            println!("{} policy {} active ({})", parsed.platform(), r.id, r.hash);
            Ok(ExitCode::SUCCESS)
        }
        AttestCmd::RotateKey {
            service,
            ca,
            admin_token_file,
        } => {
            let ca = ca.map(|p| read(&p)).transpose()?;
            let client = AttestationClient::new(&service, ca.as_deref())?;
            let kid = client
                .rotate_signing_key(&read_secret_line(&admin_token_file)?)
                .await?;
            println!("new signing key {kid}");
            Ok(ExitCode::SUCCESS)
        }
        AttestCmd::CheckEvidence { .. }
        | AttestCmd::Measure { .. }
        | AttestCmd::PlatformKey { .. } => {
            bail!("internal: synchronous command dispatched to the async runner")
        }
    }
}

fn check_evidence(
    platform: Platform,
    file: &Path,
    collateral: Option<PathBuf>,
    at: Option<&str>,
    policy: Option<&Path>,
    runtime_data: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let evidence: serde_json::Value = serde_json::from_slice(&read(file)?)
        .with_context(|| format!("{} is not JSON", file.display()))?;
    let at = time(at)?;
    let verifiers = cairn_attest_hw::all_verifiers(collateral);
    let verified = match verifiers.verify(platform, &evidence, at) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("evidence rejected: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if !verified.hardware {
        eprintln!("note: virtual evidence is software-only; it proves no hardware protection");
    }
    print_json(&verified)?;
    let binding = runtime_data
        .map(|p| -> anyhow::Result<RuntimeData> {
            serde_json::from_slice(&read(p)?)
                .with_context(|| format!("{} is not runtime data", p.display()))
        })
        .transpose()?
        .map(|rd| rd.report_data());
    if let Some(path) = policy {
        let policy = cairn_attest::AppraisalPolicy::parse(&read(path)?)
            .with_context(|| format!("{} is not a valid policy", path.display()))?;
        return Ok(match policy.appraise(&verified, binding.as_ref()) {
            Ok(a) => {
                eprintln!(
                    "appraisal: accepted by policy {} ({})",
                    a.policy.id, a.policy.hash
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("appraisal refused: {e}");
                ExitCode::from(1)
            }
        });
    }
    if let Some(expected) = binding
        && expected != verified.report_data
    {
        eprintln!("refused: report data does not bind the runtime data (nonce and public key)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn time(at: Option<&str>) -> anyhow::Result<UnixTime> {
    Ok(match at {
        Some(s) => UnixTime::parse_rfc3339(s)?,
        None => UnixTime::now(),
    })
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_secret_line(path: &Path) -> anyhow::Result<String> {
    let text = String::from_utf8(read(path)?)
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    Ok(text.trim().to_owned())
}

fn read_token(arg: &str) -> anyhow::Result<String> {
    let raw = match arg {
        "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading the token from stdin")?;
            s
        }
        a => match a.strip_prefix('@') {
            Some(path) => {
                String::from_utf8(read(Path::new(path))?).context("token file is not UTF-8")?
            }
            None => a.to_owned(),
        },
    };
    Ok(raw.trim().to_owned())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Subcommand as _;

    use super::AttestCmd;

    #[test]
    fn every_subcommand_and_argument_is_documented() {
        let attest = AttestCmd::augment_subcommands(clap::Command::new("attest"));
        let mut subcommands = 0;
        for sub in attest.get_subcommands() {
            subcommands += 1;
            let name = sub.get_name();
            assert!(sub.get_about().is_some(), "{name} has no about text");
            assert!(
                sub.get_after_help()
                    .is_some_and(|h| h.to_string().contains("Exit status")),
                "{name} does not document its exit status"
            );
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some_and(|h| !h.to_string().is_empty()),
                    "{name} --{} has no help",
                    arg.get_id()
                );
            }
        }
        assert_eq!(subcommands, 8);
    }
}
