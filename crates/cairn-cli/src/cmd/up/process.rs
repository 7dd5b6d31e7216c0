//! Node processes of a local network: start `cairn node` children with their
//! logs in files, remember their pids, and stop them: SIGTERM first, SIGKILL
//! if one does not exit in time.
//!
//! Invariant: a pid file is only acted on when `/proc/<pid>/cmdline` still
//! names that node's config file, so a recycled pid is never signalled.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use rustix::process::{Pid, Signal, kill_process};

/// How long a node gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where one node's files are.
#[derive(Clone, Debug)]
pub struct NodeFiles {
    /// The node's name, e.g. `orderer0.org1`.
    pub name: String,
    /// Its `cairn node` config file (for the attestation service: its state
    /// directory); it names the process in `/proc/<pid>/cmdline`.
    pub config: PathBuf,
    /// The `cairn` arguments that run it, e.g. `node --config <config>`.
    pub args: Vec<std::ffi::OsString>,
    /// Its log file (stdout and stderr).
    pub log: PathBuf,
    /// Its pid file.
    pub pid: PathBuf,
}

/// Starts `cairn <args>` (a node, or the attestation service) with output
/// appended to its log.
pub fn spawn(node: &NodeFiles) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the cairn executable")?;
    // A log can hold what an operator chose to log (contract console
    // output, debug levels): the owner's only, like the data.
    if let Some(dir) = node.log.parent() {
        cairn_crypto::private_file::create_dir_all(dir)?;
    }
    let log = cairn_crypto::private_file::open_append(&node.log)
        .with_context(|| format!("cannot open {}", node.log.display()))?;
    let child = Command::new(exe)
        .args(&node.args)
        .env(
            "CAIRN_LOG",
            std::env::var("CAIRN_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start node {}", node.name))?;
    if let Some(dir) = node.pid.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&node.pid, child.id().to_string())
        .with_context(|| format!("cannot write {}", node.pid.display()))?;
    Ok(child)
}

/// The pid of a node that is running now, from its pid file.
pub fn running(node: &NodeFiles) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(&node.pid)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    is_node_process(pid, &node.config).then_some(pid)
}

/// Whether `pid` is a live (not zombie) `cairn node` process for `config`.
fn is_node_process(pid: i32, config: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true);
    let want = config.as_os_str().as_encoded_bytes();
    !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == want)
}

/// Stops a node: SIGTERM, then SIGKILL after [`STOP_GRACE`]. Returns whether it
/// had to be killed. Removes the pid file.
pub fn stop(node: &NodeFiles) -> anyhow::Result<Option<bool>> {
    let Some(pid) = running(node) else {
        let _ = std::fs::remove_file(&node.pid);
        return Ok(None);
    };
    let p = Pid::from_raw(pid).context("pid file holds an invalid pid")?;
    kill_process(p, Signal::TERM)
        .with_context(|| format!("cannot signal {} (pid {pid})", node.name))?;
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if !is_node_process(pid, &node.config) {
            let _ = std::fs::remove_file(&node.pid);
            return Ok(Some(false));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = kill_process(p, Signal::KILL);
    let _ = std::fs::remove_file(&node.pid);
    Ok(Some(true))
}
