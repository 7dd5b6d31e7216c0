//! Unmodified S3 clients from PyPI (boto3 and the AWS CLI, pinned in
//! python/requirements.txt) against a real blob server on loopback: the WORM
//! rules of issue 15's first "Done when" bullet.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::process::Command;

use common::TestServer;

/// Runs a client script; its last line must be "N passed, 0 failed" with N ≥ `min`.
fn run_client(mut cmd: Command, min: usize) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or("");
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    assert!(passed >= min, "only {passed} checks ran:\n{stdout}");
}

#[test]
fn boto3_sees_compliance_governance_legal_hold_and_delete_markers() {
    let server = TestServer::start();
    let python = cairn_testkit::python::python();
    let mut cmd = Command::new(python);
    cmd.arg(TestServer::client_file("boto3_worm.py"))
        .args([&server.url, &server.admin.id, &server.admin.secret])
        .args([&server.alice.id, &server.alice.secret]);
    run_client(cmd, 27);
}

#[test]
fn aws_s3api_script_sees_the_same_rules() {
    let server = TestServer::start();
    let python = cairn_testkit::python::python();
    let bin = python.parent().unwrap();
    let aws = bin.join("aws");
    assert!(
        aws.is_file(),
        "the pinned venv has no `aws` (awscli in python/requirements.txt)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(TestServer::client_file("s3api_worm.sh"))
        .arg(&aws)
        .args([&server.url, &server.admin.id, &server.admin.secret])
        .args([&server.alice.id, &server.alice.secret])
        .env("PATH", path)
        .env("TMPDIR", tmp.path());
    run_client(cmd, 13);
}
