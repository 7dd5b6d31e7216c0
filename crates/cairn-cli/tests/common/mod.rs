//! Helpers shared by the `cairn` CLI tests: run the binary, read its output.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::process::{Command, Output};

/// Runs the `cairn` binary under test with `args` (without the caller's log filter).
pub fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cairn: {e}"))
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}
