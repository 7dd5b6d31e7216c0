//! Key configurations (RFC 9458 §3) and the gateway's private keys.
//!
//! Encoding of one configuration (all integers big-endian):
//! `key_id (1) ‖ kem_id (2) ‖ public key (32) ‖ length (2) ‖ (kdf_id (2) ‖ aead_id (2))*`.
//! A list (`application/ohttp-keys`, §3.2) prefixes each configuration with its
//! 2-byte length.
//!
//! Decoding is strict so that decode-then-encode gives back the same bytes: an
//! unsupported KEM, KDF or AEAD id, a repeated AEAD, or bytes left over are errors.

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use sha2::{Digest, Sha256};

use super::{Aead, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, OhttpError};

/// Length of an X25519 public key (`Npk`).
const PUBLIC_KEY_LEN: usize = 32;
/// Bytes before the symmetric algorithms: key id, KEM id, public key, their length.
const FIXED_LEN: usize = 1 + 2 + PUBLIC_KEY_LEN + 2;
/// The most algorithm pairs a configuration can hold so that its own length still
/// fits the 16-bit prefix of an `application/ohttp-keys` list.
const MAX_ALGORITHMS: usize = (u16::MAX as usize - FIXED_LEN) / 4;

/// A public key configuration (RFC 9458 §3): what clients need to encapsulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyConfig {
    /// The key identifier, chosen by the gateway.
    pub key_id: u8,
    /// The gateway's X25519 public key.
    pub public_key: [u8; 32],
    /// The AEADs offered, each with KDF HKDF-SHA256, in the gateway's order of preference.
    pub aeads: Vec<Aead>,
}

impl KeyConfig {
    /// The RFC 9458 §3.1 encoding.
    ///
    /// Only a configuration that [`KeyConfig::decode`] accepts (one to three distinct
    /// AEADs) is meaningful; an empty list encodes to a length of zero, which decoders
    /// refuse, and entries past the 16-bit length limit are left out.
    pub fn encode(&self) -> Vec<u8> {
        let aeads = &self.aeads[..self.aeads.len().min(MAX_ALGORITHMS)];
        let mut out = Vec::with_capacity(FIXED_LEN + 4 * aeads.len());
        out.push(self.key_id);
        out.extend_from_slice(&KEM_X25519_HKDF_SHA256.to_be_bytes());
        out.extend_from_slice(&self.public_key);
        // At most MAX_ALGORITHMS entries, so the length fits in 16 bits.
        out.extend_from_slice(&((4 * aeads.len()) as u16).to_be_bytes());
        for aead in aeads {
            out.extend_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
            out.extend_from_slice(&aead.id().to_be_bytes());
        }
        out
    }

    /// Decodes exactly one configuration; bytes after it are [`OhttpError::TrailingBytes`].
    pub fn decode(bytes: &[u8]) -> Result<KeyConfig, OhttpError> {
        let (config, used) = Self::decode_prefix(bytes)?;
        match bytes.len() - used {
            0 => Ok(config),
            extra => Err(OhttpError::TrailingBytes(extra)),
        }
    }

    /// Encodes a list in `application/ohttp-keys` form (RFC 9458 §3.2).
    pub fn encode_list(configs: &[KeyConfig]) -> Vec<u8> {
        let mut out = Vec::new();
        for config in configs {
            let one = config.encode();
            // encode() caps the algorithms at MAX_ALGORITHMS, so the length fits.
            out.extend_from_slice(&(one.len() as u16).to_be_bytes());
            out.extend_from_slice(&one);
        }
        out
    }

    /// Decodes an `application/ohttp-keys` list. Any error refuses the whole list, as
    /// RFC 9458 §3.2 requires (a partial recovery could tell clients apart).
    pub fn decode_list(bytes: &[u8]) -> Result<Vec<KeyConfig>, OhttpError> {
        if bytes.is_empty() {
            return Err(OhttpError::Malformed(
                "key configuration list: it is empty; application/ohttp-keys holds one or more \
                 configurations"
                    .into(),
            ));
        }
        let mut configs = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let offset = bytes.len() - rest.len();
            let Some((len, body)) = rest.split_first_chunk::<2>() else {
                return Err(OhttpError::Malformed(format!(
                    "key configuration list: 1 byte at offset {offset} where a 2-byte length \
                     prefix is due"
                )));
            };
            let len = usize::from(u16::from_be_bytes(*len));
            let Some((one, after)) = body.split_at_checked(len) else {
                return Err(OhttpError::Malformed(format!(
                    "key configuration list: the entry at offset {offset} announces {len} bytes \
                     but {} remain",
                    body.len()
                )));
            };
            configs.push(Self::decode(one)?);
            rest = after;
        }
        Ok(configs)
    }

    /// SHA-256 of [`KeyConfig::encode`], lowercase hex: what an attestation binds.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.encode()))
    }

    /// Whether the configuration offers `aead`.
    pub fn offers(&self, aead: Aead) -> bool {
        self.aeads.contains(&aead)
    }

    /// Decodes one configuration at the start of `bytes`; returns it and its length.
    fn decode_prefix(bytes: &[u8]) -> Result<(KeyConfig, usize), OhttpError> {
        let short = || {
            OhttpError::Malformed(format!(
                "key configuration: {} bytes, shorter than the {FIXED_LEN}-byte key id, KEM id, \
                 X25519 public key and algorithm length",
                bytes.len()
            ))
        };
        let (&key_id, rest) = bytes.split_first().ok_or_else(short)?;
        let (kem, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
        let kem = u16::from_be_bytes(*kem);
        // The public key's length depends on the KEM, so nothing after an unknown KEM
        // can be parsed.
        if kem != KEM_X25519_HKDF_SHA256 {
            return Err(OhttpError::UnsupportedKem(kem));
        }
        let (public_key, rest) = rest
            .split_first_chunk::<PUBLIC_KEY_LEN>()
            .ok_or_else(short)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len < 4 || len % 4 != 0 {
            return Err(OhttpError::Malformed(format!(
                "key configuration: symmetric algorithms length {len}; it must be a positive \
                 multiple of 4 (KDF id and AEAD id pairs)"
            )));
        }
        let Some(algorithms) = rest.get(..len) else {
            return Err(OhttpError::Malformed(format!(
                "key configuration: symmetric algorithms announce {len} bytes but {} remain",
                rest.len()
            )));
        };
        let mut aeads = Vec::with_capacity(len / 4);
        for pair in algorithms.chunks_exact(4) {
            let kdf = u16::from_be_bytes([pair[0], pair[1]]);
            let aead_id = u16::from_be_bytes([pair[2], pair[3]]);
            if kdf != KDF_HKDF_SHA256 {
                return Err(OhttpError::UnsupportedKdf(kdf));
            }
            let aead = Aead::from_id(aead_id).ok_or(OhttpError::UnsupportedAead(aead_id))?;
            if aeads.contains(&aead) {
                return Err(OhttpError::Malformed(format!(
                    "key configuration: {aead} is listed twice"
                )));
            }
            aeads.push(aead);
        }
        let config = KeyConfig {
            key_id,
            public_key: *public_key,
            aeads,
        };
        Ok((config, FIXED_LEN + len))
    }
}

/// A server's private key with its configuration. Debug never prints the private key.
#[derive(Clone)]
pub struct ServerKey {
    config: KeyConfig,
    private_key: <X25519HkdfSha256 as Kem>::PrivateKey,
}

impl ServerKey {
    /// A fresh key from the system random number generator.
    pub fn generate(key_id: u8, aeads: Vec<Aead>) -> Result<ServerKey, OhttpError> {
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).map_err(|e| OhttpError::Random(e.to_string()))?;
        // DeriveKeyPair over fresh randomness is how hpke generates keys too.
        let key = Self::derive(key_id, &ikm, aeads);
        wipe(&mut ikm);
        key
    }

    /// RFC 9180 DeriveKeyPair; same ikm -> same key (secret release shares the ikm
    /// between nodes, so every node serves one key configuration).
    pub fn derive(key_id: u8, ikm: &[u8], aeads: Vec<Aead>) -> Result<ServerKey, OhttpError> {
        if ikm.len() < PUBLIC_KEY_LEN {
            return Err(OhttpError::ShortIkm(ikm.len()));
        }
        check_aeads(&aeads)?;
        let (private_key, public_key) = X25519HkdfSha256::derive_keypair(ikm);
        Ok(Self::assemble(key_id, private_key, &public_key, aeads))
    }

    /// A key from its 32-byte X25519 private key (clamped as RFC 7748 says).
    pub fn from_private_bytes(
        key_id: u8,
        sk: &[u8; 32],
        aeads: Vec<Aead>,
    ) -> Result<ServerKey, OhttpError> {
        check_aeads(&aeads)?;
        let private_key = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(sk)
            .map_err(|e| OhttpError::Hpke(e.to_string()))?;
        let public_key = X25519HkdfSha256::sk_to_pk(&private_key);
        Ok(Self::assemble(key_id, private_key, &public_key, aeads))
    }

    /// The public configuration to publish.
    pub fn config(&self) -> &KeyConfig {
        &self.config
    }

    pub(crate) fn private_key(&self) -> &<X25519HkdfSha256 as Kem>::PrivateKey {
        &self.private_key
    }

    fn assemble(
        key_id: u8,
        private_key: <X25519HkdfSha256 as Kem>::PrivateKey,
        public_key: &<X25519HkdfSha256 as Kem>::PublicKey,
        aeads: Vec<Aead>,
    ) -> ServerKey {
        let config = KeyConfig {
            key_id,
            public_key: public_key.to_bytes().into(),
            aeads,
        };
        ServerKey {
            config,
            private_key,
        }
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("key_id", &self.config.key_id)
            .field("public_key", &hex::encode(self.config.public_key))
            .field("aeads", &self.config.aeads)
            .finish_non_exhaustive()
    }
}

/// A server key offers at least one AEAD and each at most once, so its
/// configuration decodes (see [`KeyConfig::decode`]).
fn check_aeads(aeads: &[Aead]) -> Result<(), OhttpError> {
    let repeated = aeads
        .iter()
        .enumerate()
        .any(|(i, a)| aeads[..i].contains(a));
    if aeads.is_empty() || repeated {
        return Err(OhttpError::AeadList(aeads.to_vec()));
    }
    Ok(())
}

/// Overwrites key material we held on the stack. Best effort: without `unsafe` or
/// the `zeroize` crate the compiler may elide the store; `black_box` discourages it.
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    fn config() -> KeyConfig {
        KeyConfig {
            key_id: 9,
            public_key: [7; 32],
            aeads: vec![Aead::Aes256Gcm, Aead::ChaCha20Poly1305],
        }
    }

    #[test]
    fn encoding_layout_and_round_trip() {
        let bytes = config().encode();
        assert_eq!(bytes.len(), FIXED_LEN + 8);
        assert_eq!(&bytes[..3], &[9, 0x00, 0x20]);
        assert_eq!(&bytes[35..37], &[0, 8]);
        assert_eq!(&bytes[37..], &[0, 1, 0, 2, 0, 1, 0, 3]);
        assert_eq!(KeyConfig::decode(&bytes).unwrap(), config());
    }

    #[test]
    fn list_round_trip_and_prefix_errors() {
        let other = KeyConfig {
            key_id: 10,
            aeads: vec![Aead::Aes128Gcm],
            ..config()
        };
        let list = KeyConfig::encode_list(&[config(), other.clone()]);
        assert_eq!(&list[..2], &[0, 45]);
        assert_eq!(
            KeyConfig::decode_list(&list).unwrap(),
            vec![config(), other]
        );
        let err = KeyConfig::decode_list(&list[..list.len() - 1]).unwrap_err();
        assert!(
            matches!(&err, OhttpError::Malformed(m) if m.contains("offset 47")),
            "{err}"
        );
        let mut odd = list.clone();
        odd.push(0);
        assert!(matches!(
            KeyConfig::decode_list(&odd),
            Err(OhttpError::Malformed(m)) if m.contains("2-byte length")
        ));
        assert!(matches!(
            KeyConfig::decode_list(&[]),
            Err(OhttpError::Malformed(m)) if m.contains("empty")
        ));
    }

    #[test]
    fn each_refusal_has_its_own_error() {
        let good = config().encode();
        assert!(KeyConfig::decode(&good).is_ok(), "positive control");

        let mut kem = good.clone();
        kem[2] = 0x10; // DHKEM(P-256)
        assert_eq!(
            KeyConfig::decode(&kem),
            Err(OhttpError::UnsupportedKem(0x0010))
        );

        let mut kdf = good.clone();
        kdf[38] = 0x02; // HKDF-SHA384
        assert_eq!(
            KeyConfig::decode(&kdf),
            Err(OhttpError::UnsupportedKdf(0x0002))
        );

        let mut aead = good.clone();
        aead[40] = 0xff; // first pair's AEAD: 0x00ff
        assert_eq!(
            KeyConfig::decode(&aead),
            Err(OhttpError::UnsupportedAead(0x00ff))
        );

        let mut twice = good.clone();
        twice[44] = 0x02; // second AEAD now repeats AES-256-GCM
        assert!(matches!(
            KeyConfig::decode(&twice),
            Err(OhttpError::Malformed(m)) if m.contains("twice")
        ));

        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            KeyConfig::decode(&trailing),
            Err(OhttpError::TrailingBytes(3))
        );

        let mut uneven = good.clone();
        uneven[36] = 6;
        assert!(matches!(
            KeyConfig::decode(&uneven),
            Err(OhttpError::Malformed(m)) if m.contains("multiple of 4")
        ));

        for cut in 0..good.len() {
            assert!(
                matches!(
                    KeyConfig::decode(&good[..cut]),
                    Err(OhttpError::Malformed(_))
                ),
                "a configuration cut to {cut} bytes must be refused"
            );
        }
    }

    #[test]
    fn server_keys_derive_deterministically_and_refuse_bad_input() {
        let ikm = [0x42; 32];
        let a = ServerKey::derive(1, &ikm, vec![Aead::Aes256Gcm]).unwrap();
        let b = ServerKey::derive(1, &ikm, vec![Aead::Aes256Gcm]).unwrap();
        let c = ServerKey::derive(1, &[0x43; 32], vec![Aead::Aes256Gcm]).unwrap();
        assert_eq!(a.config(), b.config());
        assert_ne!(a.config().public_key, c.config().public_key);
        assert_eq!(
            ServerKey::derive(1, &[1; 31], vec![Aead::Aes256Gcm]).unwrap_err(),
            OhttpError::ShortIkm(31)
        );
        assert_eq!(
            ServerKey::derive(1, &ikm, vec![]).unwrap_err(),
            OhttpError::AeadList(vec![])
        );
        assert!(matches!(
            ServerKey::generate(1, vec![Aead::Aes128Gcm, Aead::Aes128Gcm]),
            Err(OhttpError::AeadList(_))
        ));
        let g1 = ServerKey::generate(1, vec![Aead::Aes256Gcm]).unwrap();
        let g2 = ServerKey::generate(1, vec![Aead::Aes256Gcm]).unwrap();
        assert_ne!(g1.config().public_key, g2.config().public_key);
    }

    #[test]
    fn debug_shows_the_public_key_but_not_the_private_key() {
        let sk = [0x5a; 32];
        let key = ServerKey::from_private_bytes(3, &sk, vec![Aead::Aes256Gcm]).unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains(&hex::encode(key.config().public_key)),
            "{shown}"
        );
        assert!(!shown.contains("5a5a5a5a"), "{shown}");
    }
}
