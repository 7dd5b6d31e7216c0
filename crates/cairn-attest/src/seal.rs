//! Sealing secrets to a workload's public key with HPKE (RFC 9180, base mode).
//!
//! The key broker encrypts a released secret to the X25519 key bound in the
//! workload's token, so only code holding that private key (inside the measured
//! workload) can open it. `info` names the purpose and `aad` binds the secret name
//! and token id, so a ciphertext cannot be replayed as another secret.

use hpke::aead::{AesGcm128, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::CryptoRng;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};

use crate::jwk::{PublicJwk, b64url, b64url_decode};

/// The HPKE cipher suites Cairn supports (all DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Suite {
    /// AEAD AES-128-GCM (RFC 9180 suite 0x0020/0x0001/0x0001).
    #[serde(rename = "X25519-HKDF-SHA256/AES-128-GCM")]
    Aes128Gcm,
    /// AEAD ChaCha20-Poly1305 (0x0020/0x0001/0x0003), the default.
    #[serde(rename = "X25519-HKDF-SHA256/ChaCha20Poly1305")]
    ChaCha20Poly1305,
}

/// A sealed secret as sent to the workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// The HPKE suite.
    pub suite: Suite,
    /// The encapsulated key, base64url.
    pub enc: String,
    /// The ciphertext with tag, base64url.
    pub ciphertext: String,
}

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The ciphertext, `info` or `aad` differ from what was sealed, or the key is wrong.
    #[error("cannot open: wrong key, or ciphertext, info or aad changed")]
    Open,
    /// The sealed secret is not well formed.
    #[error("malformed sealed secret: {0}")]
    Malformed(&'static str),
    /// The recipient key is not X25519.
    #[error("secrets can only be sealed to an X25519 key (JWK kty OKP, crv X25519)")]
    NotX25519,
    /// HPKE refused the operation (e.g. a low-order public key).
    #[error("HPKE failed: {0}")]
    Hpke(String),
}

/// An HPKE receiver context: opens successive messages and exports secrets.
pub(crate) enum Receiver {
    // Boxed: the AES-GCM context (expanded key schedule) is far larger than ChaCha's.
    Aes(Box<hpke::aead::AeadCtxR<AesGcm128, HkdfSha256, X25519HkdfSha256>>),
    ChaCha(hpke::aead::AeadCtxR<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>),
}

impl Receiver {
    pub(crate) fn open(&mut self, ct: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        match self {
            Receiver::Aes(c) => c.open(ct, aad),
            Receiver::ChaCha(c) => c.open(ct, aad),
        }
        .map_err(|_| SealError::Open)
    }

    #[cfg(test)]
    pub(crate) fn export(&self, ctx: &[u8], out: &mut [u8]) -> Result<(), SealError> {
        match self {
            Receiver::Aes(c) => c.export(ctx, out),
            Receiver::ChaCha(c) => c.export(ctx, out),
        }
        .map_err(|e| SealError::Hpke(e.to_string()))
    }
}

/// An HPKE sender context.
pub(crate) enum Sender {
    Aes(Box<hpke::aead::AeadCtxS<AesGcm128, HkdfSha256, X25519HkdfSha256>>),
    ChaCha(hpke::aead::AeadCtxS<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>),
}

impl Sender {
    pub(crate) fn seal(&mut self, pt: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        match self {
            Sender::Aes(c) => c.seal(pt, aad),
            Sender::ChaCha(c) => c.seal(pt, aad),
        }
        .map_err(|e| SealError::Hpke(e.to_string()))
    }
}

pub(crate) fn sender(
    suite: Suite,
    pk_recipient: &[u8; 32],
    info: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<(Vec<u8>, Sender), SealError> {
    let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(pk_recipient)
        .map_err(|e| SealError::Hpke(e.to_string()))?;
    let hpke_err = |e: hpke::HpkeError| SealError::Hpke(e.to_string());
    Ok(match suite {
        Suite::Aes128Gcm => {
            let (enc, ctx) =
                hpke::setup_sender_with_rng::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
                    &OpModeS::Base,
                    &pk,
                    info,
                    rng,
                )
                .map_err(hpke_err)?;
            (enc.to_bytes().to_vec(), Sender::Aes(Box::new(ctx)))
        }
        Suite::ChaCha20Poly1305 => {
            let (enc, ctx) = hpke::setup_sender_with_rng::<
                ChaCha20Poly1305,
                HkdfSha256,
                X25519HkdfSha256,
            >(&OpModeS::Base, &pk, info, rng)
            .map_err(hpke_err)?;
            (enc.to_bytes().to_vec(), Sender::ChaCha(ctx))
        }
    })
}

/// Seals `plaintext` to the X25519 key `recipient` (ChaCha20-Poly1305 suite).
pub fn seal(
    recipient: &PublicJwk,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<SealedSecret, SealError> {
    let PublicJwk::X25519(pk) = recipient else {
        return Err(SealError::NotX25519);
    };
    let mut rng = hpke::rand_core::UnwrapErr(getrandom::SysRng);
    let (enc, mut ctx) = sender(Suite::ChaCha20Poly1305, pk, info, &mut rng)?;
    let ct = ctx.seal(plaintext, aad)?;
    Ok(SealedSecret {
        suite: Suite::ChaCha20Poly1305,
        enc: b64url(&enc),
        ciphertext: b64url(&ct),
    })
}

/// A workload's X25519 key pair: the private half never leaves the workload.
pub struct WorkloadKey {
    sk: <X25519HkdfSha256 as Kem>::PrivateKey,
    pk: [u8; 32],
}

impl WorkloadKey {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self::derive(&Self::random_seed()?))
    }

    /// 32 random bytes from the OS: a seed for [`WorkloadKey::derive`] that can be
    /// stored (as a secret) to recreate the key pair.
    pub fn random_seed() -> Result<[u8; 32], SealError> {
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).map_err(|e| SealError::Hpke(e.to_string()))?;
        Ok(ikm)
    }

    /// The key pair RFC 9180 DeriveKeyPair makes from `ikm` (a stored seed, or RFC vectors).
    pub fn derive(ikm: &[u8]) -> Self {
        let (sk, pk) = X25519HkdfSha256::derive_keypair(ikm);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&pk.to_bytes());
        Self { sk, pk: bytes }
    }

    /// The public key as a JWK, to put in runtime data.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::X25519(self.pk)
    }

    /// The private key bytes (only for comparing with RFC vectors).
    #[cfg(test)]
    pub(crate) fn private_bytes(&self) -> Vec<u8> {
        self.sk.to_bytes().to_vec()
    }

    pub(crate) fn receiver(
        &self,
        suite: Suite,
        enc: &[u8],
        info: &[u8],
    ) -> Result<Receiver, SealError> {
        let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(enc)
            .map_err(|_| SealError::Malformed("enc is not an X25519 public key"))?;
        let open_err = |_| SealError::Open;
        Ok(match suite {
            Suite::Aes128Gcm => Receiver::Aes(Box::new(
                hpke::setup_receiver::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
                    &OpModeR::Base,
                    &self.sk,
                    &enc,
                    info,
                )
                .map_err(open_err)?,
            )),
            Suite::ChaCha20Poly1305 => Receiver::ChaCha(
                hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                    &OpModeR::Base,
                    &self.sk,
                    &enc,
                    info,
                )
                .map_err(open_err)?,
            ),
        })
    }

    /// Opens a secret sealed to this key with the same `info` and `aad`.
    pub fn open(
        &self,
        sealed: &SealedSecret,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let enc = b64url_decode(&sealed.enc).ok_or(SealError::Malformed("enc is not base64url"))?;
        let ct = b64url_decode(&sealed.ciphertext)
            .ok_or(SealError::Malformed("ciphertext is not base64url"))?;
        self.receiver(sealed.suite, &enc, info)?.open(&ct, aad)
    }
}

/// The HPKE `info` and `aad` for releasing secret `name` against token `jti`.
pub fn release_context(name: &str, jti: &str) -> (Vec<u8>, Vec<u8>) {
    let info = b"cairn-attest/key-release/v1".to_vec();
    let mut aad = Vec::with_capacity(name.len() + jti.len() + 1);
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(jti.as_bytes());
    (info, aad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod rfc9180_vectors;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_opens_and_only_with_the_same_context() {
        let alice = WorkloadKey::generate().unwrap();
        let bob = WorkloadKey::generate().unwrap();
        let (info, aad) = release_context("dek", "jti-1");
        let sealed = seal(&alice.public_jwk(), &info, &aad, b"secret").unwrap();
        assert_eq!(alice.open(&sealed, &info, &aad).unwrap(), b"secret");
        assert_eq!(bob.open(&sealed, &info, &aad), Err(SealError::Open));
        let (_, other_aad) = release_context("dek", "jti-2");
        assert_eq!(alice.open(&sealed, &info, &other_aad), Err(SealError::Open));
        let mut tampered = sealed.clone();
        let mut ct = b64url_decode(&tampered.ciphertext).unwrap();
        ct[0] ^= 1;
        tampered.ciphertext = b64url(&ct);
        assert_eq!(alice.open(&tampered, &info, &aad), Err(SealError::Open));
        assert_eq!(
            seal(&PublicJwk::Ed25519([0; 32]), &info, &aad, b"x"),
            Err(SealError::NotX25519)
        );
    }
}
