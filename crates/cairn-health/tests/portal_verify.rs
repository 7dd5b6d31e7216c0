//! The hospital portal's in-browser token verifier (`portal/verify.js`) and the
//! portal page itself, in a real headless Chromium.
//!
//! Tokens are minted in Rust with `cairn_attest`'s issuer, so the browser
//! checks exactly what the attestation service signs: ES256 JWS with raw
//! `r || s` signatures, keys by RFC 7638 `kid`. Each test serves the four
//! portal files (the same bytes the portal server embeds) from an axum server
//! on 127.0.0.1, plus, where a test needs them, stand-ins for the portal
//! server's policy, JWKS, nonce and attestation routes (`portal/mod.rs`).
//! The screens that call the platform are in `portal_screens.rs`.
//!
//! A missing chromium or chromium-driver fails these tests with the install
//! command; they never skip.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod portal;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_attest::{KeyRing, Platform, UnixTime};
use cairn_testkit::browser::Browser;
use cairn_testkit::browser::fantoccini::Locator;
use portal::*;
use serde_json::{Value, json};

/// Runs verify.js's `verifyToken` in the page.
async fn verify(browser: &Browser, token: &str, policy: Value) -> Value {
    let script = "const [token, policy, done] = arguments;
        window.__verify(token, policy).then(done, (e) => done({ thrown: String(e) }));";
    let out = browser
        .client()
        .execute_async(script, vec![json!(token), policy])
        .await
        .unwrap();
    assert!(out.get("thrown").is_none(), "verifyToken threw: {out}");
    out
}

/// `name -> result` of a verifyToken outcome, checking the order of the checks.
fn results(outcome: &Value) -> BTreeMap<String, String> {
    let checks = outcome["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CHECKS, "checks out of order: {outcome}");
    checks
        .iter()
        .map(|c| {
            let detail = c["detail"].as_str().unwrap();
            assert!(!detail.is_empty(), "check without detail: {c}");
            (
                c["name"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts each check's result: those named in `expect`, and "pass" for the rest.
fn assert_checks(case: &str, outcome: &Value, expect: &[(&str, &str)]) {
    let got = results(outcome);
    for name in CHECKS {
        let want = expect
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("pass", |(_, r)| *r);
        assert_eq!(got[name], want, "{case}: check {name}; outcome {outcome:#}");
    }
    let ok = expect.iter().all(|(_, r)| *r != "fail");
    assert_eq!(outcome["ok"], json!(ok), "{case}: ok; outcome {outcome:#}");
}

fn detail<'a>(outcome: &'a Value, name: &str) -> &'a str {
    outcome["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["detail"].as_str())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_js_names_the_failed_check_for_each_bad_token_in_chromium() {
    let base = serve().await;
    let browser = Browser::start().await.unwrap();
    browser
        .client()
        .goto(&format!("{base}/test.html"))
        .await
        .unwrap();
    browser
        .wait_until("window.__testReady === true", WAIT)
        .await
        .unwrap();
    let js_checks = browser
        .client()
        .execute("return window.__checks;", vec![])
        .await
        .unwrap();
    assert_eq!(js_checks, json!(CHECKS));

    let ring = KeyRing::generate(UnixTime::now(), 3600).unwrap();
    let jwks = serde_json::to_value(ring.jwks(UnixTime::now())).unwrap();
    let policy = |nonce: Option<&str>, allow_virtual: bool| {
        json!({
            "jwks": jwks, "issuer": ISSUER, "nonce": nonce,
            "measurements": [PLATFORM_MEASUREMENT], "allowVirtual": allow_virtual, "now": now(),
        })
    };
    let strict = policy(Some(NONCE), false);

    // The control: a good token passes every check.
    let good = ring.sign(&good_claims()).unwrap();
    let out = verify(&browser, &good, strict.clone()).await;
    assert_checks("good token", &out, &[]);
    assert_eq!(out["virtual"], json!(false));
    assert_eq!(out["claims"]["measurement"], json!(PLATFORM_MEASUREMENT));
    assert!(detail(&out, "platform").contains("sgx (hardware TEE)"));

    // Tampered: the token of an unpinned build, its measurement rewritten to the
    // pinned one, signature kept. Only the signature gives it away.
    let rogue = ring
        .sign(&claims(Platform::Sgx, &"ab".repeat(48), NONCE))
        .unwrap();
    let mut body = part(&rogue, 1);
    body["measurement"] = json!(PLATFORM_MEASUREMENT);
    let [h, _, s]: [&str; 3] = rogue.split('.').collect::<Vec<_>>().try_into().unwrap();
    let tampered = format!("{h}.{}.{s}", b64_json(&body));
    let out = verify(&browser, &tampered, strict.clone()).await;
    assert_checks("tampered claims", &out, &[("signature", "fail")]);
    // The same bytes before tampering verify, so the signature check is not vacuous.
    let out = verify(&browser, &rogue, strict.clone()).await;
    assert_checks("rogue build", &out, &[("measurement", "fail")]);
    assert!(detail(&out, "measurement").contains(&"ab".repeat(48)));

    // Expired, and not yet valid.
    let mut c = good_claims();
    c.iat = now() - 400;
    c.nbf = c.iat;
    c.exp = now() - 10;
    let out = verify(&browser, &ring.sign(&c).unwrap(), strict.clone()).await;
    assert_checks("expired", &out, &[("expiry", "fail")]);
    assert!(detail(&out, "expiry").starts_with("expired at "), "{out}");
    let mut c = good_claims();
    c.nbf = now() + 600;
    let out = verify(&browser, &ring.sign(&c).unwrap(), strict.clone()).await;
    assert_checks("not yet valid", &out, &[("expiry", "fail")]);
    assert!(detail(&out, "expiry").contains("in the future"), "{out}");

    // Nonce: another request's nonce fails; no expected nonce skips.
    let out = verify(&browser, &good, policy(Some("another-nonce"), false)).await;
    assert_checks("wrong nonce", &out, &[("nonce", "fail")]);
    let out = verify(&browser, &good, policy(None, false)).await;
    assert_checks("no expected nonce", &out, &[("nonce", "skip")]);

    // Another issuer.
    let mut c = good_claims();
    c.iss = "https://attacker.example".into();
    let out = verify(&browser, &ring.sign(&c).unwrap(), strict.clone()).await;
    assert_checks("wrong issuer", &out, &[("issuer", "fail")]);

    // Signed by a key that is not in the JWKS: no key, so no signature check.
    let other = KeyRing::generate(UnixTime::now(), 3600).unwrap();
    let out = verify(
        &browser,
        &other.sign(&good_claims()).unwrap(),
        strict.clone(),
    )
    .await;
    assert_checks(
        "unknown kid",
        &out,
        &[("key", "fail"), ("signature", "skip")],
    );

    // alg none and HS256 (the HMAC confusion attack) under the real kid.
    let kid = part(&good, 0)["kid"].clone();
    let body = good.split('.').nth(1).unwrap();
    let none = format!("{}.{body}.", b64_json(&json!({"alg": "none", "kid": kid})));
    let out = verify(&browser, &none, strict.clone()).await;
    assert_checks(
        "alg none",
        &out,
        &[("algorithm", "fail"), ("signature", "fail")],
    );
    let hs256 = format!(
        "{}.{body}.{}",
        b64_json(&json!({"alg": "HS256", "kid": kid, "typ": "JWT"})),
        URL_SAFE_NO_PAD.encode([0x5a; 32])
    );
    let out = verify(&browser, &hs256, strict.clone()).await;
    assert_checks(
        "alg HS256",
        &out,
        &[("algorithm", "fail"), ("signature", "fail")],
    );
    assert!(detail(&out, "algorithm").contains("\"HS256\""), "{out}");

    // Virtual: refused unless the policy allows it, and always flagged.
    let virt = ring
        .sign(&claims(Platform::Virtual, PLATFORM_MEASUREMENT, NONCE))
        .unwrap();
    let out = verify(&browser, &virt, strict.clone()).await;
    assert_checks("virtual refused", &out, &[("platform", "fail")]);
    assert_eq!(out["virtual"], json!(true));
    let out = verify(&browser, &virt, policy(Some(NONCE), true)).await;
    assert_checks("virtual allowed", &out, &[]);
    assert_eq!(out["virtual"], json!(true));
    assert!(detail(&out, "platform").contains("virtual (software only)"));

    // A debug-enabled TEE is refused like the Rust relying party refuses it.
    let mut c = good_claims();
    c.debug = true;
    let out = verify(&browser, &ring.sign(&c).unwrap(), strict.clone()).await;
    assert_checks("debug TEE", &out, &[("platform", "fail")]);

    // Not a JWS: format fails and nothing that needs the parts runs.
    let out = verify(&browser, "not-a-token.abc", strict.clone()).await;
    let skipped: Vec<(&str, &str)> = CHECKS[1..].iter().map(|n| (*n, "skip")).collect();
    let mut expect = vec![("format", "fail")];
    expect.extend(skipped);
    assert_checks("not a JWS", &out, &expect);

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_renders_nav_and_lookup_and_says_the_policy_is_missing() {
    // This server has no /portal/config.json: the page must say so, not crash.
    let base = serve().await;
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    client.goto(&format!("{base}/")).await.unwrap();
    browser
        .wait_until("window.__portalReady === true", WAIT)
        .await
        .unwrap();

    let nav = text_of(&browser, "nav").await;
    for link in ["Patient lookup", "Admission", "Attestation"] {
        assert!(nav.contains(link), "nav lacks {link}: {nav}");
    }
    for id in [
        "lookup-family",
        "lookup-given",
        "lookup-dob",
        "lookup-submit",
    ] {
        client.find(Locator::Id(id)).await.unwrap();
    }
    let error = text_of(&browser, "error").await;
    assert!(
        error.contains("/portal/config.json") && error.contains("could not be loaded"),
        "{error}"
    );
    // No token was verified, so no virtual banner.
    let banner = client
        .execute(
            "return document.getElementById('virtual-banner').hidden;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(banner, json!(true));

    // An empty search is refused in the page, naming what to enter.
    client
        .find(Locator::Id("lookup-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('error').textContent.startsWith('Enter a family name')",
            WAIT,
        )
        .await
        .unwrap();

    // The other screens render too; the missing policy stays on screen.
    client.goto(&format!("{base}/#/intake")).await.unwrap();
    browser
        .wait_until("document.getElementById('intake-submit') !== null", WAIT)
        .await
        .unwrap();
    for id in [
        "intake-givenName",
        "intake-dateOfBirth",
        "intake-address-postalCode",
        "intake-allergies",
        "intake-insurance-memberId",
        "intake-emergencyContact-phone",
    ] {
        client.find(Locator::Id(id)).await.unwrap();
    }
    assert!(
        text_of(&browser, "error")
            .await
            .contains("/portal/config.json")
    );

    let png = std::env::temp_dir().join(format!("portal-lookup-{}.png", std::process::id()));
    browser.screenshot(&png).await.unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    std::fs::remove_file(&png).unwrap();
    browser.close().await;
}
