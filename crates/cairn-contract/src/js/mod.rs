//! The JavaScript engine: one QuickJS runtime per warm instance of a
//! package, with Fabric's contract API built in and the realm sealed.
//!
//! ```text
//!  ContractRuntime::invoke ──► JsPool (per package) ──► JsInstance
//!                                                         │ ctx.with
//!                                  host.* (Rust) ◄─────── internal.invoke(tx)  (JavaScript)
//!                                  │                       fabric-contract-api routing,
//!                                  ▼                       user modules re-run per call
//!                                  Stub (simulator) ──► read/write set
//! ```
//!
//! Invariants:
//! - An instance runs one invocation at a time; between invocations it holds
//!   no stub, no module instance and no global a contract added
//!   (`internal.cleanup`), and every built-in object is frozen, so nothing
//!   leaks from one transaction to the next.
//! - An instance that hit a limit, or whose realm could not be restored, is
//!   dropped rather than returned to its pool.
//! - The interrupt handler stops JavaScript once the deadline passes or a
//!   limit was recorded; QuickJS makes that interruption uncatchable.

pub(crate) mod codec;
pub(crate) mod console;
mod host;
mod host_private;
mod instance;

pub(crate) use host::Caller;
pub(crate) use instance::JsInstance;

use std::sync::{Arc, Mutex};

use crate::error::ContractError;
use crate::package::ContractPackage;

/// Warm instances of one package.
pub(crate) struct JsPool {
    package: Arc<ContractPackage>,
    idle: Mutex<Vec<JsInstance>>,
    max_idle: usize,
}

impl JsPool {
    pub(crate) fn new(package: Arc<ContractPackage>, max_idle: usize) -> Self {
        JsPool {
            package,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// A warm instance, or a new one (a cold start).
    pub(crate) fn take(&self) -> Result<JsInstance, ContractError> {
        let warm = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match warm {
            Some(instance) => Ok(instance),
            None => JsInstance::new(self.package.clone()),
        }
    }

    /// Returns an instance after a clean invocation.
    pub(crate) fn give_back(&self, instance: JsInstance) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(instance);
        }
    }

    /// How many warm instances wait in the pool.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The built-in JavaScript, evaluated in this order into every new realm.
pub(crate) const PRELUDE: [(&str, &str); 9] = [
    ("cairn:buffer.js", include_str!("buffer.js")),
    ("cairn:util.js", include_str!("util.js")),
    ("cairn:crypto.js", include_str!("crypto.js")),
    ("cairn:determinism.js", include_str!("determinism.js")),
    ("cairn:shim.js", include_str!("shim.js")),
    ("cairn:contract_api.js", include_str!("contract_api.js")),
    ("cairn:loader.js", include_str!("loader.js")),
    ("cairn:dispatch.js", include_str!("dispatch.js")),
    ("cairn:lockdown.js", include_str!("lockdown.js")),
];
