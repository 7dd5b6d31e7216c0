//! Membership service providers: an organization's CA and revocation list,
//! and the set of organizations of a channel.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::cert::{Certificate, normalize_serial};
use crate::error::{CryptoError, LoadError};
use crate::identity::{Identity, read_to_string};

/// An organization's MSP as channel configuration carries it (serde-friendly).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MspConfig {
    /// The MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The organization's root CA certificate, PEM.
    pub ca_pem: String,
    /// Serial numbers (hex) of revoked certificates.
    #[serde(default)]
    pub revoked: Vec<String>,
}

impl MspConfig {
    /// Reads an `msp.json` file.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = read_to_string(path)?;
        serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes this config as pretty JSON to `path`.
    pub fn save(&self, path: &Path) -> Result<(), LoadError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|source| LoadError::Json {
            path: path.to_owned(),
            source,
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Adds `serial` to the revocation list; see [`revoke`].
    pub fn revoke(&mut self, serial: &str) -> Result<bool, CryptoError> {
        revoke(self, serial)
    }
}

/// Adds a certificate serial (hex, colons allowed) to `config`'s revocation
/// list in normalized form. Returns `false` if it was already revoked.
pub fn revoke(config: &mut MspConfig, serial: &str) -> Result<bool, CryptoError> {
    let serial = normalize_serial(serial)?;
    for existing in &config.revoked {
        if normalize_serial(existing).as_deref() == Ok(serial.as_str()) {
            return Ok(false);
        }
    }
    config.revoked.push(serial);
    Ok(true)
}

/// One organization's trust anchor: validates certificates its CA issued.
#[derive(Debug, Clone)]
pub struct Msp {
    msp_id: String,
    ca: Certificate,
    revoked: BTreeSet<String>,
}

impl Msp {
    /// Builds an MSP from channel configuration, checking that the CA
    /// certificate is a CA (basicConstraints CA:true; keyCertSign if keyUsage
    /// is present), is self-signed, and names this MSP id if it names one.
    pub fn from_config(config: &MspConfig) -> Result<Self, CryptoError> {
        let invalid = |reason: String| CryptoError::InvalidCa {
            msp_id: config.msp_id.clone(),
            reason,
        };
        let ca = Certificate::from_pem(&config.ca_pem).map_err(|e| invalid(e.to_string()))?;
        Self::new(&config.msp_id, ca, &config.revoked).map_err(|e| match e {
            CryptoError::InvalidCa { .. } => e,
            other => invalid(other.to_string()),
        })
    }

    /// Builds an MSP from a parsed CA certificate and revoked serials.
    pub fn new<S: AsRef<str>>(
        msp_id: &str,
        ca: Certificate,
        revoked: &[S],
    ) -> Result<Self, CryptoError> {
        let invalid = |reason: &str| CryptoError::InvalidCa {
            msp_id: msp_id.to_owned(),
            reason: reason.to_owned(),
        };
        if msp_id.is_empty() {
            return Err(invalid("the MSP id is empty"));
        }
        if !ca.is_ca() {
            return Err(invalid("basicConstraints does not say CA:true"));
        }
        if ca.key_cert_sign() == Some(false) {
            return Err(invalid("keyUsage does not allow keyCertSign"));
        }
        if ca.subject_der() != ca.issuer_der() {
            return Err(invalid("not a root (subject differs from issuer)"));
        }
        ca.verify_signed_by(ca.public_key())
            .map_err(|_| invalid("its self-signature does not verify"))?;
        if let Some(claim) = ca.msp_id_claim()
            && claim != msp_id
        {
            return Err(invalid(&format!("the CA names MSP id {claim}")));
        }
        let revoked = revoked
            .iter()
            .map(|s| normalize_serial(s.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Self {
            msp_id: msp_id.to_owned(),
            ca,
            revoked,
        })
    }

    /// The MSP id.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The root CA certificate.
    pub fn ca(&self) -> &Certificate {
        &self.ca
    }

    /// Whether a serial (any hex form) is revoked.
    pub fn is_revoked(&self, serial: &str) -> bool {
        normalize_serial(serial).is_ok_and(|s| self.revoked.contains(&s))
    }

    /// This MSP as channel configuration.
    pub fn config(&self) -> MspConfig {
        MspConfig {
            msp_id: self.msp_id.clone(),
            ca_pem: self.ca.to_pem(),
            revoked: self.revoked.iter().cloned().collect(),
        }
    }

    /// Validates a DER certificate as an identity of this organization at
    /// time `at` (unix seconds).
    pub fn validate(&self, cert_der: &[u8], at: i64) -> Result<Identity, CryptoError> {
        self.validate_certificate(Certificate::from_der(cert_der)?, at)
    }

    /// As [`validate`](Self::validate), for an already parsed certificate.
    ///
    /// Checks, in order: issued by this CA (name and signature), both the CA
    /// and the certificate valid at `at`, not revoked, not a CA itself, the
    /// MSP id it names (if any) is this one, and exactly one role OU.
    pub fn validate_certificate(
        &self,
        cert: Certificate,
        at: i64,
    ) -> Result<Identity, CryptoError> {
        if cert.issuer_der() != self.ca.subject_der() {
            return Err(CryptoError::UnknownCa {
                issuer: cert.issuer().to_owned(),
                msp_id: self.msp_id.clone(),
            });
        }
        cert.verify_signed_by(self.ca.public_key())?;
        check_validity(&self.ca, at)?;
        check_validity(&cert, at)?;
        if self.revoked.contains(cert.serial_hex()) {
            return Err(CryptoError::Revoked {
                serial: cert.serial_hex().to_owned(),
            });
        }
        if cert.is_ca() {
            return Err(CryptoError::CaAsIdentity {
                subject: cert.subject().to_owned(),
            });
        }
        if let Some(claim) = cert.msp_id_claim()
            && claim != self.msp_id
        {
            return Err(CryptoError::MspMismatch {
                claimed: claim.to_owned(),
                expected: self.msp_id.clone(),
            });
        }
        let role = cert.role()?;
        Ok(Identity::new(cert, self.msp_id.clone(), role))
    }
}

fn check_validity(cert: &Certificate, at: i64) -> Result<(), CryptoError> {
    if at < cert.not_before() {
        return Err(CryptoError::NotYetValid {
            subject: cert.subject().to_owned(),
            not_before: cert.not_before(),
        });
    }
    if at > cert.not_after() {
        return Err(CryptoError::Expired {
            subject: cert.subject().to_owned(),
            not_after: cert.not_after(),
        });
    }
    Ok(())
}

/// The organizations of a channel: finds the right MSP for a certificate.
#[derive(Debug, Clone, Default)]
pub struct MspSet {
    msps: Vec<Msp>,
    by_ca_subject: HashMap<Vec<u8>, usize>,
    by_id: HashMap<String, usize>,
}

impl MspSet {
    /// A set of MSPs; MSP ids and CA subjects must be unique.
    pub fn new(msps: Vec<Msp>) -> Result<Self, CryptoError> {
        let mut by_ca_subject = HashMap::new();
        let mut by_id = HashMap::new();
        for (i, msp) in msps.iter().enumerate() {
            if by_id.insert(msp.msp_id.clone(), i).is_some() {
                return Err(CryptoError::DuplicateMsp {
                    what: format!("MSP id {}", msp.msp_id),
                });
            }
            if by_ca_subject
                .insert(msp.ca.subject_der().to_vec(), i)
                .is_some()
            {
                return Err(CryptoError::DuplicateMsp {
                    what: format!("CA subject {}", msp.ca.subject()),
                });
            }
        }
        Ok(Self {
            msps,
            by_ca_subject,
            by_id,
        })
    }

    /// Builds every MSP from channel configuration.
    pub fn from_configs(configs: &[MspConfig]) -> Result<Self, CryptoError> {
        Self::new(
            configs
                .iter()
                .map(Msp::from_config)
                .collect::<Result<_, _>>()?,
        )
    }

    /// Validates `cert_der` with the MSP whose CA issued it (matched by issuer name).
    pub fn identify(&self, cert_der: &[u8], at: i64) -> Result<Identity, CryptoError> {
        let cert = Certificate::from_der(cert_der)?;
        let Some(&i) = self.by_ca_subject.get(cert.issuer_der()) else {
            return Err(CryptoError::UnknownOrg {
                issuer: cert.issuer().to_owned(),
            });
        };
        self.msps[i].validate_certificate(cert, at)
    }

    /// The MSP with this id.
    pub fn msp(&self, msp_id: &str) -> Option<&Msp> {
        self.by_id.get(msp_id).map(|&i| &self.msps[i])
    }

    /// All MSPs, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Msp> {
        self.msps.iter()
    }

    /// The MSP ids, in the order given.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.msps.iter().map(|m| m.msp_id.as_str())
    }

    /// Number of MSPs.
    pub fn len(&self) -> usize {
        self.msps.len()
    }

    /// Whether there are no MSPs.
    pub fn is_empty(&self) -> bool {
        self.msps.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn revoke_normalizes_and_dedups() {
        let mut cfg = MspConfig {
            msp_id: "Org1MSP".into(),
            ca_pem: String::new(),
            revoked: vec![],
        };
        assert!(revoke(&mut cfg, "0A:BC").unwrap());
        assert!(!cfg.revoke("0abc").unwrap());
        assert_eq!(cfg.revoked, vec!["0abc".to_string()]);
        assert!(revoke(&mut cfg, "zz").is_err());
    }
}
