//! Cryptogen: generates each organization's CA, MSP config and identities
//! on disk (the layout is in the crate doc).

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::ca::{CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority, IssueRequest};
use crate::error::{CryptogenError, LoadError};
use crate::identity::{Role, SigningIdentity};
use crate::keys::{KeyType, SigningKey};

/// File name of an organization's MSP configuration.
pub const MSP_CONFIG_FILE: &str = "msp.json";

/// What to generate for each organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of peers (`peer0` ..).
    pub peers: u32,
    /// Number of orderers (`orderer0` ..).
    pub orderers: u32,
    /// Number of client users (`user1` ..), besides the admin.
    pub users: u32,
    /// Algorithm of every generated key.
    pub key_type: KeyType,
    /// Validity of every certificate, in days.
    pub validity_days: u32,
    /// Start of validity, unix seconds (default: one minute ago).
    pub not_before: Option<i64>,
    /// Fabric CA attributes written into every user certificate.
    pub user_attrs: BTreeMap<String, String>,
    /// Replace the organizations' directories if the output is not empty.
    pub force: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            peers: 1,
            orderers: 1,
            users: 1,
            key_type: KeyType::Ed25519,
            validity_days: 365,
            not_before: None,
            user_attrs: BTreeMap::new(),
            force: false,
        }
    }
}

/// What was generated for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedOrg {
    /// The organization name as given, e.g. `Org1`.
    pub name: String,
    /// Its MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// `<out>/<name lowercase>`.
    pub dir: PathBuf,
    /// The identities, admin first.
    pub identities: Vec<GeneratedIdentity>,
}

/// One generated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedIdentity {
    /// Its role.
    pub role: Role,
    /// Directory name, e.g. `peer0`.
    pub name: String,
    /// Subject CN, e.g. `peer0.org1.cairn`.
    pub common_name: String,
    /// Directory holding `cert.pem` and `key.pem`.
    pub dir: PathBuf,
    /// Certificate serial, lowercase hex.
    pub serial_hex: String,
}

/// The MSP id cryptogen gives an organization: its name followed by `MSP`.
pub fn msp_id_for(org: &str) -> String {
    format!("{org}MSP")
}

/// Generates CA, MSP config and identities for each of `orgs` under `out`.
///
/// Refuses an existing non-empty `out` unless `opts.force` is set; then only
/// the named organizations' directories are removed and regenerated.
pub fn generate(
    orgs: &[String],
    out: &Path,
    opts: &GenerateOptions,
) -> Result<Vec<GeneratedOrg>, CryptogenError> {
    check_inputs(orgs, opts)?;
    prepare_output(orgs, out, opts.force)?;
    let not_before = opts.not_before.unwrap_or_else(|| crate::unix_now() - 60);
    let not_after = not_before + i64::from(opts.validity_days) * 86_400;
    orgs.iter()
        .map(|org| generate_org(org, out, opts, not_before, not_after))
        .collect()
}

fn generate_org(
    org: &str,
    out: &Path,
    opts: &GenerateOptions,
    not_before: i64,
    not_after: i64,
) -> Result<GeneratedOrg, CryptogenError> {
    let lower = org.to_ascii_lowercase();
    let dir = out.join(&lower);
    let msp_id = msp_id_for(org);
    let ca = CertificateAuthority::new(org, &msp_id, opts.key_type, not_before, not_after)?;
    let ca_dir = dir.join("ca");
    crate::private_file::create_dir_all(&ca_dir)?;
    write_public(&ca_dir.join(CA_CERT_FILE), &ca.certificate().to_pem())?;
    write_private(&ca_dir.join(CA_KEY_FILE), ca.key())?;
    ca.msp_config().save(&dir.join(MSP_CONFIG_FILE))?;

    let domain = format!("{lower}.cairn");
    let mut plan: Vec<(Role, &str, String, String)> = Vec::new();
    plan.push((
        Role::Admin,
        "admins",
        "admin".into(),
        format!("admin@{domain}"),
    ));
    for i in 0..opts.peers {
        plan.push((
            Role::Peer,
            "peers",
            format!("peer{i}"),
            format!("peer{i}.{domain}"),
        ));
    }
    for i in 0..opts.orderers {
        plan.push((
            Role::Orderer,
            "orderers",
            format!("orderer{i}"),
            format!("orderer{i}.{domain}"),
        ));
    }
    for i in 1..=opts.users {
        plan.push((
            Role::Client,
            "users",
            format!("user{i}"),
            format!("user{i}@{domain}"),
        ));
    }

    let mut identities = Vec::with_capacity(plan.len());
    for (role, group, name, common_name) in plan {
        let mut req = IssueRequest {
            common_name: common_name.clone(),
            role: Some(role),
            not_before,
            not_after,
            attrs: BTreeMap::new(),
            tls_names: Vec::new(),
        };
        match role {
            // Nodes double as TLS servers and clients on loopback and by name.
            Role::Peer | Role::Orderer => {
                req.tls_names = vec![common_name.clone(), "localhost".into(), "127.0.0.1".into()];
            }
            Role::Client => req.attrs = opts.user_attrs.clone(),
            Role::Admin => {}
        }
        let (cert, key) = ca.issue(&req, opts.key_type)?;
        let id_dir = dir.join(group).join(&name);
        crate::private_file::create_dir_all(&id_dir)?;
        write_public(&id_dir.join(SigningIdentity::CERT_FILE), &cert.to_pem())?;
        write_private(&id_dir.join(SigningIdentity::KEY_FILE), &key)?;
        identities.push(GeneratedIdentity {
            role,
            name,
            common_name,
            dir: id_dir,
            serial_hex: cert.serial_hex().to_owned(),
        });
    }
    tracing::info!(
        org,
        msp_id,
        identities = identities.len(),
        "generated organization"
    );
    Ok(GeneratedOrg {
        name: org.to_owned(),
        msp_id,
        dir,
        identities,
    })
}

fn check_inputs(orgs: &[String], opts: &GenerateOptions) -> Result<(), CryptogenError> {
    if orgs.is_empty() {
        return Err(CryptogenError::NoOrgs);
    }
    let mut seen = HashSet::new();
    for org in orgs {
        validate_org_name(org)?;
        if !seen.insert(org.to_ascii_lowercase()) {
            return Err(CryptogenError::DuplicateOrg { name: org.clone() });
        }
    }
    if opts.validity_days == 0 {
        return Err(CryptogenError::InvalidOptions {
            reason: "--validity-days must be at least 1".into(),
        });
    }
    if opts.peers > 1000 || opts.orderers > 1000 || opts.users > 1000 {
        return Err(CryptogenError::InvalidOptions {
            reason: "at most 1000 peers, orderers or users per organization".into(),
        });
    }
    Ok(())
}

fn validate_org_name(name: &str) -> Result<(), CryptogenError> {
    let invalid = |reason| CryptogenError::InvalidOrgName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.len() > 48 {
        return Err(invalid("must be 1 to 48 characters long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid("must start with an ASCII letter"));
    }
    // Used as a directory name, a DNS label and a DN value.
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid("only ASCII letters, digits and '-' are allowed"));
    }
    Ok(())
}

fn prepare_output(orgs: &[String], out: &Path, force: bool) -> Result<(), CryptogenError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Io { path, source }
    };
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                if !force {
                    return Err(CryptogenError::OutputNotEmpty {
                        dir: out.to_owned(),
                    });
                }
                for org in orgs {
                    let dir = out.join(org.to_ascii_lowercase());
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
                    }
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dir(out),
        Err(e) => Err(io(out)(e).into()),
    }
}

fn create_dir(dir: &Path) -> Result<(), CryptogenError> {
    std::fs::create_dir_all(dir).map_err(|source| {
        LoadError::Io {
            path: dir.to_owned(),
            source,
        }
        .into()
    })
}

fn write_public(path: &Path, contents: &str) -> Result<(), CryptogenError> {
    std::fs::write(path, contents).map_err(|source| {
        LoadError::Io {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

/// Writes a private key readable by its owner only, atomically (see
/// [`crate::private_file`]).
fn write_private(path: &Path, key: &SigningKey) -> Result<(), CryptogenError> {
    let pem = key.to_pkcs8_pem()?;
    crate::private_file::write_atomic(path, pem.as_bytes())?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn org_names_are_checked() {
        assert!(validate_org_name("Org1").is_ok());
        assert!(validate_org_name("supplier-co").is_ok());
        for bad in ["", "1org", "../x", "a b", "org/1", "ö"] {
            assert!(validate_org_name(bad).is_err(), "{bad:?} accepted");
        }
        let dup = check_inputs(&["Org1".into(), "ORG1".into()], &GenerateOptions::default());
        assert!(matches!(dup, Err(CryptogenError::DuplicateOrg { .. })));
        assert!(matches!(
            check_inputs(&[], &GenerateOptions::default()),
            Err(CryptogenError::NoOrgs)
        ));
    }
}
