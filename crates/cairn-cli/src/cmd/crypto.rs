//! `cairn crypto`: generate organizations' keys and certificates, inspect
//! a certificate, revoke one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cairn_crypto::{
    Certificate, GenerateOptions, KeyType, Msp, MspConfig, format_unix_time, generate, unix_now,
};

/// `cairn crypto` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum CryptoCmd {
    /// Generate a CA, an msp.json and identities for each organization.
    ///
    /// Layout: DIR/<org>/ca/{ca.pem,ca.key}, DIR/<org>/msp.json,
    /// DIR/<org>/{admins/admin,peers/peerN,orderers/ordererN,users/userN}/{cert.pem,key.pem}.
    Generate {
        /// Organization names, comma-separated (MSP ids become <Org>MSP).
        #[arg(long, value_delimiter = ',', required = true)]
        orgs: Vec<String>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Peers per organization.
        #[arg(long, default_value_t = 1)]
        peers: u32,
        /// Orderers per organization.
        #[arg(long, default_value_t = 1)]
        orderers: u32,
        /// Client users per organization (besides the admin).
        #[arg(long, default_value_t = 1)]
        users: u32,
        /// Key algorithm: ed25519 or p256.
        #[arg(long, default_value = "ed25519")]
        key_type: KeyType,
        /// Certificate validity in days.
        #[arg(long, default_value_t = 365)]
        validity_days: u32,
        /// Fabric CA attribute for user certificates, KEY=VALUE (repeatable).
        #[arg(long = "user-attr", value_name = "KEY=VALUE")]
        user_attrs: Vec<String>,
        /// Replace the organizations' directories if DIR is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Print a certificate's MSP id, role, subject, serial and validity.
    Show {
        /// The certificate (PEM).
        cert: PathBuf,
        /// Also validate it against this msp.json.
        #[arg(long)]
        msp: Option<PathBuf>,
        /// Time for --msp validation, unix seconds (default: now).
        #[arg(long, requires = "msp")]
        at: Option<i64>,
    },
    /// Add a certificate's serial to an msp.json revocation list.
    Revoke {
        /// The msp.json to update.
        #[arg(long)]
        msp: PathBuf,
        /// The serial number (hex, colons allowed).
        #[arg(long, required_unless_present = "cert", conflicts_with = "cert")]
        serial: Option<String>,
        /// Or the certificate (PEM) to revoke.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
}

/// Runs a `cairn crypto` subcommand.
pub fn run(cmd: CryptoCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CryptoCmd::Generate {
            orgs,
            out,
            peers,
            orderers,
            users,
            key_type,
            validity_days,
            user_attrs,
            force,
        } => {
            let opts = GenerateOptions {
                peers,
                orderers,
                users,
                key_type,
                validity_days,
                not_before: None,
                user_attrs: parse_attrs(&user_attrs)?,
                force,
            };
            let generated = generate(&orgs, &out, &opts)?;
            println!(
                "generated {} organization(s) in {} ({key_type} keys, valid {validity_days} days)",
                generated.len(),
                out.display()
            );
            for org in &generated {
                println!("{} ({}): {}", org.name, org.msp_id, org.dir.display());
                println!("  ca        {}", org.dir.join("ca").display());
                println!(
                    "  msp.json  {}",
                    org.dir.join(cairn_crypto::MSP_CONFIG_FILE).display()
                );
                for id in &org.identities {
                    println!(
                        "  {:<8}  {:<24} {}  serial {}",
                        id.role.as_str(),
                        id.common_name,
                        id.dir.display(),
                        id.serial_hex
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CryptoCmd::Show { cert, msp, at } => show(&cert, msp.as_deref(), at),
        CryptoCmd::Revoke { msp, serial, cert } => {
            let mut config = MspConfig::load(&msp)?;
            let serial = match (serial, cert) {
                (Some(s), _) => s,
                (None, Some(path)) => read_cert(&path)?.serial_hex().to_owned(),
                (None, None) => anyhow::bail!("pass --serial or --cert"),
            };
            let added = config.revoke(&serial)?;
            // Refuse to write a config that would no longer load.
            Msp::from_config(&config).context("the updated MSP config is invalid")?;
            config.save(&msp)?;
            if added {
                println!(
                    "revoked serial {serial} in {} ({})",
                    msp.display(),
                    config.msp_id
                );
            } else {
                println!("serial {serial} was already revoked in {}", msp.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn show(
    path: &std::path::Path,
    msp: Option<&std::path::Path>,
    at: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let cert = read_cert(path)?;
    let role = cert
        .role()
        .map(|r| r.to_string())
        .unwrap_or_else(|e| format!("none ({e})"));
    println!(
        "msp id:     {}",
        cert.msp_id_claim().unwrap_or("(not named in certificate)")
    );
    println!("role:       {role}");
    println!("subject:    {}", cert.subject());
    println!("issuer:     {}", cert.issuer());
    println!("serial:     {}", cert.serial_hex());
    println!(
        "not before: {} ({})",
        format_unix_time(cert.not_before()),
        cert.not_before()
    );
    println!(
        "not after:  {} ({})",
        format_unix_time(cert.not_after()),
        cert.not_after()
    );
    println!("key:        {}", cert.public_key().key_type());
    println!("ca:         {}", cert.is_ca());
    for (k, v) in cert.attrs() {
        println!("attr:       {k}={v}");
    }
    let Some(msp_path) = msp else {
        return Ok(ExitCode::SUCCESS);
    };
    let msp = Msp::from_config(&MspConfig::load(msp_path)?)
        .with_context(|| format!("loading {}", msp_path.display()))?;
    match msp.validate(cert.der(), at.unwrap_or_else(unix_now)) {
        Ok(id) => {
            println!("valid:      yes, {} {}", id.msp_id(), id.role());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("valid:      no, {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read_cert(path: &std::path::Path) -> anyhow::Result<Certificate> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Certificate::from_pem(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse_attrs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("--user-attr {p:?} is not KEY=VALUE"))?;
            anyhow::ensure!(!k.is_empty(), "--user-attr {p:?} has an empty key");
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}
