//! The `virtual` platform: the attestation protocol without TEE hardware.
//!
//! Machines without SEV-SNP, SGX or TDX still run the whole protocol: the
//! measurement is the SHA-384 of the running binary and its configuration, and the
//! "hardware" signature is an Ed25519 signature by a per-host platform key. Nothing
//! stops that host's administrator from forging evidence, so:
//!
//! - verified virtual evidence always says `hardware: false` and tokens repeat it;
//! - the verifier only proves the report is signed by the key named inside it; a
//!   policy must list that key in `trusted_platform_keys` before anything passes,
//!   and no policy for a hardware platform accepts virtual evidence.
//!
//! Measurement (domain-separated so it never equals a hash of other data):
//!
//! ```text
//! measurement = SHA-384("cairn-virtual-measurement/v1" 0x00 || SHA-384(binary) || SHA-384(config))
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha384};

use crate::attester::{Attester, AttesterError};
use crate::binding::ReportData;
use crate::evidence::{EvidenceError, EvidenceVerifier, TcbState, VerifiedEvidence};
use crate::jwk::{b64url, b64url_decode};
use crate::platform::Platform;
use crate::time::UnixTime;

const MEASUREMENT_DOMAIN: &[u8] = b"cairn-virtual-measurement/v1\0";
const REPORT_FORMAT: &str = "cairn-virtual-report/v1";

/// Why a platform key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum PlatformKeyError {
    /// Reading or writing the key file failed.
    #[error("platform key file {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error("platform key file {0} is not a PKCS#8 PEM Ed25519 private key")]
    Format(String),
    /// The OS random source failed.
    #[error("OS random source failed: {0}")]
    Random(String),
}

/// A host's virtual platform key: the stand-in for a CPU's endorsement key.
pub struct PlatformKey(SigningKey);

impl PlatformKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, PlatformKeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| PlatformKeyError::Random(e.to_string()))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key from a 32-byte seed (tests and benches).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Loads the key at `path`, or creates one there if the file does not
    /// exist (mode 0600, written atomically by [`cairn_crypto::private_file`];
    /// of two processes creating it at once, both end up with the one on disk).
    pub fn load_or_create(path: &Path) -> Result<Self, PlatformKeyError> {
        let io = |source| PlatformKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match Self::load(path) {
            Err(PlatformKeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        let key = Self::generate()?;
        let pem = key
            .0
            .to_pkcs8_pem(Default::default())
            .map_err(|_| PlatformKeyError::Format(path.display().to_string()))?;
        match cairn_crypto::private_file::create_atomic(path, pem.as_bytes()) {
            Ok(()) => {
                tracing::info!(path = %path.display(), public_key = %key.public_hex(), "created virtual platform key");
                Ok(key)
            }
            Err(e) if e.source.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e.into())),
        }
    }

    fn load(path: &Path) -> Result<Self, PlatformKeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| PlatformKeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        SigningKey::from_pkcs8_pem(&pem)
            .map(Self)
            .map_err(|_| PlatformKeyError::Format(path.display().to_string()))
    }

    /// The public key, lowercase hex: the value policies list in `trusted_platform_keys`.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }
}

/// The virtual measurement of a binary and its configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualMeasurement {
    /// SHA-384 of the binary.
    pub binary_sha384: [u8; 48],
    /// SHA-384 of the configuration.
    pub config_sha384: [u8; 48],
    /// The measurement policies list.
    pub measurement: [u8; 48],
}

impl VirtualMeasurement {
    /// Measures `binary` and `config`.
    pub fn of(binary: &[u8], config: &[u8]) -> Self {
        Self::of_digests(Sha384::digest(binary).into(), Sha384::digest(config).into())
    }

    /// Measures the binary file at `binary` and the configuration bytes.
    pub fn of_file(binary: &Path, config: &[u8]) -> std::io::Result<Self> {
        Ok(Self::of(&std::fs::read(binary)?, config))
    }

    /// Measures the currently running executable and `config`.
    pub fn of_running_binary(config: &[u8]) -> std::io::Result<Self> {
        Self::of_file(&std::env::current_exe()?, config)
    }

    /// The measurement of the same binary with another configuration (the binary is
    /// not hashed again).
    pub fn with_config(&self, config: &[u8]) -> Self {
        Self::of_digests(self.binary_sha384, Sha384::digest(config).into())
    }

    /// The measurement, lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(self.measurement)
    }
}

/// The signed body of virtual evidence. Field order is the wire order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualReport {
    format: String,
    platform: Platform,
    hardware: bool,
    measurement: String,
    binary_sha384: String,
    config_sha384: String,
    report_data: ReportData,
    debug: bool,
    svn: u64,
    platform_key: String,
}

/// Virtual evidence as sent: the exact signed report bytes and the signature.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualEvidence {
    report: String,
    signature: String,
}

/// Produces virtual evidence for one measured workload on this host.
pub struct VirtualAttester {
    key: PlatformKey,
    measurement: VirtualMeasurement,
    debug: bool,
    svn: u64,
}

impl VirtualAttester {
    /// An attester for `measurement`, signing with the host's `key`; not in debug mode, SVN 1.
    pub fn new(key: PlatformKey, measurement: VirtualMeasurement) -> Self {
        Self {
            key,
            measurement,
            debug: false,
            svn: 1,
        }
    }

    /// Marks the workload as debuggable (policies forbid that unless they allow debug).
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Sets the security version number reported as TCB component `svn`.
    pub fn with_svn(mut self, svn: u64) -> Self {
        self.svn = svn;
        self
    }

    /// The measurement this attester reports.
    pub fn measurement(&self) -> &VirtualMeasurement {
        &self.measurement
    }
}

impl Attester for VirtualAttester {
    fn platform(&self) -> Platform {
        Platform::Virtual
    }

    fn evidence(&self, report_data: &ReportData) -> Result<serde_json::Value, AttesterError> {
        let report = VirtualReport {
            format: REPORT_FORMAT.to_owned(),
            platform: Platform::Virtual,
            hardware: false,
            measurement: self.measurement.hex(),
            binary_sha384: hex::encode(self.measurement.binary_sha384),
            config_sha384: hex::encode(self.measurement.config_sha384),
            report_data: *report_data,
            debug: self.debug,
            svn: self.svn,
            platform_key: self.key.public_hex(),
        };
        let bytes =
            serde_json::to_vec(&report).map_err(|e| AttesterError::Failed(e.to_string()))?;
        let signature = self.key.0.sign(&bytes);
        let evidence = VirtualEvidence {
            report: b64url(&bytes),
            signature: b64url(&signature.to_bytes()),
        };
        serde_json::to_value(evidence).map_err(|e| AttesterError::Failed(e.to_string()))
    }
}

/// Verifies virtual evidence: the report must be signed by the platform key it names.
///
/// Whether that key is trusted is the policy's decision (`trusted_platform_keys`).
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualVerifier;

fn fixed_hex<const N: usize>(field: &str, value: &str) -> Result<[u8; N], EvidenceError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(value, &mut out)
        .map_err(|_| EvidenceError::Malformed(format!("{field} must be {} hex digits", 2 * N)))?;
    Ok(out)
}

impl EvidenceVerifier for VirtualVerifier {
    fn platform(&self) -> Platform {
        Platform::Virtual
    }

    fn verify(
        &self,
        evidence: &serde_json::Value,
        _at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let ev: VirtualEvidence = serde_json::from_value(evidence.clone())
            .map_err(|e| EvidenceError::Malformed(format!("virtual evidence: {e}")))?;
        let bytes = b64url_decode(&ev.report)
            .ok_or_else(|| EvidenceError::Malformed("report is not base64url".into()))?;
        let sig: [u8; 64] = b64url_decode(&ev.signature)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                EvidenceError::Malformed("signature is not 64 bytes of base64url".into())
            })?;
        let report: VirtualReport = serde_json::from_slice(&bytes)
            .map_err(|e| EvidenceError::Malformed(format!("virtual report: {e}")))?;
        let key_bytes: [u8; 32] = fixed_hex("platform_key", &report.platform_key)?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| {
            EvidenceError::Malformed("platform_key is not an Ed25519 public key".into())
        })?;
        key.verify_strict(&bytes, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| {
                EvidenceError::ReportSignature(format!(
                    "not signed by platform key {}",
                    report.platform_key
                ))
            })?;
        // Checked after the signature so that the error names the real problem: a
        // signed report that claims to be hardware is a bug or an attack, not a typo.
        if report.format != REPORT_FORMAT || report.platform != Platform::Virtual || report.hardware
        {
            return Err(EvidenceError::Malformed(format!(
                "report must be format {REPORT_FORMAT}, platform virtual, hardware false"
            )));
        }
        let binary: [u8; 48] = fixed_hex("binary_sha384", &report.binary_sha384)?;
        let config: [u8; 48] = fixed_hex("config_sha384", &report.config_sha384)?;
        let measurement: [u8; 48] = fixed_hex("measurement", &report.measurement)?;
        let expected = VirtualMeasurement::of_digests(binary, config);
        if expected.measurement != measurement {
            return Err(EvidenceError::Malformed(
                "measurement is not derived from binary_sha384 and config_sha384".into(),
            ));
        }
        tracing::info!(
            platform = "virtual",
            hardware = false,
            measurement = %report.measurement,
            platform_key = %report.platform_key,
            "verified virtual evidence (software only, not hardware-backed)"
        );
        let registers = BTreeMap::from([
            ("binary_sha384".to_owned(), report.binary_sha384),
            ("config_sha384".to_owned(), report.config_sha384),
            ("measurement".to_owned(), report.measurement.clone()),
            ("platform_key".to_owned(), report.platform_key),
        ]);
        Ok(VerifiedEvidence {
            platform: Platform::Virtual,
            hardware: false,
            measurement: report.measurement,
            registers,
            report_data: report.report_data,
            debug: report.debug,
            tcb: TcbState {
                status: None,
                advisory_ids: Vec::new(),
                svn: BTreeMap::from([("svn".to_owned(), report.svn)]),
            },
            flags: BTreeMap::new(),
        })
    }
}

impl VirtualMeasurement {
    fn of_digests(binary_sha384: [u8; 48], config_sha384: [u8; 48]) -> Self {
        let mut h = Sha384::new();
        h.update(MEASUREMENT_DOMAIN);
        h.update(binary_sha384);
        h.update(config_sha384);
        Self {
            binary_sha384,
            config_sha384,
            measurement: h.finalize().into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn attester() -> VirtualAttester {
        VirtualAttester::new(
            PlatformKey::from_seed([7; 32]),
            VirtualMeasurement::of(b"binary", b"config"),
        )
    }

    #[test]
    fn evidence_round_trips_with_claims_marked_software() {
        let rd = ReportData([5; 64]);
        let ev = attester().evidence(&rd).unwrap();
        let v = VirtualVerifier.verify(&ev, UnixTime(0)).unwrap();
        assert_eq!(v.platform, Platform::Virtual);
        assert!(!v.hardware);
        assert_eq!(v.report_data, rd);
        assert_eq!(
            v.measurement,
            VirtualMeasurement::of(b"binary", b"config").hex()
        );
        assert_eq!(
            v.registers["platform_key"],
            PlatformKey::from_seed([7; 32]).public_hex()
        );
        assert_eq!(v.tcb.svn["svn"], 1);
    }

    #[test]
    fn measurement_depends_on_binary_and_config() {
        let a = VirtualMeasurement::of(b"binary", b"config");
        assert_eq!(
            a.with_config(b"other"),
            VirtualMeasurement::of(b"binary", b"other")
        );
        assert_ne!(a, VirtualMeasurement::of(b"binary2", b"config"));
        assert_ne!(a, VirtualMeasurement::of(b"binary", b"config2"));
        // Moving a byte between binary and config changes the measurement.
        assert_ne!(a, VirtualMeasurement::of(b"binar", b"yconfig"));
    }

    #[test]
    fn any_changed_report_byte_breaks_the_signature() {
        let ev = attester().evidence(&ReportData([5; 64])).unwrap();
        let report = b64url_decode(ev["report"].as_str().unwrap()).unwrap();
        for i in 0..report.len() {
            let mut bad = report.clone();
            bad[i] ^= 0x01;
            let mut forged = ev.clone();
            forged["report"] = serde_json::Value::String(b64url(&bad));
            let err = VirtualVerifier.verify(&forged, UnixTime(0)).unwrap_err();
            assert!(
                matches!(
                    err,
                    EvidenceError::ReportSignature(_) | EvidenceError::Malformed(_)
                ),
                "byte {i}: {err:?}"
            );
        }
        let sig = b64url_decode(ev["signature"].as_str().unwrap()).unwrap();
        for i in 0..sig.len() {
            let mut bad = sig.clone();
            bad[i] ^= 0x80;
            let mut forged = ev.clone();
            forged["signature"] = serde_json::Value::String(b64url(&bad));
            assert!(matches!(
                VirtualVerifier.verify(&forged, UnixTime(0)),
                Err(EvidenceError::ReportSignature(_))
            ));
        }
    }

    #[test]
    fn a_report_signed_by_another_key_is_refused() {
        let ev = attester().evidence(&ReportData([5; 64])).unwrap();
        let other = PlatformKey::from_seed([8; 32]);
        let report = b64url_decode(ev["report"].as_str().unwrap()).unwrap();
        let forged = serde_json::json!({
            "report": ev["report"],
            "signature": b64url(&other.0.sign(&report).to_bytes()),
        });
        assert!(matches!(
            VirtualVerifier.verify(&forged, UnixTime(0)),
            Err(EvidenceError::ReportSignature(_))
        ));
    }

    #[test]
    fn platform_key_file_is_created_once_then_reloaded() {
        let dir = std::env::temp_dir().join(format!("cairn-pk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("platform.pem");
        let _ = std::fs::remove_file(&path);
        let a = PlatformKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = PlatformKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            PlatformKey::load_or_create(&path),
            Err(PlatformKeyError::Format(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
