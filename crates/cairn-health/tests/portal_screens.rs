//! The portal's screens in a real headless Chromium, against a stand-in for
//! the portal server (`portal/mod.rs`): admission, the patient record, the
//! diagnostic upload with its validation, the diagnosis with its chain of
//! tokens verified in the browser, the audit record and its receipt, and the
//! lookup. The stand-in records what the page sent, so the test checks the
//! request bodies too, and that patient data stays out of URLs and storage.
//!
//! The end-to-end test against the real platform and diagnostics services is
//! separate; this one pins the page's own behaviour and its element ids.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod portal;

use cairn_attest::Platform;
use cairn_testkit::browser::Browser;
use cairn_testkit::browser::fantoccini::Locator;
use portal::*;
use serde_json::{Value, json};

/// A surname no other value contains, to find it wherever it leaks.
const FAMILY: &str = "Zqvermarker";

async fn js(browser: &Browser, script: &str) -> Value {
    browser.client().execute(script, vec![]).await.unwrap()
}

async fn type_into(browser: &Browser, id: &str, text: &str) {
    let field = browser.client().find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(browser: &Browser, id: &str) {
    let button = browser.client().find(Locator::Id(id)).await.unwrap();
    button.click().await.unwrap();
}

async fn wait_for_error(browser: &Browser, needle: &str) {
    let condition = format!(
        "document.getElementById('error').textContent.includes({})",
        json!(needle)
    );
    if let Err(e) = browser.wait_until(&condition, WAIT).await {
        panic!("{e}; #error is {:?}", text_of(browser, "error").await);
    }
}

/// Chooses `name` with `contents` in the diagnostic file input.
async fn upload(browser: &Browser, dir: &std::path::Path, name: &str, contents: &str) {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    js(
        browser,
        "document.getElementById('error').textContent = '';",
    )
    .await;
    let input = browser
        .client()
        .find(Locator::Id("diagnostic-file"))
        .await
        .unwrap();
    input.send_keys(path.to_str().unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_diagnosis_chain_receipt_and_lookup_in_chromium() {
    let mock = Mock::new(Platform::Sgx);
    let base = serve(Some(mock.clone())).await;
    let browser = Browser::start().await.unwrap();
    let client = browser.client();
    let files = tempfile::tempdir().unwrap();

    client.goto(&format!("{base}/#/intake")).await.unwrap();
    browser
        .wait_until("window.__portalReady === true", WAIT)
        .await
        .unwrap();
    // A hardware platform verified at start: status green, no virtual banner.
    let status = text_of(&browser, "attestation-status").await;
    assert_eq!(status, "verified");
    assert_eq!(
        js(
            &browser,
            "return document.getElementById('virtual-banner').hidden;"
        )
        .await,
        json!(true)
    );

    // Admission. A half-filled address is refused in the page, naming the fields.
    type_into(&browser, "intake-givenName", "Ada").await;
    type_into(&browser, "intake-familyName", FAMILY).await;
    js(
        &browser,
        "document.getElementById('intake-dateOfBirth').value = '1961-04-12';",
    )
    .await;
    type_into(&browser, "intake-address-city", "Basel").await;
    click(&browser, "intake-submit").await;
    wait_for_error(&browser, "Address: fill in every field").await;
    assert!(mock.intakes.lock().unwrap().is_empty());

    type_into(&browser, "intake-address-line", "Rheinweg 1").await;
    type_into(&browser, "intake-address-postalCode", "4058").await;
    type_into(&browser, "intake-address-country", "CH").await;
    client
        .find(Locator::Id("intake-sex"))
        .await
        .unwrap()
        .select_by_value("female")
        .await
        .unwrap();
    type_into(&browser, "intake-allergies", "penicillin, latex\nnuts").await;
    type_into(&browser, "intake-insurance-provider", "Helsana").await;
    type_into(&browser, "intake-insurance-memberId", "M-77").await;
    click(&browser, "intake-submit").await;
    browser
        .wait_until(
            &format!("document.getElementById('patient-id')?.textContent === '{PATIENT_ID}'"),
            WAIT,
        )
        .await
        .unwrap();
    let intake = mock.intakes.lock().unwrap()[0].clone();
    assert_eq!(
        intake,
        json!({
            "givenName": "Ada", "familyName": FAMILY, "dateOfBirth": "1961-04-12", "sex": "female",
            "allergies": ["penicillin", "latex", "nuts"],
            "address": { "line": "Rheinweg 1", "city": "Basel", "postalCode": "4058", "country": "CH" },
            "insurance": { "provider": "Helsana", "memberId": "M-77" },
        })
    );
    browser
        .wait_until("document.getElementById('patient-record') !== null", WAIT)
        .await
        .unwrap();
    let record = text_of(&browser, "patient-record").await;
    assert!(
        record.contains(FAMILY) && record.contains("penicillin, latex, nuts"),
        "{record}"
    );

    // Diagnostic input: wrong files are refused with what is wrong; nothing is sent.
    let run_disabled = "return document.getElementById('run-diagnosis').disabled;";
    let mut short: Vec<String> = (1..=29).map(|i| format!("{i}.5")).collect();
    upload(&browser, files.path(), "short.csv", &short.join(",")).await;
    wait_for_error(&browser, "short.csv: expected 30 numbers, found 29").await;
    assert_eq!(js(&browser, run_disabled).await, json!(true));
    short.push("abc".into());
    upload(&browser, files.path(), "word.csv", &short.join(",")).await;
    wait_for_error(
        &browser,
        "word.csv: value 30 (\"abc\") is not a finite number",
    )
    .await;
    upload(&browser, files.path(), "obj.json", "{\"values\": [1, 2]}").await;
    wait_for_error(&browser, "obj.json: expected an array of 30 numbers").await;
    assert_eq!(js(&browser, run_disabled).await, json!(true));

    let features: Vec<f64> = (0..30).map(|i| f64::from(i) * 0.25 + 1.0).collect();
    let doc = json!({ "features": features }).to_string();
    upload(&browser, files.path(), "input.json", &doc).await;
    browser
        .wait_until("!document.getElementById('run-diagnosis').disabled", WAIT)
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "error").await, "");
    click(&browser, "run-diagnosis").await;
    browser
        .wait_until(
            "document.querySelector('#chain-diagnostics-checks[data-overall]') !== null",
            WAIT,
        )
        .await
        .unwrap();
    let sent: Vec<f64> =
        serde_json::from_value(mock.inputs.lock().unwrap()[0]["features"].clone()).unwrap();
    assert_eq!(sent, features);

    // The result, and both tokens of the chain verified against the pinned policy.
    assert_eq!(text_of(&browser, "diagnosis-label").await, "benign");
    let fields = text_of(&browser, "diagnosis-fields").await;
    assert!(
        fields.contains("12.0 %") && fields.contains(&"7".repeat(64)),
        "{fields}"
    );
    for (id, nonce) in [
        ("chain-platform-checks", "pass"),
        ("chain-diagnostics-checks", "skip"),
    ] {
        let (overall, checks) = rendered_checks(&browser, id).await;
        assert_eq!(overall, "pass", "{id}: {checks:?}");
        for (name, result, text) in checks {
            let want = if name == "nonce" { nonce } else { "pass" };
            assert_eq!(result, want, "{id}: {text}");
        }
    }
    // The platform token's nonce was compared with the chain's, not skipped.
    let platform_nonce = js(
        &browser,
        "return document.querySelector('#chain-platform-checks [data-check=nonce]').textContent;",
    )
    .await;
    assert!(platform_nonce.as_str().unwrap().contains("nonce matches"));

    // The audit record and its receipt.
    let audit = text_of(&browser, "audit-record").await;
    assert!(
        audit.contains(AUDIT_TXID) && audit.contains("recordedBy"),
        "{audit}"
    );
    click(&browser, "fetch-receipt").await;
    browser
        .wait_until("document.getElementById('receipt-download') !== null", WAIT)
        .await
        .unwrap();
    let receipt = text_of(&browser, "receipt").await;
    assert!(receipt.contains("header.number"), "{receipt}");
    assert!(
        receipt.contains("verify offline: cairn receipt verify receipt.json --ca <org CA>"),
        "{receipt}"
    );
    let href = js(
        &browser,
        "return document.getElementById('receipt-download').href;",
    )
    .await;
    assert!(href.as_str().unwrap().starts_with("blob:"), "{href}");
    browser
        .wait_until(
            "document.querySelectorAll('#past-diagnoses tbody tr').length === 1",
            WAIT,
        )
        .await
        .unwrap();

    // Lookup by family name finds the patient and links to the opaque id.
    client.goto(&format!("{base}/#/lookup")).await.unwrap();
    browser
        .wait_until("document.getElementById('lookup-family') !== null", WAIT)
        .await
        .unwrap();
    type_into(&browser, "lookup-family", FAMILY).await;
    click(&browser, "lookup-submit").await;
    browser
        .wait_until(
            "document.querySelector('#lookup-results a.patient-link') !== null",
            WAIT,
        )
        .await
        .unwrap();
    let link = client
        .find(Locator::Css("#lookup-results a.patient-link"))
        .await
        .unwrap();
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(format!("#/patient/{PATIENT_ID}").as_str())
    );
    link.click().await.unwrap();
    browser
        .wait_until("document.getElementById('patient-id') !== null", WAIT)
        .await
        .unwrap();

    // The name is not in the URL, and nothing went into browser storage.
    let url = client.current_url().await.unwrap();
    assert!(
        url.as_str().ends_with(&format!("#/patient/{PATIENT_ID}")),
        "{url}"
    );
    assert!(!url.as_str().contains(FAMILY), "{url}");
    let storage = js(
        &browser,
        "return [localStorage.length, sessionStorage.length];",
    )
    .await;
    assert_eq!(storage, json!([0, 0]));
    browser.close().await;
}
