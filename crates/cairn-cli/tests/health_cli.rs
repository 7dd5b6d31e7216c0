//! The healthcare scenario end to end (issue 13) with the real binary: `cairn demo
//! healthcare` starts the network (Org1 hospital, Org2 platform, Org3 diagnostics),
//! the attestation service, the diagnostics node, the platform and the portal, each
//! its own process; this test then works through the portal's origin as the
//! hospital's browser would.
//!
//! - intake, lookup (found and not found), a diagnosis of each class;
//! - the token chain of a diagnosis: the platform's token binds the diagnostics
//!   node's audience, and both tokens verify for their pinned measurements;
//! - the diagnostics node refuses a client without a platform token;
//! - the audit record verifies offline from its receipt (`cairn receipt verify
//!   --show-writes`), and an altered receipt does not;
//! - the portal in headless Chromium: admission, upload of the diagnostic input,
//!   the diagnosis, both chain tokens and the attestation panel verified in the
//!   browser (every check green), a tampered, a wrong-measurement and an expired
//!   token each failing its named check (`CAIRN_UPDATE_SCREENSHOTS=1` copies the
//!   screenshots into docs/screenshots);
//! - leak: marker values of the patient record are in the hospital's and the
//!   platform's ledgers (positive control) and nowhere in the diagnostics org's or
//!   the orderers' storage, in no service's log, and in no diagnostics reply.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_attest::jwk::b64url_decode;
use cairn_attest::{Expectations, Jwks, UnixTime, verify_token};
use common::{cairn, files_containing, text};
use serde_json::{Value, json};

/// Stops the demo (Ctrl-C), and whatever it left, even when an assertion fails.
struct Demo {
    child: Child,
    dir: PathBuf,
    facts: Value,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        for _ in 0..300 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pids) = self.facts["pids"].as_object() {
            // Only the demo's own services (their configs are in its directory).
            let needle = self.dir.to_string_lossy().into_owned();
            for p in pids
                .values()
                .filter_map(|p| p.as_str()?.parse::<i32>().ok())
            {
                common::signal_if(p, &needle, "-KILL");
            }
        }
        let _ = cairn(&["down", "--dir", self.dir.join("net").to_str().unwrap()]);
    }
}

/// Starts `cairn demo healthcare` and waits for its portal line.
fn start_demo(dir: &Path) -> Demo {
    let ports = common::port_block();
    let base = ports.base;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["demo", "healthcare", "--dir", dir.to_str().unwrap()])
        .args(["--base-port", &base.to_string()])
        .args(["--portal-port", &(base + 320).to_string()])
        // The services log at debug level: the leak check reads the most there is.
        .env(
            "CAIRN_LOG",
            "debug,openraft=info,hyper=info,h2=info,rustls=info",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut portal = None;
    for _ in 0..400 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("portal: ") {
            portal = Some(url.to_owned());
            break;
        }
    }
    // Keep draining: a closed pipe would make the demo's later output fail.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let facts: Value =
        serde_json::from_slice(&std::fs::read(dir.join("services.json")).unwrap_or_default())
            .unwrap_or(Value::Null);
    let demo = Demo {
        child,
        dir: dir.to_owned(),
        facts,
    };
    let portal = portal.unwrap_or_else(|| panic!("the demo printed no portal line:\n{seen}"));
    assert_eq!(demo.facts["portal"], portal.as_str());
    demo
}

struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        self.rt.block_on(async {
            let req = match method {
                "GET" => self.client.get(&url),
                _ => self.client.post(&url),
            };
            let req = match body {
                Some(b) => req
                    .header("content-type", "application/json")
                    .body(b.to_string()),
                None => req,
            };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice(&bytes)
                    .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
            )
        })
    }

    fn get_text(&self, url: &str) -> String {
        self.rt.block_on(async {
            let resp = self.client.get(url).send().await.unwrap();
            resp.text().await.unwrap()
        })
    }
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

const MARKERS: [&str; 4] = [
    "Quixotelmarker",
    "MARKER-ALLERGY-PENICILLIN-7731",
    "999-41-7731",
    "Marker Insurance Mutual 7731",
];

fn intake() -> Value {
    json!({
        "givenName": "Ada",
        "familyName": MARKERS[0],
        "dateOfBirth": "1971-05-09",
        "sex": "female",
        "nationalId": MARKERS[2],
        "address": { "line": "12 Harbour Road", "city": "Lisbon", "postalCode": "1100-001", "country": "PT" },
        "phone": "+351 210 000 000",
        "allergies": [MARKERS[1]],
        "conditions": ["hypertension"],
        "insurance": { "provider": MARKERS[3], "memberId": "M-7731" },
        "emergencyContact": { "name": "Rui Lobo", "phone": "+351 210 000 001" },
    })
}

#[test]
fn the_healthcare_scenario_end_to_end_with_its_audit_and_no_leak() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hc");
    let demo = start_demo(&dir);
    cairn_attest_client::install_crypto_provider();
    let http = Http {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        base: demo.facts["portal"].as_str().unwrap().to_owned(),
    };

    // Intake, then lookup by name (found) and by another name (not found).
    let (status, admitted) = http.call("POST", "/api/patients", Some(intake()));
    assert_eq!(status, 201, "{admitted}");
    let id = admitted["id"].as_str().unwrap().to_owned();
    assert!(cairn_health::platform::is_opaque_id("pt_", &id), "{id}");
    let (_, found) = http.call(
        "POST",
        "/api/patients/search",
        Some(json!({ "familyName": "quixotel", "dateOfBirth": "1971-05-09" })),
    );
    assert_eq!(found["patients"][0]["id"], id.as_str(), "{found}");
    let (_, none) = http.call(
        "POST",
        "/api/patients/search",
        Some(json!({ "familyName": "Nobody" })),
    );
    assert_eq!(none["patients"], json!([]));
    let (status, bad) = http.call(
        "POST",
        "/api/patients",
        Some(json!({ "givenName": "No", "familyName": "Birthdate" })),
    );
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("dateOfBirth"),
        "{bad}"
    );

    // A diagnosis of each class through the whole chain.
    let sample = |name: &str| -> Value {
        let samples = demo.facts["samples"].as_array().unwrap();
        let path = samples
            .iter()
            .filter_map(Value::as_str)
            .find(|p| p.ends_with(name))
            .unwrap();
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let path = format!("/api/patients/{id}/diagnoses");
    let (status, benign) = http.call("POST", &path, Some(sample("sample-benign.json")));
    assert_eq!(status, 200, "{benign}");
    assert_eq!(benign["diagnosis"]["label"], "benign");
    let (status, dx) = http.call("POST", &path, Some(sample("sample-malignant.json")));
    assert_eq!(status, 200, "{dx}");
    assert_eq!(dx["diagnosis"]["label"], "malignant");
    assert!(dx["diagnosis"]["probability"].as_f64().unwrap() > 0.5);
    assert_eq!(
        dx["diagnosis"]["model"]["sha256"],
        demo.facts["model_sha256"]
    );
    let (_, record) = http.call("GET", &format!("/api/patients/{id}"), None);
    assert_eq!(record["patient"]["allergies"][0], MARKERS[1]);
    assert_eq!(record["diagnoses"].as_array().unwrap().len(), 2, "{record}");
    let (status, bad) = http.call("POST", &path, Some(json!({ "features": [1.0, "x"] })));
    assert_eq!(status, 400, "{bad}");

    // The chain: both tokens verify for their pinned measurements, and the
    // platform's binds the diagnostics node's audience and the challenge's nonce.
    let jwks_text = http.get_text(&format!("{}portal/jwks.json", http.base));
    let jwks = Jwks::parse(jwks_text.as_bytes()).unwrap();
    let issuer = demo.facts["attestation"].as_str().unwrap();
    let chain = &dx["chain"];
    for (token, who) in [
        (chain["platform_token"].as_str().unwrap(), "platform"),
        (chain["diagnostics_token"].as_str().unwrap(), "diagnostics"),
    ] {
        let expect = Expectations::new(issuer)
            .with_measurements([demo.facts["measurements"][who].as_str().unwrap()])
            .allowing_virtual();
        verify_token(token, &jwks, &expect, UnixTime::now())
            .unwrap_or_else(|e| panic!("{who} token: {e}"));
    }
    let pc = claims(chain["platform_token"].as_str().unwrap());
    assert_eq!(
        pc["runtime_data"]["user_data"]["cairn.chain.audience"],
        chain["audience"]
    );
    assert_eq!(pc["nonce"], chain["nonce"]);
    let audit = &dx["audit"]["record"];
    assert_eq!(audit["platformTokenJti"], pc["jti"]);
    assert_eq!(
        audit["diagnosticsTokenJti"],
        claims(chain["diagnostics_token"].as_str().unwrap())["jti"]
    );

    // The diagnostics node answers no one without a platform token.
    let policy = json!({
        "attestation_url": issuer, "attestation_ca": demo.facts["attestation_ca"],
        "issuer": issuer, "measurements": [demo.facts["measurements"]["diagnostics"]],
        "models": [demo.facts["model_sha256"]], "allow_virtual": true,
    });
    std::fs::write(tmp.path().join("client.json"), policy.to_string()).unwrap();
    std::fs::write(
        tmp.path().join("rows.json"),
        json!([sample("sample-benign.json")["features"]]).to_string(),
    )
    .unwrap();
    let direct = cairn(&[
        "infer",
        "run",
        "--url",
        demo.facts["diagnostics"].as_str().unwrap(),
        "--policy",
        tmp.path().join("client.json").to_str().unwrap(),
        "--dir",
        demo.facts["network"].as_str().unwrap(),
        tmp.path().join("rows.json").to_str().unwrap(),
    ]);
    assert!(!direct.status.success(), "{}", text(&direct));
    assert!(
        text(&direct).contains("only attested callers"),
        "{}",
        text(&direct)
    );

    // The audit record verifies offline from its receipt (the hospital's peer's).
    let txid = dx["audit"]["txid"].as_str().unwrap();
    let receipt = http.get_text(&format!("{}portal/receipt/{txid}", http.base));
    let receipt_path = tmp.path().join("audit-receipt.json");
    std::fs::write(&receipt_path, &receipt).unwrap();
    let net = PathBuf::from(demo.facts["network"].as_str().unwrap());
    let write = common::proven_writes(&net, &receipt_path)
        .into_iter()
        .find(|w| w["namespace"] == "health-records")
        .expect("the receipt proves a health-records write");
    let proven: Value = serde_json::from_str(write["value"].as_str().unwrap()).unwrap();
    assert_eq!(&proven, audit);
    // One altered envelope byte and it no longer verifies.
    let mut altered: Value = serde_json::from_str(&receipt).unwrap();
    let env = altered["envelope"].as_str().unwrap().to_owned();
    let flipped = if env.ends_with('0') { "1" } else { "0" };
    altered["envelope"] = Value::String(format!("{}{flipped}", &env[..env.len() - 1]));
    std::fs::write(&receipt_path, altered.to_string()).unwrap();
    for o in ["org1", "org2", "org3"] {
        let ca = net.join(format!("crypto/{o}/ca/ca.pem"));
        let out = cairn(&[
            "receipt",
            "verify",
            receipt_path.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "an altered receipt verified");
    }

    // The same through the portal in a real browser: intake, upload, diagnosis, the
    // chain and the panel verified in WebCrypto, named failures of bad tokens.
    browser::walkthrough(&demo.facts, &dir, &tmp.path().join("screens"), MARKERS[0]);

    // Leak: the diagnostics node's replies carry none of the record.
    for path in ["/v1/info"] {
        let url = format!("{}{path}", demo.facts["diagnostics"].as_str().unwrap());
        let reply = http.get_text(&url);
        for m in MARKERS {
            assert!(!reply.contains(m), "{m} in the diagnostics reply {path}");
        }
    }
    assert_no_leak(&dir, &net, &id);
}

/// Markers only in the members' (hospital, platform) storage; nowhere in the
/// diagnostics org's, the orderers', the services' or any log.
fn assert_no_leak(dir: &Path, net: &Path, patient_id: &str) {
    let nodes = net.join("nodes");
    for m in MARKERS {
        // Positive control: the search finds the markers where they must be.
        for member in ["peer0.org1", "peer0.org2"] {
            assert!(
                !files_containing(&nodes.join(member), m.as_bytes()).is_empty(),
                "{m} not found in {member}'s storage: the search is broken"
            );
        }
        let mut places = vec![
            nodes.join("peer0.org3"),
            dir.join("diagnostics"),
            dir.join("attest"),
        ];
        places.extend((1..=3).map(|i| nodes.join(format!("orderer0.org{i}"))));
        places.push(dir.join("logs"));
        places.push(net.join("logs"));
        for place in &places {
            let found = files_containing(place, m.as_bytes());
            assert!(found.is_empty(), "{m} leaked into {found:?}");
        }
    }
    // Positive control for the logs: they do name the patient by its opaque id.
    assert!(
        !files_containing(&dir.join("logs"), patient_id.as_bytes()).is_empty(),
        "the platform's log never names the patient id: the log search is broken"
    );
}

mod browser {
    //! The portal in a real headless Chromium against the running demo.

    use std::path::Path;
    use std::time::Duration;

    use cairn_attest::claims::AttestationClaims;
    use cairn_attest::jwk::b64url;
    use cairn_attest::{KeyRing, StoredKey};
    use cairn_testkit::browser::Browser;
    use cairn_testkit::browser::fantoccini::{Client, Locator};
    use serde_json::Value;

    const WAIT: Duration = Duration::from_secs(60);

    async fn set(c: &Client, id: &str, value: &str) {
        let script = "const e = document.getElementById(arguments[0]); e.value = arguments[1]; \
                      e.dispatchEvent(new Event('input', {bubbles: true})); \
                      e.dispatchEvent(new Event('change', {bubbles: true})); return true;";
        let ok = c
            .execute(script, vec![Value::from(id), Value::from(value)])
            .await
            .unwrap();
        assert_eq!(ok, Value::Bool(true), "#{id}");
    }

    async fn click(c: &Client, css: &str) {
        c.find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn text(c: &Client, css: &str) -> String {
        c.find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Each check's result in the container `id` (`data-check` → `data-result`).
    async fn checks(b: &Browser, id: &str) -> Vec<(String, String)> {
        b.wait_until(
            &format!("document.querySelector('#{id}[data-overall]')"),
            WAIT,
        )
        .await
        .unwrap();
        let v = b
            .client()
            .execute(
                "return [...document.querySelectorAll('#' + arguments[0] + ' li.check')]\
                 .map(li => [li.dataset.check, li.dataset.result]);",
                vec![Value::from(id)],
            )
            .await
            .unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn assert_all_pass(found: &[(String, String)], skip: &[&str], what: &str) {
        for name in [
            "format",
            "algorithm",
            "key",
            "signature",
            "issuer",
            "expiry",
            "nonce",
            "measurement",
            "platform",
        ] {
            let want = if skip.contains(&name) { "skip" } else { "pass" };
            let got = found
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, r)| r.as_str());
            assert_eq!(got, Some(want), "{what}: check {name} in {found:?}");
        }
    }

    /// Pastes `token` into the attestation panel's box and answers its checks.
    async fn paste(b: &Browser, token: &str) -> Vec<(String, String)> {
        let c = b.client();
        c.execute(
            "const r = document.getElementById('pasted-result'); if (r) r.replaceChildren(); return true;",
            vec![],
        )
        .await
        .unwrap();
        set(c, "token-role", "platform").await;
        set(c, "token-nonce", "").await;
        set(c, "token-input", token).await;
        click(c, "#verify-token").await;
        checks(b, "pasted-checks").await
    }

    fn result_of<'a>(found: &'a [(String, String)], name: &str) -> &'a str {
        found
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str())
            .unwrap_or("absent")
    }

    /// A screenshot with `css`'s element at the top of the viewport.
    async fn shot(b: &Browser, dir: &Path, name: &str, css: &str) {
        b.client()
            .execute(
                "const e = document.querySelector(arguments[0]); \
                 if (e) e.scrollIntoView({block: 'start'}); else window.scrollTo(0, 0); return true;",
                vec![Value::from(css)],
            )
            .await
            .unwrap();
        let path = dir.join(format!("{name}.png"));
        b.screenshot(&path).await.unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
        if std::env::var_os("CAIRN_UPDATE_SCREENSHOTS").is_some() {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&path, docs.join(format!("{name}.png"))).unwrap();
        }
    }

    /// A token signed with the attestation service's own key, with `edit` applied to
    /// `claims`: everything verifies but what `edit` broke.
    fn minted(
        state: &Path,
        claims: &AttestationClaims,
        edit: impl Fn(&mut AttestationClaims),
    ) -> String {
        let stored: Vec<StoredKey> =
            serde_json::from_slice(&std::fs::read(state.join("signing-keys.json")).unwrap())
                .unwrap();
        let ring = KeyRing::restore(stored, 86_400).unwrap();
        let mut c = claims.clone();
        edit(&mut c);
        ring.sign(&c).unwrap()
    }

    pub fn walkthrough(facts: &Value, demo_dir: &Path, shots: &Path, marker: &str) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let b = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
            run(&b, facts, demo_dir, shots, marker).await;
            b.close().await;
        });
    }

    async fn run(b: &Browser, facts: &Value, demo_dir: &Path, shots: &Path, marker: &str) {
        let c = b.client();
        let portal = facts["portal"].as_str().unwrap();

        // Admission.
        c.goto(&format!("{portal}#/intake")).await.unwrap();
        b.wait_until(
            "window.__portalReady === true && document.getElementById('intake-submit')",
            WAIT,
        )
        .await
        .unwrap();
        for (id, v) in [
            ("intake-givenName", "Grace"),
            ("intake-familyName", marker),
            ("intake-dateOfBirth", "1968-11-02"),
            ("intake-sex", "female"),
            ("intake-nationalId", "999-41-7731"),
            ("intake-allergies", "MARKER-ALLERGY-PENICILLIN-7731, latex"),
            ("intake-conditions", "type 2 diabetes"),
            ("intake-address-line", "3 Rua Augusta"),
            ("intake-address-city", "Lisbon"),
            ("intake-address-postalCode", "1100-048"),
            ("intake-address-country", "PT"),
            ("intake-insurance-provider", "Marker Insurance Mutual 7731"),
            ("intake-insurance-memberId", "G-1968"),
        ] {
            set(c, id, v).await;
        }
        shot(b, shots, "portal-intake", "body").await;
        // A half-filled address is refused in the page, naming what to fix.
        set(c, "intake-address-city", "").await;
        click(c, "#intake-submit").await;
        b.wait_until(
            "document.getElementById('error').textContent.includes('Address')",
            WAIT,
        )
        .await
        .unwrap();
        assert!(c.current_url().await.unwrap().fragment() == Some("/intake"));
        set(c, "intake-address-city", "Lisbon").await;
        click(c, "#intake-submit").await;
        b.wait_until("location.hash.startsWith('#/patient/pt_') && document.getElementById('diagnostic-file')", WAIT)
            .await
            .unwrap();
        let url = c.current_url().await.unwrap().to_string();
        assert!(
            !url.contains(marker) && !url.contains("999-41-7731"),
            "{url}"
        );

        // Upload of the diagnostic input, the diagnosis and its chain.
        let sample = facts["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|p| p.ends_with("sample-malignant.json"))
            .unwrap();
        // An input of 29 numbers is refused in the page before anything is sent.
        let short = shots.join("short.json");
        std::fs::create_dir_all(shots).unwrap();
        std::fs::write(&short, serde_json::to_string(&vec![1.0; 29]).unwrap()).unwrap();
        c.find(Locator::Id("diagnostic-file"))
            .await
            .unwrap()
            .send_keys(short.to_str().unwrap())
            .await
            .unwrap();
        b.wait_until(
            "document.getElementById('error').textContent.includes('29')",
            WAIT,
        )
        .await
        .unwrap();
        let disabled = c
            .execute(
                "return document.getElementById('run-diagnosis').disabled;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(disabled, Value::Bool(true));
        c.find(Locator::Id("diagnostic-file"))
            .await
            .unwrap()
            .send_keys(sample)
            .await
            .unwrap();
        b.wait_until("!document.getElementById('run-diagnosis').disabled", WAIT)
            .await
            .unwrap();
        click(c, "#run-diagnosis").await;
        b.wait_until(
            "document.getElementById('diagnosis-label')",
            Duration::from_secs(120),
        )
        .await
        .unwrap();
        assert_eq!(text(c, "#diagnosis-label").await.trim(), "malignant");
        let platform = checks(b, "chain-platform-checks").await;
        assert_all_pass(&platform, &[], "the platform's chain token");
        let diagnostics = checks(b, "chain-diagnostics-checks").await;
        assert_all_pass(&diagnostics, &["nonce"], "the diagnostics token");
        let banner = c
            .execute(
                "return !document.getElementById('virtual-banner').hidden;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(banner, Value::Bool(true), "virtual tokens are labelled");
        click(c, "#fetch-receipt").await;
        b.wait_until("document.getElementById('receipt-fields')", WAIT)
            .await
            .unwrap();
        let audit = text(c, "#audit-record").await;
        assert!(
            audit.contains(facts["measurements"]["platform"].as_str().unwrap()),
            "{audit}"
        );
        shot(b, shots, "portal-diagnosis", "body").await;
        shot(b, shots, "portal-chain", "[data-token=chain-platform]").await;
        shot(b, shots, "portal-audit-receipt", "#audit-record").await;

        // Lookup finds the patient by a prefix of the family name.
        c.goto(&format!("{portal}#/lookup")).await.unwrap();
        b.wait_until("document.getElementById('lookup-family')", WAIT)
            .await
            .unwrap();
        set(c, "lookup-family", &marker[..6]).await;
        click(c, "#lookup-submit").await;
        b.wait_until(
            "document.querySelector('#lookup-results a.patient-link')",
            WAIT,
        )
        .await
        .unwrap();
        assert!(text(c, "#lookup-results").await.contains(marker));
        shot(b, shots, "portal-lookup", "body").await;

        // The attestation panel: the platform's token for a fresh nonce, all green.
        c.goto(&format!("{portal}#/attestation")).await.unwrap();
        let panel = checks(b, "attestation-checks").await;
        assert_all_pass(&panel, &[], "the attestation panel");
        shot(b, shots, "portal-attestation", "body").await;

        // Pasted tokens: tampered, wrong measurement, expired — each names its failure.
        let token = facts_token(c).await;
        let claims: AttestationClaims = serde_json::from_slice(
            &cairn_attest::jwk::b64url_decode(token.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        let good = paste(b, &token).await;
        assert_eq!(result_of(&good, "signature"), "pass", "{good:?}");
        assert_eq!(result_of(&good, "nonce"), "skip", "{good:?}");
        let mut forged = claims.clone();
        forged.debug = false;
        forged.measurement = facts["measurements"]["diagnostics"]
            .as_str()
            .unwrap()
            .to_owned();
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64url(&serde_json::to_vec(&forged).unwrap()),
            parts[2]
        );
        let r = paste(b, &tampered).await;
        assert_eq!(result_of(&r, "signature"), "fail", "tampered: {r:?}");
        let state = demo_dir.join("attest/state");
        let wrong = minted(&state, &claims, |c| c.measurement = "ab".repeat(48));
        let r = paste(b, &wrong).await;
        assert_eq!(
            result_of(&r, "signature"),
            "pass",
            "wrong measurement: {r:?}"
        );
        assert_eq!(
            result_of(&r, "measurement"),
            "fail",
            "wrong measurement: {r:?}"
        );
        assert_eq!(result_of(&r, "expiry"), "pass", "wrong measurement: {r:?}");
        let expired = minted(&state, &claims, |c| {
            c.iat -= 7_200;
            c.nbf -= 7_200;
            c.exp = c.iat + 600;
        });
        let r = paste(b, &expired).await;
        assert_eq!(result_of(&r, "signature"), "pass", "expired: {r:?}");
        assert_eq!(result_of(&r, "expiry"), "fail", "expired: {r:?}");
        assert_eq!(result_of(&r, "measurement"), "pass", "expired: {r:?}");
        shot(b, shots, "portal-attestation-expired", "#pasted-result").await;

        // Nothing of the patient in the page's storage or address.
        let storage = c
            .execute(
                "return localStorage.length + sessionStorage.length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(storage, Value::from(0));
    }

    /// The platform token the panel just verified (from its decoded card).
    async fn facts_token(c: &Client) -> String {
        let v = c
            .execute(
                "const t = [...document.querySelectorAll('#attestation-result textarea, #attestation-result code, #attestation-result pre')]\
                 .map(e => (e.value || e.textContent || '').trim()).find(s => s.split('.').length === 3 && s.startsWith('eyJ'));\
                 return t || null;",
                vec![],
            )
            .await
            .unwrap();
        v.as_str()
            .unwrap_or_else(|| panic!("the attestation panel shows no raw token"))
            .to_owned()
    }
}
