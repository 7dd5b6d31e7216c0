//! The TEE platforms Cairn knows, and which of them are backed by hardware.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A kind of trusted execution environment whose evidence Cairn can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Platform {
    /// AMD SEV-SNP confidential VM (attestation report signed by a VCEK or VLEK).
    #[serde(rename = "sev-snp")]
    SevSnp,
    /// Intel SGX enclave (DCAP quote v3).
    #[serde(rename = "sgx")]
    Sgx,
    /// Intel TDX trust domain (DCAP quote v4/v5).
    #[serde(rename = "tdx")]
    Tdx,
    /// Cairn's software development platform: no hardware protection at all.
    ///
    /// Its evidence is signed by a per-host key, so it proves only what that host
    /// claims to run. Policies and relying parties must opt in to it explicitly.
    #[serde(rename = "virtual")]
    Virtual,
}

/// A platform name that Cairn does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown platform {0:?}: expected one of sev-snp, sgx, tdx, virtual")]
pub struct UnknownPlatform(String);

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 4] = [
        Platform::SevSnp,
        Platform::Sgx,
        Platform::Tdx,
        Platform::Virtual,
    ];

    /// The name used in URLs, files and token claims.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::SevSnp => "sev-snp",
            Platform::Sgx => "sgx",
            Platform::Tdx => "tdx",
            Platform::Virtual => "virtual",
        }
    }

    /// Whether the platform's evidence is rooted in a hardware vendor's keys.
    pub fn is_hardware(self) -> bool {
        !matches!(self, Platform::Virtual)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_virtual_is_software() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(p.is_hardware(), p != Platform::Virtual);
        }
        assert!("snp".parse::<Platform>().is_err());
    }
}
