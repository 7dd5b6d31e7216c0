//! New versions are durable through the write-ahead log: a writer process
//! that dies without closing anything (abort: no destructor, no database
//! close) loses none of the versions it was told were stored, and replay
//! applies each exactly once.
//!
//! The test re-runs its own binary as the writer (the same test, told by an
//! environment variable to write and then abort), so the crash is a real
//! one: the database file is left as the dead process left it.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use cairn_blob::store::AnchorKind;
use cairn_blob::{Bypass, PutOptions, Store, SystemClock};
use sha2::{Digest, Sha256};

const CHILD_DIR: &str = "CAIRN_BLOB_WAL_CHILD_DIR";
const CHILD_FROM: &str = "CAIRN_BLOB_WAL_CHILD_FROM";
const CHILD_COUNT: &str = "CAIRN_BLOB_WAL_CHILD_COUNT";

/// The bytes of object `n`: mostly small (inline, 4 KiB), every 97th one
/// large (a content file, 100 KiB).
fn content(n: u64) -> Vec<u8> {
    let size = if n.is_multiple_of(97) {
        100 * 1024
    } else {
        4096
    };
    cairn_testkit::xorshift_bytes(n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, size)
}

/// The writer: puts objects `from..from+count`, deletes object 100 (mod
/// 1,400) again (a durable commit in the middle of a log round), appends to
/// a log object every 100th, prints every acknowledgement, and dies.
fn child(dir: &Path, from: u64, count: u64) -> ! {
    let store = Store::open(dir, Box::new(SystemClock)).unwrap();
    if from == 0 {
        store.create_bucket("wal", false, "test").unwrap();
    }
    let mut out = std::io::stdout().lock();
    // The test harness's own line ("test … ...") has no line break yet.
    writeln!(out).unwrap();
    for n in from..from + count {
        let body = content(n);
        let key = format!("obj-{n}");
        let v = store
            .put("wal", &key, &body, PutOptions::default())
            .unwrap();
        writeln!(out, "put {key} {} {}", v.version_id, v.sha256).unwrap();
        if n % 1400 == 100 {
            store
                .delete("wal", &key, Some(&v.version_id), Bypass::NONE, "test")
                .unwrap();
            writeln!(out, "deleted {key} {}", v.version_id).unwrap();
        }
        if n.is_multiple_of(100) {
            let v = store
                .append("wal", "digest-log", format!("{n}\n").as_bytes(), "test")
                .unwrap();
            writeln!(out, "put digest-log {} {}", v.version_id, v.sha256).unwrap();
        }
    }
    out.flush().unwrap();
    // A crash: no destructor runs, so nothing is closed or synced on the way out.
    std::process::abort();
}

/// Runs the writer for `from..from+count` and returns what it printed.
fn run_child(dir: &Path, from: u64, count: u64) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_versions_survive_a_crash_and_replay_once",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_FROM, from.to_string())
        .env(CHILD_COUNT, count.to_string())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the writer should have died: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// (key, version) → sha256 of every version acknowledged and not deleted.
fn acknowledged(printed: &str, into: &mut BTreeMap<(String, String), String>) {
    for line in printed.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["put", key, version, sha] => {
                into.insert((key.to_string(), version.to_string()), sha.to_string());
            }
            ["deleted", key, version] => {
                into.remove(&(key.to_string(), version.to_string()));
            }
            _ => {}
        }
    }
}

fn check(dir: &Path, acked: &BTreeMap<(String, String), String>) -> Store {
    let store = Store::open(dir, Box::new(SystemClock)).unwrap();
    for ((key, version), sha) in acked {
        let (v, bytes) = store
            .get("wal", key, Some(version))
            .unwrap_or_else(|e| panic!("{key} {version} lost: {e}"));
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha, "{key} {version}");
        assert_eq!(&v.sha256, sha);
    }
    // Nothing more than what was acknowledged (deleted versions stay deleted).
    let listed = store.list_versions("wal", "", None, None, 100_000).unwrap();
    let extra: Vec<_> = listed
        .entries
        .iter()
        .map(|(v, _)| (v.key.clone(), v.version_id.clone()))
        .filter(|k| !acked.contains_key(k))
        .collect();
    assert!(extra.is_empty(), "versions never acknowledged: {extra:?}");
    assert_eq!(listed.entries.len(), acked.len());
    // One anchoring job per version: replay did not queue any twice.
    let mut jobs = BTreeMap::new();
    for job in store.anchor_backlog(100_000).unwrap() {
        if let AnchorKind::Version {
            key, version_id, ..
        } = job.kind
        {
            *jobs.entry((key, version_id)).or_insert(0) += 1;
        }
    }
    for (key, count) in &jobs {
        assert_eq!(*count, 1, "{key:?} queued {count} times");
    }
    for version in acked.keys() {
        assert!(jobs.contains_key(version), "{version:?} has no anchor job");
    }
    store
}

#[test]
fn acknowledged_versions_survive_a_crash_and_replay_once() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let num = |name| std::env::var(name).unwrap().parse::<u64>().unwrap();
        child(Path::new(&dir), num(CHILD_FROM), num(CHILD_COUNT));
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut acked = BTreeMap::new();

    // 1,500 puts: a delete at 100 starts a round; 1,024 records later the
    // round is full and a PUT commits durably (a checkpoint); the last ~390
    // versions are in the new round, over the old one's bytes.
    acknowledged(&run_child(&dir, 0, 1500), &mut acked);
    assert!(acked.len() > 1400, "{} acknowledged", acked.len());

    // Control: without its log, the dead writer's last versions are gone,
    // so the check below really depends on replay.
    let bare = tmp.path().join("without-log");
    copy_dir(&dir, &bare);
    std::fs::remove_file(bare.join("meta.wal")).unwrap();
    let without = Store::open(&bare, Box::new(SystemClock)).unwrap();
    let last = acked.keys().find(|(k, _)| k == "obj-1499").unwrap();
    assert!(
        without.get("wal", &last.0, Some(&last.1)).is_err(),
        "the last version was durable without the log: this test would not see a broken replay"
    );
    drop(without);

    let store = check(&dir, &acked);
    // The version counter was replayed too: a new version sorts after all.
    let v = store
        .put("wal", "after", b"after", PutOptions::default())
        .unwrap();
    assert!(acked.keys().all(|(_, id)| id < &v.version_id));
    acked.insert(("after".to_owned(), v.version_id.clone()), v.sha256.clone());
    drop(store);

    // A second crash after a clean reopen: the log now starts with a new
    // round over stale records.
    acknowledged(&run_child(&dir, 1500, 40), &mut acked);
    let store = check(&dir, &acked);
    drop(store);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
