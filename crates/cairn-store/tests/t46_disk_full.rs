//! A full disk: the commit fails with the OS's reason, nothing committed is
//! lost, and once space is freed the same `Ledger` commits again, without
//! being reopened by its owner (redb refuses every transaction after an I/O
//! error until its database is reopened; the ledger does that itself).
//!
//! The ledger lives on a small tmpfs this test mounts, so it runs as root
//! (CI does); elsewhere it fails saying so.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::io::Write;
use std::path::Path;
use std::process::Command;

use cairn_ledger::state::StateView;
use cairn_store::Ledger;
use cairn_store::verify::verify_ledger;
use cairn_testkit::{TestNet, now, write_set};

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Mount {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "this test mounts a small tmpfs to fill it and needs root (CI runs as root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Mount(dir.to_path_buf())
}

/// Fills the filesystem of `path`; answers bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut n = 0;
    for size in [1 << 16, 4096, 1] {
        let chunk = vec![0u8; size];
        while f.write(&chunk).is_ok_and(|w| w > 0) {
            n += size as u64;
        }
    }
    n
}

#[test]
fn a_full_disk_fails_the_commit_and_freeing_it_lets_the_same_ledger_commit_again() {
    let tmp = tempfile::tempdir().unwrap();
    let _mount = mount_tmpfs(tmp.path(), "8m");
    let dir = tmp.path().join("ledger");
    let net = TestNet::new(2);
    let ledger = net.ledger(&dir);
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    let write = |k: &str| {
        net.endorsed_tx(
            &net.orgs[1].user,
            "asset",
            write_set("asset", &[(k, vec![b'x'; 2048].as_slice())]),
            &[&net.orgs[0].peer, &net.orgs[1].peer],
        )
        .1
    };
    ledger
        .append(vec![write("before")], now(), net.orderer())
        .unwrap();
    let height = ledger.height();

    let ballast = tmp.path().join("ballast");
    assert!(fill(&ballast) > 0);
    // redb may still fit a block in its file's free pages: commit until it fails.
    let mut failure = None;
    for i in 0..200 {
        let block = ledger
            .seal(vec![write(&format!("full{i}"))], now(), net.orderer())
            .unwrap();
        if let Err(e) = ledger.commit(&block) {
            failure = Some((e, block));
            break;
        }
    }
    let (err, block) = failure.expect("a commit fails on a full disk");
    assert!(
        err.to_string().contains("No space left on device"),
        "the error gives the OS's reason: {err}"
    );
    let height_full = ledger.height();
    assert!(height_full >= height, "nothing committed was lost");
    // Still full: still refused, still nothing lost.
    assert!(ledger.commit(&block).is_err());

    std::fs::remove_file(&ballast).unwrap();
    ledger
        .commit(&block)
        .expect("the same ledger commits again once space is freed");
    assert_eq!(ledger.height(), height_full + 1);
    ledger
        .append(vec![write("after")], now(), net.orderer())
        .unwrap();
    let snap = ledger.snapshot().unwrap();
    assert!(snap.state("asset", "before").unwrap().is_some());
    assert!(snap.state("asset", "after").unwrap().is_some());
    drop(snap);
    drop(ledger);
    verify_ledger(&dir, |_, _| {}).expect("the ledger verifies after the full disk");
    Ledger::open(&dir).expect("and opens");
}
