//! The service issues a hardware token for the real SEV-SNP sample report (its VCEK
//! is valid until 2030), under a policy without runtime binding (the sample's report
//! data cannot bind our nonce) and without the default requirement of an AMD CRL
//! (testdata has none signed by AMD's ARK).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::{Expectations, Platform, Refusal, UnixTime, verify_token};
use cairn_attest_client::ClientError;
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn real_snp_evidence_gets_a_hardware_token() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sev_snp.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let c = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trustee-milan-vcek")
        .unwrap();
    let vcek_not_after = UnixTime::parse_rfc3339(c["vcek"]["not_after"].as_str().unwrap()).unwrap();
    if UnixTime::now() > vcek_not_after {
        // The sample's VCEK has expired; the offline tests with a pinned time still cover it.
        return;
    }
    let measurement = c["report_fields_parsed_here"]["measurement"]
        .as_str()
        .unwrap();
    let h = start(Default::default()).await;
    let mut policy = json!({
        "id": "snp-sample",
        "platform": "sev-snp",
        "allowed_measurements": [measurement],
        "tcb": { "min_svn": { "bootloader": 3, "snp": 8, "microcode": 115 } },
        "required_flags": { "migrate_ma": false },
    });
    let evidence = json!({
        "report": STANDARD.encode(hex::decode(c["report_hex"].as_str().unwrap()).unwrap()),
        "vek": c["vcek"]["der_b64"],
        "ask": c["ask"]["der_b64"],
    });
    // With binding required (the default), evidence without runtime data is refused.
    h.client
        .replace_policy(ADMIN, Platform::SevSnp, policy.to_string().as_bytes())
        .await
        .unwrap();
    let err = h
        .client
        .attest(Platform::SevSnp, &evidence, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code, reason, .. } if code == "appraisal_refused" && reason.contains("requires runtime data")),
        "{err}"
    );

    policy["require_binding"] = json!(false);
    // The default SNP flags also require the chain checked against AMD's CRL, and no
    // CRL signed by AMD's ARK is in testdata: refused, saying what to supply.
    let defaults = {
        let mut p = policy.clone();
        p.as_object_mut().unwrap().remove("required_flags");
        p
    };
    h.client
        .replace_policy(ADMIN, Platform::SevSnp, defaults.to_string().as_bytes())
        .await
        .unwrap();
    let err = h
        .client
        .attest(Platform::SevSnp, &evidence, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code, reason, .. } if code == "appraisal_refused"
            && reason.contains("amd_crl_checked")
            && reason.contains("https://kdsintf.amd.com/vcek/v1/")),
        "{err}"
    );
    h.client
        .replace_policy(ADMIN, Platform::SevSnp, policy.to_string().as_bytes())
        .await
        .unwrap();
    let token = h
        .client
        .attest(Platform::SevSnp, &evidence, None)
        .await
        .unwrap();
    let jwks = h.client.jwks().await.unwrap();
    let expect = Expectations::new(h.service.issuer()).with_measurements([measurement]);
    let v = verify_token(&token, &jwks, &expect, UnixTime::now()).unwrap();
    assert_eq!(v.claims.platform, Platform::SevSnp);
    assert!(v.claims.hardware);
    assert_eq!(v.claims.tcb.svn["microcode"], 115);
    assert!(!v.claims.flags["migrate_ma"]);
    assert!(!v.claims.flags["amd_crl_checked"]);
    assert!(v.claims.runtime_data.is_none());
    // A relying party that issued a nonce refuses a token that carries none.
    let with_nonce = expect.with_nonce("n");
    assert!(matches!(
        verify_token(&token, &jwks, &with_nonce, UnixTime::now()),
        Err(Refusal::NonceMismatch { .. })
    ));
    h.service.shutdown().await;
}
