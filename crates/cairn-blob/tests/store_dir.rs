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

#[test]
fn a_store_in_an_older_record_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root, Box::new(SystemClock)).unwrap();
    store.create_bucket("kept", false, "test").unwrap();
    drop(store);
    // Positive control: the store opens as it was written.
    drop(Store::open(&root, Box::new(SystemClock)).unwrap());
    // What a store of the JSON era looks like: buckets, and no format mark.
    {
        const META: redb::TableDefinition<&str, i64> = redb::TableDefinition::new("meta");
        let db = redb::Database::open(root.join("meta.redb")).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META).unwrap().remove("format").unwrap();
        w.commit().unwrap();
    }
    let err = Store::open(&root, Box::new(SystemClock)).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("earlier Cairn"), "{err}");
    assert!(err.to_string().contains("new store directory"), "{err}");
}
