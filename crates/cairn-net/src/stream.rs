//! Call streams: many calls over one long-lived HTTP/2 stream, for the hops
//! that carry one call per transaction (a gateway's envelopes to the Raft
//! leader, its proposals to endorsers). A request costs HTTP/2 a new stream,
//! its headers both ways and a task per side; a call on an open stream costs
//! one frame up and a share of one frame down.
//!
//! Wire: the request body is a sequence of frames (4-byte big-endian length,
//! then postcard) each holding a [`Call`]; the answer body is a sequence of
//! frames each holding a [`Down`]: the answers ready at that moment, so calls
//! that finish together (the envelopes of one block) share one frame.
//!
//! Invariants:
//! - every call gets exactly one answer, or fails when the stream ends: a
//!   client never waits on a stream that is gone ([`CallStream::call`] checks
//!   and registers under the same lock the reader drains under);
//! - a call's refusal travels as its HTTP status and message, so a caller
//!   sees the same [`ClientError::Status`] as from a plain request, and
//!   retries the same way;
//! - a server reads at most `max_frame` bytes per frame and runs at most
//!   `max_in_flight` calls of one stream at a time; a frame over the limit or
//!   that does not decode ends the stream with a [`Down::End`] naming why
//!   (the calls already running still get their answers first).

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::debug;

use crate::client::{Client, FrameStream};
use crate::error::ClientError;
use crate::server::{ApiError, decode, encoded_frames};

/// One call, as the client sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Call<Req> {
    /// Chosen by the client, unique on its stream; the answer carries it.
    pub id: u64,
    /// The call's argument.
    pub body: Req,
}

/// One call's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer<Resp> {
    /// The id of the call answered.
    pub id: u64,
    /// What the handler returned: its value, or its refusal as the HTTP
    /// status and message a plain request would have got.
    pub result: Result<Resp, (u16, String)>,
}

/// One frame the server sends.
#[derive(Debug, Serialize, Deserialize)]
pub enum Down<Resp> {
    /// Answers that were ready together.
    Answers(Vec<Answer<Resp>>),
    /// The server ends the stream for this reason (a malformed frame); calls
    /// still unanswered will not be answered.
    End(u16, String),
}

/// Bounds a server puts on one stream.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    /// Largest call frame, in bytes.
    pub max_frame: usize,
    /// Calls of one stream running at once; reading waits beyond it.
    pub max_in_flight: usize,
}

/// Serves one call stream: decodes each [`Call`] of `body`, runs
/// `handle` on it as a task of its own, and answers in frames of the answers
/// ready together. Returns the streaming answer at once, so the client can
/// start calling before the first answer.
pub fn serve_calls<Req, Resp, F, Fut>(body: Body, limits: StreamLimits, handle: F) -> Response
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, ApiError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Down<Resp>>(limits.max_in_flight.max(1));
    tokio::spawn(read_calls(body, limits, handle, tx));
    // The state: the receiver, and an end that arrived while answers were
    // being gathered (sent as the next frame).
    let frames = futures_util::stream::unfold((rx, None), |(mut rx, held)| async move {
        let first = match held {
            Some(end) => end,
            None => rx.recv().await?,
        };
        let mut held = None;
        let down = match first {
            Down::Answers(mut answers) => {
                // Whatever else is ready now goes in the same frame.
                while let Ok(more) = rx.try_recv() {
                    match more {
                        Down::Answers(a) => answers.extend(a),
                        end @ Down::End(..) => {
                            held = Some(end);
                            break;
                        }
                    }
                }
                Down::Answers(answers)
            }
            end @ Down::End(..) => {
                rx.close();
                end
            }
        };
        Some((encode(&down), (rx, held)))
    });
    encoded_frames(frames)
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, std::io::Error> {
    postcard::to_stdvec(value).map_err(|e| std::io::Error::other(e.to_string()))
}

async fn read_calls<Req, Resp, F, Fut>(
    body: Body,
    limits: StreamLimits,
    handle: F,
    tx: mpsc::Sender<Down<Resp>>,
) where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, ApiError>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let mut data = body.into_data_stream();
    let mut buf = BytesMut::new();
    let end = |status: u16, message: String| Down::End(status, message);
    let ended = loop {
        // Every complete frame in the buffer first.
        if buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len > limits.max_frame {
                break Some(end(
                    413,
                    format!(
                        "a call of {len} bytes exceeds this stream's limit of {} bytes",
                        limits.max_frame
                    ),
                ));
            }
            if buf.len() >= 4 + len {
                buf.advance(4);
                let frame = buf.split_to(len);
                let call: Call<Req> = match decode(&frame) {
                    Ok(c) => c,
                    Err(reason) => break Some(end(400, format!("malformed call: {reason}"))),
                };
                cairn_counters::inc(cairn_counters::Counter::Frame);
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break None;
                };
                let fut = handle(call.body);
                let tx = tx.clone();
                let id = call.id;
                tokio::spawn(async move {
                    let result = fut
                        .await
                        .map_err(|e| (e.status().as_u16(), e.message().to_string()));
                    let _ = tx.send(Down::Answers(vec![Answer { id, result }])).await;
                    drop(slot);
                });
                continue;
            }
        }
        match data.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => {
                debug!(reason = %e, "call stream closed by the client's connection");
                break None;
            }
            None if buf.is_empty() => break None,
            None => break Some(end(400, "the stream ended inside a call".into())),
        }
    };
    if let Some(down) = ended {
        // After the running calls have answered, so that the end is last.
        let _ = slots.acquire_many(limits.max_in_flight.max(1) as u32).await;
        let _ = tx.send(down).await;
    }
}

type Waiter<Resp> = oneshot::Sender<Result<Resp, ClientError>>;

/// The calls waiting for answers, and whether the stream is gone (then why).
struct Waiting<Resp> {
    next_id: u64,
    calls: HashMap<u64, Waiter<Resp>>,
    closed: Option<ClientError>,
}

/// The client end of one call stream. Cheap to share (`Arc`); calls may be
/// made concurrently.
pub struct CallStream<Req, Resp> {
    url: String,
    up: mpsc::Sender<Bytes>,
    waiting: Arc<Mutex<Waiting<Resp>>>,
    timeout: Duration,
    _req: PhantomData<fn(Req)>,
}

impl<Req, Resp> std::fmt::Debug for CallStream<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallStream")
            .field("url", &self.url)
            .field("open", &lock(&self.waiting).closed.is_none())
            .finish()
    }
}

impl<Req, Resp> CallStream<Req, Resp>
where
    Req: Serialize,
    Resp: DeserializeOwned + Send + 'static,
{
    /// Opens a call stream to `url` (a `POST` route that answers with
    /// [`serve_calls`]); each call then waits at most `timeout` for its
    /// answer. Fails as a plain request would if the server refuses it.
    pub async fn open(
        client: &Client,
        url: &str,
        timeout: Duration,
    ) -> Result<CallStream<Req, Resp>, ClientError> {
        let (up, rx) = mpsc::channel::<Bytes>(1024);
        let resp = client.open_upload(url, UpBody { rx }, timeout).await?;
        let mut frames: FrameStream<Down<Resp>> = FrameStream::new(url, resp);
        let waiting = Arc::new(Mutex::new(Waiting {
            next_id: 0,
            calls: HashMap::new(),
            closed: None,
        }));
        let reader = waiting.clone();
        let url_owned = url.to_string();
        tokio::spawn(async move {
            let why = loop {
                match frames.next().await {
                    Some(Ok(Down::Answers(answers))) => {
                        let mut w = lock(&reader);
                        for a in answers {
                            if let Some(waiter) = w.calls.remove(&a.id) {
                                let _ = waiter.send(a.result.map_err(|(status, message)| {
                                    ClientError::Status {
                                        url: url_owned.clone(),
                                        status,
                                        message,
                                    }
                                }));
                            }
                        }
                    }
                    Some(Ok(Down::End(status, message))) => {
                        break ClientError::Status {
                            url: url_owned.clone(),
                            status,
                            message,
                        };
                    }
                    Some(Err(e)) => break e,
                    None => {
                        break ClientError::Body {
                            url: url_owned.clone(),
                            reason: "the server ended the call stream".into(),
                        };
                    }
                }
            };
            debug!(url = %url_owned, reason = %why, "call stream closed");
            let mut w = lock(&reader);
            for (_, waiter) in w.calls.drain() {
                let _ = waiter.send(Err(why.clone()));
            }
            w.closed = Some(why);
        });
        Ok(CallStream {
            url: url.to_string(),
            up,
            waiting,
            timeout,
            _req: PhantomData,
        })
    }

    /// Whether the stream still takes calls.
    pub fn is_open(&self) -> bool {
        lock(&self.waiting).closed.is_none() && !self.up.is_closed()
    }

    /// Makes one call and waits for its answer (at most the stream's
    /// timeout). Errors are those of a plain request to the same route.
    pub async fn call(&self, body: &Req) -> Result<Resp, ClientError> {
        self.call_within(body, self.timeout).await
    }

    /// As [`CallStream::call`], waiting at most `timeout` for this answer.
    pub async fn call_within(&self, body: &Req, timeout: Duration) -> Result<Resp, ClientError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut w = lock(&self.waiting);
            if let Some(why) = &w.closed {
                return Err(why.clone());
            }
            let id = w.next_id;
            w.next_id += 1;
            w.calls.insert(id, tx);
            id
        };
        // However this call ends (an error, a timeout, or its future
        // dropped by the caller), its waiter does not outlive it.
        let _forget = Forget {
            waiting: &self.waiting,
            id,
        };
        let frame = frame(&Call { id, body }).map_err(|reason| ClientError::Decode {
            url: self.url.clone(),
            reason,
        })?;
        cairn_counters::inc(cairn_counters::Counter::Frame);
        if self.up.send(frame).await.is_err() {
            return Err(ClientError::Body {
                url: self.url.clone(),
                reason: "the call stream's connection is closed".into(),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ClientError::Body {
                url: self.url.clone(),
                reason: "the call stream closed before answering".into(),
            }),
            Err(_) => Err(ClientError::Timeout {
                url: self.url.clone(),
            }),
        }
    }
}

/// Removes a call's waiter when the call ends (a no-op once answered).
struct Forget<'a, Resp> {
    waiting: &'a Mutex<Waiting<Resp>>,
    id: u64,
}

impl<Resp> Drop for Forget<'_, Resp> {
    fn drop(&mut self) {
        lock(self.waiting).calls.remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn frame<T: Serialize>(value: &T) -> Result<Bytes, String> {
    let body = postcard::to_stdvec(value).map_err(|e| format!("encoding the call: {e}"))?;
    let len = u32::try_from(body.len()).map_err(|_| "call too large".to_string())?;
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(Bytes::from(out))
}

/// The request body of a call stream: the frames [`CallStream::call`] queues.
pub(crate) struct UpBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for UpBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|frame| frame.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// Call streams to several servers on one route, opened on first use and
/// again after one ends.
pub struct StreamPool<Req, Resp> {
    path: &'static str,
    timeout: Duration,
    streams: tokio::sync::Mutex<HashMap<String, Arc<CallStream<Req, Resp>>>>,
}

impl<Req, Resp> std::fmt::Debug for StreamPool<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPool")
            .field("path", &self.path)
            .finish()
    }
}

impl<Req, Resp> StreamPool<Req, Resp>
where
    Req: Serialize,
    Resp: DeserializeOwned + Send + 'static,
{
    /// A pool of streams to `path` on each server, calls limited to `timeout`.
    pub fn new(path: &'static str, timeout: Duration) -> StreamPool<Req, Resp> {
        StreamPool {
            path,
            timeout,
            streams: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Calls the server at `base` (`https://host:port`) over its open
    /// stream, opening one through `client` if there is none.
    pub async fn call(&self, client: &Client, base: &str, body: &Req) -> Result<Resp, ClientError> {
        self.call_within(client, base, body, self.timeout).await
    }

    /// As [`StreamPool::call`], waiting at most `timeout` for this answer.
    pub async fn call_within(
        &self,
        client: &Client,
        base: &str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, ClientError> {
        let stream = {
            let mut streams = self.streams.lock().await;
            match streams.get(base) {
                Some(s) if s.is_open() => s.clone(),
                _ => {
                    let url = format!("{}{}", base.trim_end_matches('/'), self.path);
                    streams.remove(base);
                    let s = Arc::new(CallStream::open(client, &url, self.timeout).await?);
                    streams.insert(base.to_string(), s.clone());
                    s
                }
            }
        };
        stream.call_within(body, timeout).await
    }
}
