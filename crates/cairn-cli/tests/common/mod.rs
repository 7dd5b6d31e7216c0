//! Helpers shared by the `cairn` CLI tests: run the binary, read its output.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

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

/// Commits contract `name` from the package directory `dir` with an
/// endorsement policy and collections, through the lifecycle CLI as
/// each org's admin (orgs Org1..Org`orgs`).
pub fn deploy(d: &str, name: &str, dir: &str, policy: &str, collections: &str, orgs: usize) {
    let label = format!("{name}_1.0");
    let archive = std::path::Path::new(d).with_file_name(format!("{name}.tar.gz"));
    let pkg = cairn(&[
        "contract",
        "package",
        dir,
        "--label",
        &label,
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(pkg.status.success(), "{}", text(&pkg));
    let orgs: Vec<String> = (1..=orgs).map(|i| format!("Org{i}")).collect();
    let mut package = String::new();
    for org in &orgs {
        let out = cairn(&[
            "contract",
            "install",
            "--dir",
            d,
            "--org",
            org,
            archive.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        package = stdout(&out)
            .split_whitespace()
            .find(|w| w.starts_with(&format!("{label}:")))
            .unwrap()
            .to_string();
    }
    let collections: serde_json::Value = serde_json::from_str(collections).unwrap();
    let def = serde_json::json!({
        "name": name, "version": "1.0", "sequence": 1, "packageId": package,
        "endorsementPolicy": policy, "collections": collections,
    })
    .to_string();
    for org in &orgs {
        let out = cairn(&["contract", "approve", "--dir", d, "--org", org, &def]);
        assert!(out.status.success(), "{}", text(&out));
    }
    // Every endorser of the commit must have committed every approval.
    let mut last = String::new();
    for _ in 0..20 {
        let out = cairn(&["contract", "commit", "--dir", d, &def]);
        if out.status.success() {
            return;
        }
        last = text(&out);
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the definition of {name} did not commit: {last}");
}

/// Files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_containing(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(p);
        }
    }
    found
}

/// Verifies a transaction receipt offline with `cairn receipt verify
/// --show-writes`, trying each org CA of the `cairn up` network `net` (the block's
/// orderer org is the one that verifies), and answers the public writes the
/// receipt proves. Panics if no org's CA verifies it.
pub fn proven_writes(net: &Path, receipt: &Path) -> Vec<serde_json::Value> {
    let verified = ["org1", "org2", "org3"]
        .iter()
        .map(|o| {
            let ca = net.join(format!("crypto/{o}/ca/ca.pem"));
            cairn(&[
                "receipt",
                "verify",
                receipt.to_str().unwrap(),
                "--ca",
                ca.to_str().unwrap(),
                "--show-writes",
            ])
        })
        .find(|o| o.status.success())
        .expect("the receipt verifies with one org's CA");
    stdout(&verified)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Stops the `cairn up` network in the directory when dropped, so a failing
/// test leaves no nodes running.
pub struct Down(pub PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = cairn(&["down", "--dir", &self.0.to_string_lossy()]);
    }
}

/// A block of 1,000 ports on 127.0.0.1 for one `cairn up` network (every
/// port of a network, its consoles and services included, is `base` +
/// less than 1,000), held for this test alone while the guard lives.
pub struct PortBlock {
    /// The network's base port (`--base-port`).
    pub base: u16,
    _lock: std::fs::File,
}

/// Reserves a [`PortBlock`]: tests run in parallel, and two networks whose
/// port ranges overlap fail to start. A lock file per block (released when
/// the process ends, however it ends) keeps this machine's tests apart; a
/// block with any port already bound (another program) is skipped.
pub fn port_block() -> PortBlock {
    use rand::Rng;
    let dir = std::env::temp_dir().join("cairn-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    for _ in 0..400 {
        // 10,000..30,000: below the ephemeral range clients' sockets use.
        let k: u16 = rand::rng().random_range(0..20);
        let base = 10_000 + 1_000 * k;
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{base}.lock")))
            .unwrap();
        if lock.try_lock().is_err() {
            continue;
        }
        let free =
            (base..base + 1_000).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return PortBlock { base, _lock: lock };
        }
    }
    panic!("no free block of 1,000 ports in 10,000..30,000 on 127.0.0.1");
}

/// The pid of node `name` of the `cairn up` network in `dir`, from its pid
/// file, checked to be that node's live process (its command line names the
/// node's config file). Pids are recycled fast here (`pid_max` 32768 and
/// thousands of processes per build), so a signal sent to a stale pid could
/// hit a process of another test or network; this refuses instead.
pub fn node_pid(dir: &Path, name: &str) -> i32 {
    let file = dir.join("run").join(format!("{name}.pid"));
    let pid: i32 = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let config = format!("nodes/{name}/node.toml");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&config),
        "pid {pid} in {} is not {name}'s node process (it exited, and the pid may be another's now)",
        file.display()
    );
    pid
}

/// SIGTERMs the process whose pid `pid_file` holds, only if its command line
/// contains `needle` (see [`node_pid`] on recycled pids).
pub fn terminate_if(pid_file: &Path, needle: &str) {
    if let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        signal_if(pid, needle, "-TERM");
    }
}

/// Sends `signal` (`kill`'s form, e.g. `-KILL`) to `pid` only if its command
/// line contains `needle`: a pid whose process ended may be another's now.
pub fn signal_if(pid: i32, needle: &str, signal: &str) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains(needle) {
        let _ = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
    }
}

/// SIGKILLs `pid` (take it from [`node_pid`]).
pub fn sigkill(pid: i32) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -KILL {pid} failed");
}

/// The channel `mychannel` ledgers of the named nodes of the stopped `cairn up`
/// network in `dir`, by node name (`peer…` and `orderer…` names).
pub fn node_ledgers<'a>(
    dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<String, cairn_store::Ledger> {
    names
        .into_iter()
        .map(|name| {
            let data = dir.join("nodes").join(name).join("data");
            let path = if name.starts_with("peer") {
                data.join("channels/mychannel")
            } else {
                data.join("ledger")
            };
            let ledger = cairn_store::Ledger::open(&path)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", path.display()));
            (name.to_string(), ledger)
        })
        .collect()
}

/// Every transaction in `txids` is in every peer's ledger of `ledgers`, and
/// no block number holds two different blocks on any of them.
pub fn assert_committed_and_one_chain<'a>(
    ledgers: &std::collections::BTreeMap<String, cairn_store::Ledger>,
    txids: impl IntoIterator<Item = &'a cairn_ledger::ids::TxId> + Clone,
) {
    use cairn_ledger::encoding::Canonical;
    for (name, l) in ledgers.iter().filter(|(n, _)| n.starts_with("peer")) {
        for txid in txids.clone() {
            assert!(
                l.tx(txid).unwrap().is_some(),
                "{name} lacks committed tx {txid}"
            );
        }
    }
    let max = ledgers
        .values()
        .map(cairn_store::Ledger::height)
        .max()
        .unwrap();
    for n in 0..max {
        let blocks: std::collections::BTreeSet<Vec<u8>> = ledgers
            .values()
            .filter_map(|l| l.block(n).unwrap())
            .map(|b| b.encode().unwrap())
            .collect();
        assert_eq!(blocks.len(), 1, "block {n} differs between nodes");
    }
}

/// The MSPs of the orgs of a `cairn up` network in `dir` (`org1`, ...).
pub fn up_msps(dir: &Path, orgs: &[&str]) -> Vec<cairn_crypto::MspConfig> {
    orgs.iter()
        .map(|o| {
            cairn_crypto::MspConfig::load(&dir.join("crypto").join(o).join("msp.json")).unwrap()
        })
        .collect()
}

/// `user1` of `org` in a `cairn up` network in `dir`.
pub fn up_user(dir: &Path, org: &str) -> cairn_crypto::SigningIdentity {
    cairn_crypto::SigningIdentity::from_dir(&dir.join("crypto").join(org).join("users/user1"))
        .unwrap()
}

/// A node's URL, from the layout file of the `cairn up` network in `dir`.
pub fn up_node_url(dir: &Path, name: &str) -> String {
    let layout: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("network.json")).unwrap()).unwrap();
    let node = layout["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap();
    format!("https://127.0.0.1:{}", node["port"])
}

/// Clients of every org of a `cairn up` network submitting `CreateAsset`
/// through their org's gateway (waiting for each commit) until stopped, and
/// what they were told: each committed transaction and its block.
pub struct GatewayLoad {
    told:
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<cairn_ledger::ids::TxId, u64>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl GatewayLoad {
    /// Starts `clients` clients on `rt`, client `c` of `orgs[c % len]`,
    /// asset ids `{prefix}{c}-{i}`. A failed submission (a node killed) is
    /// tried again after 100 ms, counting as done once it "already exists".
    pub fn start(
        rt: &tokio::runtime::Runtime,
        dir: &Path,
        orgs: &[&str],
        clients: usize,
        prefix: &str,
    ) -> GatewayLoad {
        use std::sync::atomic::Ordering;
        let msps = up_msps(dir, orgs);
        let load = GatewayLoad {
            told: Default::default(),
            stop: Default::default(),
            tasks: Vec::new(),
        };
        let mut tasks = Vec::new();
        for c in 0..clients {
            let org = orgs[c % orgs.len()];
            let url = up_node_url(dir, &format!("peer0.{org}"));
            let gw = cairn_peer::GatewayClient::new(up_user(dir, org), &msps, &url, "mychannel")
                .unwrap()
                .with_commit_wait(Duration::from_secs(60));
            let (told, stop, prefix) = (load.told.clone(), load.stop.clone(), prefix.to_string());
            tasks.push(rt.spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let id = format!("{prefix}{c}-{i}");
                    match gw
                        .submit("basic", "CreateAsset", &[&id, "c", "1", "o", "1"])
                        .await
                    {
                        Ok(done) => {
                            told.lock().unwrap().insert(done.txid, done.block);
                            i += 1;
                        }
                        Err(e) if e.to_string().contains("already exists") => i += 1,
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }));
        }
        GatewayLoad { tasks, ..load }
    }

    /// Waits (at most 120 s) until the clients were told of `n` commits.
    pub fn wait_commits(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while self.told.lock().unwrap().len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "no progress: fewer than {n} commits"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the clients; what they were told.
    pub fn stop(
        self,
        rt: &tokio::runtime::Runtime,
    ) -> std::collections::BTreeMap<cairn_ledger::ids::TxId, u64> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in self.tasks {
            rt.block_on(t).unwrap();
        }
        self.told.lock().unwrap().clone()
    }
}

/// Opens a ledger whose process was just killed (its file lock goes with
/// the process's exit).
pub fn open_after_kill(path: &Path) -> cairn_store::Ledger {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match cairn_store::Ledger::open(path) {
            Ok(l) => return l,
            Err(cairn_store::StoreError::InUse { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

/// A `cairn up --detach` network of `org1`..`org3` in a temporary
/// directory, taken down when dropped, with a runtime and a client of
/// `org1`'s user for status and counters calls.
pub struct UpNet {
    /// The network's directory.
    pub dir: PathBuf,
    /// For async calls from the test.
    pub rt: tokio::runtime::Runtime,
    /// `org1`'s user, 3 s per call.
    pub admin: cairn_net::Client,
    _down: Down,
    _ports: PortBlock,
    _tmp: tempfile::TempDir,
}

impl UpNet {
    /// Starts the network (`cairn up --detach` on a port block of its own).
    pub fn start(orgs: &[&str]) -> UpNet {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("net");
        let ports = port_block();
        let down = Down(dir.clone());
        let up = cairn(&[
            "up",
            "--dir",
            dir.to_str().unwrap(),
            "--base-port",
            &ports.base.to_string(),
            "--detach",
        ]);
        assert!(up.status.success(), "{}", text(&up));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let msps = up_msps(&dir, orgs);
        let tls = cairn_net::TlsIdentity::new(
            up_user(&dir, orgs[0]),
            cairn_net::Trust::new(&msps).unwrap(),
        )
        .unwrap();
        let admin = cairn_net::Client::with_timeout(&tls, Duration::from_secs(3)).unwrap();
        UpNet {
            dir,
            rt,
            admin,
            _down: down,
            _ports: ports,
            _tmp: tmp,
        }
    }

    /// The directory as a string, for `cairn ... --dir`.
    pub fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// `(name, url)` of the node of `role` (`peer0` or `orderer0`) of each org.
    pub fn nodes(&self, role: &str, orgs: &[&str]) -> Vec<(String, String)> {
        orgs.iter()
            .map(|o| {
                let name = format!("{role}.{o}");
                let url = up_node_url(&self.dir, &name);
                (name, url)
            })
            .collect()
    }
}
