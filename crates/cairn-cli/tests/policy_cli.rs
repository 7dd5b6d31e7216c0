//! `cairn policy` end to end: runs the built binary and checks output and exit codes
//! (0 satisfied, 1 not satisfied, 2 bad input).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::process::{Command, Output};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_LOG")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn signature_policy_satisfied_exits_0() {
    let out = cairn(&[
        "policy",
        "eval",
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
        "--signer",
        "Org1MSP.peer",
        "--signer",
        "Org3MSP.peer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "satisfied\n");
}

#[test]
fn signature_policy_not_satisfied_exits_1() {
    let out = cairn(&[
        "policy",
        "eval",
        "AND('Org1MSP.peer', 'Org2MSP.admin')",
        "--signer",
        "Org1MSP.peer",
        "--signer",
        "Org2MSP.peer",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "not satisfied\n");
}

#[test]
fn same_signer_twice_counts_once_and_suffix_makes_distinct() {
    let policy = "AND('Org1MSP.member', 'Org1MSP.member')";
    let twice = cairn(&[
        "policy",
        "eval",
        policy,
        "--signer",
        "Org1MSP.peer",
        "--signer",
        "Org1MSP.peer",
    ]);
    assert_eq!(twice.status.code(), Some(1));
    assert_eq!(stdout(&twice), "not satisfied\n");
    let distinct = cairn(&[
        "policy",
        "eval",
        policy,
        "--signer",
        "Org1MSP.peer#1",
        "--signer",
        "Org1MSP.peer#2",
    ]);
    assert_eq!(distinct.status.code(), Some(0));
    assert_eq!(stdout(&distinct), "satisfied\n");
}

#[test]
fn implicit_meta_defaults_to_signer_orgs_and_honours_org_list() {
    // Orgs default to the signers' orgs: 2 of 2 satisfy MAJORITY.
    let out = cairn(&[
        "policy",
        "eval",
        "MAJORITY Endorsement",
        "--signer",
        "Org1MSP.peer",
        "--signer",
        "Org2MSP.peer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "satisfied\n");
    assert!(stderr(&out).contains("2 of 2"), "{}", stderr(&out));

    // With four channel orgs, two are not a majority.
    let mut args = vec![
        "policy",
        "eval",
        "MAJORITY Endorsement",
        "--signer",
        "Org1MSP.peer",
        "--signer",
        "Org2MSP.peer",
    ];
    for org in ["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"] {
        args.extend(["--org", org]);
    }
    let out = cairn(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "not satisfied\n");
    assert!(
        stderr(&out).contains("MAJORITY needs 3"),
        "{}",
        stderr(&out)
    );

    // Admins is OR('X.admin'): peers do not count.
    let out = cairn(&[
        "policy",
        "eval",
        "ANY Admins",
        "--signer",
        "Org1MSP.peer",
        "--org",
        "Org1MSP",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn malformed_policy_exits_2_with_position() {
    let out = cairn(&[
        "policy",
        "eval",
        "AND('Org1MSP.peer', 'Org2MSP.boss')",
        "--signer",
        "Org1MSP.peer",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(err.starts_with("error: invalid policy"), "{err}");
    assert!(err.contains("unknown role 'boss'"), "{err}");
    assert!(err.contains("at byte 29"), "{err}");
}

#[test]
fn malformed_signer_or_org_exits_2() {
    let out = cairn(&[
        "policy",
        "eval",
        "OR('Org1MSP.peer')",
        "--signer",
        "Org1MSP.member",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid --signer \"Org1MSP.member\""), "{err}");
    assert!(err.contains("unknown role 'member'"), "{err}");

    let out = cairn(&["policy", "eval", "ANY Readers", "--org", "Bad MSP"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid MSP id 'Bad MSP'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fmt_prints_canonical_form() {
    let out = cairn(&[
        "policy",
        "fmt",
        "and ( \"Org1MSP.peer\",or('Org2MSP.admin','Org3MSP.member'))",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "AND('Org1MSP.peer', OR('Org2MSP.admin', 'Org3MSP.member'))\n"
    );
    let out = cairn(&["policy", "fmt", "  MAJORITY   Endorsement "]);
    assert_eq!(stdout(&out), "MAJORITY Endorsement\n");
    let out = cairn(&["policy", "fmt", "OR('Org1MSP.peer'"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("never closed"), "{}", stderr(&out));
}

#[test]
fn orgs_lists_minimal_sets() {
    let out = cairn(&["policy", "orgs", "OutOf(2, 'A.peer', 'B.peer', 'C.peer')"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "orgs: A, B, C\nsatisfied by: A + B\nsatisfied by: A + C\nsatisfied by: B + C\n"
    );
    let out = cairn(&["policy", "orgs", "MAJORITY Endorsement"]);
    assert_eq!(out.status.code(), Some(2));
}
