//! The peer's entry point: [`ContractRuntime::invoke`] simulates a proposal
//! against the peer's state and returns what the peer signs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::EncodingError;
use cairn_ledger::ids::Version;
use cairn_ledger::lifecycle::{ContractDefinition, LIFECYCLE_NS, definition_key};
use cairn_ledger::private::PrivateWriteSet;
use cairn_ledger::rwset::TxRwSet;
use cairn_ledger::state::StateView;
use cairn_ledger::tx::{ContractEvent, ContractId, Proposal, ProposalResponsePayload, Response};

use crate::creator::CreatorInfo;
use crate::error::{ContractError, StubError};
use crate::js::{Caller, JsPool};
use crate::lifecycle::Lifecycle;
use crate::limits::{Limits, RuntimeConfig};
use crate::native::NativeContract;
use crate::package::{ContractPackage, PackageId};
use crate::rwset::RwSetBuilder;
use crate::stub::{Stub, TxContext};

/// Fabric's key recording that a contract's `init` ran, per version.
pub const INITIALIZED_KEY: &str = "\u{0}\u{10FFFF}initialized";

/// Nested calls need at least this much of the stack budget left.
const MIN_NESTED_STACK: usize = 64 << 10;

/// A committed JavaScript contract and the package this peer runs for it.
#[derive(Clone, Debug)]
pub struct Deployed {
    /// The committed definition.
    pub definition: ContractDefinition,
    /// The version of the definition's state entry (recorded as a read, so a
    /// concurrent upgrade invalidates the transaction).
    pub definition_version: Option<Version>,
    /// The installed package the peer's org approved for this definition.
    pub package: Arc<ContractPackage>,
}

/// Finds which package to run for a contract name. [`crate::LedgerResolver`]
/// reads the committed definitions and the peer's package store.
pub trait ContractResolver {
    /// The deployed contract, or `None` if none of that name is committed
    /// and installed.
    fn resolve(&self, name: &str, state: &dyn StateView)
    -> Result<Option<Deployed>, ContractError>;
}

/// Everything one endorsement needs.
#[derive(Clone)]
pub struct InvokeRequest<'a> {
    /// The client's proposal.
    pub proposal: &'a Proposal,
    /// The proposal creator (already validated by the peer).
    pub creator: &'a CreatorInfo,
    /// A snapshot of the peer's committed state.
    pub state: Arc<dyn StateView + Send + Sync>,
    /// The channel's current configuration.
    pub channel: Arc<ChannelConfig>,
    /// Which package runs for which contract name.
    pub resolver: Arc<dyn ContractResolver + Send + Sync>,
}

/// The result of simulating a proposal: what the peer signs as its
/// endorsement, plus the cleartext private writes it must keep off the
/// ledger ([`Simulation::private_writes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// The contract that ran and its version.
    pub contract: ContractId,
    /// The canonical read/write set (empty when the response is an error).
    /// Private data appears only as hashes.
    pub rwset: TxRwSet,
    /// The contract's response.
    pub response: Response,
    /// The event the contract set, if any.
    pub events: Vec<ContractEvent>,
    /// Cleartext private writes; never part of the signed payload.
    private: PrivateWriteSet,
}

impl Simulation {
    /// The cleartext private writes of this simulation, whose hashes the
    /// read/write set carries: the endorsing peer keeps them in its transient
    /// store and disseminates them to member peers; they never go to the
    /// client or the orderer. Empty when nothing private was written.
    pub fn private_writes(&self) -> &PrivateWriteSet {
        &self.private
    }

    /// Takes the cleartext private writes out of the simulation.
    pub fn take_private_writes(&mut self) -> PrivateWriteSet {
        std::mem::take(&mut self.private)
    }

    /// True when the response is a success (Fabric: status below 400).
    pub fn is_success(&self) -> bool {
        self.response.status < 400
    }

    /// The payload endorsers sign for this simulation of `proposal`.
    pub fn response_payload(
        &self,
        proposal: &Proposal,
    ) -> Result<ProposalResponsePayload, EncodingError> {
        Ok(ProposalResponsePayload {
            proposal_hash: proposal.hash()?,
            contract: self.contract.clone(),
            rwset: self.rwset.clone(),
            events: self.events.clone(),
            response: self.response.clone(),
        })
    }
}

/// A nested `invokeChaincode` that produced no response.
pub(crate) enum NestedError {
    Limit(ContractError),
    Stub(StubError),
}

/// Runs contracts for one peer: warm JavaScript runtimes per package and
/// the registered native contracts. Cheap to clone; share it across threads.
#[derive(Clone)]
pub struct ContractRuntime {
    engine: Arc<Engine>,
}

pub(crate) struct Engine {
    config: RuntimeConfig,
    pools: Mutex<HashMap<PackageId, Arc<JsPool>>>,
    natives: RwLock<BTreeMap<String, Arc<dyn NativeContract>>>,
}

impl ContractRuntime {
    /// A runtime for a peer, with the `_lifecycle` system contract registered.
    pub fn new(config: RuntimeConfig) -> Self {
        let runtime = ContractRuntime {
            engine: Arc::new(Engine {
                config,
                pools: Mutex::new(HashMap::new()),
                natives: RwLock::new(BTreeMap::new()),
            }),
        };
        runtime.register_native(LIFECYCLE_NS, Arc::new(Lifecycle));
        runtime
    }

    /// Registers (or replaces) a native contract under `name`.
    pub fn register_native(&self, name: &str, contract: Arc<dyn NativeContract>) {
        self.engine
            .natives
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), contract);
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.engine.config
    }

    /// Simulates the proposal with the configured limits.
    pub fn invoke(&self, request: InvokeRequest<'_>) -> Result<Simulation, ContractError> {
        let limits = self.engine.config.limits.clone();
        self.invoke_with_limits(request, &limits)
    }

    /// Simulates the proposal with explicit limits.
    pub fn invoke_with_limits(
        &self,
        request: InvokeRequest<'_>,
        limits: &Limits,
    ) -> Result<Simulation, ContractError> {
        let marker = 0u8;
        let stack_top = std::ptr::addr_of!(marker) as usize;
        let name = request.proposal.invocation.contract.clone();
        let tx = Arc::new(TxContext::new(
            request.proposal,
            request.creator,
            &self.engine.config.peer_msp_id,
        ));
        let mut stub = Stub::new(
            tx,
            &name,
            request.state.clone(),
            request.channel.clone(),
            RwSetBuilder::default(),
        );

        if let Some(native) = self.engine.native(&name) {
            let result = native.invoke(&mut stub);
            return Ok(finish(
                ContractId {
                    name,
                    version: String::new(),
                },
                stub,
                match result {
                    Ok(payload) => Response {
                        status: 200,
                        message: String::new(),
                        payload,
                    },
                    Err(e) => error_response(e.to_string()),
                },
            )?);
        }

        let deployed = request
            .resolver
            .resolve(&name, request.state.as_ref())?
            .ok_or_else(|| ContractError::UnknownContract(name.clone()))?;
        let contract = ContractId {
            name: name.clone(),
            version: deployed.definition.version.clone(),
        };
        record_definition_read(&mut stub, &deployed);
        stub.set_definition(deployed.definition.clone());
        if let Err(message) = check_init(
            &mut stub,
            &deployed.definition,
            request.proposal.invocation.is_init,
        )? {
            return Err(ContractError::Init(message));
        }
        let caller = Caller {
            engine: self.engine.clone(),
            resolver: request.resolver.clone(),
            limits: limits.clone(),
            depth: 0,
            deadline: Instant::now() + limits.time,
            stack_top,
        };
        let (response, stub) =
            self.engine
                .run_js(&deployed.package, stub, caller, limits.stack_bytes);
        let response = response?;
        let stub = stub.ok_or_else(|| {
            ContractError::Engine("the simulator was lost during the call".into())
        })?;
        Ok(finish(contract, stub, response)?)
    }

    /// Warm instances waiting in a package's pool (for metrics and tests).
    pub fn warm_instances(&self, package: &PackageId) -> usize {
        self.engine
            .pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(package)
            .map_or(0, |p| p.idle_count())
    }

    /// Drops a package's warm instances (after an upgrade, say).
    pub fn evict(&self, package: &PackageId) {
        self.engine
            .pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(package);
    }
}

impl Engine {
    fn native(&self, name: &str) -> Option<Arc<dyn NativeContract>> {
        self.natives
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn pool(&self, package: &Arc<ContractPackage>) -> Arc<JsPool> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(package.id().clone())
            .or_insert_with(|| {
                Arc::new(JsPool::new(
                    package.clone(),
                    self.config.max_idle_per_package,
                ))
            })
            .clone()
    }

    fn run_js(
        &self,
        package: &Arc<ContractPackage>,
        stub: Stub,
        caller: Caller,
        stack_bytes: usize,
    ) -> (Result<Response, ContractError>, Option<Stub>) {
        let pool = self.pool(package);
        let mut instance = match pool.take() {
            Ok(i) => i,
            Err(e) => return (Err(e), Some(stub)),
        };
        let (result, stub) = instance.invoke(stub, caller, stack_bytes);
        if instance.is_healthy() {
            pool.give_back(instance);
        }
        (result, stub)
    }

    /// `invokeChaincode`: runs contract `name` on the caller's transaction,
    /// adding its reads and writes to the caller's set.
    pub(crate) fn call_nested(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
        tx: Arc<TxContext>,
        state: Arc<dyn StateView + Send + Sync>,
        channel: Arc<ChannelConfig>,
        rw: RwSetBuilder,
    ) -> (Result<Response, NestedError>, RwSetBuilder) {
        if caller.depth + 1 > caller.limits.max_call_depth {
            return (
                Err(NestedError::Stub(StubError::CallDepth {
                    limit: caller.limits.max_call_depth,
                })),
                rw,
            );
        }
        let mut stub = Stub::new(tx, name, state.clone(), channel, rw);
        if let Some(native) = self.native(name) {
            let result = native.invoke(&mut stub);
            let (rw, _event) = stub.finish();
            return match result {
                Ok(payload) => (
                    Ok(Response {
                        status: 200,
                        message: String::new(),
                        payload,
                    }),
                    rw,
                ),
                Err(e) => (Ok(error_response(e.to_string())), rw),
            };
        }
        let deployed = match caller.resolver.resolve(name, state.as_ref()) {
            Ok(Some(d)) => d,
            Ok(None) => {
                return (
                    Err(NestedError::Stub(StubError::UnknownContract(
                        name.to_owned(),
                    ))),
                    stub.finish().0,
                );
            }
            Err(e) => {
                return (
                    Err(NestedError::Stub(StubError::State(e.to_string()))),
                    stub.finish().0,
                );
            }
        };
        record_definition_read(&mut stub, &deployed);
        stub.set_definition(deployed.definition.clone());
        match check_init(&mut stub, &deployed.definition, false) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return (Ok(error_response(message)), stub.finish().0),
            Err(e) => {
                return (
                    Err(NestedError::Stub(StubError::State(e.to_string()))),
                    stub.finish().0,
                );
            }
        }
        let marker = 0u8;
        let here = std::ptr::addr_of!(marker) as usize;
        let used = caller.stack_top.saturating_sub(here);
        let remaining = caller.limits.stack_bytes.saturating_sub(used);
        if remaining < MIN_NESTED_STACK {
            let e = ContractError::StackLimit {
                limit_bytes: caller.limits.stack_bytes,
            };
            return (Err(NestedError::Limit(e)), stub.finish().0);
        }
        let nested = Caller {
            depth: caller.depth + 1,
            ..caller.clone()
        };
        let (result, stub) = self.run_js(&deployed.package, stub, nested, remaining);
        // Events of called contracts are dropped, as in Fabric.
        let rw = stub.map(|s| s.finish().0).unwrap_or_default();
        (result.map_err(NestedError::Limit), rw)
    }
}

fn error_response(message: String) -> Response {
    Response {
        status: 500,
        message,
        payload: Vec::new(),
    }
}

/// Builds the simulation; a failed response carries no reads, writes or event.
fn finish(
    contract: ContractId,
    stub: Stub,
    response: Response,
) -> Result<Simulation, EncodingError> {
    let (rw, event) = stub.finish();
    if response.status >= 400 {
        return Ok(Simulation {
            contract,
            rwset: TxRwSet::default(),
            response,
            events: Vec::new(),
            private: PrivateWriteSet::default(),
        });
    }
    let (rwset, private) = rw.build_with_private()?;
    Ok(Simulation {
        contract,
        rwset,
        response,
        events: event.into_iter().collect(),
        private,
    })
}

/// Endorsing against a definition reads it: an upgrade committed meanwhile
/// invalidates the transaction (as in Fabric).
fn record_definition_read(stub: &mut Stub, deployed: &Deployed) {
    stub.record_foreign_read(
        LIFECYCLE_NS,
        &definition_key(&deployed.definition.name),
        deployed.definition_version,
    );
}

/// Fabric's `init` rule for definitions with `init_required`: the first call
/// for a version must be the init call, and init runs once per version.
/// The outer error is a state failure; the inner one the refusal.
fn check_init(
    stub: &mut Stub,
    definition: &ContractDefinition,
    is_init: bool,
) -> Result<Result<(), String>, ContractError> {
    if !definition.init_required {
        return Ok(Ok(()));
    }
    let initialized = stub
        .state(INITIALIZED_KEY)
        .map_err(|e| ContractError::State(e.to_string()))?
        .is_some_and(|v| v == definition.version.as_bytes());
    let name = &definition.name;
    if is_init {
        if initialized {
            return Ok(Err(format!(
                "contract {name:?} is already initialized but called as init"
            )));
        }
        stub.put_state(INITIALIZED_KEY, definition.version.as_bytes())
            .map_err(|e| ContractError::State(e.to_string()))?;
        return Ok(Ok(()));
    }
    if !initialized {
        return Ok(Err(format!(
            "contract {name:?} has not been initialized for version {:?}: call it with init first",
            definition.version
        )));
    }
    Ok(Ok(()))
}
