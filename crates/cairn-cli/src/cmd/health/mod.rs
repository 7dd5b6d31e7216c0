//! `cairn health`: the healthcare scenario's services (issue 13) — the medical
//! platform (`platform serve`) and the hospital's portal server (`portal serve`) —
//! and `cairn demo healthcare` ([`demo`]), which runs the three parties together.
//!
//! Both services sign as a client of their org in a network made by `cairn up`
//! and talk to that org's peer (Fabric Gateway's rule). Each prints `listening on
//! URL` as its first line (one write), then serves until interrupted.

pub mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cairn_attest::{PlatformKey, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::AttestationClient;
use cairn_health::platform::{DiagnosticsLink, PlatformConfig, RECORDS_CONTRACT};
use cairn_health::portal::{PinnedPolicy, PortalConfig};
use cairn_health::registry::{GatewayRegistry, REGISTRY_CONTRACT};
use cairn_infer::policy::ClientPolicy;
use serde::Deserialize;

use super::client::{ClientOpts, runtime};

/// `cairn health` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum HealthCmd {
    /// The medical platform: patients and diagnoses for the hospital.
    #[command(subcommand)]
    Platform(PlatformCmd),
    /// The hospital's portal server: the static web portal and its relays.
    #[command(subcommand)]
    Portal(PortalCmd),
}

/// `cairn health platform` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PlatformCmd {
    /// Serve the medical platform's API as an attested workload.
    ///
    /// Patients and diagnoses are kept in the health-records contract's private
    /// collection (hospital and platform orgs only), written as the platform org's
    /// client. A diagnosis is asked of the diagnostics node named in --config,
    /// verified against that file's policy, presenting the platform's own token
    /// (audience, the node's nonce, the request's channel); its audit record is
    /// written on the channel. Virtual platform: the measurement is SHA-384 of this
    /// executable and --config.
    Serve(PlatformArgs),
}

/// `cairn health portal` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PortalCmd {
    /// Serve the hospital's web portal (static files) with the pinned policy the
    /// browser verifies tokens against, the attestation service's JWKS and nonces,
    /// receipts from the hospital's own peer, and a relay to the platform's API.
    Serve(PortalArgs),
}

/// Where the org's client is: a network made by `cairn up`.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// The network directory `cairn up` created.
    #[arg(long = "dir", default_value = "cairn-network")]
    pub dir: PathBuf,
}

/// `cairn health platform serve` arguments.
#[derive(clap::Args, Debug)]
pub struct PlatformArgs {
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:9480")]
    listen: SocketAddr,
    /// The platform's configuration (TOML, part of its measurement): a
    /// [diagnostics] table with url, audience and a [diagnostics.policy] table (the
    /// inference client policy: attestation_url, attestation_ca, issuer,
    /// measurements, models, allow_virtual, require_registered).
    #[arg(long)]
    config: PathBuf,
    /// Attestation service URL (https).
    #[arg(long)]
    attest: String,
    /// CA certificate (PEM) of the attestation service.
    #[arg(long)]
    attest_ca: Option<PathBuf>,
    /// This host's virtual platform key (created if missing).
    #[arg(long, default_value = "platform.key")]
    platform_key: PathBuf,
    /// The org whose client the platform is.
    #[arg(long, default_value = "Org2")]
    org: String,
    /// The records contract.
    #[arg(long, default_value = RECORDS_CONTRACT)]
    contract: String,
    /// The model registry contract.
    #[arg(long = "registry-contract", default_value = REGISTRY_CONTRACT)]
    registry_contract: String,
    #[command(flatten)]
    net: NetArgs,
}

/// `cairn health portal serve` arguments.
#[derive(clap::Args, Debug)]
pub struct PortalArgs {
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// The medical platform's URL.
    #[arg(long)]
    platform: String,
    /// The pinned policy the browser checks tokens against (JSON: issuer,
    /// platform_measurements, diagnostics_measurements, allow_virtual, hospital,
    /// platform, diagnostics).
    #[arg(long)]
    policy: PathBuf,
    /// Attestation service URL (https).
    #[arg(long)]
    attest: String,
    /// CA certificate (PEM) of the attestation service.
    #[arg(long)]
    attest_ca: Option<PathBuf>,
    /// The hospital's org (receipts come from its peer).
    #[arg(long, default_value = "Org1")]
    org: String,
    #[command(flatten)]
    net: NetArgs,
}

/// The platform's configuration file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PlatformFile {
    /// The diagnostics node.
    pub diagnostics: DiagnosticsFile,
}

/// The `[diagnostics]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticsFile {
    /// The node's URL.
    pub url: String,
    /// Its audience.
    pub audience: String,
    /// What it must prove.
    pub policy: ClientPolicy,
}

/// Runs a `cairn health` subcommand.
pub fn run(cmd: HealthCmd) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        HealthCmd::Platform(PlatformCmd::Serve(a)) => rt.block_on(platform_cmd(a)),
        HealthCmd::Portal(PortalCmd::Serve(a)) => rt.block_on(portal_cmd(a)),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn client_of(net: &NetArgs, org: &str) -> anyhow::Result<cairn_peer::GatewayClient> {
    ClientOpts {
        dir: net.dir.clone(),
        org: org.to_owned(),
        user: "user1".into(),
        peer: None,
    }
    .gateway()
}

fn attestation(url: &str, ca: Option<&Path>) -> anyhow::Result<AttestationClient> {
    let ca = ca.map(read).transpose()?;
    AttestationClient::new(url, ca.as_deref()).with_context(|| format!("attestation service {url}"))
}

/// Parses the platform's configuration; a relative `attestation_ca` is relative to
/// the file.
pub fn parse_platform_file(bytes: &[u8], path: &Path) -> anyhow::Result<PlatformFile> {
    let text = std::str::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut file: PlatformFile = toml::from_str(text).with_context(|| {
        format!(
            "{} is not a platform configuration ([diagnostics] url, audience, and \
             [diagnostics.policy])",
            path.display()
        )
    })?;
    if let Some(ca) = &file.diagnostics.policy.attestation_ca
        && ca.is_relative()
    {
        let base = path.parent().unwrap_or(Path::new("."));
        file.diagnostics.policy.attestation_ca = Some(base.join(ca));
    }
    Ok(file)
}

async fn platform_cmd(args: PlatformArgs) -> anyhow::Result<ExitCode> {
    cairn_attest_client::install_crypto_provider();
    let config = read(&args.config)?;
    let file = parse_platform_file(&config, &args.config)?;
    let measurement = VirtualMeasurement::of_running_binary(&config)
        .context("cannot read this executable to measure it")?;
    let platform = PlatformKey::load_or_create(&args.platform_key)
        .with_context(|| format!("platform key {}", args.platform_key.display()))?;
    let gateway = client_of(&args.net, &args.org)?;
    let registry = GatewayRegistry::new(gateway.clone(), &args.registry_contract);
    let running = cairn_health::platform::serve(PlatformConfig {
        listen: args.listen,
        gateway,
        contract: args.contract,
        attestation: attestation(&args.attest, args.attest_ca.as_deref())?,
        attester: Arc::new(VirtualAttester::new(platform, measurement)),
        diagnostics: DiagnosticsLink {
            url: file.diagnostics.url,
            policy: file.diagnostics.policy,
            audience: file.diagnostics.audience,
            registry: Arc::new(registry),
        },
    })
    .await?;
    // One write: whoever reads the first line may close the pipe after it.
    let mut banner = format!(
        "listening on http://{}\nmeasurement {} ({})\n",
        running.addr, running.info.measurement, running.info.platform
    );
    if !running.info.hardware {
        banner.push_str("virtual: not hardware-attested\n");
    }
    print!("{banner}");
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}

async fn portal_cmd(args: PortalArgs) -> anyhow::Result<ExitCode> {
    cairn_attest_client::install_crypto_provider();
    let pinned: PinnedPolicy = serde_json::from_slice(&read(&args.policy)?).with_context(|| {
        format!(
            "{} is not a pinned policy (JSON: issuer, platform_measurements, \
             diagnostics_measurements, allow_virtual, hospital, platform, diagnostics)",
            args.policy.display()
        )
    })?;
    let running = cairn_health::portal::serve(PortalConfig {
        listen: args.listen,
        platform_url: args.platform,
        attestation: attestation(&args.attest, args.attest_ca.as_deref())?,
        pinned,
        hospital: client_of(&args.net, &args.org)?,
    })
    .await?;
    println!("listening on {}", running.url().trim_end_matches('/'));
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}
