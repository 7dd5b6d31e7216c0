//! Files that hold keys or private data: the one place that creates them.
//!
//! Every crate that writes a private key, a token, attestation state, a
//! ledger or the transient log goes through these functions, so the rules
//! below hold in one place instead of in a copy per crate.
//!
//! Invariants:
//! - a file created here has mode 0600 from the moment it exists: the mode
//!   is passed to `open(2)` (never set afterwards), so there is no window in
//!   which another user could open it;
//! - a directory created here has mode 0700; directories that already exist
//!   are left as they are (they may be the user's own, e.g. `--dir .`);
//! - [`write_atomic`] puts a file in place whole or not at all: the bytes
//!   go to a new temporary file in the same directory (0600), which is
//!   synced, renamed over the target, and the directory is synced, so a
//!   crash leaves either the old file or the new one, never a torn key. The
//!   result is 0600 even where the old file was readable by others.
//!   [`create_atomic`] does the same but links instead of renaming, so it
//!   never replaces an existing file;
//! - [`open_append`] and [`touch`] narrow an existing file that others may
//!   read or write to 0600 (files from older versions, or copied in).
//!
//! A crash between creating the temporary file and the rename (or link) may leave a
//! `.<name>.<pid>-<n>.tmp` file (mode 0600) beside the target; nothing reads it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PrivateFileError;

/// The mode of every private file: read and write for the owner only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// The mode of every directory created for private files: the owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Distinguishes the temporary files of concurrent writers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PrivateFileError {
    let path = path.to_path_buf();
    move |source| PrivateFileError {
        path,
        action,
        source,
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    options
}

/// Writes `bytes` to `path` atomically, readable by the owner only (see the
/// module invariants). Overwrites an existing file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    let (dir, tmp) = write_temporary(path, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err("replacing", path)(e));
    }
    sync_dir(dir, path)
}

/// Like [`write_atomic`], but never replaces anything: fails with
/// [`std::io::ErrorKind::AlreadyExists`] if `path` exists, so of two
/// processes creating the same key only one succeeds, and the other can
/// read the winner's key.
pub fn create_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    let (dir, tmp) = write_temporary(path, bytes)?;
    // link(2) refuses an existing target, which rename(2) would replace.
    let linked = std::fs::hard_link(&tmp, path).map_err(err("creating", path));
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(dir, path)
}

/// Writes and syncs a new 0600 temporary file beside `path`; returns the
/// directory and the temporary file's path.
fn write_temporary<'a>(
    path: &'a Path,
    bytes: &[u8],
) -> Result<(&'a Path, std::path::PathBuf), PrivateFileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Err(err("writing", path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path names no file",
        )));
    };
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = private_options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(err("creating", &tmp))?;
    let written = f
        .write_all(bytes)
        .map_err(err("writing", &tmp))
        .and_then(|()| f.sync_all().map_err(err("syncing", &tmp)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((dir, tmp))
}

/// Syncs `dir`, so a rename or link in it survives a crash of the machine.
fn sync_dir(dir: &Path, path: &Path) -> Result<(), PrivateFileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("syncing the directory of", path))
}

/// Opens `path` for appending, creating it (mode 0600) if missing and
/// narrowing an existing file to 0600.
pub fn open_append(path: &Path) -> Result<File, PrivateFileError> {
    let file = private_options()
        .append(true)
        .create(true)
        .open(path)
        .map_err(err("opening", path))?;
    narrow(&file, path)?;
    Ok(file)
}

/// Makes sure `path` is a file only the owner may use: creates it empty
/// (mode 0600) if missing, narrows it to 0600 otherwise. Databases that
/// create their own files (redb) are given one made here first.
pub fn touch(path: &Path) -> Result<(), PrivateFileError> {
    let file = private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err("opening", path))?;
    narrow(&file, path)
}

/// Narrows an existing file to 0600; a missing file is left missing (the
/// caller's open reports it).
pub fn restrict(path: &Path) -> Result<(), PrivateFileError> {
    match File::open(path) {
        Ok(file) => narrow(&file, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err("opening", path)(e)),
    }
}

/// Creates `dir` and its missing parents with mode 0700. Existing
/// directories keep their mode.
pub fn create_dir_all(dir: &Path) -> Result<(), PrivateFileError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder.create(dir).map_err(err("creating directory", dir))
}

#[cfg(unix)]
fn narrow(file: &File, path: &Path) -> Result<(), PrivateFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(err("reading the mode of", path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(err("restricting to mode 0600", path))?;
        tracing::info!(path = %path.display(), from = format!("{:o}", mode & 0o777), "narrowed a private file to mode 0600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_file: &File, _path: &Path) -> Result<(), PrivateFileError> {
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The temporary files [`write_atomic`] may have left in `dir`.
    fn leftovers(dir: &Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
            .collect()
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_atomic_creates_0600_and_replaces_a_wider_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");

        // A key file left world-readable (an older version, a copy) comes
        // out 0600 with the new contents.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(mode(&path), 0o644, "the control: the file was wide");
        write_atomic(&path, b"second").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_atomic_names_the_step_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // The rename fails: the target is a non-empty directory.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"").unwrap();
        let e = write_atomic(&blocked, b"new").unwrap_err();
        assert!(e.to_string().starts_with("replacing "), "{e}");
        assert!(e.to_string().contains("blocked"), "{e}");
        assert!(leftovers(dir.path()).is_empty());
        assert!(blocked.join("x").exists());
    }

    #[test]
    fn create_atomic_is_0600_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("platform.key");
        create_atomic(&path, b"first").unwrap();
        assert_eq!(mode(&path), 0o600);
        let e = create_atomic(&path, b"second").unwrap_err();
        assert_eq!(e.source.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn open_append_touch_and_restrict_narrow_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let wide = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"data").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
            assert_eq!(mode(&p), 0o664);
            p
        };
        let log = wide("transient.log");
        open_append(&log).unwrap().write_all(b"+").unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(std::fs::read(&log).unwrap(), b"data+");

        let db = wide("ledger.redb");
        touch(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            b"data",
            "touch keeps the contents"
        );

        let other = wide("raft.redb");
        restrict(&other).unwrap();
        assert_eq!(mode(&other), 0o600);

        // Missing files: touch and open_append create them 0600, restrict leaves them missing.
        let fresh = dir.path().join("fresh.redb");
        touch(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let fresh_log = dir.path().join("fresh.log");
        open_append(&fresh_log).unwrap();
        assert_eq!(mode(&fresh_log), 0o600);
        let missing = dir.path().join("missing");
        restrict(&missing).unwrap();
        assert!(!missing.exists());
    }

    #[test]
    fn create_dir_all_makes_new_directories_0700_and_leaves_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let deep = dir.path().join("a/b");
        create_dir_all(&deep).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(
            mode(dir.path()),
            0o755,
            "an existing directory keeps its mode"
        );
        create_dir_all(&deep).unwrap();
    }
}
