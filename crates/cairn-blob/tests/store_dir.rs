//! The store directory: private, one process's at a time, and a second
//! opener never touches the first one's uploads in flight.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::os::unix::fs::PermissionsExt;

use cairn_blob::{Store, StoreError, SystemClock};

#[test]
fn a_second_opener_is_refused_and_leaves_uploads_in_flight_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let first = Store::open(&root, Box::new(SystemClock)).unwrap();
    let mode = std::fs::metadata(&root).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // What an upload in progress looks like.
    let upload = root.join("tmp").join("in-flight");
    std::fs::write(&upload, b"partial").unwrap();
    let err = Store::open(&root, Box::new(SystemClock)).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("cairn blob serve"), "{err}");
    assert!(
        upload.exists(),
        "the refused opener removed another's upload"
    );
    drop(first);
    // Positive control: the next owner clears what a dead run left.
    let _second = Store::open(&root, Box::new(SystemClock)).unwrap();
    assert!(!upload.exists());
}
