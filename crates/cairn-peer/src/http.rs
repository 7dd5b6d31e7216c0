//! The HTTP/JSON API under `/api/v1`, on the same mutual TLS listener as
//! the postcard API, described by the OpenAPI document at `/openapi.json`.
//!
//! Bytes travel as lowercase hex. Clients that cannot build Cairn's
//! canonical encoding use the two-step flow Fabric Gateway uses: `POST
//! /channels/{channel}/proposals` returns the proposal bytes to sign,
//! `POST /gateway/endorse` returns the transaction bytes to sign, and `POST
//! /gateway/submit` takes them with the client's signature. The peer never
//! signs for a client. `POST /channels/{channel}/evaluate` runs a query as
//! the TLS caller, whose identity the handshake proved.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_crypto::Identity;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::tx::{
    EndorsedTx, Envelope, Invocation, Proposal, Response as ContractResponse, SignedProposal,
    Transaction,
};
use cairn_net::{ApiError, Caller};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::api::EndorseRequest;
use crate::endorse::{self, Checked};
use crate::gateway;
use crate::node::Shared;
use crate::service::{counted, read_block, read_tx};

mod network;

pub use network::{OrdererDoc, PeerDoc, WritesDoc};

/// A contract call as JSON: string arguments and transient values (UTF-8).
/// Its `Debug` shows the transient keys, never the values.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct InvokeDoc {
    /// The contract name.
    pub contract: String,
    /// The function, e.g. `ReadAsset` or `Contract:function`.
    pub function: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Private inputs; never written to the ledger.
    #[serde(default)]
    pub transient: BTreeMap<String, String>,
}

impl std::fmt::Debug for InvokeDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transient: BTreeMap<&str, &str> = self
            .transient
            .keys()
            .map(|k| (k.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("InvokeDoc")
            .field("contract", &self.contract)
            .field("function", &self.function)
            .field("args", &self.args)
            .field("transient", &transient)
            .finish()
    }
}

/// A contract's response.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ResultDoc {
    /// 200 for success.
    pub status: u32,
    /// The error message, if any.
    pub message: String,
    /// The returned bytes, hex.
    pub payload: String,
    /// The returned bytes as text, when they are UTF-8.
    pub text: Option<String>,
}

/// A proposal the client signed. Its `Debug` shows sizes only: the
/// encoded proposal holds the transient map.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedProposalDoc {
    /// The encoded proposal, hex.
    pub proposal: String,
    /// The creator's signature over those bytes, hex.
    pub signature: String,
    /// Only these orgs endorse (default: the gateway's plan).
    #[serde(default)]
    pub endorsing_orgs: Vec<String>,
}

/// A proposal built for the TLS caller, to sign. Its `Debug` shows sizes
/// only: the encoded proposal holds the transient map.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct PreparedProposalDoc {
    /// Its transaction id.
    pub txid: String,
    /// The encoded proposal, hex: sign these bytes.
    pub proposal: String,
}

impl std::fmt::Debug for SignedProposalDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedProposalDoc")
            .field(
                "proposal",
                &format_args!("<{} hex digits>", self.proposal.len()),
            )
            .field(
                "signature",
                &format_args!("<{} hex digits>", self.signature.len()),
            )
            .field("endorsing_orgs", &self.endorsing_orgs)
            .finish()
    }
}

impl std::fmt::Debug for PreparedProposalDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedProposalDoc")
            .field("txid", &self.txid)
            .field(
                "proposal",
                &format_args!("<{} hex digits>", self.proposal.len()),
            )
            .finish()
    }
}

/// Endorsements collected; the transaction bytes for the client to sign.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EndorsedDoc {
    /// The transaction id.
    pub txid: String,
    /// The endorsing orgs.
    pub endorsers: Vec<String>,
    /// The contract's response.
    pub result: ResultDoc,
    /// The encoded transaction, hex: sign these bytes and submit them.
    pub transaction: String,
}

/// A transaction the client signed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedTransactionDoc {
    /// The encoded transaction from `/gateway/endorse`, hex.
    pub transaction: String,
    /// The client's signature over those bytes, hex.
    pub signature: String,
}

/// Where a transaction landed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusDoc {
    /// The transaction id.
    pub txid: String,
    /// Its block.
    pub block: u64,
    /// Its validation code, e.g. `VALID` or `MVCC_READ_CONFLICT`.
    pub code: String,
}

/// A joined channel.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelDoc {
    /// Name.
    pub name: String,
    /// Blocks committed on this peer.
    pub height: u64,
    /// Configuration sequence.
    pub config_sequence: u64,
    /// Member orgs.
    pub orgs: Vec<String>,
    /// The orderer blocks come from now.
    pub orderer: Option<String>,
}

/// A block with a summary.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockDoc {
    /// Its number.
    pub number: u64,
    /// Its header hash, hex.
    pub hash: String,
    /// Validation codes of its transactions.
    pub validation_codes: Vec<String>,
    /// The whole block (bytes as hex).
    #[schema(value_type = Object)]
    pub block: serde_json::Value,
}

/// A transaction with its place in the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TxDoc {
    /// Its id.
    pub txid: String,
    /// Its block.
    pub block: u64,
    /// Its index in the block.
    pub index: u32,
    /// Its validation code.
    pub code: String,
    /// The transaction the client signed (bytes as hex).
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// An error.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDoc {
    /// What went wrong and what to do.
    pub error: String,
}

/// Query of the status endpoint.
#[derive(Clone, Debug, Deserialize, IntoParams)]
pub struct WaitQuery {
    /// Wait this long for the commit, in milliseconds (default 0).
    #[serde(default)]
    pub wait_ms: u64,
}

/// The OpenAPI description of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn peer API",
        description = "Channels, blocks, transactions and the gateway of one Cairn peer. Every call is over mutual TLS with an org certificate."
    ),
    paths(
        channels,
        channel,
        block,
        transaction,
        status,
        network::peers,
        network::config,
        network::orderers,
        network::receipt,
        network::writes,
        evaluate,
        prepare,
        gateway_evaluate,
        gateway_endorse,
        gateway_submit
    ),
    components(schemas(
        InvokeDoc,
        ResultDoc,
        SignedProposalDoc,
        PreparedProposalDoc,
        EndorsedDoc,
        SignedTransactionDoc,
        StatusDoc,
        ChannelDoc,
        BlockDoc,
        TxDoc,
        WritesDoc,
        OrdererDoc,
        PeerDoc,
        ErrorDoc
    ))
)]
pub struct ApiDoc;

/// An error answer as JSON.
pub(crate) struct JsonError(ApiError);

impl From<ApiError> for JsonError {
    fn from(e: ApiError) -> Self {
        JsonError(e)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let body = ErrorDoc {
            error: self.0.message().to_string(),
        };
        (self.0.status(), Json(body)).into_response()
    }
}

pub(crate) type JsonResult<T> = Result<Json<T>, JsonError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/api/v1/channels", get(channels))
        .route("/api/v1/channels/{channel}", get(channel))
        .route("/api/v1/channels/{channel}/blocks/{number}", get(block))
        .route(
            "/api/v1/channels/{channel}/transactions/{txid}",
            get(transaction),
        )
        .route(
            "/api/v1/channels/{channel}/transactions/{txid}/status",
            get(status),
        )
        .route("/api/v1/peers", get(network::peers))
        .route("/api/v1/channels/{channel}/config", get(network::config))
        .route(
            "/api/v1/channels/{channel}/orderers",
            get(network::orderers),
        )
        .route(
            "/api/v1/channels/{channel}/transactions/{txid}/receipt",
            get(network::receipt),
        )
        .route(
            "/api/v1/channels/{channel}/transactions/{txid}/writes",
            get(network::writes),
        )
        .route("/api/v1/channels/{channel}/evaluate", post(evaluate))
        .route("/api/v1/channels/{channel}/proposals", post(prepare))
        .route("/api/v1/gateway/evaluate", post(gateway_evaluate))
        .route("/api/v1/gateway/endorse", post(gateway_endorse))
        .route("/api/v1/gateway/submit", post(gateway_submit))
        .with_state(shared)
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => JsonError(ApiError::internal(e)).into_response(),
    }
}

fn hex_field(name: &str, text: &str) -> Result<Vec<u8>, JsonError> {
    hex::decode(text.trim())
        .map_err(|e| JsonError(ApiError::bad_request(format!("{name} is not hex: {e}"))))
}

fn result_doc(r: &ContractResponse) -> ResultDoc {
    ResultDoc {
        status: r.status,
        message: r.message.clone(),
        payload: hex::encode(&r.payload),
        text: String::from_utf8(r.payload.clone()).ok(),
    }
}

pub(crate) fn json_value<T: Serialize>(v: &T) -> Result<serde_json::Value, JsonError> {
    serde_json::to_value(v).map_err(|e| JsonError(ApiError::internal(e)))
}

/// Lists the channels this peer has joined that the caller may read.
#[utoipa::path(get, path = "/api/v1/channels", responses((status = 200, body = Vec<ChannelDoc>)))]
async fn channels(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
) -> Json<Vec<ChannelDoc>> {
    Json(
        shared
            .readable_channels(&caller)
            .iter()
            .map(|c| channel_doc(c.info()))
            .collect(),
    )
}

fn channel_doc(i: crate::api::ChannelInfo) -> ChannelDoc {
    ChannelDoc {
        name: i.name,
        height: i.height,
        config_sequence: i.config_sequence,
        orgs: i.orgs,
        orderer: i.orderer,
    }
}

/// One joined channel, with its height.
#[utoipa::path(get, path = "/api/v1/channels/{channel}",
    params(("channel" = String, Path, description = "Channel name")),
    responses((status = 200, body = ChannelDoc), (status = 404, body = ErrorDoc)))]
async fn channel(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> JsonResult<ChannelDoc> {
    let c = shared.channel_or_404(&name)?;
    c.reader(&caller)?;
    Ok(Json(channel_doc(c.info())))
}

/// A block by number.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/blocks/{number}",
    params(("channel" = String, Path, description = "Channel name"), ("number" = u64, Path, description = "Block number")),
    responses((status = 200, body = BlockDoc), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn block(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, number)): Path<(String, u64)>,
) -> JsonResult<BlockDoc> {
    let b = read_block(&shared, &caller, &channel, number)?;
    Ok(Json(BlockDoc {
        number: b.header.number,
        hash: b.header.hash().map_err(ApiError::internal)?.to_string(),
        validation_codes: b
            .metadata
            .validation_codes
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        block: json_value(&b)?,
    }))
}

/// A transaction by id.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/transactions/{txid}",
    params(("channel" = String, Path, description = "Channel name"), ("txid" = String, Path, description = "Transaction id, hex")),
    responses((status = 200, body = TxDoc), (status = 404, body = ErrorDoc)))]
async fn transaction(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
) -> JsonResult<TxDoc> {
    let r = read_tx(&shared, &caller, &channel, &txid)?;
    let tx = r
        .envelope
        .transaction()
        .map_err(|e| JsonError(ApiError::internal(e)))?;
    Ok(Json(TxDoc {
        txid: r.txid.to_string(),
        block: r.block,
        index: r.index,
        code: r.code.name().to_string(),
        transaction: json_value(&tx)?,
    }))
}

/// The commit status of a transaction on this peer, waiting up to `wait_ms`.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/transactions/{txid}/status",
    params(("channel" = String, Path, description = "Channel name"), ("txid" = String, Path, description = "Transaction id, hex"), WaitQuery),
    responses((status = 200, body = StatusDoc), (status = 408, body = ErrorDoc)))]
async fn status(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
    Query(q): Query<WaitQuery>,
) -> JsonResult<StatusDoc> {
    let c = shared.channel_or_404(&channel)?;
    c.reader(&caller)?;
    let id: TxId = txid
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{txid:?} is not a transaction id")))?;
    let wait = Duration::from_millis(q.wait_ms.min(shared.config.gateway.max_commit_wait_ms));
    let s = counted(
        &shared,
        "commit_status",
        gateway::commit_status(&c, &id, wait).await,
    )?;
    Ok(Json(StatusDoc {
        txid: s.txid.to_string(),
        block: s.block,
        code: s.code.name().to_string(),
    }))
}

/// A proposal for the TLS caller (no signature: the handshake proved who it is).
fn caller_proposal(channel: &str, caller: &Identity, call: InvokeDoc) -> Proposal {
    let mut nonce = vec![0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let creator = caller.der().to_vec();
    Proposal {
        header: cairn_ledger::tx::TxHeader {
            channel: channel.to_string(),
            txid: TxId::compute(&nonce, &creator),
            creator,
            nonce,
            timestamp: Timestamp::now(),
        },
        invocation: Invocation {
            contract: call.contract,
            function: call.function,
            args: call.args.into_iter().map(String::into_bytes).collect(),
            is_init: false,
        },
        transient: call
            .transient
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
    }
}

/// Runs a query as the TLS caller, on this peer, without ordering.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/evaluate",
    params(("channel" = String, Path, description = "Channel name")),
    request_body = InvokeDoc,
    responses((status = 200, body = ResultDoc), (status = 403, body = ErrorDoc), (status = 422, body = ErrorDoc)))]
async fn evaluate(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    Json(call): Json<InvokeDoc>,
) -> JsonResult<ResultDoc> {
    let channel = shared.channel_or_404(&name)?;
    let creator = channel.member(caller.der(), "the caller")?;
    channel.require(&creator, "Readers", "the caller")?;
    let checked = Checked {
        proposal: caller_proposal(&name, &caller, call),
        creator,
        channel,
    };
    let r = counted(
        &shared,
        "evaluate",
        endorse::simulate(&shared, &checked).await,
    )?;
    Ok(Json(result_doc(&r.response)))
}

/// Builds a proposal for the TLS caller to sign.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/proposals",
    params(("channel" = String, Path, description = "Channel name")),
    request_body = InvokeDoc,
    responses((status = 200, body = PreparedProposalDoc), (status = 403, body = ErrorDoc)))]
async fn prepare(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    Json(call): Json<InvokeDoc>,
) -> JsonResult<PreparedProposalDoc> {
    let channel = shared.channel_or_404(&name)?;
    channel.member(caller.der(), "the caller")?;
    let p = caller_proposal(&name, &caller, call);
    Ok(Json(PreparedProposalDoc {
        txid: p.header.txid.to_string(),
        proposal: hex::encode(p.encode().map_err(ApiError::internal)?),
    }))
}

fn signed_proposal(doc: &SignedProposalDoc) -> Result<SignedProposal, JsonError> {
    Ok(SignedProposal {
        proposal: hex_field("proposal", &doc.proposal)?,
        signature: hex_field("signature", &doc.signature)?,
    })
}

/// Runs a signed query on this peer, without ordering.
#[utoipa::path(post, path = "/api/v1/gateway/evaluate", request_body = SignedProposalDoc,
    responses((status = 200, body = ResultDoc), (status = 403, body = ErrorDoc), (status = 422, body = ErrorDoc)))]
async fn gateway_evaluate(
    State(shared): State<Arc<Shared>>,
    Json(doc): Json<SignedProposalDoc>,
) -> JsonResult<ResultDoc> {
    let signed = signed_proposal(&doc)?;
    let r = counted(
        &shared,
        "evaluate",
        gateway::evaluate(&shared, &signed).await,
    )?;
    Ok(Json(result_doc(&r)))
}

/// Collects endorsements for a signed proposal; answers the transaction to sign.
#[utoipa::path(post, path = "/api/v1/gateway/endorse", request_body = SignedProposalDoc,
    responses((status = 200, body = EndorsedDoc), (status = 403, body = ErrorDoc), (status = 409, body = ErrorDoc), (status = 422, body = ErrorDoc)))]
async fn gateway_endorse(
    State(shared): State<Arc<Shared>>,
    Json(doc): Json<SignedProposalDoc>,
) -> JsonResult<EndorsedDoc> {
    let request = EndorseRequest {
        proposal: signed_proposal(&doc)?,
        endorsing_orgs: doc.endorsing_orgs.clone(),
    };
    let proposal = Proposal::decode(&request.proposal.proposal)
        .map_err(|e| ApiError::bad_request(format!("not a valid proposal: {e}")))?;
    let r = counted(
        &shared,
        "endorse",
        gateway::endorse(&shared, &request).await,
    )?;
    let first = r
        .responses
        .first()
        .ok_or_else(|| ApiError::internal("no endorsements collected"))?;
    let tx = Transaction::Endorsed(EndorsedTx {
        header: proposal.header,
        invocation: proposal.invocation,
        response_payload: first.payload.clone(),
        endorsements: r.responses.iter().map(|x| x.endorsement.clone()).collect(),
    });
    Ok(Json(EndorsedDoc {
        txid: r.txid.to_string(),
        endorsers: r.endorsers,
        result: result_doc(&r.result),
        transaction: hex::encode(tx.encode().map_err(ApiError::internal)?),
    }))
}

/// Orders a transaction the client signed; answers once it is in a block.
#[utoipa::path(post, path = "/api/v1/gateway/submit", request_body = SignedTransactionDoc,
    responses((status = 200, body = StatusDoc), (status = 403, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn gateway_submit(
    State(shared): State<Arc<Shared>>,
    Json(doc): Json<SignedTransactionDoc>,
) -> JsonResult<StatusDoc> {
    let envelope = Envelope {
        payload: hex_field("transaction", &doc.transaction)?,
        signature: hex_field("signature", &doc.signature)?,
    };
    let r = counted(&shared, "submit", gateway::submit(&shared, &envelope).await)?;
    Ok(Json(StatusDoc {
        txid: r.txid.to_string(),
        block: r.block,
        code: r.code.name().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_proposal_documents_shows_no_transient_value() {
        let marker = "transient-marker-7f3a";
        let creator = b"creator".to_vec();
        let nonce = vec![1u8; 24];
        let proposal = Proposal {
            header: cairn_ledger::tx::TxHeader {
                channel: "ch".into(),
                txid: TxId::compute(&nonce, &creator),
                creator,
                nonce,
                timestamp: Timestamp::now(),
            },
            invocation: Invocation {
                contract: "cc".into(),
                function: "put".into(),
                args: Vec::new(),
                is_init: false,
            },
            transient: [("value".to_string(), marker.as_bytes().to_vec())].into(),
        };
        let hex_proposal = hex::encode(proposal.encode().unwrap());
        assert!(
            hex_proposal.contains(&hex::encode(marker)),
            "control: the hex holds it"
        );
        let signed = SignedProposalDoc {
            proposal: hex_proposal.clone(),
            signature: "00".into(),
            endorsing_orgs: vec!["Org1MSP".into()],
        };
        let prepared = PreparedProposalDoc {
            txid: proposal.header.txid.to_string(),
            proposal: hex_proposal,
        };
        for text in [format!("{signed:?}"), format!("{prepared:?}")] {
            assert!(!text.contains(&hex::encode(marker)), "{text}");
            assert!(!text.contains(marker), "{text}");
            assert!(text.contains("hex digits"), "{text}");
        }
    }

    #[test]
    fn openapi_document_lists_every_path() {
        let doc = ApiDoc::openapi().to_pretty_json().unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let paths = v["paths"].as_object().unwrap();
        for p in [
            "/api/v1/channels",
            "/api/v1/channels/{channel}/blocks/{number}",
            "/api/v1/channels/{channel}/transactions/{txid}",
            "/api/v1/channels/{channel}/transactions/{txid}/status",
            "/api/v1/channels/{channel}/transactions/{txid}/receipt",
            "/api/v1/channels/{channel}/transactions/{txid}/writes",
            "/api/v1/channels/{channel}/config",
            "/api/v1/channels/{channel}/orderers",
            "/api/v1/peers",
            "/api/v1/channels/{channel}/evaluate",
            "/api/v1/gateway/endorse",
            "/api/v1/gateway/submit",
        ] {
            assert!(paths.contains_key(p), "missing {p}");
        }
        assert!(v["components"]["schemas"]["EndorsedDoc"].is_object());
        assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    }
}
