//! Cryptogen through the library API: layout, loading back, TLS usability.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cairn_crypto::{
    CertificateAuthority, CryptoError, CryptogenError, GenerateOptions, IssueRequest, KeyType,
    MSP_CONFIG_FILE, Msp, MspConfig, MspSet, Role, SigningIdentity, generate, unix_now,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

fn opts(key_type: KeyType) -> GenerateOptions {
    GenerateOptions {
        peers: 2,
        orderers: 1,
        users: 2,
        key_type,
        user_attrs: BTreeMap::from([("hf.Type".to_string(), "client".to_string())]),
        ..GenerateOptions::default()
    }
}

fn msp_set(out: &Path, orgs: &[&str]) -> MspSet {
    let configs: Vec<MspConfig> = orgs
        .iter()
        .map(|o| MspConfig::load(&out.join(o).join(MSP_CONFIG_FILE)).unwrap())
        .collect();
    MspSet::from_configs(&configs).unwrap()
}

#[test]
fn generated_identities_load_sign_and_validate() {
    for kt in [KeyType::Ed25519, KeyType::P256] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("crypto");
        let orgs = vec!["Org1".to_string(), "Supplier-Co".to_string()];
        let generated = generate(&orgs, &out, &opts(kt)).unwrap();
        assert_eq!(generated.len(), 2);
        let set = msp_set(&out, &["org1", "supplier-co"]);
        let now = unix_now();
        for org in &generated {
            assert_eq!(org.dir, out.join(org.name.to_ascii_lowercase()));
            let names: Vec<&str> = org.identities.iter().map(|i| i.name.as_str()).collect();
            assert_eq!(
                names,
                ["admin", "peer0", "peer1", "orderer0", "user1", "user2"]
            );
            for gen_id in &org.identities {
                let signer = SigningIdentity::from_dir(&gen_id.dir).unwrap();
                assert_eq!(signer.key().key_type(), kt);
                assert_eq!(signer.msp_id(), org.msp_id);
                let id = set.identify(signer.identity().der(), now).unwrap();
                assert_eq!(id.msp_id(), org.msp_id);
                assert_eq!(id.role(), gen_id.role);
                assert_eq!(id.common_name(), Some(gen_id.common_name.as_str()));
                assert_eq!(id.serial_hex(), gen_id.serial_hex);
                let expected_attrs = if gen_id.role == Role::Client { 1 } else { 0 };
                assert_eq!(id.attrs().len(), expected_attrs, "{}", gen_id.name);
                id.verify(b"hello", &signer.sign(b"hello")).unwrap();
            }
            // The CA reloads from disk and keeps issuing accepted certificates.
            let ca = CertificateAuthority::load(&org.dir.join("ca")).unwrap();
            assert_eq!(ca.msp_id(), org.msp_id);
            let (cert, _) = ca
                .issue(&IssueRequest::new("user9@x.cairn", Role::Client, 1), kt)
                .unwrap();
            set.identify(cert.der(), now).unwrap();
        }
    }
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    generate(&["Org1".to_string()], tmp.path(), &opts(KeyType::Ed25519)).unwrap();
    let peers = tmp.path().join("org1/peers");
    std::fs::copy(peers.join("peer1/key.pem"), tmp.path().join("key.pem")).unwrap();
    std::fs::copy(peers.join("peer0/cert.pem"), tmp.path().join("cert.pem")).unwrap();
    let err = SigningIdentity::from_dir(tmp.path()).unwrap_err();
    assert!(matches!(
        err,
        cairn_crypto::LoadError::Crypto {
            source: CryptoError::KeyMismatch { .. },
            ..
        }
    ));
}

#[test]
fn node_certificates_are_valid_tls_certificates_for_webpki() {
    for kt in [KeyType::Ed25519, KeyType::P256] {
        let tmp = tempfile::tempdir().unwrap();
        generate(&["Org1".to_string()], tmp.path(), &opts(kt)).unwrap();
        let org = tmp.path().join("org1");
        let ca_der = pem_der(&org.join("ca/ca.pem"));
        let ca_der = CertificateDer::from(ca_der);
        let anchor = webpki::anchor_from_trusted_cert(&ca_der).unwrap();
        let algs = [webpki::ring::ED25519, webpki::ring::ECDSA_P256_SHA256];
        let now = UnixTime::since_unix_epoch(Duration::from_secs(unix_now() as u64));
        for node in ["peers/peer0", "peers/peer1", "orderers/orderer0"] {
            let der = CertificateDer::from(pem_der(&org.join(node).join("cert.pem")));
            let ee = webpki::EndEntityCert::try_from(&der).unwrap();
            for usage in [
                webpki::KeyUsage::server_auth(),
                webpki::KeyUsage::client_auth(),
            ] {
                ee.verify_for_usage(
                    &algs,
                    std::slice::from_ref(&anchor),
                    &[],
                    now,
                    usage,
                    None,
                    None,
                )
                .unwrap_or_else(|e| panic!("{kt} {node}: {e:?}"));
            }
            for name in ["localhost", "127.0.0.1"] {
                ee.verify_is_valid_for_subject_name(&ServerName::try_from(name).unwrap())
                    .unwrap_or_else(|e| panic!("{kt} {node} {name}: {e:?}"));
            }
            let host = format!("{}.org1.cairn", node.rsplit('/').next().unwrap());
            ee.verify_is_valid_for_subject_name(&ServerName::try_from(host.as_str()).unwrap())
                .unwrap();
        }
        // Users are TLS clients, not servers.
        let der = CertificateDer::from(pem_der(&org.join("users/user1/cert.pem")));
        let ee = webpki::EndEntityCert::try_from(&der).unwrap();
        ee.verify_for_usage(
            &algs,
            std::slice::from_ref(&anchor),
            &[],
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .unwrap();
        assert!(
            ee.verify_for_usage(
                &algs,
                std::slice::from_ref(&anchor),
                &[],
                now,
                webpki::KeyUsage::server_auth(),
                None,
                None
            )
            .is_err()
        );
    }
}

#[test]
fn a_non_empty_output_needs_force_and_force_regenerates() {
    let tmp = tempfile::tempdir().unwrap();
    let orgs = vec!["Org1".to_string()];
    let first = generate(&orgs, tmp.path(), &opts(KeyType::Ed25519)).unwrap();
    let err = generate(&orgs, tmp.path(), &opts(KeyType::Ed25519)).unwrap_err();
    assert!(matches!(err, CryptogenError::OutputNotEmpty { .. }));
    assert!(err.to_string().contains("--force"), "{err}");

    let forced = GenerateOptions {
        force: true,
        peers: 1,
        ..opts(KeyType::Ed25519)
    };
    let second = generate(&orgs, tmp.path(), &forced).unwrap();
    // The admin directory now holds a new certificate from the new CA.
    let msp =
        Msp::from_config(&MspConfig::load(&tmp.path().join("org1/msp.json")).unwrap()).unwrap();
    let admin = SigningIdentity::from_dir(&second[0].identities[0].dir).unwrap();
    assert_eq!(second[0].identities[0].dir, first[0].identities[0].dir);
    assert_eq!(
        admin.identity().serial_hex(),
        second[0].identities[0].serial_hex
    );
    assert_ne!(
        first[0].identities[0].serial_hex,
        second[0].identities[0].serial_hex
    );
    msp.validate(admin.identity().der(), unix_now()).unwrap();
    // The stale peer1 from the first run is gone.
    assert!(!tmp.path().join("org1/peers/peer1").exists());
}

#[test]
fn validity_window_options_apply_to_every_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let start = unix_now() - 100 * 86_400;
    let o = GenerateOptions {
        not_before: Some(start),
        validity_days: 10,
        ..GenerateOptions::default()
    };
    let generated = generate(&["Org1".to_string()], tmp.path(), &o).unwrap();
    let msp =
        Msp::from_config(&MspConfig::load(&tmp.path().join("org1/msp.json")).unwrap()).unwrap();
    let id = SigningIdentity::from_dir(&generated[0].identities[0].dir).unwrap();
    assert_eq!(id.identity().not_before(), start);
    assert_eq!(id.identity().not_after(), start + 10 * 86_400);
    assert!(matches!(
        msp.validate(id.identity().der(), unix_now()),
        Err(CryptoError::Expired { .. })
    ));
    msp.validate(id.identity().der(), start + 86_400).unwrap();
    let bad = GenerateOptions {
        validity_days: 0,
        ..GenerateOptions::default()
    };
    assert!(matches!(
        generate(&["Org2".to_string()], &tmp.path().join("x"), &bad),
        Err(CryptogenError::InvalidOptions { .. })
    ));
}

fn pem_der(path: &Path) -> Vec<u8> {
    cairn_crypto::Certificate::from_pem(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .der()
        .to_vec()
}
