//! Oblivious HTTP (RFC 9458) end to end through the public API: the RFC's Appendix A
//! example (testdata/rfc9458/appendix-a.json), round trips with every AEAD and with
//! binary HTTP inner messages, the distinct refusals, and tampering properties.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::OnceLock;

use cairn_infer::ohttp::{
    Aead, ClientContext, InnerRequest, InnerResponse, KEYS_MEDIA_TYPE, KeyConfig, OhttpError,
    REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE, ServerKey, decapsulate_request, encapsulate_request,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// One hex field of the RFC 9458 Appendix A example.
fn rfc(field: &str) -> Vec<u8> {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/rfc9458/appendix-a.json"
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    });
    let hex = doc["vectors"][field]
        .as_str()
        .unwrap_or_else(|| panic!("no field {field} in appendix-a.json"));
    hex::decode(hex).unwrap()
}

fn bytes32(field: &str) -> [u8; 32] {
    rfc(field).try_into().unwrap()
}

/// The RFC's gateway key: id 1, offering AES-128-GCM and ChaCha20Poly1305.
fn rfc_key() -> ServerKey {
    ServerKey::from_private_bytes(
        1,
        &bytes32("skR"),
        vec![Aead::Aes128Gcm, Aead::ChaCha20Poly1305],
    )
    .unwrap()
}

#[test]
fn rfc9458_key_configuration_is_encoded_from_skr() {
    let key = rfc_key();
    assert_eq!(key.config().encode(), rfc("key_config"));
    let decoded = KeyConfig::decode(&rfc("key_config")).unwrap();
    assert_eq!(&decoded, key.config());
    assert_eq!(decoded.aeads, vec![Aead::Aes128Gcm, Aead::ChaCha20Poly1305]);
    assert_eq!(
        decoded.sha256_hex(),
        hex::encode(Sha256::digest(rfc("key_config")))
    );

    // application/ohttp-keys: each configuration behind its 2-byte length (45 = 0x2d).
    let list = KeyConfig::encode_list(&[decoded.clone(), decoded.clone()]);
    let expected = [
        &[0x00, 0x2d][..],
        &rfc("key_config"),
        &[0x00, 0x2d],
        &rfc("key_config"),
    ]
    .concat();
    assert_eq!(list, expected);
    assert_eq!(
        KeyConfig::decode_list(&list).unwrap(),
        vec![decoded.clone(), decoded]
    );

    assert_eq!(REQUEST_MEDIA_TYPE, "message/ohttp-req");
    assert_eq!(RESPONSE_MEDIA_TYPE, "message/ohttp-res");
    assert_eq!(KEYS_MEDIA_TYPE, "application/ohttp-keys");
}

#[test]
fn rfc9458_ephemeral_key_is_the_enc_of_the_request() {
    // Checks the vector file itself: pkE = X25519(skE) and it sits after the header.
    let eph = ServerKey::from_private_bytes(0, &bytes32("skE"), vec![Aead::Aes128Gcm]).unwrap();
    assert_eq!(eph.config().public_key.to_vec(), rfc("pkE"));
    assert_eq!(&rfc("encapsulated_request")[7..39], &rfc("pkE")[..]);
}

#[test]
fn rfc9458_request_decapsulates_to_the_rfc_binary_http_request() {
    let key = rfc_key();
    let (request, context) = decapsulate_request(&[&key], &rfc("encapsulated_request")).unwrap();
    assert_eq!(request, rfc("request"));
    assert_eq!(context.key_id(), 1);
    assert_eq!(context.aead(), Aead::Aes128Gcm);
    assert_eq!(context.danger_exported_secret(), &rfc("secret")[..]);

    // bhttp reads it as GET https://example.com/ ...
    let message = bhttp::Message::read_bhttp::<_, std::io::Cursor<&[u8]>>(
        &mut std::io::Cursor::new(&request[..]),
    )
    .unwrap();
    let control = message.control();
    assert_eq!(control.method(), Some(&b"GET"[..]));
    assert_eq!(control.scheme(), Some(&b"https"[..]));
    assert_eq!(control.authority(), Some(&b"example.com"[..]));
    assert_eq!(control.path(), Some(&b"/"[..]));
    // ... and so does our inner request type (which keeps method and path only).
    let inner = InnerRequest::decode(&request).unwrap();
    assert_eq!((inner.method.as_str(), inner.path.as_str()), ("GET", "/"));
    assert!(inner.headers.is_empty() && inner.body.is_empty());
}

#[test]
fn rfc9458_response_with_the_rfc_nonce_is_byte_for_byte_the_rfc_response() {
    let key = rfc_key();
    let (_, context) = decapsulate_request(&[&key], &rfc("encapsulated_request")).unwrap();
    let sealed = context
        .danger_seal_response_with_nonce(&rfc("response_nonce"), &rfc("response"))
        .unwrap();
    assert_eq!(sealed, rfc("encapsulated_response"));
    let inner = InnerResponse::decode(&rfc("response")).unwrap();
    assert_eq!(inner.status, 200);
}

#[test]
fn rfc9458_client_opens_the_rfc_response() {
    let client = || {
        ClientContext::danger_from_exported_secret(Aead::Aes128Gcm, bytes32("pkE"), &rfc("secret"))
            .unwrap()
    };
    let opened = client()
        .open_response(&rfc("encapsulated_response"))
        .unwrap();
    assert_eq!(opened, rfc("response"));

    // Negative control: the same context refuses the response with its last tag byte changed.
    let mut altered = rfc("encapsulated_response");
    *altered.last_mut().unwrap() ^= 0x01;
    assert_eq!(client().open_response(&altered), Err(OhttpError::Open));
}

#[test]
fn a_client_request_to_the_rfc_configuration_opens_with_skr_and_its_response_comes_back() {
    let config = KeyConfig::decode(&rfc("key_config")).unwrap();
    let (enc_request, client) =
        encapsulate_request(&config, Aead::Aes128Gcm, &rfc("request")).unwrap();
    // Same header as the RFC's request; a fresh ephemeral key, so a different enc.
    assert_eq!(&enc_request[..7], &rfc("encapsulated_request")[..7]);
    assert_ne!(&enc_request[7..39], &rfc("pkE")[..]);
    assert_eq!(enc_request.len(), rfc("encapsulated_request").len());

    let key = rfc_key();
    let (request, server) = decapsulate_request(&[&key], &enc_request).unwrap();
    assert_eq!(request, rfc("request"));
    let enc_response = server.seal_response(&rfc("response")).unwrap();
    assert_eq!(
        client.open_response(&enc_response).unwrap(),
        rfc("response")
    );
}

#[test]
fn inner_messages_round_trip_with_every_aead_and_the_key_is_picked_by_id() {
    let old = ServerKey::generate(1, Aead::ALL.to_vec()).unwrap();
    let new = ServerKey::generate(2, Aead::ALL.to_vec()).unwrap();
    let request = InnerRequest {
        method: "POST".into(),
        path: "/v1/infer".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"inputs":[[0.5,1.5]]}"#.to_vec(),
    };
    let response = InnerResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"outputs":[[0.93]]}"#.to_vec(),
    };
    for target in [&old, &new] {
        for aead in Aead::ALL {
            let (enc_request, client) =
                encapsulate_request(target.config(), aead, &request.encode().unwrap()).unwrap();
            let (plain, server) = decapsulate_request(&[&old, &new], &enc_request).unwrap();
            assert_eq!(server.key_id(), target.config().key_id);
            assert_eq!(server.aead(), aead);
            assert_eq!(InnerRequest::decode(&plain).unwrap(), request);
            let enc_response = server.seal_response(&response.encode().unwrap()).unwrap();
            let opened = InnerResponse::decode(&client.open_response(&enc_response).unwrap());
            assert_eq!(opened.unwrap(), response, "{aead}");
        }
    }
}

#[test]
fn nodes_deriving_from_the_same_ikm_serve_one_configuration() {
    let ikm = [0x17; 32];
    let node_a = ServerKey::derive(5, &ikm, vec![Aead::Aes256Gcm]).unwrap();
    let node_b = ServerKey::derive(5, &ikm, vec![Aead::Aes256Gcm]).unwrap();
    assert_eq!(node_a.config().sha256_hex(), node_b.config().sha256_hex());
    let (enc_request, client) =
        encapsulate_request(node_a.config(), Aead::Aes256Gcm, b"to a").unwrap();
    let (plain, server) = decapsulate_request(&[&node_b], &enc_request).unwrap();
    assert_eq!(plain, b"to a");
    let enc_response = server.seal_response(b"from b").unwrap();
    assert_eq!(client.open_response(&enc_response).unwrap(), b"from b");

    // Another ikm gives another key under the same id: authentication fails.
    let stranger = ServerKey::derive(5, &[0x18; 32], vec![Aead::Aes256Gcm]).unwrap();
    assert_eq!(
        decapsulate_request(&[&stranger], &enc_request).unwrap_err(),
        OhttpError::Open
    );
}

#[test]
fn each_refusal_of_a_request_has_its_own_error() {
    let key = ServerKey::generate(3, vec![Aead::Aes256Gcm]).unwrap();
    let (good, _) = encapsulate_request(key.config(), Aead::Aes256Gcm, b"x").unwrap();
    assert!(
        decapsulate_request(&[&key], &good).is_ok(),
        "positive control"
    );
    let with = |at: usize, value: u8| {
        let mut bytes = good.clone();
        bytes[at] = value;
        decapsulate_request(&[&key], &bytes).unwrap_err()
    };
    assert_eq!(with(0, 4), OhttpError::UnknownKeyId(4));
    assert_eq!(with(2, 0x10), OhttpError::UnsupportedKem(0x0010));
    assert_eq!(with(4, 0x03), OhttpError::UnsupportedKdf(0x0003));
    assert_eq!(with(6, 0x07), OhttpError::UnsupportedAead(0x0007));
    assert_eq!(
        with(6, 0x03),
        OhttpError::AeadNotOffered(Aead::ChaCha20Poly1305)
    );
    assert!(matches!(
        decapsulate_request(&[], &good),
        Err(OhttpError::UnknownKeyId(3))
    ));
    assert!(with(0, 4).is_key_configuration_problem());

    // The client refuses an AEAD the configuration does not list, before any crypto.
    assert_eq!(
        encapsulate_request(key.config(), Aead::Aes128Gcm, b"x").unwrap_err(),
        OhttpError::AeadNotOffered(Aead::Aes128Gcm)
    );
}

#[test]
fn each_refusal_of_a_key_configuration_has_its_own_error() {
    let good = rfc("key_config");
    assert!(KeyConfig::decode(&good).is_ok(), "positive control");
    let with = |at: usize, value: u8| {
        let mut bytes = good.clone();
        bytes[at] = value;
        KeyConfig::decode(&bytes).unwrap_err()
    };
    assert_eq!(with(2, 0x21), OhttpError::UnsupportedKem(0x0021));
    assert_eq!(with(38, 0x03), OhttpError::UnsupportedKdf(0x0003));
    assert_eq!(with(44, 0x09), OhttpError::UnsupportedAead(0x0009));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        KeyConfig::decode(&trailing),
        Err(OhttpError::TrailingBytes(1))
    );
    // A list is not one configuration.
    let list = KeyConfig::encode_list(&[KeyConfig::decode(&good).unwrap()]);
    assert!(KeyConfig::decode(&list).is_err());
}

#[test]
fn a_response_answers_only_its_own_request() {
    let key = ServerKey::generate(1, vec![Aead::ChaCha20Poly1305]).unwrap();
    let (req_a, client_a) =
        encapsulate_request(key.config(), Aead::ChaCha20Poly1305, b"a").unwrap();
    let (req_b, client_b) =
        encapsulate_request(key.config(), Aead::ChaCha20Poly1305, b"b").unwrap();
    let (_, server_a) = decapsulate_request(&[&key], &req_a).unwrap();
    let (_, server_b) = decapsulate_request(&[&key], &req_b).unwrap();
    let res_a = server_a.seal_response(b"for a").unwrap();
    let res_b = server_b.seal_response(b"for b").unwrap();
    assert_eq!(client_b.open_response(&res_a), Err(OhttpError::Open));
    assert_eq!(client_a.open_response(&res_a).unwrap(), b"for a");
    assert_ne!(
        res_a[..32],
        res_b[..32],
        "each response draws a fresh nonce"
    );
}

/// A key offering every AEAD, shared by the property tests.
fn fixture_key() -> &'static ServerKey {
    static KEY: OnceLock<ServerKey> = OnceLock::new();
    KEY.get_or_init(|| ServerKey::derive(7, &[0x33; 32], Aead::ALL.to_vec()).unwrap())
}

fn any_aead() -> impl Strategy<Value = Aead> {
    prop::sample::select(Aead::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn flipping_any_byte_of_a_request_fails_decapsulation(
        aead in any_aead(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let key = fixture_key();
        let (mut bytes, _) = encapsulate_request(key.config(), aead, &body).unwrap();
        prop_assert!(decapsulate_request(&[key], &bytes).is_ok());
        let at = at.index(bytes.len());
        bytes[at] ^= mask;
        prop_assert!(decapsulate_request(&[key], &bytes).is_err(), "byte {} ^ {:#04x}", at, mask);
    }

    #[test]
    fn truncating_or_extending_a_request_fails_decapsulation(
        aead in any_aead(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let key = fixture_key();
        let (bytes, _) = encapsulate_request(key.config(), aead, &body).unwrap();
        let cut = cut.index(bytes.len());
        prop_assert!(decapsulate_request(&[key], &bytes[..cut]).is_err(), "cut to {}", cut);
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(decapsulate_request(&[key], &longer).is_err());
    }

    #[test]
    fn flipping_any_byte_of_a_response_fails_opening(
        aead in any_aead(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let key = fixture_key();
        let (request, client) = encapsulate_request(key.config(), aead, b"q").unwrap();
        let (_, server) = decapsulate_request(&[key], &request).unwrap();
        let mut bytes = server.seal_response(&body).unwrap();
        let at = at.index(bytes.len());
        bytes[at] ^= mask;
        prop_assert!(client.open_response(&bytes).is_err(), "byte {} ^ {:#04x}", at, mask);
    }

    #[test]
    fn truncating_or_extending_a_response_fails_opening(
        aead in any_aead(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let key = fixture_key();
        let (request, client) = encapsulate_request(key.config(), aead, b"q").unwrap();
        let (_, server) = decapsulate_request(&[key], &request).unwrap();
        let bytes = server.seal_response(&body).unwrap();
        let cut = cut.index(bytes.len());
        // open_response consumes its context, so the extension case takes a second exchange.
        prop_assert!(client.open_response(&bytes[..cut]).is_err(), "cut to {}", cut);
        let (request, client) = encapsulate_request(key.config(), aead, b"q").unwrap();
        let (_, server) = decapsulate_request(&[key], &request).unwrap();
        let mut longer = server.seal_response(&body).unwrap();
        longer.push(extra);
        prop_assert!(client.open_response(&longer).is_err());
    }
}

/// Bytes shaped like a key configuration: mostly valid fields, sometimes an
/// unsupported id, a length that does not match, or extra bytes.
fn config_like() -> impl Strategy<Value = Vec<u8>> {
    let odd_id = || prop::sample::select(vec![0x0000u16, 0x0002, 0x0004, 0x0010, 0x0021]);
    let kem = prop_oneof![4 => Just(0x0020u16), 1 => odd_id()];
    let pair = (
        prop_oneof![4 => Just(0x0001u16), 1 => odd_id()],
        prop_oneof![4 => 1u16..=3, 1 => odd_id()],
    );
    (
        any::<u8>(),
        kem,
        any::<[u8; 32]>(),
        prop::collection::vec(pair, 0..4),
        prop_oneof![4 => Just(0usize), 1 => 1usize..4],
        prop_oneof![4 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 1..3)],
    )
        .prop_map(|(key_id, kem, pk, pairs, skew, extra)| {
            let mut out = vec![key_id];
            out.extend_from_slice(&kem.to_be_bytes());
            out.extend_from_slice(&pk);
            out.extend_from_slice(&((4 * pairs.len() + skew) as u16).to_be_bytes());
            for (kdf, aead) in pairs {
                out.extend_from_slice(&kdf.to_be_bytes());
                out.extend_from_slice(&aead.to_be_bytes());
            }
            out.extend_from_slice(&extra);
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_key_configuration_that_decodes_re_encodes_to_the_same_bytes(bytes in config_like()) {
        // Canonical: what a client decodes hashes (sha256_hex) to what the gateway published.
        if let Ok(config) = KeyConfig::decode(&bytes) {
            prop_assert_eq!(config.encode(), bytes);
        }
    }

    #[test]
    fn decoders_return_errors_not_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let key = fixture_key();
        // Any answer is fine; a panic fails the test.
        let _ = KeyConfig::decode(&bytes);
        let _ = KeyConfig::decode_list(&bytes);
        let _ = InnerRequest::decode(&bytes);
        let _ = InnerResponse::decode(&bytes);
        prop_assert!(decapsulate_request(&[key], &bytes).is_err());
    }
}
