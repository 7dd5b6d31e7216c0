//! `cairn demo healthcare`: the three parties of the healthcare scenario on one
//! machine, each service its own process.
//!
//! - the network (`cairn up`): Org1 is the hospital, Org2 the medical platform,
//!   Org3 the diagnostics provider; the `model-registry` contract (any org's peer
//!   endorses) and the `health-records` contract with its `hospitalPlatform`
//!   collection (hospital and platform peers endorse);
//! - an attestation service (`cairn attest serve`) whose virtual policy lists the
//!   diagnostics node's and the platform's measurements;
//! - the diagnostics node (`cairn infer serve`, Org3) serving the registered
//!   breast-cancer model to attested callers with the platform's measurement only;
//! - the medical platform (`cairn health platform serve`, Org2), whose measured
//!   configuration pins the diagnostics node's measurement and model;
//! - the hospital's portal server (`cairn health portal serve`, Org1), whose pinned
//!   policy lists both measurements.
//!
//! Ports are fixed from `--base-port` so that every configuration (and so every
//! measurement) is known before anything starts. `services.json` in the demo
//! directory names every URL, log and measurement. Ctrl-C stops the services and
//! the network; the data stays for the next run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_attest::{Platform, PlatformKey, VirtualMeasurement};
use cairn_attest_client::AttestationClient;
use cairn_health::platform::RECORDS_CONTRACT;
use cairn_health::registry::{GatewayRegistry, REGISTRY_CONTRACT};
use cairn_infer::model::{Model, breast_cancer_onnx};
use cairn_infer::registry::ModelRegistry;
use rand::RngCore;
use serde_json::json;

use super::super::bench::deploy::ensure_contract;
use super::super::client::runtime;
use super::super::up::layout::Network;
use super::super::up::process::{self, NodeFiles};
use super::super::up::{self as up_cmd, DirArgs, UpArgs, setup};

const RECORDS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/health-records"
);
const REGISTRY_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/model-registry"
);
const SAMPLE_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/asset-transfer"
);
const VECTORS: &str = include_str!("../../../../../models/breast-cancer/vectors.json");
/// Endorsement of the records contract: the collection's members.
pub const RECORDS_ENDORSEMENT: &str = "OR('Org1MSP.peer','Org2MSP.peer')";
const REGISTRY_ENDORSEMENT: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')";
/// The diagnostics node's audience.
pub const AUDIENCE: &str = "https://diagnostics.org3.cairn.local/infer";

/// `cairn demo healthcare` options.
#[derive(clap::Args, Debug)]
pub struct HealthDemoArgs {
    /// The demo's directory: the network, the services' state, configs and logs.
    #[arg(long, default_value = "cairn-healthcare")]
    dir: PathBuf,
    /// First port of the network (as `cairn up`); the attestation service uses
    /// BASE+300, the diagnostics node BASE+310, the platform BASE+311.
    #[arg(long, default_value_t = 7450)]
    base_port: u16,
    /// The portal's port.
    #[arg(long, default_value_t = 8480)]
    portal_port: u16,
}

/// The services this run started; stopped on drop (an error, or Ctrl-C).
struct Services(Vec<NodeFiles>);

impl Drop for Services {
    fn drop(&mut self) {
        for s in self.0.iter().rev() {
            let _ = process::stop(s);
        }
    }
}

fn service(dir: &Path, name: &str, config: &Path, args: Vec<String>) -> NodeFiles {
    NodeFiles {
        name: name.to_owned(),
        config: config.to_owned(),
        args: args.into_iter().map(Into::into).collect(),
        log: dir.join("logs").join(format!("{name}.log")),
        pid: dir.join("pids").join(format!("{name}.pid")),
    }
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(d) = path.parent() {
        cairn_crypto::private_file::create_dir_all(d)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Waits until `probe` succeeds, or the process exits, or 60 s pass.
fn wait_for(
    files: &NodeFiles,
    child: &mut std::process::Child,
    mut probe: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}) while starting; see {}",
                files.name,
                files.log.display()
            );
        }
        if probe() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not answer within 60 s; see {}",
                files.name,
                files.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs the demo until Ctrl-C.
pub fn run(args: HealthDemoArgs) -> anyhow::Result<ExitCode> {
    cairn_attest_client::install_crypto_provider();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::path::absolute(&args.dir)?;
    let net_dir = dir.join("net");
    let base = args.base_port;
    let port = |off: u16| {
        base.checked_add(off)
            .context("--base-port is too high for the ports the demo needs")
    };
    let attest_url = format!("https://127.0.0.1:{}", port(300)?);
    let diag_url = format!("http://127.0.0.1:{}", port(310)?);
    let platform_url = format!("http://127.0.0.1:{}", port(311)?);
    let portal_url = format!("http://127.0.0.1:{}/", args.portal_port);

    println!("==> the network: Org1 = hospital, Org2 = medical platform, Org3 = diagnostics");
    let code = up_cmd::up(UpArgs {
        dir: net_dir.clone(),
        orgs: 3,
        org_names: Vec::new(),
        peers_per_org: 1,
        orderers: None,
        base_port: base,
        channel: "mychannel".into(),
        contract: SAMPLE_CONTRACT.into(),
        detach: true,
        attest: false,
    })?;
    if code != ExitCode::SUCCESS {
        bail!("cairn up failed; see the logs in {}", net_dir.display());
    }
    let result = run_services(
        &dir,
        &net_dir,
        &attest_url,
        &diag_url,
        &platform_url,
        &portal_url,
        args.portal_port,
    );
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
    }
    println!("==> stopping the network");
    up_cmd::down(DirArgs { dir: net_dir })?;
    result
}

#[allow(clippy::too_many_arguments, reason = "one call site, all URLs")]
fn run_services(
    dir: &Path,
    net_dir: &Path,
    attest_url: &str,
    diag_url: &str,
    platform_url: &str,
    portal_url: &str,
    portal_port: u16,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let net = Network::load(net_dir)?;
    println!(
        "==> contracts: {REGISTRY_CONTRACT}, {RECORDS_CONTRACT} (collection hospitalPlatform)"
    );
    rt.block_on(async {
        ensure_contract(
            &net,
            REGISTRY_CONTRACT,
            Path::new(REGISTRY_DIR),
            REGISTRY_ENDORSEMENT,
            None,
        )
        .await?;
        let collections = std::fs::read_to_string(Path::new(RECORDS_DIR).join("collections.json"))
            .context("the health-records collections file")?;
        ensure_contract(
            &net,
            RECORDS_CONTRACT,
            Path::new(RECORDS_DIR),
            RECORDS_ENDORSEMENT,
            Some(&collections),
        )
        .await
    })?;

    let mut services = Services(Vec::new());
    // The attestation service (its own party), with a token for the admin.
    let attest_dir = dir.join("attest");
    let admin_file = attest_dir.join("admin-token");
    if !admin_file.exists() {
        let mut t = [0u8; 24];
        rand::rng().fill_bytes(&mut t);
        write(&admin_file, hex::encode(t).as_bytes())?;
    }
    let admin = std::fs::read_to_string(&admin_file)?.trim().to_owned();
    let state = attest_dir.join("state");
    let attest = service(
        dir,
        "attestation",
        &state,
        vec![
            "attest".into(),
            "serve".into(),
            "--listen".into(),
            attest_url.trim_start_matches("https://").into(),
            "--state-dir".into(),
            s(&state),
            "--admin-token-file".into(),
            s(&admin_file),
            "--nonces-per-client".into(),
            "1024".into(),
        ],
    );
    println!("==> attestation service {attest_url}");
    let _ = process::stop(&attest);
    let mut child = process::spawn(&attest)?;
    services.0.push(attest.clone());
    let ca_path = state.join("tls/cert.pem");
    wait_for(&attest, &mut child, || {
        std::fs::read(&ca_path)
            .ok()
            .and_then(|ca| AttestationClient::new(attest_url, Some(&ca)).ok())
            .is_some_and(|c| rt.block_on(c.jwks_json()).is_ok())
    })?;
    let ca = std::fs::read(&ca_path)?;
    let attestation = AttestationClient::new(attest_url, Some(&ca))?;

    // Configurations, and so measurements, before any workload starts.
    let platform_key_path = dir.join("platform.key");
    let platform_key = PlatformKey::load_or_create(&platform_key_path)?;
    let model = Model::from_bytes(breast_cancer_onnx()).context("the bundled model")?;
    let diag_config = dir.join("diagnostics/infer.toml");
    write(
        &diag_config,
        b"# the diagnostics node (measured)\nmodel = \"breast-cancer\"\n",
    )?;
    let diag_m = VirtualMeasurement::of_running_binary(&std::fs::read(&diag_config)?)?.hex();
    let platform_config = dir.join("platform/platform.toml");
    let platform_text = format!(
        "# The medical platform (measured): the diagnostics node it may send model\n\
         # inputs to, and what that node must prove.\n\
         [diagnostics]\nurl = {diag_url:?}\naudience = {AUDIENCE:?}\n\n\
         [diagnostics.policy]\nattestation_url = {attest_url:?}\nattestation_ca = {:?}\n\
         issuer = {attest_url:?}\nmeasurements = [{diag_m:?}]\nmodels = [{:?}]\n\
         allow_virtual = true\nrequire_registered = true\n",
        s(&ca_path),
        model.sha256_hex()
    );
    write(&platform_config, platform_text.as_bytes())?;
    let platform_m = VirtualMeasurement::of_running_binary(platform_text.as_bytes())?.hex();
    let callers = dir.join("diagnostics/callers.json");
    write(
        &callers,
        json!({ "audience": AUDIENCE, "measurements": [platform_m], "allow_virtual": true })
            .to_string()
            .as_bytes(),
    )?;
    let policy = json!({
        "id": "healthcare-virtual", "platform": "virtual",
        "allowed_measurements": [diag_m, platform_m],
        "trusted_platform_keys": [platform_key.public_hex()],
        "token_ttl_secs": 600,
    });
    rt.block_on(attestation.replace_policy(
        &admin,
        Platform::Virtual,
        policy.to_string().as_bytes(),
    ))
    .context("cannot set the attestation policy")?;

    // The model, registered by the diagnostics org (once).
    let org3 = setup::gateway(
        &net,
        net.peers()
            .find(|p| p.org_dir == "org3")
            .context("no Org3 peer")?,
        "users/user1",
    )?;
    let registry = GatewayRegistry::new(org3, REGISTRY_CONTRACT);
    if rt
        .block_on(registry.find_by_hash(model.sha256_hex()))?
        .is_none()
    {
        println!("==> Org3 registers the breast-cancer model");
        let exe = std::env::current_exe()?;
        let out = std::process::Command::new(exe)
            .args(["infer", "register", "--dir", &s(net_dir), "--org", "Org3"])
            .args(["--name", "breast-cancer", "--version", "1"])
            .output()?;
        if !out.status.success() {
            bail!(
                "registering the model failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let common = |listen: &str| -> Vec<String> {
        vec![
            "--listen".into(),
            listen.trim_start_matches("http://").into(),
            "--attest".into(),
            attest_url.into(),
            "--attest-ca".into(),
            s(&ca_path),
            "--platform-key".into(),
            s(&platform_key_path),
            "--dir".into(),
            s(net_dir),
        ]
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let up = |url: String| {
        let http = http.clone();
        let rt = &rt;
        move || {
            rt.block_on(async { http.get(&url).send().await })
                .is_ok_and(|r| r.status().is_success())
        }
    };

    println!("==> diagnostics node (Org3) {diag_url}, measurement {diag_m}");
    let mut a = vec!["infer".into(), "serve".into()];
    a.extend(common(diag_url));
    a.extend([
        "--config".into(),
        s(&diag_config),
        "--callers".into(),
        s(&callers),
    ]);
    a.extend(["--org".into(), "Org3".into()]);
    let diag = service(dir, "diagnostics", &diag_config, a);
    let _ = process::stop(&diag);
    let mut child = process::spawn(&diag)?;
    services.0.push(diag.clone());
    wait_for(&diag, &mut child, up(format!("{diag_url}/v1/info")))?;

    println!("==> medical platform (Org2) {platform_url}, measurement {platform_m}");
    let mut a = vec!["health".into(), "platform".into(), "serve".into()];
    a.extend(common(platform_url));
    a.extend(["--config".into(), s(&platform_config)]);
    let platform = service(dir, "platform", &platform_config, a);
    let _ = process::stop(&platform);
    let mut child = process::spawn(&platform)?;
    services.0.push(platform.clone());
    wait_for(
        &platform,
        &mut child,
        up(format!("{platform_url}/api/info")),
    )?;

    let pinned = dir.join("portal/pinned-policy.json");
    write(
        &pinned,
        serde_json::to_string_pretty(&json!({
            "issuer": attest_url,
            "platform_measurements": [platform_m],
            "diagnostics_measurements": [diag_m],
            "allow_virtual": true,
            "hospital": "Org1MSP", "platform": "Org2MSP", "diagnostics": "Org3MSP",
        }))?
        .as_bytes(),
    )?;
    println!("==> hospital portal (Org1) {portal_url}");
    let a = vec![
        "health".into(),
        "portal".into(),
        "serve".into(),
        "--listen".into(),
        format!("127.0.0.1:{portal_port}"),
        "--platform".into(),
        platform_url.into(),
        "--policy".into(),
        s(&pinned),
        "--attest".into(),
        attest_url.into(),
        "--attest-ca".into(),
        s(&ca_path),
        "--dir".into(),
        s(net_dir),
        "--org".into(),
        "Org1".into(),
    ];
    let portal = service(dir, "portal", &pinned, a);
    let _ = process::stop(&portal);
    let mut child = process::spawn(&portal)?;
    services.0.push(portal.clone());
    wait_for(
        &portal,
        &mut child,
        up(format!("{portal_url}portal/config.json")),
    )?;

    let samples = write_samples(dir)?;
    let facts = json!({
        "portal": portal_url,
        "platform": platform_url,
        "diagnostics": diag_url,
        "attestation": attest_url,
        "attestation_ca": s(&ca_path),
        "network": s(net_dir),
        "measurements": { "platform": platform_m, "diagnostics": diag_m },
        "model_sha256": model.sha256_hex(),
        "samples": samples.iter().map(|p| s(p)).collect::<Vec<_>>(),
        "logs": services.0.iter().map(|f| (f.name.clone(), s(&f.log))).collect::<std::collections::BTreeMap<_, _>>(),
        "pids": services.0.iter().map(|f| (f.name.clone(), std::fs::read_to_string(&f.pid).unwrap_or_default().trim().to_owned())).collect::<std::collections::BTreeMap<_, _>>(),
    });
    write(
        &dir.join("services.json"),
        serde_json::to_string_pretty(&facts)?.as_bytes(),
    )?;
    // One write: a reader may stop at the portal line.
    print!(
        "\nThe healthcare scenario is up (virtual attestation: software only, no hardware TEE).\n\
         \x20 portal       {portal_url}\n\
         \x20 platform     {platform_url}   (Org2, measurement {platform_m})\n\
         \x20 diagnostics  {diag_url}   (Org3, measurement {diag_m})\n\
         \x20 attestation  {attest_url}\n\
         \x20 samples      {}\n\
         \x20 services     {}\n\
         Open the portal, admit a patient, upload a sample, run a diagnosis.\n\
         portal: {portal_url}\n\
         Ctrl-C stops everything.\n",
        samples.iter().map(|p| s(p)).collect::<Vec<_>>().join(", "),
        s(&dir.join("services.json")),
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    println!("==> stopping the services");
    drop(services);
    Ok(ExitCode::SUCCESS)
}

/// Two diagnostic inputs from the model's test set (one of each class), as files
/// the portal's upload takes.
fn write_samples(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let v: serde_json::Value = serde_json::from_str(VECTORS).context("the model's vectors")?;
    let inputs = v["inputs"].as_array().context("vectors: inputs")?;
    let probs = v["onnxruntime_probability"]
        .as_array()
        .context("vectors: probabilities")?;
    let mut out = Vec::new();
    for (want_malignant, name) in [
        (true, "sample-malignant.json"),
        (false, "sample-benign.json"),
    ] {
        let i = probs
            .iter()
            .position(|p| p.as_f64().is_some_and(|p| (p >= 0.5) == want_malignant))
            .context("the vectors have no sample of each class")?;
        let path = dir.join("samples").join(name);
        write(
            &path,
            serde_json::to_string_pretty(&json!({ "features": inputs[i] }))?.as_bytes(),
        )?;
        out.push(path);
    }
    Ok(out)
}
