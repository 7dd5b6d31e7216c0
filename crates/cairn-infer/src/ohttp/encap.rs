//! Request and response encapsulation (RFC 9458 §4.3 and §4.4).
//!
//! ```text
//! hdr          = key_id (1) ‖ kem_id (2) ‖ kdf_id (2) ‖ aead_id (2)
//! info         = "message/bhttp request" ‖ 0x00 ‖ hdr
//! enc_request  = hdr ‖ enc (32) ‖ HPKE-Seal(aad = "", request)
//! secret       = Export("message/bhttp response", max(Nn, Nk))
//! prk          = HKDF-Extract(salt = enc ‖ response_nonce, secret)
//! enc_response = response_nonce (max(Nn, Nk)) ‖ AEAD-Seal(Expand(prk, "key", Nk),
//!                                                         Expand(prk, "nonce", Nn), "", response)
//! ```
//!
//! Neither context keeps the HPKE context: each side exports the response secret as
//! soon as the request is sealed or opened, so a context is `enc` plus that secret.
//! That is also what lets the RFC's example be checked from its printed secret.

use aes_gcm::aead::{Aead as _, KeyInit};
use hkdf::Hkdf;
use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use sha2::Sha256;

use super::config::wipe;
use super::{Aead, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, KeyConfig, OhttpError, ServerKey};

/// `hdr`: key id, KEM, KDF and AEAD ids.
const HEADER_LEN: usize = 7;
/// `Nenc` of DHKEM(X25519, HKDF-SHA256).
const ENC_LEN: usize = 32;
/// The tag of all three AEADs.
const TAG_LEN: usize = 16;
/// The longest response secret / nonce: `max(Nn, Nk)` over our AEADs.
const MAX_SECRET_LEN: usize = 32;
const REQUEST_LABEL: &[u8] = b"message/bhttp request";
const RESPONSE_LABEL: &[u8] = b"message/bhttp response";

/// Encapsulates a binary HTTP request to `config`'s key with `aead`; returns the
/// encapsulated request and the context that opens its response.
///
/// Refuses an AEAD the configuration does not offer ([`OhttpError::AeadNotOffered`]).
pub fn encapsulate_request(
    config: &KeyConfig,
    aead: Aead,
    request: &[u8],
) -> Result<(Vec<u8>, ClientContext), OhttpError> {
    prepare_request(config, aead)?.seal(request)
}

/// Sets up the HPKE sender for one request to `config`'s key with `aead`, before
/// the request exists: the caller learns the request's encapsulated key
/// ([`PreparedRequest::enc`]) first, so the request can carry something bound to it
/// (an attested caller's token binds it as its channel).
pub fn prepare_request(config: &KeyConfig, aead: Aead) -> Result<PreparedRequest, OhttpError> {
    if !config.offers(aead) {
        return Err(OhttpError::AeadNotOffered(aead));
    }
    let hdr = header(config.key_id, aead);
    let pk =
        <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&config.public_key).map_err(hpke_error)?;
    let info = request_info(&hdr);
    let (enc, sender) = match aead {
        Aead::Aes128Gcm => {
            let (enc, ctx) = setup_sender::<AesGcm128>(&pk, &info)?;
            (enc, Sender::Aes128Gcm(ctx))
        }
        Aead::Aes256Gcm => {
            let (enc, ctx) = setup_sender::<AesGcm256>(&pk, &info)?;
            (enc, Sender::Aes256Gcm(ctx))
        }
        Aead::ChaCha20Poly1305 => {
            let (enc, ctx) = setup_sender::<ChaCha20Poly1305>(&pk, &info)?;
            (enc, Sender::ChaCha20Poly1305(ctx))
        }
    };
    Ok(PreparedRequest {
        hdr,
        aead,
        enc,
        sender,
    })
}

type SenderCtx<A> = hpke::aead::AeadCtxS<A, HkdfSha256, X25519HkdfSha256>;

/// The HPKE sender context of one AEAD.
enum Sender {
    Aes128Gcm(SenderCtx<AesGcm128>),
    Aes256Gcm(SenderCtx<AesGcm256>),
    ChaCha20Poly1305(SenderCtx<ChaCha20Poly1305>),
}

/// A request whose HPKE sender is set up (its `enc` is known) but not yet sealed.
pub struct PreparedRequest {
    hdr: [u8; HEADER_LEN],
    aead: Aead,
    enc: [u8; ENC_LEN],
    sender: Sender,
}

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("key_id", &self.hdr[0])
            .field("aead", &self.aead)
            .finish_non_exhaustive()
    }
}

impl PreparedRequest {
    /// The request's encapsulated key (the sender's ephemeral X25519 public key).
    pub fn enc(&self) -> &[u8; ENC_LEN] {
        &self.enc
    }

    /// Seals `request`; returns the encapsulated request and the context that opens
    /// its response.
    pub fn seal(self, request: &[u8]) -> Result<(Vec<u8>, ClientContext), OhttpError> {
        let aead = self.aead;
        let (ct, secret) = match self.sender {
            Sender::Aes128Gcm(ctx) => seal_with(ctx, request, aead)?,
            Sender::Aes256Gcm(ctx) => seal_with(ctx, request, aead)?,
            Sender::ChaCha20Poly1305(ctx) => seal_with(ctx, request, aead)?,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + ENC_LEN + ct.len());
        out.extend_from_slice(&self.hdr);
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&ct);
        Ok((
            out,
            ClientContext {
                aead,
                enc: self.enc,
                secret,
            },
        ))
    }
}

/// Decapsulates a request with the key its key id names; returns the binary HTTP
/// request and the context that seals the response.
///
/// Key ids must be unique among `keys` (the first match is used). The checks run in
/// RFC 9458 §4.3 order: key id, KEM, KDF, AEAD (known, then offered by that key),
/// lengths, then HPKE.
pub fn decapsulate_request(
    keys: &[&ServerKey],
    enc_request: &[u8],
) -> Result<(Vec<u8>, ServerContext), OhttpError> {
    let Some((hdr, rest)) = enc_request.split_first_chunk::<HEADER_LEN>() else {
        return Err(OhttpError::Malformed(format!(
            "encapsulated request: {} bytes, shorter than its {HEADER_LEN}-byte header",
            enc_request.len()
        )));
    };
    let key_id = hdr[0];
    let kem = u16::from_be_bytes([hdr[1], hdr[2]]);
    let kdf = u16::from_be_bytes([hdr[3], hdr[4]]);
    let aead_id = u16::from_be_bytes([hdr[5], hdr[6]]);
    let key = keys
        .iter()
        .find(|k| k.config().key_id == key_id)
        .ok_or(OhttpError::UnknownKeyId(key_id))?;
    if kem != KEM_X25519_HKDF_SHA256 {
        return Err(OhttpError::UnsupportedKem(kem));
    }
    if kdf != KDF_HKDF_SHA256 {
        return Err(OhttpError::UnsupportedKdf(kdf));
    }
    let aead = Aead::from_id(aead_id).ok_or(OhttpError::UnsupportedAead(aead_id))?;
    if !key.config().offers(aead) {
        return Err(OhttpError::AeadNotOffered(aead));
    }
    let Some((enc, ct)) = rest.split_first_chunk::<ENC_LEN>() else {
        return Err(OhttpError::Malformed(format!(
            "encapsulated request: {} bytes after the header, shorter than the {ENC_LEN}-byte \
             encapsulated key",
            rest.len()
        )));
    };
    if ct.len() < TAG_LEN {
        return Err(OhttpError::Malformed(format!(
            "encapsulated request: {} bytes of ciphertext, shorter than the {TAG_LEN}-byte tag",
            ct.len()
        )));
    }
    let encapped =
        <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(enc).map_err(|_| OhttpError::Open)?;
    let info = request_info(hdr);
    let sk = key.private_key();
    let (request, secret) = match aead {
        Aead::Aes128Gcm => open_request::<AesGcm128>(sk, &encapped, &info, ct, aead)?,
        Aead::Aes256Gcm => open_request::<AesGcm256>(sk, &encapped, &info, ct, aead)?,
        Aead::ChaCha20Poly1305 => open_request::<ChaCha20Poly1305>(sk, &encapped, &info, ct, aead)?,
    };
    let context = ServerContext {
        key_id,
        aead,
        enc: *enc,
        secret,
    };
    Ok((request, context))
}

/// The client's state for opening the response to one request.
pub struct ClientContext {
    aead: Aead,
    enc: [u8; ENC_LEN],
    secret: ResponseSecret,
}

impl ClientContext {
    /// Opens the encapsulated response to this context's request.
    pub fn open_response(self, enc_response: &[u8]) -> Result<Vec<u8>, OhttpError> {
        let nonce_len = self.aead.response_nonce_len();
        if enc_response.len() < nonce_len + TAG_LEN {
            return Err(OhttpError::Malformed(format!(
                "encapsulated response: {} bytes, shorter than its {nonce_len}-byte nonce and \
                 {TAG_LEN}-byte tag",
                enc_response.len()
            )));
        }
        let (response_nonce, ct) = enc_response.split_at(nonce_len);
        let keys = ResponseKeys::derive(self.aead, &self.secret, &self.enc, response_nonce)?;
        keys.open(ct)
    }

    /// Test hook: a context from a known exported secret and `enc`, to open a
    /// response whose request was not sealed here (the RFC 9458 Appendix A example).
    /// A real client gets its context from [`encapsulate_request`].
    #[doc(hidden)]
    pub fn danger_from_exported_secret(
        aead: Aead,
        enc: [u8; 32],
        secret: &[u8],
    ) -> Result<ClientContext, OhttpError> {
        let secret = ResponseSecret::from_slice(aead, secret)?;
        Ok(ClientContext { aead, enc, secret })
    }
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("aead", &self.aead)
            .finish_non_exhaustive()
    }
}

/// The server's state for sealing the response to one request.
pub struct ServerContext {
    key_id: u8,
    aead: Aead,
    enc: [u8; ENC_LEN],
    secret: ResponseSecret,
}

impl ServerContext {
    /// The request's encapsulated key (the client's ephemeral X25519 public key):
    /// what an attested caller's token binds as its channel.
    pub fn enc(&self) -> &[u8; ENC_LEN] {
        &self.enc
    }

    /// The key id the request was sealed to.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The AEAD the request used (the response uses it too).
    pub fn aead(&self) -> Aead {
        self.aead
    }

    /// Seals a binary HTTP response under a fresh random nonce.
    pub fn seal_response(self, response: &[u8]) -> Result<Vec<u8>, OhttpError> {
        let mut nonce = [0u8; MAX_SECRET_LEN];
        let nonce = &mut nonce[..self.aead.response_nonce_len()];
        getrandom::fill(nonce).map_err(|e| OhttpError::Random(e.to_string()))?;
        self.danger_seal_response_with_nonce(nonce, response)
    }

    /// Test hook: seals with a chosen response nonce, so a known-answer test can
    /// compare bytes. Reusing a nonce with the same context breaks confidentiality;
    /// production code calls [`ServerContext::seal_response`].
    #[doc(hidden)]
    pub fn danger_seal_response_with_nonce(
        self,
        response_nonce: &[u8],
        response: &[u8],
    ) -> Result<Vec<u8>, OhttpError> {
        let want = self.aead.response_nonce_len();
        if response_nonce.len() != want {
            return Err(OhttpError::Malformed(format!(
                "response nonce: {} bytes; {} needs {want}",
                response_nonce.len(),
                self.aead
            )));
        }
        let keys = ResponseKeys::derive(self.aead, &self.secret, &self.enc, response_nonce)?;
        let ct = keys.seal(response)?;
        let mut out = Vec::with_capacity(response_nonce.len() + ct.len());
        out.extend_from_slice(response_nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Test hook: the secret exported from the HPKE context (RFC 9458 §4.4 step 1),
    /// to compare with a known answer.
    #[doc(hidden)]
    pub fn danger_exported_secret(&self) -> &[u8] {
        self.secret.as_slice()
    }
}

impl std::fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerContext")
            .field("key_id", &self.key_id)
            .field("aead", &self.aead)
            .finish_non_exhaustive()
    }
}

/// The exported response secret, `max(Nn, Nk)` bytes; wiped on drop.
struct ResponseSecret {
    bytes: [u8; MAX_SECRET_LEN],
    len: usize,
}

impl ResponseSecret {
    fn zeroed(aead: Aead) -> ResponseSecret {
        ResponseSecret {
            bytes: [0; MAX_SECRET_LEN],
            len: aead.response_nonce_len(),
        }
    }

    fn from_slice(aead: Aead, secret: &[u8]) -> Result<ResponseSecret, OhttpError> {
        let mut out = Self::zeroed(aead);
        if secret.len() != out.len {
            return Err(OhttpError::Malformed(format!(
                "exported secret: {} bytes; {aead} needs {}",
                secret.len(),
                out.len
            )));
        }
        out.as_mut_slice().copy_from_slice(secret);
        Ok(out)
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

impl Drop for ResponseSecret {
    fn drop(&mut self) {
        wipe(&mut self.bytes);
    }
}

/// The response AEAD's key and nonce (RFC 9458 §4.4 steps 3 to 5).
struct ResponseKeys {
    aead: Aead,
    key: [u8; 32],
    nonce: [u8; 12],
}

impl ResponseKeys {
    fn derive(
        aead: Aead,
        secret: &ResponseSecret,
        enc: &[u8; ENC_LEN],
        response_nonce: &[u8],
    ) -> Result<ResponseKeys, OhttpError> {
        let mut salt = [0u8; ENC_LEN + MAX_SECRET_LEN];
        salt[..ENC_LEN].copy_from_slice(enc);
        salt[ENC_LEN..ENC_LEN + response_nonce.len()].copy_from_slice(response_nonce);
        let salt = &salt[..ENC_LEN + response_nonce.len()];
        let prk = Hkdf::<Sha256>::new(Some(salt), secret.as_slice());
        let mut keys = ResponseKeys {
            aead,
            key: [0; 32],
            nonce: [0; 12],
        };
        // Both lengths are far below HKDF-SHA256's 8160-byte limit.
        let expand = |e: hkdf::InvalidLength| OhttpError::Hpke(format!("HKDF-Expand: {e}"));
        prk.expand(b"key", &mut keys.key[..aead.key_len()])
            .map_err(expand)?;
        prk.expand(b"nonce", &mut keys.nonce).map_err(expand)?;
        Ok(keys)
    }

    fn key(&self) -> &[u8] {
        &self.key[..self.aead.key_len()]
    }

    fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, OhttpError> {
        let nonce = self.nonce.into();
        let sealed = match self.aead {
            Aead::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(self.key())
                .map_err(|_| key_length_error(self.aead))?
                .encrypt(&nonce, plaintext),
            Aead::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(self.key())
                .map_err(|_| key_length_error(self.aead))?
                .encrypt(&nonce, plaintext),
            Aead::ChaCha20Poly1305 => {
                chacha20poly1305::ChaCha20Poly1305::new_from_slice(self.key())
                    .map_err(|_| key_length_error(self.aead))?
                    .encrypt(&nonce, plaintext)
            }
        };
        sealed.map_err(|_| OhttpError::Hpke(format!("{} refused to seal", self.aead)))
    }

    fn open(&self, ciphertext: &[u8]) -> Result<Vec<u8>, OhttpError> {
        let nonce = self.nonce.into();
        let opened = match self.aead {
            Aead::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(self.key())
                .map_err(|_| key_length_error(self.aead))?
                .decrypt(&nonce, ciphertext),
            Aead::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(self.key())
                .map_err(|_| key_length_error(self.aead))?
                .decrypt(&nonce, ciphertext),
            Aead::ChaCha20Poly1305 => {
                chacha20poly1305::ChaCha20Poly1305::new_from_slice(self.key())
                    .map_err(|_| key_length_error(self.aead))?
                    .decrypt(&nonce, ciphertext)
            }
        };
        opened.map_err(|_| OhttpError::Open)
    }
}

impl Drop for ResponseKeys {
    fn drop(&mut self) {
        wipe(&mut self.key);
    }
}

/// `key()` is sliced to the AEAD's own key length, so this cannot happen.
fn key_length_error(aead: Aead) -> OhttpError {
    OhttpError::Hpke(format!("{aead} key is not {} bytes", aead.key_len()))
}

fn header(key_id: u8, aead: Aead) -> [u8; HEADER_LEN] {
    let [kem0, kem1] = KEM_X25519_HKDF_SHA256.to_be_bytes();
    let [kdf0, kdf1] = KDF_HKDF_SHA256.to_be_bytes();
    let [aead0, aead1] = aead.id().to_be_bytes();
    [key_id, kem0, kem1, kdf0, kdf1, aead0, aead1]
}

fn request_info(hdr: &[u8; HEADER_LEN]) -> Vec<u8> {
    let mut info = Vec::with_capacity(REQUEST_LABEL.len() + 1 + HEADER_LEN);
    info.extend_from_slice(REQUEST_LABEL);
    info.push(0);
    info.extend_from_slice(hdr);
    info
}

/// HPKE SetupBaseS for one AEAD.
fn setup_sender<A: hpke::aead::Aead>(
    pk: &<X25519HkdfSha256 as Kem>::PublicKey,
    info: &[u8],
) -> Result<([u8; ENC_LEN], SenderCtx<A>), OhttpError> {
    // The ephemeral key comes from the OS generator, which hpke's API requires to be
    // infallible: a failing OS RNG panics here (as in cairn-attest's sealing).
    let mut rng = hpke::rand_core::UnwrapErr(getrandom::SysRng);
    let (enc, ctx) = hpke::setup_sender_with_rng::<A, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        pk,
        info,
        &mut rng,
    )
    .map_err(hpke_error)?;
    Ok((enc.to_bytes().into(), ctx))
}

/// HPKE Seal + Export for one AEAD.
fn seal_with<A: hpke::aead::Aead>(
    mut ctx: SenderCtx<A>,
    request: &[u8],
    aead: Aead,
) -> Result<(Vec<u8>, ResponseSecret), OhttpError> {
    let ct = ctx.seal(request, b"").map_err(hpke_error)?;
    let mut secret = ResponseSecret::zeroed(aead);
    ctx.export(RESPONSE_LABEL, secret.as_mut_slice())
        .map_err(hpke_error)?;
    Ok((ct, secret))
}

/// HPKE SetupBaseR + Open + Export for one AEAD.
fn open_request<A: hpke::aead::Aead>(
    sk: &<X25519HkdfSha256 as Kem>::PrivateKey,
    enc: &<X25519HkdfSha256 as Kem>::EncappedKey,
    info: &[u8],
    ct: &[u8],
    aead: Aead,
) -> Result<(Vec<u8>, ResponseSecret), OhttpError> {
    // A decapsulation failure (e.g. `enc` a low-order point) is as much a forged or
    // altered request as a failed tag, so both are `Open`.
    let mut ctx =
        hpke::setup_receiver::<A, HkdfSha256, X25519HkdfSha256>(&OpModeR::Base, sk, enc, info)
            .map_err(|_| OhttpError::Open)?;
    let request = ctx.open(ct, b"").map_err(|_| OhttpError::Open)?;
    let mut secret = ResponseSecret::zeroed(aead);
    ctx.export(RESPONSE_LABEL, secret.as_mut_slice())
        .map_err(hpke_error)?;
    Ok((request, secret))
}

fn hpke_error(e: hpke::HpkeError) -> OhttpError {
    OhttpError::Hpke(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    /// RFC 9458 Appendix A, from testdata/rfc9458/appendix-a.json.
    fn vector(field: &str) -> Vec<u8> {
        let doc: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/rfc9458/appendix-a.json"
        )))
        .unwrap();
        hex::decode(doc["vectors"][field].as_str().unwrap()).unwrap()
    }

    #[test]
    fn rfc9458_info_is_label_zero_and_header() {
        let hdr = header(1, Aead::Aes128Gcm);
        assert_eq!(request_info(&hdr), vector("info"));
        assert_eq!(&hdr[..], &vector("encapsulated_request")[..HEADER_LEN]);
    }

    #[test]
    fn rfc9458_response_key_and_nonce() {
        let enc: [u8; 32] = vector("pkE").try_into().unwrap();
        let secret = ResponseSecret::from_slice(Aead::Aes128Gcm, &vector("secret")).unwrap();
        let keys = ResponseKeys::derive(Aead::Aes128Gcm, &secret, &enc, &vector("response_nonce"))
            .unwrap();
        assert_eq!(keys.key(), vector("aead_key"));
        assert_eq!(keys.nonce.to_vec(), vector("aead_nonce"));
        // The vector file is self-consistent: its salt is enc ‖ nonce and its PRK is
        // HKDF-Extract(salt, secret) (our derive() never exposes the PRK).
        let salt = [vector("pkE"), vector("response_nonce")].concat();
        assert_eq!(salt, vector("salt"));
        let (prk, _) = Hkdf::<Sha256>::extract(Some(&salt), &vector("secret"));
        assert_eq!(prk.to_vec(), vector("prk"));
    }

    #[test]
    fn round_trip_with_each_aead_and_contexts_hide_secrets() {
        let key = ServerKey::derive(4, &[9; 32], Aead::ALL.to_vec()).unwrap();
        for aead in Aead::ALL {
            let (req, client) = encapsulate_request(key.config(), aead, b"ping").unwrap();
            assert_eq!(req.len(), HEADER_LEN + ENC_LEN + 4 + TAG_LEN);
            let (plain, server) = decapsulate_request(&[&key], &req).unwrap();
            assert_eq!(plain, b"ping");
            assert_eq!((server.key_id(), server.aead()), (4, aead));
            let secret_hex = hex::encode(server.danger_exported_secret());
            assert!(!format!("{server:?}{client:?}").contains(&secret_hex));
            let res = server.seal_response(b"pong").unwrap();
            assert_eq!(res.len(), aead.response_nonce_len() + 4 + TAG_LEN);
            assert_eq!(client.open_response(&res).unwrap(), b"pong");
        }
    }

    #[test]
    fn a_wrong_nonce_length_is_refused() {
        let key = ServerKey::derive(4, &[9; 32], vec![Aead::Aes256Gcm]).unwrap();
        let (req, _) = encapsulate_request(key.config(), Aead::Aes256Gcm, b"").unwrap();
        let (_, server) = decapsulate_request(&[&key], &req).unwrap();
        assert!(matches!(
            server.danger_seal_response_with_nonce(&[0; 16], b""),
            Err(OhttpError::Malformed(m)) if m.contains("needs 32")
        ));
    }
}
