//! The JSON API's network and ledger views the web console shows (and any
//! mutual-TLS client may call): channel configuration, orderers with their
//! Raft status, other peers with their heights, receipts, and what a
//! transaction wrote (private data as hashes, and in clear only to members
//! of its collection). Same checks as the rest
//! of [`crate::http`]: the caller must satisfy the channel's `Readers`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::Transaction;
use cairn_net::{ApiError, Caller};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorDoc, JsonResult, json_value};
use crate::node::Shared;
use crate::service::read_tx;

/// How long a status call to another node may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// Another peer (or this one) with the heights it reports.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerDoc {
    /// Its org.
    pub msp_id: String,
    /// Its base URL (none for this peer).
    pub url: Option<String>,
    /// Whether it is the peer answering.
    pub this_peer: bool,
    /// Channel name and height, for the channels it shares with the caller.
    pub heights: Vec<(String, u64)>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// What a transaction wrote, as the ledger holds it: public writes in the
/// clear, private data collections as hashes only (their values stay with
/// the collections' members, whoever asks).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WritesDoc {
    /// Its id.
    pub txid: String,
    /// Its block.
    pub block: u64,
    /// Its validation code; only `VALID` writes changed the state.
    pub code: String,
    /// The creator's org.
    pub creator_msp_id: String,
    /// The creator's certificate subject.
    pub creator: String,
    /// The contract that ran (none for a configuration transaction).
    pub contract: Option<String>,
    /// The function called.
    pub function: Option<String>,
    /// The endorsers' orgs, in the transaction's order.
    pub endorsers: Vec<String>,
    /// Public writes: namespace, key, delete flag, value (text or hex).
    #[schema(value_type = Vec<Object>)]
    pub public: Vec<serde_json::Value>,
    /// Hashed private writes: namespace, collection, key and value hashes.
    #[schema(value_type = Vec<Object>)]
    pub private_hashes: Vec<serde_json::Value>,
    /// Cleartext private writes, only of the collections the caller's org is
    /// a member of and as this peer holds them (the same filter as private
    /// data events): namespace, collection, key, delete flag, value.
    #[schema(value_type = Vec<Object>)]
    pub private_values: Vec<serde_json::Value>,
}

/// One orderer of a channel as it reports itself (Raft).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrdererDoc {
    /// Its Raft node id.
    pub id: u64,
    /// Its org.
    pub msp_id: String,
    /// Its base URL.
    pub url: String,
    /// Blocks in its ledger (none if it did not answer).
    pub height: Option<u64>,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// Whether it says it is the leader.
    pub is_leader: bool,
    /// Its Raft term.
    pub term: Option<u64>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// The channel's configuration in force: orgs (with their CA certificates),
/// orderer orgs and endpoints, policies, block cutting.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/config",
    params(("channel" = String, Path, description = "Channel name")),
    responses((status = 200, body = Object), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub(super) async fn config(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> JsonResult<serde_json::Value> {
    let c = shared.channel_or_404(&name)?;
    c.reader(&caller)?;
    Ok(Json(json_value(&c.ledger.config())?))
}

/// The channel's orderers with their Raft status (leader, term, height),
/// asked by this peer.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/orderers",
    params(("channel" = String, Path, description = "Channel name")),
    responses((status = 200, body = Vec<OrdererDoc>), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub(super) async fn orderers(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> JsonResult<Vec<OrdererDoc>> {
    let c = shared.channel_or_404(&name)?;
    c.reader(&caller)?;
    let asks = c.ledger.config().orderers.into_iter().map(|o| {
        let client = shared.client.clone();
        async move {
            let status =
                tokio::time::timeout(STATUS_TIMEOUT, cairn_orderer::api::status(&client, &o.url))
                    .await;
            let mut doc = OrdererDoc {
                id: o.id,
                msp_id: o.msp_id,
                url: o.url,
                height: None,
                leader: None,
                is_leader: false,
                term: None,
                error: None,
            };
            match status {
                Ok(Ok(s)) => {
                    doc.height = Some(s.height);
                    doc.leader = s.leader;
                    doc.is_leader = s.leader == Some(s.id);
                    doc.term = Some(s.term);
                }
                Ok(Err(e)) => doc.error = Some(e.to_string()),
                Err(_) => doc.error = Some("no answer within 2 s".to_string()),
            }
            doc
        }
    });
    Ok(Json(futures_util::future::join_all(asks).await))
}

/// A transaction's receipt, verifiable offline (`cairn receipt verify`) and
/// in the web console.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/transactions/{txid}/receipt",
    params(("channel" = String, Path, description = "Channel name"), ("txid" = String, Path, description = "Transaction id, hex")),
    responses((status = 200, body = Object), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub(super) async fn receipt(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
) -> JsonResult<serde_json::Value> {
    // Same checks and 404 as the transaction itself.
    let r = read_tx(&shared, &caller, &channel, &txid)?;
    let c = shared.channel_or_404(&channel)?;
    let receipt = c.ledger.receipt(&r.txid).map_err(ApiError::internal)?;
    Ok(Json(json_value(&receipt)?))
}

/// What a transaction wrote: public writes, and private ones as hashes.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/transactions/{txid}/writes",
    params(("channel" = String, Path, description = "Channel name"), ("txid" = String, Path, description = "Transaction id, hex")),
    responses((status = 200, body = WritesDoc), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub(super) async fn writes(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
    Path((channel, txid)): Path<(String, String)>,
) -> JsonResult<WritesDoc> {
    let r = read_tx(&shared, &caller, &channel, &txid)?;
    let tx = r.envelope.transaction().map_err(ApiError::internal)?;
    let creator = cairn_crypto::Identity::parse_unvalidated(&tx.header().creator)
        .map_err(ApiError::internal)?;
    let mut doc = WritesDoc {
        txid: r.txid.to_string(),
        block: r.block,
        code: r.code.name().to_string(),
        creator_msp_id: creator.msp_id().to_string(),
        creator: creator.subject().to_string(),
        contract: None,
        function: None,
        endorsers: Vec::new(),
        public: Vec::new(),
        private_hashes: Vec::new(),
        private_values: Vec::new(),
    };
    let Transaction::Endorsed(tx) = tx else {
        return Ok(Json(doc));
    };
    doc.contract = Some(tx.invocation.contract.clone());
    doc.function = Some(tx.invocation.function.clone());
    for e in &tx.endorsements {
        if let Ok(id) = cairn_crypto::Identity::parse_unvalidated(&e.endorser) {
            doc.endorsers.push(id.msp_id().to_string());
        }
    }
    let payload = cairn_ledger::tx::ProposalResponsePayload::decode(&tx.response_payload)
        .map_err(ApiError::internal)?;
    for ns in &payload.rwset.namespaces {
        for w in &ns.writes {
            doc.public.push(serde_json::json!({
                "namespace": ns.namespace,
                "key": w.key,
                "delete": w.is_delete,
                "value": value_json(&w.value),
            }));
        }
        for c in &ns.collections {
            for w in &c.hashed_writes {
                doc.private_hashes.push(serde_json::json!({
                    "namespace": ns.namespace,
                    "collection": c.collection,
                    "key_hash": w.key_hash.to_string(),
                    "value_hash": w.value_hash.to_string(),
                    "delete": w.is_delete,
                    "purge": w.is_purge,
                }));
            }
        }
    }
    let c = shared.channel_or_404(&channel)?;
    let held = crate::private::block_private_for(&c, r.block, caller.msp_id())?;
    for (_, writes) in held.into_iter().filter(|(i, _)| *i == r.index) {
        for ns in &writes.namespaces {
            for col in &ns.collections {
                for w in &col.writes {
                    doc.private_values.push(serde_json::json!({
                        "namespace": ns.namespace,
                        "collection": col.collection,
                        "key": w.key,
                        "delete": w.is_delete,
                        "value": value_json(&w.value),
                    }));
                }
            }
        }
    }
    Ok(Json(doc))
}

/// A value as text when it is UTF-8, else as hex.
fn value_json(value: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(value) {
        Ok(text) => serde_json::json!({ "text": text }),
        Err(_) => serde_json::json!({ "hex": hex::encode(value) }),
    }
}

/// This peer and the peers it knows (its gateway list) of the orgs in the
/// caller's channels, with the heights each reports.
#[utoipa::path(get, path = "/api/v1/peers",
    responses((status = 200, body = Vec<PeerDoc>)))]
pub(super) async fn peers(
    State(shared): State<Arc<Shared>>,
    Caller(caller): Caller,
) -> Json<Vec<PeerDoc>> {
    let readable = shared.readable_channels(&caller);
    let names: Vec<String> = readable.iter().map(|c| c.name.clone()).collect();
    let orgs: std::collections::BTreeSet<String> =
        readable.iter().flat_map(|c| c.info().orgs).collect();
    let mut out = vec![PeerDoc {
        msp_id: shared.msp_id().to_string(),
        url: None,
        this_peer: true,
        heights: readable
            .iter()
            .map(|c| (c.name.clone(), c.ledger.height()))
            .collect(),
        error: None,
    }];
    let asks = shared
        .config
        .gateway_peers
        .iter()
        .filter(|p| orgs.contains(&p.msp_id))
        .map(|p| {
            let client = shared.client.clone();
            let names = names.clone();
            async move {
                let answer =
                    tokio::time::timeout(STATUS_TIMEOUT, crate::api::channels(&client, &p.url))
                        .await;
                let mut doc = PeerDoc {
                    msp_id: p.msp_id.clone(),
                    url: Some(p.url.clone()),
                    this_peer: false,
                    heights: Vec::new(),
                    error: None,
                };
                match answer {
                    Ok(Ok(channels)) => {
                        doc.heights = channels
                            .into_iter()
                            .filter(|c| names.contains(&c.name))
                            .map(|c| (c.name, c.height))
                            .collect();
                    }
                    Ok(Err(e)) => doc.error = Some(e.to_string()),
                    Err(_) => doc.error = Some("no answer within 2 s".to_string()),
                }
                doc
            }
        });
    out.extend(futures_util::future::join_all(asks).await);
    Json(out)
}
