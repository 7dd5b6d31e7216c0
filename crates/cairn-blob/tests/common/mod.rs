//! A real blob server on loopback for the end-to-end tests: a store in a
//! temporary directory, two access keys (an admin allowed to bypass
//! governance retention, and alice who is not), the S3 API on 127.0.0.1.

#![allow(dead_code, reason = "each test file uses part of this")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::sync::Arc;

use cairn_blob::keys::{self, AccessKey, KeyRing};
use cairn_blob::{Store, SystemClock, TimeSource};

pub struct TestServer {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub admin: AccessKey,
    pub alice: AccessKey,
    pub store: Arc<Store>,
    runtime: tokio::runtime::Runtime,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(Box::new(SystemClock))
    }

    pub fn start_with(clock: Box<dyn TimeSource>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let admin = keys::issue(dir.path(), "Org1MSP", "admin", true).unwrap();
        let alice = keys::issue(dir.path(), "Org2MSP", "alice", false).unwrap();
        let store = Arc::new(Store::open(&dir.path().join("store"), clock).unwrap());
        let ring = Arc::new(KeyRing::load(dir.path()).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = cairn_blob::s3::router(store.clone(), ring, cairn_blob::s3::DEFAULT_MAX_BODY);
        runtime.spawn(cairn_blob::s3::serve(listener, router));
        TestServer {
            url,
            dir,
            admin,
            alice,
            store,
            runtime,
        }
    }

    /// A file next to this crate's tests.
    pub fn client_file(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("clients")
            .join(name)
    }
}
