//! `cairn crypto generate | show | revoke` end to end, through the binary.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::{Path, PathBuf};

use cairn_crypto::{CryptoError, Msp, MspConfig, Role, SigningIdentity, unix_now};
use common::{cairn, stderr, stdout};

const ORGS: [&str; 3] = ["Org1", "Org2", "Org3"];

/// A fresh directory under cargo's per-target temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crypto-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn msp(out: &Path, org: &str) -> Msp {
    Msp::from_config(&MspConfig::load(&out.join(org.to_lowercase()).join("msp.json")).unwrap())
        .unwrap()
}

/// Every identity directory of an org, with the role its place implies.
fn identity_dirs(org_dir: &Path) -> Vec<(PathBuf, Role)> {
    let mut dirs = Vec::new();
    for (group, role) in [
        ("admins", Role::Admin),
        ("peers", Role::Peer),
        ("orderers", Role::Orderer),
        ("users", Role::Client),
    ] {
        for entry in std::fs::read_dir(org_dir.join(group)).unwrap() {
            dirs.push((entry.unwrap().path(), role));
        }
    }
    dirs.sort();
    dirs
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn generate_three_orgs_layout_modes_and_cross_validation() {
    let out = scratch("three");
    let out_s = out.to_str().unwrap();
    let o = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Org1,Org2,Org3",
        "--out",
        out_s,
        "--peers",
        "2",
        "--users",
        "2",
        "--user-attr",
        "role=auditor",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = stdout(&o);
    for org in ORGS {
        assert!(summary.contains(&format!("{org} ({org}MSP)")), "{summary}");
    }
    assert!(summary.contains("peer1.org3.cairn"), "{summary}");

    let now = unix_now();
    for org in ORGS {
        let org_dir = out.join(org.to_lowercase());
        for file in ["ca/ca.pem", "ca/ca.key", "msp.json"] {
            assert!(org_dir.join(file).is_file(), "{org}: missing {file}");
        }
        let ids = identity_dirs(&org_dir);
        let names: Vec<String> = ids
            .iter()
            .map(|(d, _)| {
                d.strip_prefix(&org_dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "admins/admin",
                "orderers/orderer0",
                "peers/peer0",
                "peers/peer1",
                "users/user1",
                "users/user2"
            ]
        );
        let config = MspConfig::load(&org_dir.join("msp.json")).unwrap();
        assert_eq!(config.msp_id, format!("{org}MSP"));
        assert!(config.revoked.is_empty());

        #[cfg(unix)]
        {
            assert_eq!(mode(&org_dir.join("ca/ca.key")), 0o600, "{org} ca.key");
            for (dir, _) in &ids {
                assert_eq!(mode(&dir.join("key.pem")), 0o600, "{}", dir.display());
            }
        }

        for (dir, role) in &ids {
            let signer = SigningIdentity::from_dir(dir).unwrap();
            let der = signer.identity().der();
            let id = msp(&out, org).validate(der, now).unwrap();
            assert_eq!(id.role(), *role, "{}", dir.display());
            assert_eq!(id.msp_id(), format!("{org}MSP"));
            if *role == Role::Client {
                assert_eq!(id.attr("role"), Some("auditor"));
            }
            for other in ORGS.iter().filter(|o| **o != org) {
                let err = msp(&out, other).validate(der, now).unwrap_err();
                assert!(
                    matches!(err, CryptoError::UnknownCa { .. }),
                    "{org} cert vs {other}: {err}"
                );
            }
        }
    }

    // Re-running into the same directory without --force is refused, clearly.
    let again = cairn(&["crypto", "generate", "--orgs", "Org1", "--out", out_s]);
    assert!(!again.status.success());
    let err = stderr(&again);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    // And nothing was touched.
    msp(&out, "Org1")
        .validate(
            SigningIdentity::from_dir(&out.join("org1/peers/peer1"))
                .unwrap()
                .identity()
                .der(),
            now,
        )
        .unwrap();

    let forced = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Org1",
        "--out",
        out_s,
        "--force",
        "--key-type",
        "p256",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let peer0 = SigningIdentity::from_dir(&out.join("org1/peers/peer0")).unwrap();
    assert_eq!(peer0.key().key_type(), cairn_crypto::KeyType::P256);
    msp(&out, "Org1")
        .validate(peer0.identity().der(), now)
        .unwrap();
    assert!(
        !out.join("org1/peers/peer1").exists(),
        "forced run keeps no stale identities"
    );
    // Org2 was not named, so it is left as it was.
    assert!(out.join("org2/peers/peer1/cert.pem").is_file());

    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn show_and_revoke() {
    let out = scratch("show");
    let out_s = out.to_str().unwrap();
    assert!(
        cairn(&["crypto", "generate", "--orgs", "Org1,Org2", "--out", out_s])
            .status
            .success()
    );
    let cert = out.join("org1/users/user1/cert.pem");
    let cert_s = cert.to_str().unwrap();
    let own = out.join("org1/msp.json");
    let other = out.join("org2/msp.json");

    let o = cairn(&["crypto", "show", cert_s, "--msp", own.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let serial = SigningIdentity::from_dir(&out.join("org1/users/user1"))
        .unwrap()
        .identity()
        .serial_hex()
        .to_owned();
    for expected in [
        "msp id:     Org1MSP",
        "role:       client",
        "subject:    CN=user1@org1.cairn,OU=client,organizationIdentifier=Org1MSP,O=Org1",
        &format!("serial:     {serial}"),
        "valid:      yes, Org1MSP client",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }

    let o = cairn(&["crypto", "show", cert_s, "--msp", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("valid:      no"), "{}", stdout(&o));

    let o = cairn(&[
        "crypto",
        "revoke",
        "--msp",
        own.to_str().unwrap(),
        "--cert",
        cert_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(MspConfig::load(&own).unwrap().revoked, vec![serial.clone()]);
    let o = cairn(&["crypto", "show", cert_s, "--msp", own.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("revoked"), "{}", stdout(&o));

    let o = cairn(&[
        "crypto",
        "show",
        out.join("org1/ca/ca.pem").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("ca:         true"));

    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_input_gets_a_clear_error() {
    let out = scratch("bad");
    let o = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Org1,../evil",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("invalid organization name"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.join("org1").exists(),
        "nothing is written when an input is invalid"
    );
    let o = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Org1",
        "--out",
        out.to_str().unwrap(),
        "--key-type",
        "rsa",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unsupported algorithm"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&out);
}
