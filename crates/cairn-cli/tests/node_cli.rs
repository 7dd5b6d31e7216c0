//! Operating a damaged network (issue 17, item 4): `cairn node stop|start NAME
//! --dir` act on one node of a `cairn up` network, and `cairn up` on a network
//! where some nodes run starts only those that are down.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use common::{Down, cairn, stdout, text};

/// Stops the network even when an assertion fails.
/// The `cairn status` line of `name`.
fn status_line(d: &str, name: &str) -> String {
    let out = cairn(&["status", "--dir", d]);
    stdout(&out)
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} not in status: {}", text(&out)))
        .to_owned()
}

#[test]
fn one_node_stops_and_starts_and_up_restarts_only_what_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net");
    let d = net.to_str().unwrap().to_owned();
    let _down = Down(net.clone());
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&["up", "--dir", &d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));

    // Stop one peer: status shows it down (exit 1), the others up.
    let stop = cairn(&["node", "stop", "peer0.org2", "--dir", &d]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(
        stdout(&stop).contains("stopped peer0.org2"),
        "{}",
        text(&stop)
    );
    assert!(status_line(&d, "peer0.org2").contains("down"));
    assert!(!status_line(&d, "peer0.org1").contains("down"));
    assert_eq!(cairn(&["status", "--dir", &d]).status.code(), Some(1));
    // Stopping it again says so; an unknown name lists the real ones.
    let again = cairn(&["node", "stop", "peer0.org2", "--dir", &d]);
    assert!(
        stdout(&again).contains("was not running"),
        "{}",
        text(&again)
    );
    let unknown = cairn(&["node", "stop", "peer9.org9", "--dir", &d]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("orderer0.org1"),
        "{}",
        text(&unknown)
    );

    // `up` on the damaged network starts only the stopped peer.
    let pid_before = status_line(&d, "orderer0.org1");
    let repair = cairn(&["up", "--dir", &d, "--detach"]);
    assert!(repair.status.success(), "{}", text(&repair));
    assert!(
        text(&repair).contains("starting 1 node(s) that were down"),
        "{}",
        text(&repair)
    );
    assert_eq!(cairn(&["status", "--dir", &d]).status.code(), Some(0));
    // The orderer that was running kept its process.
    assert_eq!(
        pid_before.split_whitespace().nth(2),
        status_line(&d, "orderer0.org1").split_whitespace().nth(2)
    );

    // Starting a running node is refused; stop and start an orderer by name.
    let twice = cairn(&["node", "start", "peer0.org2", "--dir", &d]);
    assert!(!twice.status.success());
    assert!(text(&twice).contains("already running"), "{}", text(&twice));
    let stop = cairn(&["node", "stop", "orderer0.org1", "--dir", &d]);
    assert!(stop.status.success(), "{}", text(&stop));
    let start = cairn(&["node", "start", "orderer0.org1", "--dir", &d]);
    assert!(start.status.success(), "{}", text(&start));
    assert!(
        stdout(&start).contains("started orderer0.org1"),
        "{}",
        text(&start)
    );
    assert_eq!(cairn(&["status", "--dir", &d]).status.code(), Some(0));

    // The network still commits, through the restarted peer's org too.
    let inv = cairn(&[
        "invoke",
        "--dir",
        &d,
        "--org",
        "Org2",
        "CreateAsset",
        "asset77",
        "blue",
        "5",
        "Ana",
        "300",
    ]);
    assert!(inv.status.success(), "{}", text(&inv));
    let q = cairn(&[
        "query",
        "--dir",
        &d,
        "--org",
        "Org2",
        "ReadAsset",
        "asset77",
    ]);
    assert!(stdout(&q).contains("asset77"), "{}", text(&q));
}
