//! The four faults and how each is healed: SIGKILL then restart; SIGSTOP
//! then SIGCONT; a peer's disk filled then freed; a byte of a stored block
//! of a stopped peer flipped, the restart refused, the block repaired from
//! the other nodes, the peer started again.
//!
//! Each fault answers what happened and any *problem*: a node that did not
//! behave as the fault's rule says (the disk-full peer exited, the damaged
//! peer started anyway, ...). Problems fail the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_ledger::encoding::Canonical;
use rand::Rng;
use rand::rngs::StdRng;
use rustix::process::{Pid, Signal, kill_process};

use super::start as start_node;
use crate::cmd::up::layout::{Network, Node};
use crate::cmd::up::{process, repair};

/// What a fault did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// What was done, for the report.
    pub detail: String,
    /// Rules the node broke (empty when it behaved).
    pub problems: Vec<String>,
}

fn signal(net: &Network, node: &Node, sig: Signal) -> anyhow::Result<i32> {
    let pid = process::running(&net.files(node))
        .with_context(|| format!("{} is not running", node.name))?;
    let p = Pid::from_raw(pid).context("invalid pid")?;
    kill_process(p, sig).with_context(|| format!("cannot signal {} (pid {pid})", node.name))?;
    Ok(pid)
}

/// Waits until the killed process is gone (its pid file names no live node).
fn wait_gone(net: &Network, node: &Node) {
    for _ in 0..100 {
        if process::running(&net.files(node)).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL, a short outage, restart.
pub fn kill(net: &Network, node: &Node, rng: &mut StdRng) -> anyhow::Result<Outcome> {
    let pid = signal(net, node, Signal::KILL)?;
    wait_gone(net, node);
    let down = Duration::from_millis(rng.random_range(500..2_500));
    std::thread::sleep(down);
    start_node(net, &node.name)?;
    Ok(Outcome {
        detail: format!(
            "SIGKILL pid {pid}, down {:.1} s, restarted",
            down.as_secs_f64()
        ),
        problems: Vec::new(),
    })
}

/// SIGSTOP for a few seconds, then SIGCONT.
pub fn pause(net: &Network, node: &Node, rng: &mut StdRng) -> anyhow::Result<Outcome> {
    let held = Duration::from_millis(rng.random_range(2_000..5_000));
    let pid = signal(net, node, Signal::STOP)?;
    std::thread::sleep(held);
    signal(net, node, Signal::CONT)?;
    Ok(Outcome {
        detail: format!("SIGSTOP pid {pid} for {:.1} s, SIGCONT", held.as_secs_f64()),
        problems: Vec::new(),
    })
}

/// The file that fills a peer's disk.
fn ballast(net: &Network, node: &Node) -> PathBuf {
    net.node_dir(node).join("data").join("chaos-ballast")
}

/// Fills the peer's (size-limited) data filesystem, keeps it full under
/// load, checks the peer is alive and said why it stopped committing, frees
/// the space.
pub fn disk_full(net: &Network, node: &Node, rng: &mut StdRng) -> anyhow::Result<Outcome> {
    let path = ballast(net, node);
    let log = net.files(node).log;
    let log_before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let filled = fill(&path)?;
    // Hold it full a few seconds, and longer (up to 15 s) until a commit
    // has run into it: redb may first use free pages inside its file.
    let min_hold = Duration::from_millis(rng.random_range(3_000..6_000));
    let start = std::time::Instant::now();
    std::thread::sleep(min_hold);
    while start.elapsed() < Duration::from_secs(15)
        && !log_since(&log, log_before).contains("No space left on device")
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let held = start.elapsed();
    let mut problems = Vec::new();
    if process::running(&net.files(node)).is_none() {
        problems.push(format!(
            "{} exited while its disk was full (see {})",
            node.name,
            log.display()
        ));
    }
    let said = log_since(&log, log_before);
    let named_it = said.contains("No space left on device");
    // redb may still have free pages in its file and commit on regardless.
    let committed_on = said.contains("block committed");
    if !named_it && !committed_on {
        problems.push(format!(
            "{} neither committed nor logged an error naming the full disk",
            node.name
        ));
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    if process::running(&net.files(node)).is_none() {
        // Catching up needs a running peer; the problem is already reported.
        start_node(net, &node.name)?;
    }
    Ok(Outcome {
        detail: format!(
            "filled its data filesystem ({} MiB of ballast) for {:.1} s ({}), then freed it",
            filled >> 20,
            held.as_secs_f64(),
            if named_it {
                "its commits failed: No space left on device"
            } else {
                "it committed on from free pages in its ledger file"
            }
        ),
        problems,
    })
}

/// Writes zeros to `path` until the filesystem is full; answers the bytes written.
fn fill(path: &Path) -> anyhow::Result<u64> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => return Err(e).context(format!("cannot write {}", path.display())),
        }
    }
    // Fill the last partial page too, byte by byte in small steps.
    for size in [4096usize, 512, 1] {
        let small = vec![0u8; size];
        while f.write(&small).is_ok_and(|n| n > 0) {
            written += size as u64;
        }
    }
    Ok(written)
}

/// The log's text after byte `from`.
fn log_since(log: &Path, from: u64) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

/// Stops the peer, flips a byte of a stored block in its ledger file, and
/// checks that it refuses to start naming that block; repairs the block
/// from the other nodes and starts it.
pub fn corrupt_block(net: &Network, node: &Node, rng: &mut StdRng) -> anyhow::Result<Outcome> {
    process::stop(&net.files(node))?;
    let dir = net
        .node_dir(node)
        .join("data")
        .join("channels")
        .join(&net.channel);
    let (number, bytes) = {
        let ledger = cairn_store::Ledger::open(&dir)
            .with_context(|| format!("cannot open {}'s ledger", node.name))?;
        let height = ledger.height();
        if height < 2 {
            bail!("{} has no block to damage yet", node.name);
        }
        let n = rng.random_range(1..height);
        let block = ledger
            .block(n)?
            .with_context(|| format!("{} has no block {n}", node.name))?;
        (n, block.encode()?)
    };
    let file = dir.join(cairn_store::LEDGER_FILE);
    let offset = rng.random_range(0..bytes.len());
    let hits = flip(&file, &bytes, offset)?;
    if hits == 0 {
        bail!("block {number}'s bytes are not in {}", file.display());
    }
    let mut problems = Vec::new();
    let log = net.files(node).log;
    let log_before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    match start_node(net, &node.name) {
        Ok(_) => {
            problems.push(format!(
                "{} started on a ledger whose block {number} is damaged",
                node.name
            ));
            process::stop(&net.files(node))?;
        }
        Err(_) => {
            let said = log_since(&log, log_before);
            if !said.contains(&format!("block {number} of the ledger")) {
                problems.push(format!(
                    "{} refused to start but did not name block {number}: {}",
                    node.name,
                    said.lines().last().unwrap_or("(nothing logged)")
                ));
            }
        }
    }
    let fixed = repair::repair(net, &node.name)?;
    if !fixed.iter().any(|(_, n, _)| *n == number) {
        problems.push(format!(
            "repairing {} did not put back block {number} (it put back {fixed:?})",
            node.name
        ));
    }
    start_node(net, &node.name)?;
    Ok(Outcome {
        detail: format!(
            "flipped byte {offset} of block {number} ({hits} cop{} in the file); refused, repaired from {}, restarted",
            if hits == 1 { "y" } else { "ies" },
            fixed
                .first()
                .map_or("nowhere".to_string(), |(_, _, from)| from.clone())
        ),
        problems,
    })
}

/// Flips the byte at `offset` of every copy of `needle` in `file`, in
/// place: rewriting the whole file could fail on a full disk and truncate
/// it, a different fault from the one meant.
fn flip(file: &Path, needle: &[u8], offset: usize) -> anyhow::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut positions = Vec::new();
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if bytes[i..i + needle.len()] == *needle {
            positions.push(i + offset);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    for p in &positions {
        f.seek(SeekFrom::Start(*p as u64))?;
        f.write_all(&[bytes[*p] ^ 0x5a])
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    f.sync_all()?;
    Ok(positions.len())
}

/// A peer whose data directory is a size-limited tmpfs for the run.
#[derive(Debug)]
pub struct Mounted {
    data: PathBuf,
    saved: PathBuf,
}

/// Moves `node`'s data onto a tmpfs of `size_mb` (the node must be stopped).
pub fn mount_small_disk(net: &Network, node: &Node, size_mb: u64) -> anyhow::Result<Mounted> {
    let data = net.node_dir(node).join("data");
    let saved = net.node_dir(node).join("data.before-chaos");
    if saved.exists() {
        bail!(
            "{} exists: an earlier chaos run did not finish; move it back to {} by hand",
            saved.display(),
            data.display()
        );
    }
    std::fs::rename(&data, &saved).with_context(|| format!("cannot move {}", data.display()))?;
    cairn_crypto::private_file::create_dir_all(&data)?;
    let m = Mounted { data, saved };
    run(Command::new("mount").args(["-t", "tmpfs", "-o"]).arg(format!("size={size_mb}m,mode=0700")).arg("tmpfs").arg(&m.data))
        .context("disk-full faults need a tmpfs of limited size for a peer's data: run as root (mount), or leave out --faults disk")?;
    run(Command::new("cp")
        .arg("-a")
        .arg(m.saved.join("."))
        .arg(&m.data))?;
    Ok(m)
}

/// Copies the data back to disk and removes the tmpfs (the node must be stopped).
pub fn unmount(m: &Mounted) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(m.data.join("chaos-ballast"));
    std::fs::remove_dir_all(&m.saved)?;
    std::fs::create_dir_all(&m.saved)?;
    run(Command::new("cp")
        .arg("-a")
        .arg(m.data.join("."))
        .arg(&m.saved))?;
    run(Command::new("umount").arg(&m.data))?;
    std::fs::remove_dir(&m.data)?;
    std::fs::rename(&m.saved, &m.data)?;
    Ok(())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
