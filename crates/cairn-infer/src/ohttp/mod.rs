//! Oblivious HTTP (RFC 9458) on the `hpke` crate: key configurations, request and
//! response encapsulation, and the binary HTTP (RFC 9292) messages inside them.
//!
//! ```text
//!  client                                         gateway (ServerKey, key id k)
//!  KeyConfig ──encapsulate_request(cfg, aead, bhttp)──▶ enc_request
//!    │  hdr = k ‖ KEM ‖ KDF ‖ AEAD, HPKE base mode,      │ decapsulate_request(keys, ..)
//!    │  info = "message/bhttp request" ‖ 0 ‖ hdr          │   ─▶ (bhttp request, ServerContext)
//!  ClientContext                                       ServerContext::seal_response(bhttp)
//!    └──open_response(enc_response) ◀── enc_response = nonce ‖ AEAD(key, nonce', response)
//! ```
//!
//! Cairn supports one suite family: DHKEM(X25519, HKDF-SHA256) (`0x0020`) with
//! HKDF-SHA256 (`0x0001`) and any of the AEADs AES-128-GCM, AES-256-GCM (the
//! default) and ChaCha20Poly1305. We implement the encapsulation ourselves on
//! `hpke` 0.15 instead of using the `ohttp` crate because that crate pins an older
//! `hpke` and cannot take a chosen response nonce, so the RFC's response vector
//! could not be checked byte for byte (see `tests/t20_ohttp.rs`).
//!
//! Invariants:
//! - a key configuration that decodes re-encodes to the same bytes (every
//!   identifier we do not support is refused, never skipped), so its SHA-256
//!   ([`KeyConfig::sha256_hex`]) is the same on both sides of an attestation binding;
//! - every byte of an encapsulated request or response is authenticated: the header
//!   is bound through HPKE's `info`, the rest through the AEAD, so one altered,
//!   missing or extra byte makes decapsulation or opening fail;
//! - a response is sealed under the request's context only, with a fresh random
//!   nonce; the nonce can be chosen only through the `danger_` test hooks;
//! - nothing here logs, and no `Debug` output shows a private key, an exported
//!   secret, a header value or a body.

mod config;
mod encap;
mod inner;

pub use config::{KeyConfig, ServerKey};
pub use encap::{
    ClientContext, PreparedRequest, ServerContext, decapsulate_request, encapsulate_request,
    prepare_request,
};
pub use inner::{InnerRequest, InnerResponse};

/// RFC 9180 KEM id of DHKEM(X25519, HKDF-SHA256), the only KEM Cairn accepts.
pub const KEM_X25519_HKDF_SHA256: u16 = 0x0020;
/// RFC 9180 KDF id of HKDF-SHA256, the only KDF Cairn accepts.
pub const KDF_HKDF_SHA256: u16 = 0x0001;

/// Media type of an encapsulated request (RFC 9458 §4.1).
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// Media type of an encapsulated response (RFC 9458 §4.2).
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// Media type of a list of key configurations (RFC 9458 §3.2).
pub const KEYS_MEDIA_TYPE: &str = "application/ohttp-keys";

/// AEADs we accept (RFC 9180 ids 0x0001, 0x0002, 0x0003). AES-256-GCM is the default.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    Default,
)]
pub enum Aead {
    /// AES-128-GCM (`0x0001`).
    Aes128Gcm,
    /// AES-256-GCM (`0x0002`), the default.
    #[default]
    Aes256Gcm,
    /// ChaCha20Poly1305 (`0x0003`).
    ChaCha20Poly1305,
}

impl Aead {
    /// Every AEAD Cairn accepts, in id order.
    pub const ALL: [Aead; 3] = [Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305];

    /// The RFC 9180 AEAD id.
    pub const fn id(self) -> u16 {
        match self {
            Aead::Aes128Gcm => 0x0001,
            Aead::Aes256Gcm => 0x0002,
            Aead::ChaCha20Poly1305 => 0x0003,
        }
    }

    /// The AEAD with RFC 9180 id `id`, if Cairn accepts it.
    pub const fn from_id(id: u16) -> Option<Aead> {
        match id {
            0x0001 => Some(Aead::Aes128Gcm),
            0x0002 => Some(Aead::Aes256Gcm),
            0x0003 => Some(Aead::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The IANA name (as in the RFC 9180 registry).
    pub const fn name(self) -> &'static str {
        match self {
            Aead::Aes128Gcm => "AES-128-GCM",
            Aead::Aes256Gcm => "AES-256-GCM",
            Aead::ChaCha20Poly1305 => "ChaCha20Poly1305",
        }
    }

    /// `Nk`, the key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }

    /// `Nn`, the nonce length in bytes (12 for all three).
    pub const fn nonce_len(self) -> usize {
        12
    }

    /// `max(Nn, Nk)`: the length of the exported response secret and of the
    /// response nonce (RFC 9458 §4.4).
    pub const fn response_nonce_len(self) -> usize {
        if self.key_len() > self.nonce_len() {
            self.key_len()
        } else {
            self.nonce_len()
        }
    }
}

impl std::fmt::Display for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:04x})", self.name(), self.id())
    }
}

/// Why a key configuration, an encapsulation or an inner message was refused.
///
/// Errors up to and including decapsulation carry no request content, so a gateway
/// may answer them in the clear (RFC 9458 §5.2); every later error belongs inside
/// the sealed response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OhttpError {
    /// A server key was given an empty AEAD list or one naming an AEAD twice.
    #[error(
        "invalid AEAD list {0:?}: an OHTTP key must offer at least one AEAD and each at most once"
    )]
    AeadList(Vec<Aead>),
    /// The AEAD is known but the key configuration does not offer it.
    #[error("the key configuration does not offer {0}; encapsulate with one of the AEADs it lists")]
    AeadNotOffered(Aead),
    /// An inner binary HTTP message (RFC 9292) is malformed or cannot be encoded.
    #[error("binary HTTP message (RFC 9292): {0}")]
    Bhttp(String),
    /// HPKE refused an operation (e.g. an invalid public key in a key configuration).
    #[error(
        "HPKE failed: {0}; check that the key configuration's public key is a valid X25519 key"
    )]
    Hpke(String),
    /// Bytes that should be a key configuration or an encapsulated message are not.
    #[error("malformed {0}")]
    Malformed(String),
    /// Authentication failed: a wrong key, or bytes altered, truncated or extended.
    #[error(
        "cannot open: authentication failed (wrong key, or the message was altered, truncated or \
         extended); discard it, and retry with the gateway's current key configuration"
    )]
    Open,
    /// The system random number generator failed.
    #[error(
        "the system random number generator failed: {0}; retry, and check the OS entropy source"
    )]
    Random(String),
    /// The input keying material for a derived key is shorter than the private key.
    #[error(
        "input keying material is {0} bytes; RFC 9180 DeriveKeyPair needs at least 32 bytes of \
         secret, uniformly random input"
    )]
    ShortIkm(usize),
    /// Bytes follow what should be exactly one key configuration.
    #[error(
        "{0} bytes follow the key configuration; expected exactly one (a list in \
         application/ohttp-keys form is read with KeyConfig::decode_list)"
    )]
    TrailingBytes(usize),
    /// No server key has this key id.
    #[error(
        "no key has key id {0}: the client's key configuration is outdated or foreign; fetch the \
         gateway's current key configuration (application/ohttp-keys) and encapsulate again"
    )]
    UnknownKeyId(u8),
    /// An AEAD id that Cairn does not implement.
    #[error(
        "AEAD id 0x{0:04x} is not supported; use AES-128-GCM (0x0001), AES-256-GCM (0x0002) or \
         ChaCha20Poly1305 (0x0003)"
    )]
    UnsupportedAead(u16),
    /// A KDF id other than HKDF-SHA256.
    #[error("KDF id 0x{0:04x} is not supported; Cairn accepts only HKDF-SHA256 (0x0001)")]
    UnsupportedKdf(u16),
    /// A KEM id other than DHKEM(X25519, HKDF-SHA256).
    #[error(
        "KEM id 0x{0:04x} is not supported; Cairn accepts only DHKEM(X25519, HKDF-SHA256) (0x0020)"
    )]
    UnsupportedKem(u16),
}

impl OhttpError {
    /// Whether the error means the client used an outdated or incorrect key
    /// configuration, which a gateway may signal with the problem type
    /// `https://iana.org/assignments/http-problem-types#ohttp-key` (RFC 9458 §5.3).
    pub fn is_key_configuration_problem(&self) -> bool {
        matches!(
            self,
            OhttpError::AeadNotOffered(_)
                | OhttpError::UnknownKeyId(_)
                | OhttpError::UnsupportedAead(_)
                | OhttpError::UnsupportedKdf(_)
                | OhttpError::UnsupportedKem(_)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn aead_ids_round_trip_and_unknown_ids_are_none() {
        for aead in Aead::ALL {
            assert_eq!(Aead::from_id(aead.id()), Some(aead));
        }
        assert_eq!(Aead::from_id(0x0000), None);
        // Export-only (RFC 9180 0xffff) carries no AEAD, so OHTTP cannot use it.
        assert_eq!(Aead::from_id(0xffff), None);
        assert_eq!(Aead::default(), Aead::Aes256Gcm);
    }

    #[test]
    fn response_nonce_is_max_of_key_and_nonce_length() {
        assert_eq!(Aead::Aes128Gcm.response_nonce_len(), 16);
        assert_eq!(Aead::Aes256Gcm.response_nonce_len(), 32);
        assert_eq!(Aead::ChaCha20Poly1305.response_nonce_len(), 32);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = OhttpError::UnknownKeyId(7).to_string();
        assert!(e.contains("key id 7") && e.contains("fetch"), "{e}");
        let e = OhttpError::UnsupportedKem(0x0010).to_string();
        assert!(e.contains("0x0010") && e.contains("0x0020"), "{e}");
        assert!(OhttpError::UnknownKeyId(1).is_key_configuration_problem());
        assert!(!OhttpError::Open.is_key_configuration_problem());
    }
}
