//! The ledger file holds private data (the cleartext of member collections):
//! it is created 0600 in a 0700 directory, and a ledger left readable by
//! others (made before this rule, or copied in) is narrowed when opened.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cairn_store::{LEDGER_FILE, Ledger};
use cairn_testkit::{TestNet, now};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_ledger_is_owner_only_and_an_open_narrows_a_wide_one() {
    let root = tempfile::tempdir().unwrap();
    let net = TestNet::generate_at(&root.path().join("crypto"), 1);
    let dir = root.path().join("channels/mychannel");
    let ledger = net.ledger(&dir);
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    drop(ledger);
    let file = dir.join(LEDGER_FILE);
    assert!(
        std::fs::metadata(&file).unwrap().len() > 0,
        "redb wrote into the file made for it"
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root.path().join("channels")), 0o700);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        mode(&file),
        0o644,
        "the control: the file was readable by others"
    );
    let reopened = Ledger::open(&dir).unwrap();
    assert_eq!(reopened.height(), 2);
    assert_eq!(mode(&file), 0o600);
}
