//! Contract `console.*` output (issue 11, item 7): it goes to the log target
//! `cairn_contract::console` at debug level, so a filter that turns that
//! target off (the `cairn` binary's default) keeps it out of the log even
//! at `trace`; each call is cut at 4 KiB and each invocation at 64 KiB, and
//! the next invocation starts with a fresh budget.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cairn_contract::{
    CONSOLE_CALL_BYTES, CONSOLE_INVOCATION_BYTES, CONSOLE_TARGET, ContractPackage, CreatorInfo,
};
use cairn_crypto::Role;
use support::*;

const NAME: &str = "console";

/// Log lines written by the subscriber, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn setup() -> (Peer, CreatorInfo) {
    let org1 = Org::new("Org1");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contracts/console-log");
    let package = Arc::new(ContractPackage::load(&dir, "console_1").unwrap());
    let peer = Peer::new(
        "Org1MSP",
        channel(&[&org1]),
        FixedResolver::with(NAME, package),
    );
    (peer, org1.identity("user@org1.cairn", Role::Client, &[]))
}

/// Runs `f` with a subscriber using `filter`; returns what it logged.
fn logged(filter: &str, f: impl FnOnce()) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    out.text()
}

fn call(peer: &Peer, who: &CreatorInfo, function: &str, args: &[&str], nonce: u64) -> String {
    let sim = peer
        .simulate(&proposal(who, NAME, function, args, nonce), who)
        .unwrap();
    assert_eq!(sim.response.status, 200, "{:?}", sim.response);
    payload_str(&sim)
}

#[test]
fn console_output_reaches_the_log_only_when_its_target_is_enabled() {
    let (peer, who) = setup();
    // Everything else at trace, the console target off: no marker.
    let off = logged(&format!("trace,{CONSOLE_TARGET}=off"), || {
        call(&peer, &who, "Log", &["marker-off-1"], 1);
    });
    assert!(!off.contains("marker-off-1"), "{off}");
    // Enabled (the positive control): the debug line is there, with its
    // target, contract and transaction.
    let on = logged(&format!("{CONSOLE_TARGET}=debug"), || {
        call(&peer, &who, "Log", &["marker-on-1"], 2);
    });
    let line = on
        .lines()
        .find(|l| l.contains("console-debug-line marker-on-1"))
        .unwrap_or_else(|| panic!("no console line in {on}"));
    for part in [CONSOLE_TARGET, "contract=console", "level=debug", "txid="] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    // It is debug, not info: an info filter on the target drops it.
    let info = logged(&format!("{CONSOLE_TARGET}=info"), || {
        call(&peer, &who, "Log", &["marker-info-1"], 3);
    });
    assert!(!info.contains("marker-info-1"), "{info}");
}

#[test]
fn each_call_and_each_invocation_is_capped() {
    let (peer, who) = setup();
    let filter = format!("{CONSOLE_TARGET}=debug");
    // One call of 10,000 bytes: the first 4 KiB and a note.
    let big = logged(&filter, || {
        call(&peer, &who, "Big", &["big-marker:", "10000"], 1);
    });
    let line = big.lines().find(|l| l.contains("big-marker:")).unwrap();
    let xs = CONSOLE_CALL_BYTES - "big-marker:".len();
    assert!(line.contains(&"x".repeat(xs)), "the first 4 KiB are logged");
    assert!(!line.contains(&"x".repeat(xs + 1)), "nothing past 4 KiB is");
    assert!(
        line.contains(&format!(
            "truncated: {CONSOLE_CALL_BYTES} of {} bytes",
            10_000 + "big-marker:".len()
        )),
        "{line}"
    );

    // 40 calls of about 4 KB: output stops at 64 KiB, with one notice.
    let many = logged(&filter, || {
        call(&peer, &who, "Many", &["many-marker", "40"], 2);
    });
    let lines: Vec<&str> = many.lines().filter(|l| l.contains("many-marker")).collect();
    assert!(
        lines.len() > 10 && lines.len() < 20,
        "{} lines",
        lines.len()
    );
    assert!(
        !many.contains("many-marker 39 "),
        "the last calls are dropped"
    );
    let logged_bytes: usize = lines.iter().map(|l| l.matches('y').count()).sum();
    assert!(logged_bytes <= CONSOLE_INVOCATION_BYTES, "{logged_bytes}");
    assert_eq!(
        many.matches("console output of this invocation reached")
            .count(),
        1,
        "{many}"
    );

    // The next invocation has its own budget.
    let next = logged(&filter, || {
        call(&peer, &who, "Log", &["after-many"], 3);
    });
    assert!(next.contains("console-debug-line after-many"), "{next}");
}
