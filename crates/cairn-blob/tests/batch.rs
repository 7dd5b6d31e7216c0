//! New versions are committed to the database in batches: a reader sees
//! every acknowledged version at once, and a change refused inside a batch
//! takes nothing with it and loses nothing of the batch.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_blob::store::AnchorKind;
use cairn_blob::{Mode, PutOptions, Retention, Store, StoreError, SystemClock, Timestamp};

fn versions_queued(store: &Store) -> Vec<(String, String)> {
    store
        .anchor_backlog(10_000)
        .unwrap()
        .into_iter()
        .filter_map(|job| match job.kind {
            AnchorKind::Version {
                key, version_id, ..
            } => Some((key, version_id)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refusal_inside_a_batch_keeps_the_batch_and_readers_see_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), Box::new(SystemClock)).unwrap();
    store.create_bucket("plain", false, "test").unwrap();

    let mut acked = Vec::new();
    for n in 0..5 {
        let key = format!("k{n}");
        let v = store
            .put(
                "plain",
                &key,
                format!("body {n}").as_bytes(),
                PutOptions::default(),
            )
            .unwrap();
        acked.push((key, v.version_id));
    }
    // Refused inside the batch: retention on a bucket without object lock.
    let refused = store.put(
        "plain",
        "refused",
        b"never stored",
        PutOptions {
            retention: Some(Retention {
                mode: Mode::Compliance,
                until: Timestamp(i64::MAX / 2),
            }),
            ..PutOptions::default()
        },
    );
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    // Refused before the batch's transaction is touched: a missing bucket.
    let missing = store.put("nowhere", "k", b"x", PutOptions::default());
    assert!(
        matches!(missing, Err(StoreError::NoSuchBucket { .. })),
        "{missing:?}"
    );
    // The batch goes on after the refusals.
    let v = store
        .put("plain", "k5", b"body 5", PutOptions::default())
        .unwrap();
    acked.push(("k5".to_owned(), v.version_id));

    // A reader sees all of them, each once, and nothing of the refused one.
    for (n, (key, version)) in acked.iter().enumerate() {
        let (got, bytes) = store.get("plain", key, Some(version)).unwrap();
        assert_eq!(bytes, format!("body {n}").as_bytes());
        assert_eq!(&got.version_id, version);
    }
    assert!(matches!(
        store.get("plain", "refused", None),
        Err(StoreError::NoSuchKey { .. })
    ));
    let listed = store
        .list_versions("plain", "", None, None, 1000)
        .unwrap()
        .entries;
    assert_eq!(listed.len(), acked.len());
    assert_eq!(versions_queued(&store), acked);
    // Version ids kept increasing through the refusals.
    let ids: Vec<&String> = acked.iter().map(|(_, v)| v).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // Closing commits a waiting batch: without the log to replay, the
    // reopened store still has the version put just before closing.
    let last = store
        .put("plain", "k6", b"body 6", PutOptions::default())
        .unwrap();
    acked.push(("k6".to_owned(), last.version_id));
    drop(store);
    std::fs::remove_file(dir.path().join("store").join("meta.wal")).unwrap();
    let store = Store::open(&dir.path().join("store"), Box::new(SystemClock)).unwrap();
    assert_eq!(versions_queued(&store), acked);
}

#[test]
fn more_versions_than_a_batch_between_reads_are_all_there() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), Box::new(SystemClock)).unwrap();
    store.create_bucket("many", false, "test").unwrap();
    // 100 puts: batches commit on their own when full, the last one when read.
    for n in 0..100u32 {
        store
            .put(
                "many",
                &format!("k{n:03}"),
                &n.to_le_bytes(),
                PutOptions::default(),
            )
            .unwrap();
    }
    let listed = store
        .list_objects("many", "", None, None, 1000)
        .unwrap()
        .entries;
    assert_eq!(listed.len(), 100);
    for n in [0u32, 31, 32, 63, 64, 99] {
        let (_, bytes) = store.get("many", &format!("k{n:03}"), None).unwrap();
        assert_eq!(bytes, n.to_le_bytes());
    }
}
