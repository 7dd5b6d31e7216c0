//! `cairn infer`: confidential inference (issue 12) from the command line: serve a
//! model as an attested node, run a sealed request against one, register models on
//! the ledger, and manage the key bundle that secret release shares between nodes.
//!
//! The ledger side (the model registry) goes through the gateway of a network made
//! by `cairn up`, as the signing org's client: `cairn_health::registry::GatewayRegistry` is the
//! [`ModelRegistry`] both the node and the client use.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_attest::{PlatformKey, ReleasePolicy, UnixTime, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::AttestationClient;
use cairn_health::registry::GatewayRegistry;
use cairn_infer::caller::CallerPolicy;
use cairn_infer::client::InferClient;
use cairn_infer::keys::KeyBundle;
use cairn_infer::model::{Model, breast_cancer_onnx};
use cairn_infer::policy::ClientPolicy;
use cairn_infer::service::{KeySource, ServeConfig, serve};
use cairn_peer::{GatewayClient, invocation};

use super::client::{ClientOpts, runtime};

/// The registry contract's name (`contracts/model-registry`).
pub const REGISTRY_CONTRACT: &str = "model-registry";

/// `cairn infer` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum InferCmd {
    /// Serve an ONNX model as an attested node behind Oblivious HTTP.
    ///
    /// At start: checks that the model is registered on the ledger (refuses
    /// otherwise), obtains its OHTTP keys (generated, or released by the attestation
    /// service with --key-secret), and an attestation token binding the key
    /// configuration, the model hash and its receipt key (virtual platform: the
    /// measurement is SHA-384 of this executable and --config). Prints "listening on
    /// URL", then serves until interrupted.
    Serve(ServeArgs),
    /// Verify a node against a policy, seal INPUT to it, and print the answer.
    ///
    /// INPUT is JSON: {"rows": [[numbers...], ...]} or just [[...], ...] ("-" reads
    /// standard input). Exit 0 with the outputs, 1 if the node or its answer is
    /// refused (the reason says which check failed), 2 on other errors.
    Run(RunArgs),
    /// Register a model on the ledger (the registering org becomes its owner).
    Register(RegisterArgs),
    /// Show a node's public facts (model, measurement, key id).
    Info {
        /// The node's URL.
        #[arg(long)]
        url: String,
    },
    /// Key bundles: the OHTTP keys the attestation service releases to nodes.
    #[command(subcommand)]
    Keys(KeysCmd),
}

/// Where the model registry is: a network made by `cairn up`.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryArgs {
    /// The network directory `cairn up` created.
    #[arg(long = "dir", default_value = "cairn-network")]
    pub dir: PathBuf,
    /// The org whose client asks the registry.
    #[arg(long = "org", default_value = "Org1")]
    pub org: String,
    /// The registry contract.
    #[arg(long = "registry-contract", default_value = REGISTRY_CONTRACT)]
    pub contract: String,
}

impl RegistryArgs {
    fn gateway(&self, user: &str) -> anyhow::Result<GatewayClient> {
        ClientOpts {
            dir: self.dir.clone(),
            org: self.org.clone(),
            user: user.to_owned(),
            peer: None,
        }
        .gateway()
    }
}

/// `cairn infer serve` arguments.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:9470")]
    listen: SocketAddr,
    /// The ONNX model (default: the bundled breast-cancer model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The node's configuration file, part of its measurement.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Answer only attested callers (JSON: {"audience", "measurements": [hex...],
    /// "allow_virtual"}): each request must carry the caller's token binding this
    /// audience, a nonce from POST /v1/challenge and the request's channel. It is
    /// the provider's own access control, not part of the measurement (so that
    /// callers whose configuration names this node's measurement can be listed).
    #[arg(long)]
    callers: Option<PathBuf>,
    /// Attestation service URL (https).
    #[arg(long)]
    attest: String,
    /// CA certificate (PEM) of the attestation service.
    #[arg(long)]
    attest_ca: Option<PathBuf>,
    /// This host's virtual platform key (created if missing).
    #[arg(long, default_value = "platform.key")]
    platform_key: PathBuf,
    /// Obtain the OHTTP keys from the attestation service's secret release under
    /// this name (so several nodes share one key configuration); without it the
    /// node generates its own key.
    #[arg(long)]
    key_secret: Option<String>,
    /// With --key-secret: fetch the bundle again this often (seconds), to follow rotations.
    #[arg(long, default_value_t = 30)]
    key_refresh: u64,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `cairn infer run` arguments.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The node's URL.
    #[arg(long)]
    url: String,
    /// The client policy (JSON; see docs/inference.md).
    #[arg(long)]
    policy: PathBuf,
    /// Write the answer's signed receipt here (verify with `cairn receipt verify`).
    #[arg(long)]
    receipt_out: Option<PathBuf>,
    /// Also write the attestation service's JWKS here (what offline verification trusts).
    #[arg(long)]
    jwks_out: Option<PathBuf>,
    /// The input rows (JSON), or "-" for standard input.
    input: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `cairn infer register` arguments.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// The model's name.
    #[arg(long)]
    name: String,
    /// The model's version.
    #[arg(long)]
    version: String,
    /// The ONNX model (default: the bundled breast-cancer model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The identity that signs (`user1` or `admin`).
    #[arg(long, default_value = "user1")]
    user: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `cairn infer keys` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCmd {
    /// Write a new key bundle (one fresh key) to FILE (mode 0600).
    New {
        /// The bundle file.
        file: PathBuf,
        /// The first key id.
        #[arg(long, default_value_t = 1)]
        key_id: u8,
    },
    /// Rotate the bundle in FILE: a fresh current key; the old one is kept for --grace seconds.
    Rotate {
        /// The bundle file.
        file: PathBuf,
        /// How long nodes still accept the old key (seconds).
        #[arg(long, default_value_t = 600)]
        grace: u64,
    },
    /// Store the bundle in the attestation service as secret NAME, releasable only
    /// to the listed measurements (admin token required).
    Push {
        /// The bundle file.
        file: PathBuf,
        /// Attestation service URL.
        #[arg(long)]
        attest: String,
        /// Its CA certificate (PEM).
        #[arg(long)]
        attest_ca: Option<PathBuf>,
        /// File holding the admin token.
        #[arg(long)]
        admin_token_file: PathBuf,
        /// The secret's name.
        #[arg(long, default_value = "infer-ohttp-keys")]
        name: String,
        /// Measurements allowed to receive it (hex; repeatable; at least one).
        #[arg(long = "allow-measurement", required = true)]
        allow_measurements: Vec<String>,
        /// Platforms allowed (repeatable; default virtual).
        #[arg(long = "platform", default_value = "virtual")]
        platforms: Vec<String>,
    },
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn load_model(path: Option<&Path>) -> anyhow::Result<Model> {
    match path {
        Some(p) => Model::from_bytes(&read(p)?)
            .with_context(|| format!("{} is not a servable ONNX model", p.display())),
        None => Model::from_bytes(breast_cancer_onnx()).context("the bundled model"),
    }
}

/// Runs a `cairn infer` subcommand.
pub fn run(cmd: InferCmd) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        InferCmd::Serve(args) => rt.block_on(serve_cmd(args)),
        InferCmd::Run(args) => rt.block_on(run_cmd(args)),
        InferCmd::Register(args) => rt.block_on(register_cmd(args)),
        InferCmd::Info { url } => rt.block_on(async {
            let info = cairn_infer::client::fetch_info(&url).await?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(ExitCode::SUCCESS)
        }),
        InferCmd::Keys(k) => rt.block_on(keys_cmd(k)),
    }
}

/// The caller policy file (JSON), if given.
fn caller_policy(path: Option<&Path>) -> anyhow::Result<Option<CallerPolicy>> {
    let Some(path) = path else { return Ok(None) };
    let policy: CallerPolicy = serde_json::from_slice(&read(path)?).with_context(|| {
        format!(
            "{} is not a caller policy (JSON: {{\"audience\", \"measurements\": [hex...], \
             \"allow_virtual\"}})",
            path.display()
        )
    })?;
    policy
        .validate()
        .with_context(|| format!("{}", path.display()))?;
    Ok(Some(policy))
}

async fn serve_cmd(args: ServeArgs) -> anyhow::Result<ExitCode> {
    cairn_attest_client::install_crypto_provider();
    let model = load_model(args.model.as_deref())?;
    let config = args
        .config
        .as_deref()
        .map(read)
        .transpose()?
        .unwrap_or_default();
    let callers = caller_policy(args.callers.as_deref())?;
    let measurement = VirtualMeasurement::of_running_binary(&config)
        .context("cannot read this executable to measure it")?;
    let platform = PlatformKey::load_or_create(&args.platform_key)
        .with_context(|| format!("platform key {}", args.platform_key.display()))?;
    let ca = args.attest_ca.as_deref().map(read).transpose()?;
    let attestation = AttestationClient::new(&args.attest, ca.as_deref())
        .with_context(|| format!("attestation service {}", args.attest))?;
    let registry = GatewayRegistry::new(args.registry.gateway("user1")?, &args.registry.contract);
    let keys = match args.key_secret {
        Some(secret) => KeySource::Release {
            secret,
            refresh: Duration::from_secs(args.key_refresh.max(1)),
        },
        None => KeySource::Generate,
    };
    let running = serve(ServeConfig {
        listen: args.listen,
        model,
        registry: Arc::new(registry),
        attestation,
        attester: Arc::new(VirtualAttester::new(platform, measurement)),
        keys,
        callers,
    })
    .await?;
    let info = running.info();
    // One write: whoever reads the first line may close the pipe after it.
    let mut banner = format!(
        "listening on http://{}\nmodel {} ({}), measurement {}, key id {}\n",
        running.addr,
        info.model_sha256,
        info.model
            .as_ref()
            .map(|m| format!("{} {}", m.name, m.version))
            .unwrap_or_default(),
        info.measurement,
        info.key_id
    );
    if !info.hardware {
        banner.push_str(cairn_infer::client::VIRTUAL_NOTICE);
        banner.push('\n');
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        // A closed stdout must not stop a serving node.
        let _ = stdout
            .write_all(banner.as_bytes())
            .and_then(|()| stdout.flush());
    }
    tokio::signal::ctrl_c().await?;
    running.shutdown();
    Ok(ExitCode::SUCCESS)
}

fn parse_rows(bytes: &[u8]) -> anyhow::Result<Vec<Vec<f32>>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Input {
        Wrapped { rows: Vec<Vec<f32>> },
        Bare(Vec<Vec<f32>>),
    }
    match serde_json::from_slice::<Input>(bytes)
        .context("input is not JSON {\"rows\": [[numbers]]} or [[numbers]]")?
    {
        Input::Wrapped { rows } | Input::Bare(rows) => Ok(rows),
    }
}

async fn run_cmd(args: RunArgs) -> anyhow::Result<ExitCode> {
    let policy = ClientPolicy::load(&args.policy)?;
    let input = if args.input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        buf
    } else {
        read(&args.input)?
    };
    let rows = parse_rows(&input)?;
    let mut client = InferClient::new(&args.url, policy.clone())?;
    if policy.require_registered {
        let gw = args
            .registry
            .gateway("user1")
            .context("the policy requires a registered model: give the network with --dir/--org")?;
        client = client.with_registry(Arc::new(GatewayRegistry::new(gw, &args.registry.contract)));
    }
    let node = match client.attest().await {
        Ok(n) => n,
        Err(cairn_infer::client::InferError::Refused(r)) => {
            eprintln!("refused: {r}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(notice) = node.notice {
        eprintln!("{notice}");
    }
    let answer = match client.infer(&node, rows).await {
        Ok(a) => a,
        Err(cairn_infer::client::InferError::Refused(r)) => {
            eprintln!("refused: {r}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = &args.receipt_out {
        std::fs::write(path, serde_json::to_vec_pretty(&answer.receipt)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.jwks_out {
        std::fs::write(path, client.jwks_json().await?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let out = serde_json::json!({
        "outputs": answer.outputs,
        "model_sha256": node.model_sha256,
        "model": node.registered.as_ref().map(|m| format!("{} {}", m.name, m.version)),
        "measurement": node.claims.measurement,
        "hardware": node.claims.hardware,
        "notice": answer.notice,
        "key_outdated": answer.outdated_key,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    if let Some(notice) = answer.notice {
        eprintln!("{notice}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn register_cmd(args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let model = load_model(args.model.as_deref())?;
    let signature = serde_json::to_string(model.signature())?;
    let gw = args.registry.gateway(&args.user)?;
    let done = gw
        .submit_invocation(
            invocation(
                &args.registry.contract,
                "RegisterModel",
                &[&args.name, &args.version, model.sha256_hex(), &signature],
            ),
            Default::default(),
            &[],
        )
        .await?;
    println!(
        "registered {} {} (sha256 {}) in tx {}, block {}",
        args.name,
        args.version,
        model.sha256_hex(),
        done.txid,
        done.block
    );
    Ok(ExitCode::SUCCESS)
}

async fn keys_cmd(cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCmd::New { file, key_id } => {
            if file.exists() {
                bail!(
                    "{} exists: rotate it with `cairn infer keys rotate`, or remove it first",
                    file.display()
                );
            }
            let bundle = KeyBundle::generate(key_id)?;
            cairn_crypto::private_file::write_atomic(&file, &bundle.to_json())?;
            println!("wrote key bundle {} (key id {key_id})", file.display());
        }
        KeysCmd::Rotate { file, grace } => {
            let bundle = KeyBundle::from_json(&read(&file)?)?;
            let rotated = bundle.rotate(grace, UnixTime::now())?;
            cairn_crypto::private_file::write_atomic(&file, &rotated.to_json())?;
            println!(
                "rotated {}: current key id {}, key id {} accepted for {grace} s more",
                file.display(),
                rotated.current.key_id,
                bundle.current.key_id
            );
        }
        KeysCmd::Push {
            file,
            attest,
            attest_ca,
            admin_token_file,
            name,
            allow_measurements,
            platforms,
        } => {
            let bundle = read(&file)?;
            KeyBundle::from_json(&bundle)
                .with_context(|| format!("{} is not a key bundle", file.display()))?;
            let release: ReleasePolicy = serde_json::from_value(serde_json::json!({
                "platforms": platforms,
                "allowed_measurements": allow_measurements,
            }))
            .context("release policy")?;
            let ca = attest_ca.as_deref().map(read).transpose()?;
            let client = AttestationClient::new(&attest, ca.as_deref())?;
            let token = String::from_utf8(read(&admin_token_file)?)
                .context("the admin token file is not text")?;
            client
                .replace_secret(token.trim(), &name, &bundle, &release)
                .await?;
            println!("stored key bundle as secret {name} in {attest}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
