//! MSP validation: what a valid identity looks like and every way one is refused.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_crypto::{
    Certificate, CertificateAuthority, CryptoError, IssueRequest, KeyType, Msp, MspConfig, MspSet,
    Role, SigningIdentity, unix_now,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};

const DAY: i64 = 86_400;

fn ca(org: &str, kt: KeyType) -> CertificateAuthority {
    let now = unix_now();
    CertificateAuthority::new(org, &format!("{org}MSP"), kt, now - DAY, now + 365 * DAY).unwrap()
}

fn msp_of(ca: &CertificateAuthority) -> Msp {
    Msp::from_config(&ca.msp_config()).unwrap()
}

fn leaf(ca: &CertificateAuthority, cn: &str, role: Role) -> Certificate {
    ca.issue(&IssueRequest::new(cn, role, 30), ca.key().key_type())
        .unwrap()
        .0
}

#[test]
fn a_valid_leaf_passes_with_all_its_facts() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let mut req = IssueRequest::new("peer0.org1.cairn", Role::Peer, 30);
    req.attrs.insert("hf.EnrollmentID".into(), "peer0".into());
    req.attrs.insert("department".into(), "logistics".into());
    let (cert, key) = org1.issue(&req, KeyType::Ed25519).unwrap();
    let now = unix_now();
    let id = msp_of(&org1).validate(cert.der(), now).unwrap();

    assert_eq!(id.msp_id(), "Org1MSP");
    assert_eq!(id.role(), Role::Peer);
    assert_eq!(
        id.subject(),
        "CN=peer0.org1.cairn,OU=peer,organizationIdentifier=Org1MSP,O=Org1"
    );
    assert_eq!(
        id.issuer(),
        "CN=ca.org1.cairn,organizationIdentifier=Org1MSP,O=Org1"
    );
    assert_eq!(
        id.fabric_id(),
        format!("x509::{}::{}", id.subject(), id.issuer())
    );
    assert_eq!(id.common_name(), Some("peer0.org1.cairn"));
    assert_eq!(id.serial_hex().len(), 32);
    assert_eq!(id.serial_hex(), cert.serial_hex());
    assert!(id.not_before() <= now && now <= id.not_after());
    assert!((id.not_after() - id.not_before() - 30 * DAY - 60).abs() <= 1);
    assert_eq!(id.public_key(), &key.public_key());
    assert_eq!(id.der(), cert.der());
    assert_eq!(id.attr("department"), Some("logistics"));
    assert_eq!(id.attr("hf.EnrollmentID"), Some("peer0"));
    assert_eq!(id.attrs().len(), 2);

    let signer = SigningIdentity::new(id.clone(), key).unwrap();
    let sig = signer.sign(b"proposal");
    id.verify(b"proposal", &sig).unwrap();
    assert_eq!(id.verify(b"other", &sig), Err(CryptoError::BadSignature));
}

#[test]
fn a_leaf_from_another_orgs_ca_is_refused() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let org2 = ca("Org2", KeyType::Ed25519);
    let cert = leaf(&org2, "user1@org2.cairn", Role::Client);
    let now = unix_now();
    let err = msp_of(&org1).validate(cert.der(), now).unwrap_err();
    assert!(
        matches!(&err, CryptoError::UnknownCa { msp_id, .. } if msp_id == "Org1MSP"),
        "{err}"
    );

    let only_org1 = MspSet::new(vec![msp_of(&org1)]).unwrap();
    let err = only_org1.identify(cert.der(), now).unwrap_err();
    assert_eq!(
        err,
        CryptoError::UnknownOrg {
            issuer: "CN=ca.org2.cairn,organizationIdentifier=Org2MSP,O=Org2".into()
        }
    );
    let both = MspSet::new(vec![msp_of(&org1), msp_of(&org2)]).unwrap();
    let id = both.identify(cert.der(), now).unwrap();
    assert_eq!((id.msp_id(), id.role()), ("Org2MSP", Role::Client));
    assert_eq!(both.msp_ids().collect::<Vec<_>>(), ["Org1MSP", "Org2MSP"]);
}

#[test]
fn an_impostor_ca_with_the_same_name_fails_the_signature_check() {
    let real = ca("Org1", KeyType::Ed25519);
    let impostor = ca("Org1", KeyType::Ed25519);
    assert_eq!(
        real.certificate().subject(),
        impostor.certificate().subject()
    );
    let forged = leaf(&impostor, "admin@org1.cairn", Role::Admin);
    let err = msp_of(&real)
        .validate(forged.der(), unix_now())
        .unwrap_err();
    assert!(matches!(err, CryptoError::BadCertSignature { .. }), "{err}");
}

#[test]
fn expired_and_not_yet_valid_certificates_fail() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let msp = msp_of(&org1);
    let now = unix_now();
    let mut req = IssueRequest::new("user1@org1.cairn", Role::Client, 1);
    req.not_before = now - 10 * DAY;
    req.not_after = now - DAY;
    let old = org1.issue(&req, KeyType::Ed25519).unwrap().0;
    assert_eq!(
        msp.validate(old.der(), now).unwrap_err(),
        CryptoError::Expired {
            subject: old.subject().into(),
            not_after: now - DAY
        }
    );
    // Bounds are inclusive.
    msp.validate(old.der(), now - DAY).unwrap();
    assert!(matches!(
        msp.validate(old.der(), now - DAY + 1),
        Err(CryptoError::Expired { .. })
    ));

    req.not_before = now + DAY;
    req.not_after = now + 2 * DAY;
    let future = org1.issue(&req, KeyType::Ed25519).unwrap().0;
    assert_eq!(
        msp.validate(future.der(), now).unwrap_err(),
        CryptoError::NotYetValid {
            subject: future.subject().into(),
            not_before: now + DAY
        }
    );
    msp.validate(future.der(), now + DAY).unwrap();
}

#[test]
fn an_expired_ca_invalidates_its_leaves() {
    let now = unix_now();
    let org1 = CertificateAuthority::new(
        "Org1",
        "Org1MSP",
        KeyType::Ed25519,
        now - 10 * DAY,
        now - DAY,
    )
    .unwrap();
    let mut req = IssueRequest::new("peer0.org1.cairn", Role::Peer, 30);
    req.not_before = now - 10 * DAY;
    let cert = org1.issue(&req, KeyType::Ed25519).unwrap().0;
    let err = msp_of(&org1).validate(cert.der(), now).unwrap_err();
    assert!(
        matches!(&err, CryptoError::Expired { subject, .. } if subject.starts_with("CN=ca.org1.cairn")),
        "{err}"
    );
}

#[test]
fn a_revoked_serial_fails_and_others_still_pass() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let bad = leaf(&org1, "user1@org1.cairn", Role::Client);
    let good = leaf(&org1, "user2@org1.cairn", Role::Client);
    let mut config = org1.msp_config();
    // Revoke in the colon-separated upper-case form openssl prints.
    let openssl_form = bad
        .serial_hex()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    assert!(cairn_crypto::revoke(&mut config, &openssl_form).unwrap());
    let msp = Msp::from_config(&config).unwrap();
    assert!(msp.is_revoked(bad.serial_hex()));
    assert_eq!(
        msp.validate(bad.der(), unix_now()).unwrap_err(),
        CryptoError::Revoked {
            serial: bad.serial_hex().into()
        }
    );
    msp.validate(good.der(), unix_now()).unwrap();
    // The revocation survives a JSON round trip of the channel config.
    let json = serde_json::to_string(&config).unwrap();
    let back: MspConfig = serde_json::from_str(&json).unwrap();
    assert!(
        Msp::from_config(&back)
            .unwrap()
            .is_revoked(bad.serial_hex())
    );
}

#[test]
fn flipped_signature_or_tbs_bytes_fail() {
    for kt in [KeyType::Ed25519, KeyType::P256] {
        let org1 = ca("Org1", kt);
        let msp = msp_of(&org1);
        let cert = leaf(&org1, "peer0.org1.cairn", Role::Peer);
        let mut sig_flipped = cert.der().to_vec();
        let last = sig_flipped.len() - 1;
        sig_flipped[last] ^= 0x01;
        let err = msp.validate(&sig_flipped, unix_now()).unwrap_err();
        assert!(
            matches!(err, CryptoError::BadCertSignature { .. }),
            "{kt}: {err}"
        );

        // Change one letter of the CN inside the signed part.
        let mut tbs_flipped = cert.der().to_vec();
        let pos = tbs_flipped.windows(5).position(|w| w == b"peer0").unwrap();
        tbs_flipped[pos + 4] = b'9';
        let err = msp.validate(&tbs_flipped, unix_now()).unwrap_err();
        assert!(
            matches!(&err, CryptoError::BadCertSignature { subject } if subject.contains("peer9")),
            "{err}"
        );
    }
}

#[test]
fn a_certificate_without_a_role_ou_fails() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let mut req = IssueRequest::new("nobody.org1.cairn", Role::Client, 30);
    req.role = None;
    let cert = org1.issue(&req, KeyType::Ed25519).unwrap().0;
    let err = msp_of(&org1).validate(cert.der(), unix_now()).unwrap_err();
    assert!(matches!(err, CryptoError::MissingRole { .. }), "{err}");
}

#[test]
fn the_ca_certificate_itself_is_not_an_identity() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let err = msp_of(&org1)
        .validate(org1.certificate().der(), unix_now())
        .unwrap_err();
    assert!(matches!(err, CryptoError::CaAsIdentity { .. }), "{err}");
}

#[test]
fn p256_ca_and_leaves_are_accepted_in_any_combination() {
    let now = unix_now();
    for (ca_kt, leaf_kt) in [
        (KeyType::P256, KeyType::P256),
        (KeyType::P256, KeyType::Ed25519),
        (KeyType::Ed25519, KeyType::P256),
    ] {
        let org = ca("Org3", ca_kt);
        let (cert, key) = org
            .issue(
                &IssueRequest::new("orderer0.org3.cairn", Role::Orderer, 30),
                leaf_kt,
            )
            .unwrap();
        let id = msp_of(&org).validate(cert.der(), now).unwrap();
        assert_eq!(id.role(), Role::Orderer);
        assert_eq!(id.public_key().key_type(), leaf_kt);
        id.verify(b"block", &key.sign(b"block")).unwrap();
    }
}

/// A Fabric-CA-like organization built with rcgen and ring only: P-256 keys,
/// no organizationIdentifier, an affiliation OU next to the role OU, and
/// ring's ECDSA signatures (which are not low-S normalized).
#[test]
fn p256_ca_and_leaf_generated_by_rcgen_are_accepted() {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "org1.example.com");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ca.org1.example.com");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let config = MspConfig {
        msp_id: "FabricOrg1MSP".into(),
        ca_pem: ca_cert.pem(),
        revoked: vec![],
    };
    let msp = Msp::from_config(&config).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    for i in 0..12 {
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "org1.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "client");
        params
            .distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 11]), "department1");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("User{i}@org1.example.com"));
        let cert = params.signed_by(&leaf_key, &issuer).unwrap();
        let id = msp.validate(cert.der(), unix_now()).unwrap();
        assert_eq!(id.msp_id(), "FabricOrg1MSP");
        assert_eq!(id.role(), Role::Client);
        assert_eq!(id.certificate().organizational_units().len(), 2);
    }

    // A leaf claiming another MSP id in organizationIdentifier is refused.
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CustomDnType(vec![2, 5, 4, 97]), "EvilMSP");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "admin");
    params
        .distinguished_name
        .push(DnType::CommonName, "Admin@org1.example.com");
    let cert = params.signed_by(&leaf_key, &issuer).unwrap();
    assert_eq!(
        msp.validate(cert.der(), unix_now()).unwrap_err(),
        CryptoError::MspMismatch {
            claimed: "EvilMSP".into(),
            expected: "FabricOrg1MSP".into()
        }
    );
}

#[test]
fn bad_msp_configurations_are_refused() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let mut wrong_id = org1.msp_config();
    wrong_id.msp_id = "Org2MSP".into();
    assert!(matches!(
        Msp::from_config(&wrong_id),
        Err(CryptoError::InvalidCa { .. })
    ));

    let leaf_as_ca = MspConfig {
        msp_id: "Org1MSP".into(),
        ca_pem: leaf(&org1, "peer0.org1.cairn", Role::Peer).to_pem(),
        revoked: vec![],
    };
    let err = Msp::from_config(&leaf_as_ca).unwrap_err();
    assert!(
        matches!(&err, CryptoError::InvalidCa { reason, .. } if reason.contains("CA:true")),
        "{err}"
    );

    let bad_serial = MspConfig {
        revoked: vec!["not-hex".into()],
        ..org1.msp_config()
    };
    assert!(Msp::from_config(&bad_serial).is_err());

    let dup = MspSet::new(vec![msp_of(&org1), msp_of(&org1)]);
    assert!(matches!(dup, Err(CryptoError::DuplicateMsp { .. })));
}

#[test]
fn garbage_and_trailing_bytes_are_malformed() {
    let org1 = ca("Org1", KeyType::Ed25519);
    let msp = msp_of(&org1);
    assert!(matches!(
        msp.validate(b"garbage", unix_now()),
        Err(CryptoError::Malformed { .. })
    ));
    let mut trailing = leaf(&org1, "peer0.org1.cairn", Role::Peer).der().to_vec();
    trailing.push(0);
    assert!(matches!(
        msp.validate(&trailing, unix_now()),
        Err(CryptoError::Malformed { .. })
    ));
}

#[test]
fn a_ca_reloaded_from_pem_issues_certificates_the_msp_accepts() {
    let org1 = ca("Org1", KeyType::P256);
    let key_pem = org1.key().to_pkcs8_pem().unwrap();
    let reloaded = CertificateAuthority::from_pem(&org1.certificate().to_pem(), &key_pem).unwrap();
    assert_eq!((reloaded.org(), reloaded.msp_id()), ("Org1", "Org1MSP"));
    let cert = leaf(&reloaded, "user7@org1.cairn", Role::Client);
    assert_eq!(cert.issuer_der(), org1.certificate().subject_der());
    msp_of(&org1).validate(cert.der(), unix_now()).unwrap();

    let other_key = ca("Org9", KeyType::P256).key().to_pkcs8_pem().unwrap();
    assert!(matches!(
        CertificateAuthority::from_pem(&org1.certificate().to_pem(), &other_key),
        Err(CryptoError::KeyMismatch { .. })
    ));
}
