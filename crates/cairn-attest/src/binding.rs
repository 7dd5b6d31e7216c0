//! Runtime data and the report-data binding.
//!
//! A TEE signs 64 bytes of caller-chosen report data. Cairn fills them with a hash
//! that binds two things (as Trustee's runtime data does): the verifier's fresh
//! nonce, which proves the evidence is recent, and the thumbprint of the workload's
//! public key, which proves the key lives inside the measured workload. The hash is
//! domain-separated and length-prefixed so no two (nonce, key) pairs collide:
//!
//! ```text
//! report_data = SHA-512("cairn-attest/report-data/v1" 0x00 || u32be(len(nonce)) || nonce || jwk_thumbprint
//!                       [ || 0x01 || u32be(count) || (u32be(len(name)) || name || u32be(len(value)) || value)* ])
//! ```
//!
//! The bracketed part is present only when the workload binds user data (named
//! values, sorted by name); without it the hash is the original v1 binding.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::jwk::{PublicJwk, b64url};

const REPORT_DATA_DOMAIN: &[u8] = b"cairn-attest/report-data/v1\0";

/// The 64 bytes of report data carried in (and signed with) the evidence.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportData(pub [u8; 64]);

impl fmt::Debug for ReportData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportData({})", hex::encode(self.0))
    }
}

impl Serialize for ReportData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for ReportData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(&s, &mut out)
            .map_err(|_| serde::de::Error::custom("report data must be 128 hex digits"))?;
        Ok(ReportData(out))
    }
}

/// What the workload asks the verifier to bind: the nonce it was given, its public
/// key and, optionally, named values of its own (e.g. an inference service's model
/// hash and key configuration hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeData {
    /// The nonce the attestation service handed out (opaque string).
    pub nonce: String,
    /// The workload's public key; secrets released to the workload are encrypted to it.
    pub tee_pubkey: PublicJwk,
    /// Workload-defined values, bound into the report data like the nonce and key.
    /// Empty for plain nodes (whose report data is then exactly the v1 binding).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_data: BTreeMap<String, String>,
}

impl RuntimeData {
    /// Runtime data for `nonce` and `tee_pubkey`.
    pub fn new(nonce: impl Into<String>, tee_pubkey: PublicJwk) -> Self {
        Self {
            nonce: nonce.into(),
            tee_pubkey,
            user_data: BTreeMap::new(),
        }
    }

    /// The same runtime data, also binding `user_data`.
    pub fn with_user_data(mut self, user_data: BTreeMap<String, String>) -> Self {
        self.user_data = user_data;
        self
    }

    /// The report data a TEE must sign to bind this nonce and key.
    pub fn report_data(&self) -> ReportData {
        let mut h = Sha512::new();
        h.update(REPORT_DATA_DOMAIN);
        // A nonce longer than u32::MAX bytes cannot arrive over HTTP; saturating keeps
        // the function total without changing the encoding of every real nonce.
        let len = u32::try_from(self.nonce.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(self.nonce.as_bytes());
        h.update(self.tee_pubkey.thumbprint());
        if !self.user_data.is_empty() {
            // A tag byte, the count, then each name and value length-prefixed: no two
            // maps hash alike, and an empty map leaves the v1 hash unchanged.
            h.update([USER_DATA_TAG]);
            h.update(saturating_len(self.user_data.len()).to_be_bytes());
            for (k, v) in &self.user_data {
                for part in [k, v] {
                    h.update(saturating_len(part.len()).to_be_bytes());
                    h.update(part.as_bytes());
                }
            }
        }
        ReportData(h.finalize().into())
    }
}

/// Marks the start of the user data in the report-data hash.
const USER_DATA_TAG: u8 = 0x01;

/// A length as u32; nothing that long arrives over HTTP, and saturating keeps
/// the hash total.
fn saturating_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A fresh random nonce: 32 bytes from the OS, base64url.
pub fn fresh_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(b64url(&bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn binding_changes_with_nonce_and_key() {
        let a = RuntimeData::new("n1", PublicJwk::X25519([1; 32]));
        let b = RuntimeData::new("n2", PublicJwk::X25519([1; 32]));
        let c = RuntimeData::new("n1", PublicJwk::X25519([2; 32]));
        assert_eq!(a.report_data(), a.clone().report_data());
        assert_ne!(a.report_data(), b.report_data());
        assert_ne!(a.report_data(), c.report_data());
        let n1 = fresh_nonce().unwrap();
        assert_eq!(n1.len(), 43);
        assert_ne!(n1, fresh_nonce().unwrap());
    }

    #[test]
    fn user_data_is_bound_and_empty_user_data_keeps_the_v1_hash() {
        let plain = RuntimeData::new("n1", PublicJwk::X25519([1; 32]));
        let with = |pairs: &[(&str, &str)]| {
            plain.clone().with_user_data(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(with(&[]).report_data(), plain.report_data());
        let a = with(&[("model_sha256", "aa")]);
        assert_ne!(a.report_data(), plain.report_data());
        assert_ne!(
            a.report_data(),
            with(&[("model_sha256", "ab")]).report_data()
        );
        // Moving a boundary between name and value changes the hash.
        assert_ne!(
            with(&[("ab", "c")]).report_data(),
            with(&[("a", "bc")]).report_data()
        );
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("user_data"), "{json}");
        assert!(!serde_json::to_string(&plain).unwrap().contains("user_data"));
        assert_eq!(serde_json::from_str::<RuntimeData>(&json).unwrap(), a);
    }

    #[test]
    fn report_data_serializes_as_hex() {
        let rd = ReportData([0xab; 64]);
        let json = serde_json::to_string(&rd).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(64)));
        assert_eq!(serde_json::from_str::<ReportData>(&json).unwrap(), rd);
        assert!(serde_json::from_str::<ReportData>("\"abcd\"").is_err());
    }
}
