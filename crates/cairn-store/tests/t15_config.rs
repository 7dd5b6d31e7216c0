//! Channel configuration updates: signed by enough admins (`MAJORITY Admins`),
//! with the next sequence number, they take effect for the blocks after them;
//! a revocation list carried in the config refuses the revoked certificate.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_ledger::client::config_update;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::validation::ValidationCode;
use cairn_testkit::{TestNet, nonce, now, write_set};

#[test]
fn revocation_by_admin_majority_takes_effect() {
    let net = TestNet::new(3);
    let dir = tempfile::tempdir().unwrap();
    let ledger = net.ledger(dir.path());
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    let endorsers = [&net.orgs[0].peer, &net.orgs[1].peer];
    let user2 = &net.orgs[1].user;

    // Before: Org2's user can transact.
    let (_, tx) = net.endorsed_tx(
        user2,
        "asset",
        write_set("asset", &[("before", b"1")]),
        &endorsers,
    );
    let b = ledger.append(vec![tx], now(), net.orderer()).unwrap();
    assert_eq!(b.metadata.validation_codes, vec![ValidationCode::Valid]);

    // Revoke Org2's user in the channel config.
    let mut new = ledger.config();
    new.sequence += 1;
    let serial = user2.identity().serial_hex().to_string();
    let org2 = new.orgs.iter_mut().find(|o| o.msp_id == "Org2MSP").unwrap();
    cairn_crypto::revoke(org2, &serial).unwrap();

    // One admin of three is not a majority: refused, config unchanged.
    let weak = config_update(
        &new,
        &net.orgs[0].admin,
        &[&net.orgs[0].admin],
        nonce(),
        now(),
    )
    .unwrap();
    let b = ledger
        .append(vec![weak.encode().unwrap()], now(), net.orderer())
        .unwrap();
    assert_eq!(
        b.metadata.validation_codes,
        vec![ValidationCode::InvalidConfigTransaction]
    );
    assert_eq!(ledger.config().sequence, 0);

    // Signatures by peers do not count as admins.
    let peers = config_update(
        &new,
        &net.orgs[0].admin,
        &[&net.orgs[0].peer, &net.orgs[1].peer],
        nonce(),
        now(),
    )
    .unwrap();
    let b = ledger
        .append(vec![peers.encode().unwrap()], now(), net.orderer())
        .unwrap();
    assert_eq!(
        b.metadata.validation_codes,
        vec![ValidationCode::InvalidConfigTransaction]
    );

    // A wrong sequence number is refused even with enough admins.
    let mut skipped = new.clone();
    skipped.sequence += 1;
    let admins = [&net.orgs[0].admin, &net.orgs[2].admin];
    let bad_seq = config_update(&skipped, &net.orgs[0].admin, &admins, nonce(), now()).unwrap();
    let b = ledger
        .append(vec![bad_seq.encode().unwrap()], now(), net.orderer())
        .unwrap();
    assert_eq!(
        b.metadata.validation_codes,
        vec![ValidationCode::InvalidConfigTransaction]
    );

    // Two admins of three: accepted.
    let good = config_update(&new, &net.orgs[0].admin, &admins, nonce(), now()).unwrap();
    let b = ledger
        .append(vec![good.encode().unwrap()], now(), net.orderer())
        .unwrap();
    assert_eq!(b.metadata.validation_codes, vec![ValidationCode::Valid]);
    assert_eq!(ledger.config().sequence, 1);
    assert_eq!(
        b.metadata.last_config, 0,
        "validated under the genesis config"
    );

    // After: the revoked user's transactions are refused, others still commit.
    let (_, revoked) = net.endorsed_tx(
        user2,
        "asset",
        write_set("asset", &[("after", b"1")]),
        &endorsers,
    );
    let (_, fine) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("other", b"1")]),
        &endorsers,
    );
    let b = ledger
        .append(vec![revoked, fine], now(), net.orderer())
        .unwrap();
    assert_eq!(
        b.metadata.validation_codes,
        vec![ValidationCode::BadCreatorSignature, ValidationCode::Valid]
    );
    assert_eq!(
        b.metadata.last_config,
        b.header.number - 1,
        "validated under the updated config"
    );

    // The config survives a restart and the whole ledger verifies.
    drop(ledger);
    let reopened = cairn_store::Ledger::open(dir.path()).unwrap();
    assert_eq!(reopened.config().sequence, 1);
    drop(reopened);
    cairn_store::verify::verify_ledger(dir.path(), |_, _| {}).unwrap();
}
