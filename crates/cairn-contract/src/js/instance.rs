//! One warm QuickJS runtime loaded with a package (see the module doc).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cairn_ledger::tx::Response;
use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic as i;
use rquickjs::promise::PromiseState;
use rquickjs::{
    Array, CatchResultExt, Context, Ctx, Function, Object, Promise, Runtime, TypedArray, Value,
};

use super::host::{self, ActiveCall, Caller, HostState};
use super::{PRELUDE, codec};
use crate::error::ContractError;
use crate::package::ContractPackage;
use crate::stub::Stub;

/// Heap and stack for building a realm, before per-invocation limits apply.
const BOOTSTRAP_MEMORY: usize = 64 << 20;
const BOOTSTRAP_STACK: usize = 1 << 20;
/// Invocations between explicit garbage collections.
const GC_EVERY: u64 = 32;

/// A QuickJS runtime with the built-ins and one package loaded.
pub(crate) struct JsInstance {
    runtime: Runtime,
    context: Context,
    host: Arc<HostState>,
    /// Heap in use by the realm itself; an invocation may add `memory_bytes`.
    baseline: usize,
    invocations: u64,
    applied: (usize, usize),
    healthy: bool,
}

fn engine_error(e: impl std::fmt::Display) -> ContractError {
    ContractError::Engine(e.to_string())
}

impl JsInstance {
    /// Creates a runtime, evaluates Cairn's built-ins and seals the realm.
    pub(crate) fn new(package: Arc<ContractPackage>) -> Result<Self, ContractError> {
        let host = Arc::new(HostState::new(package));
        let runtime = Runtime::new().map_err(engine_error)?;
        runtime.set_memory_limit(BOOTSTRAP_MEMORY);
        runtime.set_max_stack_size(BOOTSTRAP_STACK);
        let h = host.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || h.should_interrupt())));
        // No Performance (a clock) and no WeakRef/FinalizationRegistry
        // (garbage-collection timing): both would make results nondeterministic.
        let context = Context::builder()
            .with::<(
                i::Date,
                i::Eval,
                i::RegExpCompiler,
                i::RegExp,
                i::Json,
                i::Proxy,
                i::MapSet,
                i::TypedArrays,
                i::Promise,
            )>()
            .build(&runtime)
            .map_err(engine_error)?;
        context.with(|ctx| -> Result<(), ContractError> {
            let host_obj = host::install(&ctx, &host).map_err(engine_error)?;
            let internal = Object::new(ctx.clone()).map_err(engine_error)?;
            for (name, source) in PRELUDE {
                let mut options = EvalOptions::default();
                options.filename = Some(name.to_owned());
                let script: Function = ctx
                    .eval_with_options(source, options)
                    .catch(&ctx)
                    .map_err(|e| engine_error(format!("{name}: {e}")))?;
                script
                    .call::<_, ()>((host_obj.clone(), internal.clone()))
                    .catch(&ctx)
                    .map_err(|e| engine_error(format!("{name}: {e}")))?;
            }
            ctx.store_userdata(internal)
                .map_err(|_| engine_error("the realm's internals could not be stored"))?;
            Ok(())
        })?;
        runtime.run_gc();
        let baseline = runtime.memory_usage().malloc_size.max(0) as usize;
        Ok(JsInstance {
            runtime,
            context,
            host,
            baseline,
            invocations: 0,
            applied: (0, 0),
            healthy: true,
        })
    }

    /// Whether the instance may serve another invocation.
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Runs the transaction function named by the stub's transaction.
    /// Returns the stub back (with the recorded read/write set) in every
    /// case, so a calling contract can take its read/write set back.
    pub(crate) fn invoke(
        &mut self,
        stub: Stub,
        caller: Caller,
        stack_bytes: usize,
    ) -> (Result<Response, ContractError>, Option<Stub>) {
        let limits = caller.limits.clone();
        let wanted = (
            self.baseline.saturating_add(limits.memory_bytes),
            stack_bytes,
        );
        if wanted != self.applied {
            self.runtime.set_memory_limit(wanted.0);
            self.runtime.set_max_stack_size(wanted.1);
            self.applied = wanted;
        }
        *self.host.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits.clone();
        *self
            .host
            .limit_hit
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.host.abort.store(false, Ordering::Relaxed);
        self.host.timed_out.store(false, Ordering::Relaxed);
        *self.host.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(caller.deadline);

        let tx = stub.tx().clone();
        let main = self.host.package.main().to_owned();
        *self.host.call() = Some(ActiveCall {
            stub,
            caller,
            console: Default::default(),
        });

        let ran = self.context.with(
            |ctx| -> Result<(Outcome, Option<ActiveCall>, bool), rquickjs::Error> {
                let internal = ctx
                    .userdata::<Object>()
                    .map(|o| o.clone())
                    .ok_or(rquickjs::Error::Unknown)?;
                let invoke: Function = internal.get("invoke")?;
                let tx_obj = tx_object(&ctx, &tx, &main, limits.max_response_bytes)?;
                let outcome = match invoke.call::<_, Promise>((tx_obj,)) {
                    Ok(promise) => settle(&ctx, &promise),
                    Err(rquickjs::Error::Exception) => Outcome::Failed(describe(&ctx.catch())),
                    Err(e) => Outcome::Failed(Thrown::Message(e.to_string())),
                };
                // The transaction is over: later stub calls fail, and any job
                // still queued runs now rather than in the next invocation.
                let stub_back = self.host.call().take();
                while ctx.execute_pending_job() {}
                let cleanup: Function = internal.get("cleanup")?;
                let clean = cleanup.call::<_, bool>(()).unwrap_or(false);
                Ok((outcome, stub_back, clean))
            },
        );
        *self.host.deadline.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.invocations += 1;

        let (outcome, stub_back) = match ran {
            Ok((outcome, stub_back, clean)) => {
                self.healthy &= clean;
                (outcome, stub_back)
            }
            Err(e) => {
                self.healthy = false;
                (
                    Outcome::Failed(Thrown::Message(e.to_string())),
                    self.host.call().take(),
                )
            }
        };
        let stub = stub_back.map(|c| c.stub);
        let result = self.classify(outcome, &limits);
        if result.is_err() {
            // A limit can leave QuickJS mid-way through internal work;
            // a fresh instance is cheaper than doubt.
            self.healthy = false;
        } else if self.invocations == 1 {
            // The first call compiled the package's modules; they stay.
            self.runtime.run_gc();
            self.baseline = self.runtime.memory_usage().malloc_size.max(0) as usize;
        } else if self.invocations.is_multiple_of(GC_EVERY) {
            // Reference counting frees most garbage at once; cycles wait for
            // QuickJS's own threshold or this periodic collection, which
            // keeps the heap near its baseline without paying a full
            // collection on every call.
            self.runtime.run_gc();
        }
        (result, stub)
    }

    fn classify(
        &self,
        outcome: Outcome,
        limits: &crate::limits::Limits,
    ) -> Result<Response, ContractError> {
        if let Some(hit) = self
            .host
            .limit_hit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return Err(hit);
        }
        if self.host.timed_out.load(Ordering::Relaxed) {
            return Err(ContractError::TimeLimit { limit: limits.time });
        }
        match outcome {
            Outcome::Response(r) => Ok(r),
            Outcome::NeverSettled => Err(ContractError::NeverSettled),
            Outcome::Failed(Thrown::OutOfMemory) => Err(ContractError::MemoryLimit {
                limit_bytes: limits.memory_bytes,
            }),
            Outcome::Failed(Thrown::StackOverflow) => Err(ContractError::StackLimit {
                limit_bytes: limits.stack_bytes,
            }),
            Outcome::Failed(Thrown::Message(m)) => Ok(Response {
                status: 500,
                message: m,
                payload: Vec::new(),
            }),
        }
    }
}

enum Thrown {
    Message(String),
    OutOfMemory,
    StackOverflow,
}

enum Outcome {
    Response(Response),
    Failed(Thrown),
    NeverSettled,
}

/// Runs jobs until the promise settles, and reads the response.
fn settle<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> Outcome {
    loop {
        match promise.state() {
            PromiseState::Pending => {
                if !ctx.execute_pending_job() {
                    return Outcome::NeverSettled;
                }
            }
            PromiseState::Resolved => {
                return match promise.result::<Object>() {
                    Some(Ok(obj)) => read_response(&obj)
                        .unwrap_or_else(|e| Outcome::Failed(Thrown::Message(e.to_string()))),
                    Some(Err(rquickjs::Error::Exception)) => {
                        Outcome::Failed(describe(&ctx.catch()))
                    }
                    Some(Err(e)) => Outcome::Failed(Thrown::Message(e.to_string())),
                    None => Outcome::NeverSettled,
                };
            }
            PromiseState::Rejected => {
                let _ = promise.result::<Value>();
                return Outcome::Failed(describe(&ctx.catch()));
            }
        }
    }
}

fn read_response(obj: &Object<'_>) -> rquickjs::Result<Outcome> {
    let status: u32 = obj.get("status")?;
    let message: String = obj.get("message")?;
    let payload: String = obj.get("payload")?;
    let payload = codec::bin_to_bytes(&payload).unwrap_or_default();
    Ok(Outcome::Response(Response {
        status,
        message,
        payload,
    }))
}

/// What a thrown value says, recognising QuickJS's own limit errors.
fn describe(value: &Value<'_>) -> Thrown {
    // QuickJS throws null when it cannot even allocate the error object.
    if value.is_null() {
        return Thrown::OutOfMemory;
    }
    if let Some(obj) = value.as_object() {
        let name: String = obj.get("name").unwrap_or_default();
        let message: String = obj.get("message").unwrap_or_default();
        if name == "InternalError" && message == "out of memory" {
            return Thrown::OutOfMemory;
        }
        if name == "RangeError" && message.contains("Maximum call stack size exceeded") {
            return Thrown::StackOverflow;
        }
        return Thrown::Message(message);
    }
    Thrown::Message(
        value
            .as_string()
            .and_then(|s| s.to_string().ok())
            .unwrap_or_else(|| format!("{value:?}")),
    )
}

/// The transaction as the built-ins see it (`tx` in dispatch.js).
fn tx_object<'js>(
    ctx: &Ctx<'js>,
    tx: &crate::stub::TxContext,
    main: &str,
    max_response: usize,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    let txid = tx.txid.to_string();
    o.set("txid", txid.as_str())?;
    o.set("seed", txid.as_str())?;
    o.set("channel", tx.channel_id.as_str())?;
    o.set("fn", tx.function.as_str())?;
    o.set("isInit", tx.is_init)?;
    o.set("main", main)?;
    o.set("peerMsp", tx.peer_msp_id.as_str())?;
    o.set("maxResponse", max_response as f64)?;
    o.set("millis", tx.timestamp.millis() as f64)?;
    o.set("seconds", tx.timestamp.seconds as f64)?;
    o.set("nanos", tx.timestamp.nanos)?;
    // The arguments as bytes and as strings (`getStringArgs`, decoded here
    // once instead of by a round trip through the Buffer codecs).
    let (args, strings) = (Array::new(ctx.clone())?, Array::new(ctx.clone())?);
    args.set(
        0,
        TypedArray::<u8>::new(ctx.clone(), tx.function.as_bytes().to_vec())?,
    )?;
    strings.set(0, tx.function.as_str())?;
    for (i, a) in tx.args.iter().enumerate() {
        args.set(i + 1, TypedArray::<u8>::new(ctx.clone(), a.clone())?)?;
        strings.set(i + 1, String::from_utf8_lossy(a).as_ref())?;
    }
    o.set("args", args)?;
    o.set("argStrings", strings)?;
    let transient = Array::new(ctx.clone())?;
    for (i, (k, v)) in tx.transient.iter().enumerate() {
        let pair = Array::new(ctx.clone())?;
        pair.set(0, k.as_str())?;
        pair.set(1, TypedArray::<u8>::new(ctx.clone(), v.clone())?)?;
        transient.set(i, pair)?;
    }
    o.set("transient", transient)?;
    o.set(
        "nonce",
        TypedArray::<u8>::new(ctx.clone(), tx.nonce.clone())?,
    )?;
    o.set("binding", tx.binding())?;
    let creator = &tx.creator;
    o.set("creatorMsp", creator.msp_id())?;
    o.set("creatorId", creator.id())?;
    o.set(
        "creatorPemBytes",
        TypedArray::<u8>::new(ctx.clone(), creator.cert_pem().as_bytes().to_vec())?,
    )?;
    let attrs = Object::new(ctx.clone())?;
    for (k, v) in creator.attrs() {
        attrs.set(k.as_str(), v.as_str())?;
    }
    o.set("creatorAttrs", attrs)?;
    Ok(o)
}
