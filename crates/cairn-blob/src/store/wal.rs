//! The write-ahead log that makes a new version durable with one small write
//! and its fdatasync instead of a database commit (two to five times the time
//! on this kind of disk, most of it CPU).
//!
//! A PUT (or append) is acknowledged once the change, as a record, is
//! written here and fdatasynced; its metadata transaction commits to redb
//! later, in a batch, without an fsync (`Durability::None`: durable with the
//! next durable commit; see [`super::writer`]). The log is one preallocated file, written from its
//! start again after every durable commit (a checkpoint), so a record costs
//! an overwrite of blocks the file already has: no file metadata to sync.
//!
//! Record layout: magic `CBW1`, body length (u32 LE), record number (u64 LE),
//! CRC-32 of the length, the number and the body (u32 LE), then the body.
//!
//! Invariants:
//! - a record is written and fdatasynced before the transaction carrying its
//!   change commits, and every such transaction writes the record's number
//!   as `wal_applied`; so after a crash the durable database holds exactly
//!   the records up to its `wal_applied`, and replay applies the later ones,
//!   once each, in order;
//! - the records of one round are contiguous from offset 0 and numbered
//!   consecutively from one past the checkpoint that began the round;
//!   whatever follows them (an older round, a torn write) fails the magic,
//!   the checksum or the numbering, and ends the scan. Every record of an
//!   older round is at or below that checkpoint, so none is applied twice;
//! - after any I/O error on the log the store takes no more writes until it
//!   is opened again: an fsync error leaves the file's state unknown.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::tables::sync_dir;
use crate::error::StoreError;

/// The log file's size, allocated (written with zeros) when it is created.
pub(super) const LOG_BYTES: u64 = 8 << 20;
/// Records between durable commits at most: bounds replay time and the pages
/// redb keeps for transactions that are not durable yet.
pub(super) const CHECKPOINT_EVERY: usize = 1024;
const MAGIC: &[u8; 4] = b"CBW1";
const HEADER: usize = 20;

/// The log: where the next record goes and what it will be numbered.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    path: PathBuf,
    offset: u64,
    since_checkpoint: usize,
    next_seq: u64,
    poisoned: bool,
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    /// Its number.
    pub seq: u64,
    /// What the store wrote.
    pub body: Vec<u8>,
}

impl Wal {
    /// Opens the log at `path` (created and allocated when missing: then it
    /// holds no record yet) and reads the records of its current round, plus
    /// possibly stale ones of an older round (all at or below the last
    /// checkpoint; see the module doc). A log of another size is refused,
    /// never replaced: it may hold acknowledged versions.
    pub fn open(path: &Path) -> Result<(Wal, Vec<Record>), StoreError> {
        match fs::metadata(path) {
            Ok(m) if m.len() == LOG_BYTES => {}
            Ok(m) => {
                return Err(StoreError::Record {
                    what: format!(
                        "the write-ahead log meta.wal is {} bytes, not {LOG_BYTES}",
                        m.len()
                    ),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => allocate(path)?,
            Err(e) => return Err(StoreError::io("reading", path)(e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(StoreError::io("opening", path))?;
        let mut bytes = vec![0; LOG_BYTES as usize];
        file.read_exact_at(&mut bytes, 0)
            .map_err(StoreError::io("reading", path))?;
        let records = scan(&bytes);
        Ok((
            Wal {
                file,
                path: path.to_path_buf(),
                offset: 0,
                since_checkpoint: 0,
                next_seq: 1,
                poisoned: false,
            },
            records,
        ))
    }

    /// Starts a new round after a durable commit that holds every record
    /// numbered below `next_seq`.
    pub fn checkpointed(&mut self, next_seq: u64) {
        self.next_seq = next_seq;
        self.offset = 0;
        self.since_checkpoint = 0;
    }

    /// The number the next record will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether a record of `body_len` bytes may go into this round (else
    /// the transaction should commit durably, which starts a new one).
    pub fn fits(&self, body_len: usize) -> bool {
        self.since_checkpoint < CHECKPOINT_EVERY
            && self.offset + (HEADER + body_len) as u64 <= LOG_BYTES
    }

    /// Whether an earlier write to the log failed (no writes until reopened).
    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    /// Marks the store as unable to write until it is opened again.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Writes the next record and fdatasyncs it; returns its number. On
    /// failure the log is poisoned.
    pub fn append(&mut self, body: &[u8]) -> Result<u64, StoreError> {
        if self.poisoned {
            return Err(StoreError::Halted);
        }
        if !self.fits(body.len()) {
            return Err(StoreError::Invalid(
                "a log record past the log's end".to_owned(),
            ));
        }
        let seq = self.next_seq;
        let len = u32::try_from(body.len())
            .map_err(|_| StoreError::Invalid("a log record over 4 GiB".to_owned()))?;
        let mut buf = Vec::with_capacity(HEADER + body.len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend_from_slice(&checksum(len, seq, body).to_le_bytes());
        buf.extend_from_slice(body);
        let written = self
            .file
            .write_all_at(&buf, self.offset)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.poisoned = true;
            return Err(StoreError::io("writing the log", &self.path)(e));
        }
        self.offset += buf.len() as u64;
        self.since_checkpoint += 1;
        self.next_seq += 1;
        Ok(seq)
    }
}

/// Creates the log full of zeros under a temporary name, syncs it and
/// renames it in place, so a crash leaves either no log or a whole one.
fn allocate(path: &Path) -> Result<(), StoreError> {
    let tmp = path.with_extension("wal-new");
    let mut f = File::create(&tmp).map_err(StoreError::io("creating", &tmp))?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..LOG_BYTES / zeros.len() as u64 {
        f.write_all(&zeros)
            .map_err(StoreError::io("allocating", &tmp))?;
    }
    f.sync_all().map_err(StoreError::io("syncing", &tmp))?;
    fs::rename(&tmp, path).map_err(StoreError::io("renaming into", path))?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// The records from offset 0 while each is whole and numbered one past the
/// one before.
fn scan(bytes: &[u8]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + HEADER) {
        if &header[..4] != MAGIC {
            break;
        }
        let word = |range: std::ops::Range<usize>| -> [u8; 4] {
            let mut w = [0u8; 4];
            w.copy_from_slice(&header[range]);
            w
        };
        let len = u32::from_le_bytes(word(4..8));
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&header[8..16]);
        let seq = u64::from_le_bytes(seq_bytes);
        let crc = u32::from_le_bytes(word(16..20));
        let start = at + HEADER;
        let Some(body) = bytes.get(start..start + len as usize) else {
            break;
        };
        if checksum(len, seq, body) != crc {
            break;
        }
        if out
            .last()
            .is_some_and(|prev| seq != prev.seq.wrapping_add(1))
        {
            break;
        }
        out.push(Record {
            seq,
            body: body.to_vec(),
        });
        at = start + len as usize;
    }
    out
}

fn checksum(len: u32, seq: u64, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(body);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Wal, Vec<Record>) {
        Wal::open(&dir.join("meta.wal")).unwrap()
    }

    #[test]
    fn records_come_back_in_order_and_a_new_round_overwrites_from_the_start() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, none) = open(tmp.path());
        assert!(none.is_empty());
        assert_eq!(
            fs::metadata(tmp.path().join("meta.wal")).unwrap().len(),
            LOG_BYTES
        );
        for body in [&b"one"[..], b"two", b"three"] {
            wal.append(body).unwrap();
        }
        drop(wal);
        let (mut wal, found) = open(tmp.path());
        let seqs: Vec<u64> = found.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(found[2].body, b"three");

        // A checkpoint at 3; the new round's record 4 lands on record 1's
        // bytes; records 2 and 3 after it are stale and end the scan.
        wal.checkpointed(4);
        wal.append(b"four").unwrap();
        drop(wal);
        let (_, found) = open(tmp.path());
        assert_eq!(
            found,
            [Record {
                seq: 4,
                body: b"four".to_vec()
            }]
        );
    }

    #[test]
    fn a_torn_or_flipped_record_ends_the_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("meta.wal");
        let (mut wal, _) = open(tmp.path());
        wal.append(b"whole").unwrap();
        wal.append(b"torn at the end").unwrap();
        drop(wal);
        // Flip one byte of the second record's body.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        let second_body = (HEADER + 5 + HEADER + 3) as u64;
        f.write_all_at(b"X", second_body).unwrap();
        let (_, found) = open(tmp.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].body, b"whole");
    }

    #[test]
    fn a_round_that_is_full_or_long_wants_a_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(tmp.path());
        assert!(wal.fits(LOG_BYTES as usize - HEADER));
        assert!(!wal.fits(LOG_BYTES as usize - HEADER + 1));
        for _ in 0..CHECKPOINT_EVERY {
            wal.append(b"x").unwrap();
        }
        assert!(!wal.fits(1));
        assert!(matches!(wal.append(b"x"), Err(StoreError::Invalid(_))));
        wal.checkpointed(wal.next_seq());
        assert!(wal.fits(1));
    }

    #[test]
    fn a_log_of_another_size_is_refused_and_left_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("meta.wal");
        fs::write(&path, b"CBW1 a log of some other size").unwrap();
        let err = Wal::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Record { .. }), "{err}");
        assert!(err.to_string().contains("meta.wal is 29 bytes"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"CBW1 a log of some other size");
        // What a crash while allocating leaves (a partial temporary file
        // and no log) is allocated afresh.
        fs::remove_file(&path).unwrap();
        fs::write(path.with_extension("wal-new"), b"partial").unwrap();
        let (_, found) = open(tmp.path());
        assert!(found.is_empty());
        assert_eq!(fs::metadata(&path).unwrap().len(), LOG_BYTES);
    }

    #[test]
    fn a_poisoned_log_refuses_to_write() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(tmp.path());
        wal.poison();
        assert!(matches!(wal.append(b"x"), Err(StoreError::Halted)));
    }
}
