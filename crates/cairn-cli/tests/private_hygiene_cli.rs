//! Private values stay out of logs and argv, and files holding keys or
//! private data are the owner's only (issue 11, items 7 and 8), on real
//! multi-process networks started with `cairn up`.
//!
//! - Item 7: a contract prints a marker with `console.debug` and the
//!   transient value with `console.log`; the transient values are passed
//!   with `--transient-file`, `--transient KEY=@FILE` and `KEY=@-`, never in
//!   argv. At the default log level no node's log holds either marker, while
//!   the contract did get the values (its answers prove it). The positive
//!   control: a peer restarted with `CAIRN_LOG=info,cairn_contract::console=debug`
//!   logs what the contract prints (cut at 4 KiB a call), and still not a
//!   transient value the contract does not print.
//! - Item 8: after `cairn up --attest`, every key file, ledger, Raft log,
//!   transient log, node log and attestation state file is 0600, the
//!   directories holding them are closed to others, and no temporary file
//!   is left; files widened by hand are narrowed again by the next `cairn up`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]
#![cfg(unix)]

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{cairn, deploy, stdout, text};
use rand::Rng;

const CONSOLE_CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cairn-contract/tests/contracts/console-log"
);

/// Stops the network (and a node started by hand) even when an assertion fails.
struct Down(PathBuf, Option<Child>);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = cairn(&["down", "--dir", self.0.to_str().unwrap()]);
        if let Some(c) = self.1.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn random_marker(what: &str) -> String {
    format!("{what}-{}", rand::rng().random::<u64>())
}

/// `cairn` with `stdin` on its standard input.
fn cairn_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Every node log of the network, by file name.
fn logs(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned(),
            )
        })
        .collect()
}

fn pid_of(dir: &Path, node: &str) -> i32 {
    common::node_pid(dir, node)
}

#[test]
fn private_values_stay_out_of_node_logs_at_the_default_level() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap().to_string();
    let mut guard = Down(dir.clone(), None);
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&[
        "up",
        "--orgs",
        "2",
        "--dir",
        &d,
        "--base-port",
        &port,
        "--detach",
    ]);
    assert!(up.status.success(), "{}", text(&up));
    deploy(
        &d,
        "console",
        CONSOLE_CONTRACT,
        "OR('Org1MSP.peer','Org2MSP.peer')",
        "[]",
        2,
    );
    let call = |verb: &str, transient: &[&str], args: &[&str]| -> Output {
        let mut a = vec![
            verb,
            "--dir",
            d.as_str(),
            "--org",
            "Org1",
            "--contract",
            "console",
        ];
        a.extend(transient);
        a.extend(args);
        cairn(&a)
    };

    // --transient-file: the contract prints the marker at debug level and
    // the transient value with console.log, and answers the value's hash.
    let console_marker = random_marker("console-marker");
    let secret = random_marker("transient-marker");
    let file = tmp.path().join("transient.json");
    std::fs::write(&file, format!(r#"{{"secret": "{secret}"}}"#)).unwrap();
    let out = call(
        "invoke",
        &["--transient-file", file.to_str().unwrap()],
        &["Log", &console_marker],
    );
    assert!(out.status.success(), "{}", text(&out));
    let hash = cairn_crypto::sha256(secret.as_bytes()).to_string();
    assert!(
        stdout(&out).contains(&hash),
        "the contract got the value: {}",
        text(&out)
    );

    // --transient KEY=@FILE and KEY=@-: the contract answers the value.
    let from_file = random_marker("file-marker");
    let value_file = tmp.path().join("secret.txt");
    std::fs::write(&value_file, &from_file).unwrap();
    let at_file = format!("secret=@{}", value_file.display());
    let out = call("query", &["--transient", &at_file], &["Echo"]);
    assert_eq!(stdout(&out).trim(), from_file, "{}", text(&out));
    let from_stdin = random_marker("stdin-marker");
    let out = cairn_with_stdin(
        &[
            "query",
            "--dir",
            &d,
            "--contract",
            "console",
            "--transient",
            "secret=@-",
            "Echo",
        ],
        from_stdin.as_bytes(),
    );
    assert_eq!(stdout(&out).trim(), from_stdin, "{}", text(&out));

    // At the default level no node logged any of it.
    let all = logs(&dir);
    assert!(all.len() >= 4, "every node has a log: {all:?}");
    for (name, log) in &all {
        for marker in [&console_marker, &secret, &from_file, &from_stdin] {
            assert!(!log.contains(marker.as_str()), "{name} logged {marker}");
        }
        assert!(
            !log.contains("transient-seen"),
            "{name} logged console output"
        );
    }

    // The positive control: peer0.org1 restarted with the console target on.
    let pid = pid_of(&dir, "peer0.org1");
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    wait_until("peer0.org1 exits", Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    });
    let log_path = dir.join("logs/peer0.org1.log");
    let log = std::fs::File::options()
        .append(true)
        .open(&log_path)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "--config"])
        .arg(dir.join("nodes/peer0.org1/node.toml"))
        .env("CAIRN_LOG", "info,cairn_contract::console=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::fs::write(dir.join("run/peer0.org1.pid"), child.id().to_string()).unwrap();
    guard.1 = Some(child);

    let printed = random_marker("printed-marker");
    let printed_file = tmp.path().join("printed.json");
    std::fs::write(&printed_file, format!(r#"{{"secret": "{printed}"}}"#)).unwrap();
    let console_marker2 = random_marker("console-marker2");
    let mut last = String::new();
    wait_until(
        "peer0.org1 answers after its restart",
        Duration::from_secs(30),
        || {
            let out = call(
                "query",
                &["--transient-file", printed_file.to_str().unwrap()],
                &["Log", &console_marker2],
            );
            last = text(&out);
            out.status.success()
        },
    );
    let unprinted = random_marker("unprinted-marker");
    let out = call(
        "query",
        &["--transient", &format!("secret={unprinted}")],
        &["Echo"],
    );
    assert_eq!(stdout(&out).trim(), unprinted, "{}", text(&out));
    let out = call("query", &[], &["Big", "big-marker:", "10000"]);
    assert!(out.status.success(), "{}", text(&out));

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains(&format!("console-debug-line {console_marker2}")),
        "the console target, once enabled, is logged: {last}"
    );
    assert!(
        log.contains(&format!("transient-seen {printed}")),
        "what a contract prints is logged when enabled"
    );
    assert!(
        !log.contains(&unprinted),
        "a transient value the contract does not print is not logged"
    );
    assert!(
        !log.contains(&console_marker),
        "nothing from before the restart"
    );
    let big = log.lines().find(|l| l.contains("big-marker:")).unwrap();
    assert!(big.contains("truncated: 4096 of 10011 bytes"), "{big}");
    assert!(!big.contains(&"x".repeat(4096)), "cut at 4 KiB");
}

/// Every entry under `dir`: path, whether it is a directory, permission bits.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        out.push((e.path(), meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            walk(&e.path(), out);
        }
    }
}

/// What kind of private file `path` (relative to the network directory) is, if any.
fn private_kind(rel: &Path) -> Option<&'static str> {
    let name = rel.file_name()?.to_str()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(match name {
        _ if first == "attest" => "attestation state",
        "key.pem" | "ca.key" => "key",
        _ if name.ends_with(".redb") => "ledger or raft log",
        "transient.log" => "transient log",
        _ if first == "logs" => "node log",
        _ => return None,
    })
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Checks every private file of the network; returns how many of each kind.
fn check_private_files(dir: &Path) -> std::collections::BTreeMap<&'static str, usize> {
    let mut entries = Vec::new();
    walk(dir, &mut entries);
    let mut counts = std::collections::BTreeMap::new();
    for (path, is_dir, bits) in &entries {
        let rel = path.strip_prefix(dir).unwrap();
        let name = rel.file_name().unwrap().to_string_lossy();
        assert!(
            !name.ends_with(".tmp"),
            "temporary file left: {}",
            rel.display()
        );
        if *is_dir {
            continue;
        }
        let Some(kind) = private_kind(rel) else {
            continue;
        };
        *counts.entry(kind).or_insert(0) += 1;
        assert_eq!(*bits, 0o600, "{kind} {} is {bits:o}", rel.display());
        // Some directory between it and the network directory is closed to others.
        let closed = rel
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .any(|a| mode(&dir.join(a)) & 0o077 == 0);
        assert!(
            closed,
            "{} sits in directories others may enter",
            rel.display()
        );
        if kind == "key" {
            let parent = path.parent().unwrap();
            assert_eq!(mode(parent), 0o700, "{}", parent.display());
        }
    }
    counts
}

#[test]
fn files_holding_keys_and_private_data_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let _guard = Down(dir.clone(), None);
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&[
        "up",
        "--attest",
        "--orgs",
        "2",
        "--dir",
        d,
        "--base-port",
        &port,
        "--detach",
    ]);
    assert!(up.status.success(), "{}", text(&up));

    let counts = check_private_files(&dir);
    // The walk found every kind (the positive control): 2 orgs × (CA, admin,
    // peer, orderer, user) keys; per org an orderer ledger, a Raft log and a
    // peer ledger; a transient log per peer; the service's state.
    let expect = [
        ("key", 10),
        ("ledger or raft log", 6),
        ("transient log", 2),
        ("node log", 5),
        ("attestation state", 7),
    ];
    for (kind, at_least) in expect {
        let n = counts.get(kind).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "{n} {kind} file(s), expected {at_least}: {counts:?}"
        );
    }
    for private_dir in ["nodes", "logs", "attest", "crypto/org1", "crypto/org2"] {
        assert_eq!(mode(&dir.join(private_dir)), 0o700, "{private_dir}");
    }

    // Files left readable by others (an older build, a copy) are narrowed
    // when the nodes open them again.
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    let widened = [
        "nodes/peer0.org1/data/channels/mychannel/ledger.redb",
        "nodes/peer0.org1/data/channels/mychannel/transient.log",
        "nodes/orderer0.org1/data/raft.redb",
        "nodes/orderer0.org1/data/ledger/ledger.redb",
        "logs/peer0.org2.log",
    ];
    for rel in widened {
        let p = dir.join(rel);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(mode(&p), 0o644, "the control: {rel} is wide");
    }
    let again = cairn(&["up", "--dir", d, "--detach"]);
    assert!(again.status.success(), "{}", text(&again));
    // `up` returns once a Raft leader and every peer answer; a follower
    // orderer may open its files a moment later.
    for rel in widened {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while mode(&dir.join(rel)) != 0o600 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(mode(&dir.join(rel)), 0o600, "{rel} after the restart");
    }
    check_private_files(&dir);
}
