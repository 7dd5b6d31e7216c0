//! The functions JavaScript calls into (`host.*` in the built-in scripts).
//! Only the built-ins hold a reference to them; contract code reaches them
//! solely through `ctx.stub`, `Buffer`, `TextEncoder`/`TextDecoder` and
//! `console`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rquickjs::function::Func;
use rquickjs::{Array, Ctx, Exception, Function, Object, TypedArray};

use super::codec;
use super::console::{self, CONSOLE_TARGET, ConsoleBudget};
use crate::error::{ContractError, StubError};
use crate::limits::Limits;
use crate::package::ContractPackage;
use crate::resolve::{self, Resolved};
use crate::runtime::{ContractResolver, Engine};
use crate::stub::{IteratorId, Stub};

/// What a running contract needs to call another contract.
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) engine: Arc<Engine>,
    pub(crate) resolver: Arc<dyn ContractResolver + Send + Sync>,
    pub(crate) limits: Limits,
    pub(crate) depth: u32,
    pub(crate) deadline: Instant,
    /// Address of a local at the outermost invocation, to budget the stack
    /// of nested invocations.
    pub(crate) stack_top: usize,
}

/// The invocation an instance is running.
pub(crate) struct ActiveCall {
    pub(crate) stub: Stub,
    pub(crate) caller: Caller,
    /// What its `console.*` calls have logged so far.
    pub(crate) console: ConsoleBudget,
}

/// State shared between an instance's host functions, its interrupt
/// handler and the Rust code driving it.
pub(crate) struct HostState {
    pub(crate) package: Arc<ContractPackage>,
    pub(crate) call: Mutex<Option<ActiveCall>>,
    pub(crate) limits: Mutex<Limits>,
    pub(crate) deadline: Mutex<Option<Instant>>,
    /// Set when a limit was hit; the interrupt handler then stops JavaScript.
    pub(crate) abort: AtomicBool,
    pub(crate) timed_out: AtomicBool,
    pub(crate) limit_hit: Mutex<Option<ContractError>>,
}

impl HostState {
    pub(crate) fn new(package: Arc<ContractPackage>) -> Self {
        HostState {
            package,
            call: Mutex::new(None),
            limits: Mutex::new(Limits::default()),
            deadline: Mutex::new(None),
            abort: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            limit_hit: Mutex::new(None),
        }
    }

    pub(crate) fn call(&self) -> MutexGuard<'_, Option<ActiveCall>> {
        self.call.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether JavaScript must stop now (the interrupt handler's answer).
    pub(crate) fn should_interrupt(&self) -> bool {
        if self.abort.load(Ordering::Relaxed) {
            return true;
        }
        let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        if deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Records a limit violation; JavaScript is stopped at its next poll.
    pub(crate) fn record_limit(&self, error: ContractError) {
        let mut hit = self.limit_hit.lock().unwrap_or_else(|e| e.into_inner());
        if hit.is_none() {
            *hit = Some(error);
        }
        self.abort.store(true, Ordering::Relaxed);
    }
}

fn throw(ctx: &Ctx<'_>, e: &StubError) -> rquickjs::Error {
    Exception::throw_message(ctx, &e.to_string())
}

pub(super) fn bytes_arg(ctx: &Ctx<'_>, bin: &str) -> rquickjs::Result<Vec<u8>> {
    codec::bin_to_bytes(bin)
        .ok_or_else(|| Exception::throw_type(ctx, "internal: byte string holds a char above 255"))
}

pub(super) fn with_stub<T>(
    ctx: &Ctx<'_>,
    host: &HostState,
    f: impl FnOnce(&mut Stub) -> Result<T, StubError>,
) -> rquickjs::Result<T> {
    let mut guard = host.call();
    let call = guard
        .as_mut()
        .ok_or_else(|| throw(ctx, &StubError::TransactionFinished))?;
    f(&mut call.stub).map_err(|e| throw(ctx, &e))
}

/// Builds the `host` object the built-in scripts receive.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Arc<HostState>) -> rquickjs::Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    install_codecs(&obj)?;
    install_modules(&obj, host)?;
    install_state(&obj, host)?;
    super::host_private::install(&obj, host)?;
    install_misc(&obj, host)?;
    Ok(obj)
}

fn install_codecs<'js>(obj: &Object<'js>) -> rquickjs::Result<()> {
    obj.set(
        "utf8Encode",
        Func::from(|ctx: Ctx<'js>, s: String| TypedArray::<u8>::new(ctx, s.into_bytes())),
    )?;
    obj.set(
        "utf8Decode",
        Func::from(|ctx: Ctx<'js>, bin: String, fatal: bool| {
            let bytes = bytes_arg(&ctx, &bin)?;
            codec::utf8_decode(bytes, fatal).ok_or_else(|| {
                Exception::throw_type(&ctx, "The encoded data was not valid for encoding utf-8")
            })
        }),
    )?;
    obj.set(
        "hexEncode",
        Func::from(|ctx: Ctx<'js>, bin: String| {
            Ok::<_, rquickjs::Error>(codec::hex_encode(&bytes_arg(&ctx, &bin)?))
        }),
    )?;
    obj.set(
        "hexDecode",
        Func::from(|ctx: Ctx<'js>, s: String| TypedArray::<u8>::new(ctx, codec::hex_decode(&s))),
    )?;
    obj.set(
        "base64Encode",
        Func::from(|ctx: Ctx<'js>, bin: String, url: bool| {
            Ok::<_, rquickjs::Error>(codec::base64_encode(&bytes_arg(&ctx, &bin)?, url))
        }),
    )?;
    obj.set(
        "base64Decode",
        Func::from(|ctx: Ctx<'js>, s: String| TypedArray::<u8>::new(ctx, codec::base64_decode(&s))),
    )?;
    Ok(())
}

fn install_modules<'js>(obj: &Object<'js>, host: &Arc<HostState>) -> rquickjs::Result<()> {
    let h = host.clone();
    obj.set(
        "resolve",
        Func::from(move |dir: String, spec: String| {
            match resolve::resolve(h.package.files(), &dir, &spec) {
                Ok(Resolved::Builtin(name)) => format!("builtin:{name}"),
                Ok(Resolved::File(path)) => format!("file:{path}"),
                Err(message) => format!("error:{message}"),
            }
        }),
    )?;
    let h = host.clone();
    obj.set(
        "source",
        Func::from(move |ctx: Ctx<'js>, path: String| source_of(&ctx, &h, &path)),
    )?;
    let h = host.clone();
    obj.set(
        "compile",
        Func::from(
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<Function<'js>> {
                let source = source_of(&ctx, &h, &path)?;
                let body = source.strip_prefix('\u{feff}').unwrap_or(&source);
                // A shebang line is not JavaScript; keep the line count.
                let body = if body.starts_with("#!") {
                    format!("//{body}")
                } else {
                    body.to_owned()
                };
                let wrapped = format!(
                    "(function (exports, require, module, __filename, __dirname) {{{body}\n}})"
                );
                let mut options = rquickjs::context::EvalOptions::default();
                options.strict = false;
                options.filename = Some(format!("/{path}"));
                ctx.eval_with_options(wrapped, options)
            },
        ),
    )?;
    Ok(())
}

fn source_of(ctx: &Ctx<'_>, host: &HostState, path: &str) -> rquickjs::Result<String> {
    let bytes =
        host.package.files().get(path).ok_or_else(|| {
            Exception::throw_message(ctx, &format!("Cannot find module '/{path}'"))
        })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Exception::throw_syntax(ctx, &format!("/{path} is not valid UTF-8 text")))
}

fn install_state<'js>(obj: &Object<'js>, host: &Arc<HostState>) -> rquickjs::Result<()> {
    let h = host.clone();
    obj.set(
        "getState",
        Func::from(
            move |ctx: Ctx<'js>, key: String| -> rquickjs::Result<Option<TypedArray<'js, u8>>> {
                match with_stub(&ctx, &h, |s| s.state(&key))? {
                    Some(v) => Ok(Some(TypedArray::new(ctx, v)?)),
                    None => Ok(None),
                }
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "putState",
        Func::from(move |ctx: Ctx<'js>, key: String, bin: String| {
            let value = bytes_arg(&ctx, &bin)?;
            with_stub(&ctx, &h, |s| s.put_state(&key, &value))
        }),
    )?;
    let h = host.clone();
    obj.set(
        "deleteState",
        Func::from(move |ctx: Ctx<'js>, key: String| with_stub(&ctx, &h, |s| s.delete_state(&key))),
    )?;
    let h = host.clone();
    obj.set(
        "openRange",
        Func::from(move |ctx: Ctx<'js>, start: String, end: String| {
            with_stub(&ctx, &h, |s| s.open_range(&start, &end)).map(|id| id.0)
        }),
    )?;
    let h = host.clone();
    obj.set(
        "openPage",
        Func::from(
            move |ctx: Ctx<'js>,
                  start: String,
                  end: String,
                  size: i32,
                  bookmark: String|
                  -> rquickjs::Result<Array<'js>> {
                let size = u32::try_from(size).unwrap_or(0);
                let (id, page) = with_stub(&ctx, &h, |s| {
                    s.open_range_page(&start, &end, size, &bookmark)
                })?;
                let out = Array::new(ctx)?;
                out.set(0, id.0)?;
                out.set(1, page.fetched)?;
                out.set(2, page.bookmark)?;
                Ok(out)
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "next",
        Func::from(
            move |ctx: Ctx<'js>, id: u32| -> rquickjs::Result<Option<Array<'js>>> {
                let Some((key, value)) = with_stub(&ctx, &h, |s| s.next(IteratorId(id)))? else {
                    return Ok(None);
                };
                let row = Array::new(ctx.clone())?;
                row.set(0, key)?;
                row.set(1, TypedArray::<u8>::new(ctx, value)?)?;
                Ok(Some(row))
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "close",
        Func::from(move |ctx: Ctx<'js>, id: u32| {
            with_stub(&ctx, &h, |s| {
                s.close(IteratorId(id));
                Ok(())
            })
        }),
    )?;
    let h = host.clone();
    obj.set(
        "history",
        Func::from(
            move |ctx: Ctx<'js>, key: String| -> rquickjs::Result<Array<'js>> {
                let entries = with_stub(&ctx, &h, |s| s.history(&key))?;
                let out = Array::new(ctx.clone())?;
                for (i, e) in entries.into_iter().enumerate() {
                    let row = Array::new(ctx.clone())?;
                    row.set(0, e.txid.to_string())?;
                    row.set(1, e.timestamp.seconds as f64)?;
                    row.set(2, e.timestamp.nanos)?;
                    row.set(3, e.is_delete)?;
                    row.set(4, TypedArray::<u8>::new(ctx.clone(), e.value)?)?;
                    out.set(i, row)?;
                }
                Ok(out)
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "getValidationParameter",
        Func::from(
            move |ctx: Ctx<'js>, key: String| -> rquickjs::Result<Option<TypedArray<'js, u8>>> {
                match with_stub(&ctx, &h, |s| s.validation_parameter(&key))? {
                    Some(v) => Ok(Some(TypedArray::new(ctx, v)?)),
                    None => Ok(None),
                }
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "setValidationParameter",
        Func::from(move |ctx: Ctx<'js>, key: String, bin: String| {
            let policy = bytes_arg(&ctx, &bin)?;
            with_stub(&ctx, &h, |s| s.set_validation_parameter(&key, &policy))
        }),
    )?;
    let h = host.clone();
    obj.set(
        "setEvent",
        Func::from(move |ctx: Ctx<'js>, name: String, bin: String| {
            let payload = bytes_arg(&ctx, &bin)?;
            with_stub(&ctx, &h, |s| s.set_event(&name, &payload))
        }),
    )?;
    Ok(())
}

fn install_misc<'js>(obj: &Object<'js>, host: &Arc<HostState>) -> rquickjs::Result<()> {
    // The built-in console asks first, so nothing is formatted when the
    // console target is off (the default).
    obj.set("logEnabled", Func::from(console::enabled))?;
    let h = host.clone();
    obj.set(
        "log",
        Func::from(move |level: String, message: String| {
            if !console::enabled() {
                return;
            }
            let mut guard = h.call();
            // Output after the transaction finished (a dangling promise) has
            // no budget left to charge, and no transaction to name: dropped.
            let Some(call) = guard.as_mut() else {
                return;
            };
            let Some(line) = call.console.admit(&message) else {
                return;
            };
            let contract = call.stub.namespace();
            let txid = call.stub.txid();
            tracing::debug!(target: CONSOLE_TARGET, %contract, %txid, %level, "{line}");
        }),
    )?;
    let h = host.clone();
    obj.set(
        "limit",
        Func::from(
            move |ctx: Ctx<'js>, kind: String, size: f64| -> rquickjs::Result<()> {
                let limits = h.limits.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let error = match kind.as_str() {
                    "stack" => ContractError::StackLimit {
                        limit_bytes: limits.stack_bytes,
                    },
                    "response" => ContractError::ResponseTooLarge {
                        size_bytes: size as usize,
                        limit_bytes: limits.max_response_bytes,
                    },
                    _ => ContractError::MemoryLimit {
                        limit_bytes: limits.memory_bytes,
                    },
                };
                let message = error.to_string();
                h.record_limit(error);
                Err(Exception::throw_internal(&ctx, &message))
            },
        ),
    )?;
    let h = host.clone();
    obj.set(
        "invokeChaincode",
        Func::from(
            move |ctx: Ctx<'js>,
                  name: String,
                  args: Vec<String>,
                  channel: String|
                  -> rquickjs::Result<Array<'js>> {
                let args = args
                    .iter()
                    .map(|a| bytes_arg(&ctx, a))
                    .collect::<rquickjs::Result<Vec<_>>>()?;
                invoke_chaincode(&ctx, &h, &name, args, &channel)
            },
        ),
    )?;
    Ok(())
}

/// `ctx.stub.invokeChaincode`: runs another contract on the same
/// transaction; its reads and writes join this transaction's set.
fn invoke_chaincode<'js>(
    ctx: &Ctx<'js>,
    host: &HostState,
    name: &str,
    mut args: Vec<Vec<u8>>,
    channel: &str,
) -> rquickjs::Result<Array<'js>> {
    let (caller, parent_tx, state, chan, rw) = {
        let mut guard = host.call();
        let call = guard
            .as_mut()
            .ok_or_else(|| throw(ctx, &StubError::TransactionFinished))?;
        if !channel.is_empty() && channel != call.stub.channel_id() {
            return Err(throw(
                ctx,
                &StubError::OtherChannel {
                    requested: channel.to_owned(),
                    current: call.stub.channel_id().to_owned(),
                },
            ));
        }
        (
            call.caller.clone(),
            call.stub.tx().clone(),
            call.stub.state_view().clone(),
            call.stub.channel_arc(),
            call.stub.take_rwset(),
        )
    };
    // Fabric passes the function name as the first argument.
    let function = if args.is_empty() {
        String::new()
    } else {
        String::from_utf8_lossy(&args.remove(0)).into_owned()
    };
    let tx = Arc::new(parent_tx.called(function, args));
    let (result, rw) = caller
        .engine
        .call_nested(&caller, name, tx, state, chan, rw);
    if let Some(call) = host.call().as_mut() {
        call.stub.restore_rwset(rw);
    }
    match result {
        Ok(response) => {
            let out = Array::new(ctx.clone())?;
            out.set(0, response.status)?;
            out.set(1, response.message)?;
            out.set(2, TypedArray::<u8>::new(ctx.clone(), response.payload)?)?;
            Ok(out)
        }
        Err(crate::runtime::NestedError::Stub(e)) => Err(throw(ctx, &e)),
        Err(crate::runtime::NestedError::Limit(e)) => {
            let message = e.to_string();
            host.record_limit(e);
            Err(Exception::throw_internal(ctx, &message))
        }
    }
}
