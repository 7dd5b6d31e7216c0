//! A pinned Python environment for tests that need Python packages (onnxruntime
//! today; boto3, psycopg and the like later): [`python`] returns the interpreter of
//! a virtual environment built from `python/requirements.txt`, building it on first
//! use.
//!
//! Where it lives: `<target>/python-<h>/venv`, where `<target>` is
//! `CARGO_TARGET_DIR` (relative to the workspace root when relative) or
//! `<workspace>/target`, and `<h>` is the first 12 hex digits of SHA-256 of the
//! requirements file. Editing the file therefore makes the next run build a fresh
//! environment; old ones stay until `cargo clean`.
//!
//! The environment is made with `python3 -m venv` (or the interpreter that
//! `CAIRN_PYTHON` names) and `pip install --no-input -r`, so it needs PyPI the first
//! time: about 30 s with downloads on an idle machine, about 2 min on a busy one.
//!
//! To add a package: pin it (and whatever it pulls in) in `python/requirements.txt`
//! and call [`python`] from the test; run the package's code with
//! `Command::new(python()).args(["-m", "module", ...])` or a script path.
//!
//! Invariants:
//! - a half-made environment is never used: the marker file `ready` beside `venv`
//!   is written (temporary file, then rename) only after `pip install` succeeded,
//!   and a directory without it (left by a killed run) is removed and rebuilt;
//! - one builder at a time: a builder holds an exclusive lock on
//!   `<target>/python-<h>.lock` (`File::lock`, an advisory whole-file lock), so
//!   test processes that start together (nextest runs each test in its own
//!   process) wait for the first and then reuse its environment;
//! - never a silent skip: when the environment cannot be built, [`python`] panics
//!   with what failed and how to fix it.
//!
//! The environment is built where it is used rather than in a temporary directory
//! renamed into place: a venv is not relocatable (pip writes its absolute path
//! into every console script, e.g. `bin/pip`), so a renamed one would be subtly
//! broken; the `ready` marker gives the same all-or-nothing guarantee.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The interpreter that creates environments, unless `CAIRN_PYTHON` names another.
const DEFAULT_BASE_PYTHON: &str = "python3";
/// How many of the log's last lines an error shows.
const LOG_TAIL_LINES: usize = 15;

/// Why the pinned Python environment could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PythonEnvError {
    /// A file or directory of the environment could not be made.
    #[error("cannot prepare {}: {source}; check that the target directory is writable", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// `pip install -r` failed.
    #[error(
        "`pip install -r {}` failed ({status}): {hint}. The whole log is {}; it ended:\n{tail}",
        requirements.display(),
        log.display()
    )]
    Pip {
        /// The requirements file.
        requirements: PathBuf,
        /// pip's exit status.
        status: String,
        /// What probably went wrong and what to do.
        hint: String,
        /// pip's output.
        log: PathBuf,
        /// The last lines of that output.
        tail: String,
    },
    /// The requirements file could not be read.
    #[error("cannot read the Python requirements file {}: {source}", path.display())]
    Requirements {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// `python3 -m venv` could not run or failed.
    #[error(
        "could not create a virtual environment with `{python} -m venv`: {detail}. Install \
         CPython 3.11 with its venv module (Debian: apt-get install python3 python3-venv), \
         or set CAIRN_PYTHON to an interpreter that has it"
    )]
    Venv {
        /// The interpreter used.
        python: String,
        /// What failed.
        detail: String,
    },
}

/// A built environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Venv {
    /// `<target>/python-<h>`: holds `venv/`, `pip.log` and the `ready` marker.
    pub dir: PathBuf,
    /// The environment's interpreter, `<dir>/venv/bin/python`.
    pub python: PathBuf,
    /// Whether this call built it (false: it was there, or another process built it).
    pub built: bool,
}

/// The pinned environment's Python interpreter, building the environment from
/// `python/requirements.txt` on first use (about two minutes, needs PyPI).
///
/// # Panics
/// When the environment cannot be built; the message says what failed and what to do.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    if let Some(python) = PYTHON.get() {
        return python.clone();
    }
    match ensure_venv(&requirements_file(), &target_dir()) {
        Ok(venv) => PYTHON.get_or_init(|| venv.python).clone(),
        Err(e) => panic!("the pinned Python environment for the tests is missing: {e}"),
    }
}

/// `python/requirements.txt` of this workspace.
pub fn requirements_file() -> PathBuf {
    workspace_root().join("python").join("requirements.txt")
}

/// The workspace's root directory (where `Cargo.lock` is).
pub fn workspace_root() -> PathBuf {
    // This crate is `<root>/crates/cairn-testkit`.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.join("..").join(".."), Path::to_path_buf)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set (relative to the
/// workspace root when relative), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    target_dir_from(std::env::var_os("CARGO_TARGET_DIR"))
}

fn target_dir_from(cargo_target_dir: Option<std::ffi::OsString>) -> PathBuf {
    match cargo_target_dir {
        // `join` keeps an absolute path as it is.
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// The environment for `requirements` under `target`, built if it is not there
/// yet. Safe to call from several threads and processes at once.
pub fn ensure_venv(requirements: &Path, target: &Path) -> Result<Venv, PythonEnvError> {
    let text = fs::read(requirements).map_err(|source| PythonEnvError::Requirements {
        path: requirements.to_path_buf(),
        source,
    })?;
    let key = &hex::encode(Sha256::digest(&text))[..12];
    let dir = target.join(format!("python-{key}"));
    let venv = Venv {
        python: dir.join("venv").join("bin").join("python"),
        dir: dir.clone(),
        built: false,
    };
    let ready = dir.join("ready");
    if ready.is_file() {
        return Ok(venv);
    }

    fs::create_dir_all(target).map_err(io_at(target))?;
    let lock_path = target.join(format!("python-{key}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_at(&lock_path))?;
    lock.lock().map_err(io_at(&lock_path))?;
    // Another process may have finished while this one waited for the lock.
    if ready.is_file() {
        return Ok(venv);
    }
    if dir.exists() {
        // Left by a run that died before `ready`: never trust any of it.
        fs::remove_dir_all(&dir).map_err(io_at(&dir))?;
    }
    fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    create_venv(&dir.join("venv"))?;
    pip_install(&venv.python, requirements, &dir.join("pip.log"))?;

    let temp = dir.join("ready.tmp");
    let stamp = format!(
        "requirements: {}\nsha256 prefix: {key}\n",
        requirements.display()
    );
    fs::write(&temp, stamp).map_err(io_at(&temp))?;
    fs::rename(&temp, &ready).map_err(io_at(&ready))?;
    drop(lock);
    Ok(Venv {
        built: true,
        ..venv
    })
}

/// `python3 -m venv <venv>` (with pip in it).
fn create_venv(venv: &Path) -> Result<(), PythonEnvError> {
    let base = std::env::var("CAIRN_PYTHON").unwrap_or_else(|_| DEFAULT_BASE_PYTHON.to_owned());
    let failed = |detail: String| PythonEnvError::Venv {
        python: base.clone(),
        detail,
    };
    let output = Command::new(&base)
        .arg("-m")
        .arg("venv")
        .arg(venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start `{base}`: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "it exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// `<python> -m pip install -r <requirements>`, its output in `log`.
fn pip_install(python: &Path, requirements: &Path, log: &Path) -> Result<(), PythonEnvError> {
    let log_file = File::create(log).map_err(io_at(log))?;
    let log_err = log_file.try_clone().map_err(io_at(log))?;
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
        ])
        .arg("--requirement")
        .arg(requirements)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .map_err(|e| PythonEnvError::Venv {
            python: python.display().to_string(),
            detail: format!("the new environment's interpreter does not start: {e}"),
        })?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    Err(PythonEnvError::Pip {
        requirements: requirements.to_path_buf(),
        status: status.to_string(),
        hint: pip_hint(&text),
        log: log.to_path_buf(),
        tail: lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"),
    })
}

/// What a failed pip run's output most likely means, and what to do about it.
fn pip_hint(log: &str) -> String {
    const UNREACHABLE: [&str; 6] = [
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "ProxyError",
        "ConnectTimeoutError",
        "Network is unreachable",
    ];
    if UNREACHABLE.iter().any(|s| log.contains(s)) {
        "pip could not reach PyPI; check the network (or set PIP_INDEX_URL to a reachable \
         index) and run the tests again"
            .to_owned()
    } else if log.contains("No matching distribution") || log.contains("Could not find a version") {
        "a pinned version is not available for this Python; use CPython 3.11 (set \
         CAIRN_PYTHON) or update the pins in the requirements file"
            .to_owned()
    } else {
        "read the log below, fix the requirements file or the Python installation, and run \
         the tests again (a failed build is rebuilt from scratch)"
            .to_owned()
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> PythonEnvError + '_ {
    move |source| PythonEnvError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    /// A requirements file that installs nothing: these tests exercise the
    /// building and locking without PyPI.
    fn empty_requirements(dir: &Path, marker: &str) -> PathBuf {
        let path = dir.join("requirements.txt");
        fs::write(&path, format!("# {marker}: no packages\n")).unwrap();
        path
    }

    #[test]
    fn concurrent_callers_share_one_build_and_get_a_working_interpreter() {
        let tmp = tempfile::tempdir().unwrap();
        let requirements = empty_requirements(tmp.path(), "concurrent");
        let target = tmp.path().join("target");
        let results: Vec<Venv> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| ensure_venv(&requirements, &target).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|v| v.built).count(), 1, "{results:?}");
        assert!(results.iter().all(|v| v.python == results[0].python));
        let name = results[0]
            .dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let expected = &hex::encode(Sha256::digest(fs::read(&requirements).unwrap()))[..12];
        assert_eq!(name, format!("python-{expected}"));
        let out = Command::new(&results[0].python)
            .args(["-c", "import sys; print(sys.prefix)"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let prefix = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert_eq!(
            prefix.canonicalize().unwrap(),
            results[0].dir.join("venv").canonicalize().unwrap(),
            "the interpreter must run inside the environment"
        );
        // A later call reuses it.
        assert!(!ensure_venv(&requirements, &target).unwrap().built);
    }

    #[test]
    fn a_half_made_environment_is_rebuilt_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let requirements = empty_requirements(tmp.path(), "half-made");
        let target = tmp.path().join("target");
        let first = ensure_venv(&requirements, &target).unwrap();
        assert!(first.built);
        // What a run killed during pip leaves: the directory without `ready`.
        fs::remove_file(first.dir.join("ready")).unwrap();
        let leftover = first.dir.join("venv").join("leftover");
        fs::write(&leftover, b"partial").unwrap();
        let second = ensure_venv(&requirements, &target).unwrap();
        assert!(second.built, "a directory without `ready` must be rebuilt");
        assert!(
            !leftover.exists(),
            "the half-made directory must be removed"
        );
        assert!(second.dir.join("ready").is_file());
    }

    #[test]
    fn a_failed_install_says_why_and_leaves_nothing_usable() {
        let tmp = tempfile::tempdir().unwrap();
        let requirements = tmp.path().join("requirements.txt");
        fs::write(&requirements, "./no-such-package-directory\n").unwrap();
        let target = tmp.path().join("target");
        let err = ensure_venv(&requirements, &target).unwrap_err();
        let PythonEnvError::Pip { log, .. } = &err else {
            panic!("expected a pip failure, got {err}");
        };
        let message = err.to_string();
        assert!(message.contains("pip install -r"), "{message}");
        assert!(message.contains("no-such-package-directory"), "{message}");
        assert!(message.contains(&log.display().to_string()), "{message}");
        let dir = log.parent().unwrap();
        assert!(!dir.join("ready").exists());
        // The positive control: a valid file builds under the same target.
        let fixed = empty_requirements(tmp.path(), "fixed");
        assert!(
            ensure_venv(&fixed, &target)
                .unwrap()
                .dir
                .join("ready")
                .is_file()
        );
    }

    #[test]
    fn pip_failures_get_a_hint_naming_the_cause() {
        let offline = "WARNING: Retrying ... NewConnectionError('<...>: Failed to establish a new connection')";
        assert!(pip_hint(offline).contains("could not reach PyPI"));
        let missing = "ERROR: No matching distribution found for numpy==9.9";
        assert!(pip_hint(missing).contains("pinned version is not available"));
        assert!(pip_hint("ERROR: something else").contains("read the log"));
    }

    #[test]
    fn the_target_dir_honours_cargo_target_dir() {
        let root = workspace_root();
        assert!(root.join("Cargo.lock").is_file(), "{}", root.display());
        assert!(requirements_file().is_file());
        assert_eq!(target_dir_from(None), root.join("target"));
        assert_eq!(target_dir_from(Some("".into())), root.join("target"));
        assert_eq!(
            target_dir_from(Some("/tmp/t".into())),
            PathBuf::from("/tmp/t")
        );
        assert_eq!(
            target_dir_from(Some("build/t".into())),
            root.join("build/t")
        );
    }
}
