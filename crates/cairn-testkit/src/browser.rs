//! A real headless Chromium for browser tests, driven over WebDriver
//! (`fantoccini`) through Debian's `chromium-driver`.
//!
//! ```text
//! test ──fantoccini (HTTP/WebDriver)──> chromedriver --port=P ──CDP──> chromium --headless=new
//!                                         (own process group)          (fresh profile dir)
//! ```
//!
//! Invariants:
//! - every [`Browser`] has its own chromedriver, its own chromium and a fresh
//!   profile directory, so tests running side by side share no state;
//! - when chromedriver or chromium is missing, [`Browser::start`] returns
//!   [`BrowserError::Missing`], whose message says how to install them: a browser
//!   test fails with that message, it never skips;
//! - chromedriver runs in a process group of its own, and dropping the `Browser`
//!   kills that whole group (chromedriver and every chromium process it started)
//!   before reaping chromedriver, so no browser outlives its test even when the
//!   test panics before [`Browser::close`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Where Debian's `chromium-driver` installs chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where Debian's `chromium` installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long chromedriver may take to listen after it was spawned.
const DRIVER_START: Duration = Duration::from_secs(30);

/// Why a browser could not be started or driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// A WebDriver command failed.
    #[error("WebDriver command failed: {0}")]
    Command(Box<fantoccini::error::CmdError>),
    /// chromedriver exited before it answered.
    #[error("chromedriver exited ({status}) before it answered; its log ends with:\n{log}")]
    DriverExited {
        /// How it exited.
        status: String,
        /// The end of its log file.
        log: String,
    },
    /// chromedriver did not listen on its port in time.
    #[error(
        "chromedriver did not answer on 127.0.0.1:{port} within {secs} s (is the machine overloaded?); its log ends with:\n{log}"
    )]
    DriverTimeout {
        /// The port it was told to use.
        port: u16,
        /// How long we waited.
        secs: u64,
        /// The end of its log file.
        log: String,
    },
    /// A local file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// chromedriver or chromium is not installed.
    #[error(
        "{path} is missing: install chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does it)"
    )]
    Missing {
        /// The missing executable.
        path: String,
    },
    /// chromedriver could not open a session (chromium failed to start).
    #[error(
        "chromedriver could not start chromium: {source}; chromedriver's log ends with:\n{log}"
    )]
    Session {
        /// The WebDriver error.
        source: Box<fantoccini::error::NewSessionError>,
        /// The end of chromedriver's log file.
        log: String,
    },
    /// A condition in the page did not become true in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout {
        /// The condition (a JavaScript expression).
        what: String,
        /// How long we waited.
        secs: u64,
    },
}

impl From<fantoccini::error::CmdError> for BrowserError {
    fn from(e: fantoccini::error::CmdError) -> Self {
        BrowserError::Command(Box::new(e))
    }
}

/// A headless Chromium with its own chromedriver and profile.
pub struct Browser {
    client: Client,
    /// Never read: held so that dropping the browser stops chromedriver.
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Result<Browser, BrowserError> {
        Browser::start_with_args(&[]).await
    }

    /// Like [`Browser::start`], with extra Chromium flags, e.g. the
    /// `--ignore-certificate-errors-spki-list=PIN,...` that makes it trust
    /// only the pinned keys of self-signed servers (see [`spki_pin_flag`]).
    pub async fn start_with_args(extra: &[String]) -> Result<Browser, BrowserError> {
        for path in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(path).exists() {
                return Err(BrowserError::Missing {
                    path: path.to_owned(),
                });
            }
        }
        let driver = Driver::spawn()?;
        driver.wait_listening().await?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": chromium_args(&driver.profile()).into_iter().chain(extra.iter().cloned()).collect::<Vec<_>>()
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .map_err(|source| BrowserError::Session {
                source: Box::new(source),
                log: driver.log_tail(),
            })?;
        Ok(Browser {
            client,
            _driver: driver,
        })
    }

    /// The WebDriver client of this browser's session.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Writes a PNG screenshot of the current viewport to `path` (parents created).
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let png = self.client.screenshot().await?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| BrowserError::Io {
                what: format!("creating {}", parent.display()),
                source,
            })?;
        }
        std::fs::write(path, png).map_err(|source| BrowserError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }

    /// Polls the JavaScript expression `condition` in the page until it is truthy.
    pub async fn wait_until(&self, condition: &str, timeout: Duration) -> Result<(), BrowserError> {
        let script = format!("return Boolean({condition});");
        let start = Instant::now();
        loop {
            // A navigation in progress makes the script fail; that is "not yet".
            if let Ok(Value::Bool(true)) = self.client.execute(&script, Vec::new()).await {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(BrowserError::Timeout {
                    what: condition.to_owned(),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session (chromium exits), then stops chromedriver.
    pub async fn close(self) {
        // Dropping `_driver` afterwards kills whatever is left of the group.
        let _ = self.client.close().await;
    }
}

/// The Chromium flag that accepts servers whose certificate key has one of
/// `pins` (base64 SHA-256 of the SubjectPublicKeyInfo) and no other
/// unverifiable certificate: pinning, not disabling the checks. Chromium
/// honours it only with a profile directory, which every [`Browser`] has.
pub fn spki_pin_flag(pins: &[String]) -> String {
    format!("--ignore-certificate-errors-spki-list={}", pins.join(","))
}

/// Chromium's flags: headless, and quiet on this machine's closed network
/// (without the background-networking flags it keeps retrying the Google
/// services it cannot reach, which costs the shared CPU).
fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// A running chromedriver, leader of its own process group.
struct Driver {
    child: Child,
    port: u16,
    /// Holds the chromium profile and chromedriver's log; removed on drop.
    dir: tempfile::TempDir,
}

impl Driver {
    fn spawn() -> Result<Driver, BrowserError> {
        use std::os::unix::process::CommandExt as _;
        let dir = tempfile::Builder::new()
            .prefix("cairn-browser-")
            .tempdir()
            .map_err(|source| BrowserError::Io {
                what: "creating a temporary directory for the browser profile".into(),
                source,
            })?;
        let port = crate::reserve_port();
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| BrowserError::Io {
                what: format!("starting {CHROMEDRIVER}"),
                source,
            })?;
        Ok(Driver { child, port, dir })
    }

    fn profile(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    async fn wait_listening(&self) -> Result<(), BrowserError> {
        let start = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Some(pid) = self.exited() {
                return Err(BrowserError::DriverExited {
                    status: pid,
                    log: self.log_tail(),
                });
            }
            if start.elapsed() > DRIVER_START {
                return Err(BrowserError::DriverTimeout {
                    port: self.port,
                    secs: DRIVER_START.as_secs(),
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether chromedriver has exited, without reaping it (its pid must stay
    /// reserved until the process group is killed in `drop`).
    fn exited(&self) -> Option<String> {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The state follows the parenthesised command name: "pid (comm) S ...".
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        matches!(state, "Z" | "X").then(|| format!("pid {pid} is a zombie"))
    }

    /// The last lines of chromedriver's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("chromedriver.log"))
            .unwrap_or_else(|e| format!("(no log: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid, which cannot be reused before we
        // reap it below, so this cannot hit an unrelated process group.
        let pgid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn chromium_gets_a_fresh_profile_and_the_quiet_network_flags() {
        let args = chromium_args(Path::new("/tmp/p"));
        for flag in [
            "--headless=new",
            "--disable-background-networking",
            "--disable-component-update",
            "--user-data-dir=/tmp/p",
        ] {
            assert!(
                args.iter().any(|a| a == flag),
                "{flag} missing from {args:?}"
            );
        }
    }

    #[test]
    fn the_pin_flag_lists_every_pin() {
        let flag = spki_pin_flag(&["AAA=".to_string(), "BBB=".to_string()]);
        assert_eq!(flag, "--ignore-certificate-errors-spki-list=AAA=,BBB=");
    }

    #[test]
    fn missing_packages_name_the_install_command() {
        let msg = BrowserError::Missing {
            path: CHROMEDRIVER.into(),
        }
        .to_string();
        assert!(
            msg.contains("apt-get install chromium chromium-driver"),
            "{msg}"
        );
    }
}
