//! The peer's postcard API over mutual TLS, and typed client calls for
//! gateways, the CLI and tests. The JSON API (`/api/v1/...`) is in
//! [`crate::http`].
//!
//! | method and path | who may call | body → answer |
//! |---|---|---|
//! | `POST /endorse` | any identity; the proposal's creator must satisfy the channel's `Writers` | [`SignedProposal`] → [`ProposalResponse`] |
//! | `POST /gateway/evaluate` | creator satisfies `Readers` | [`SignedProposal`] → [`Response`] |
//! | `POST /endorse/stream` | as `/endorse`, checked per call | a call stream (`cairn_net::serve_calls`) of [`SignedProposal`]s, each answered as `/endorse` answers it |
//! | `POST /gateway/endorse` | creator satisfies `Writers` | [`EndorseRequest`] → [`EndorseResponse`] |
//! | `POST /gateway/submit[?wait_ms=N]` | any identity (the orderer checks `Writers`); with `wait_ms`, a caller satisfying `Readers` | [`Envelope`] → [`BroadcastResponse`]; with `wait_ms`, once this peer committed it, with this peer's code ([`SubmitQuery`]) |
//! | `POST /gateway/stream` | per call, as the unary route it stands for | a call stream (`cairn_net::serve_calls`) of [`GatewayCall`]s (evaluate, endorse, submit with its wait), each answered as its unary route answers it, for clients that send many transactions ([`crate::GatewayClient`] does) |
//! | `POST /gateway/commit-status` | caller satisfies `Readers` | [`CommitStatusRequest`] → [`CommitStatus`] |
//! | `GET /channels` | any identity | `Vec<`[`ChannelInfo`]`>` |
//! | `GET /counters` | any identity | this process's event counters (`cairn_counters::snapshot`): signature checks, decodes, durable commits, requests per route |
//! | `GET /channels/{ch}/blocks/{n}` | caller satisfies `Readers` | [`Block`] |
//! | `GET /channels/{ch}/txs/{txid}` | caller satisfies `Readers` | [`TxRecord`] |
//! | `GET /channels/{ch}/receipts/{txid}` | caller satisfies `Readers` | [`Receipt`] (verifiable offline) |
//! | `GET /channels/{ch}/config` | caller satisfies `Readers` | the [`ChannelConfig`] in force |
//! | `GET /channels/{ch}/events/blocks?from=N` | caller satisfies `Readers` | endless stream of [`Block`]s |
//! | `GET /channels/{ch}/events/txs?from=N` | caller satisfies `Readers` | endless stream of [`BlockTxStatuses`], one per block |
//! | `GET /channels/{ch}/events/contract?from=N&contract=C[&name=E]` | caller satisfies `Readers` | endless stream of [`ContractEventRecord`]s |
//! | `GET /channels/{ch}/events/blocks?from=N&private=true` | caller satisfies `Readers` | endless stream of [`PrivateBlockEvent`]s: each block with the private writes of collections the caller's org is a member of |
//! | `POST /private/push` | the peer that endorsed the transaction, of an org that is a member of every collection pushed | [`PushRequest`] → `()`; refused unless this peer's org is a member too and the writes match the hashes the endorsement signs |
//! | `POST /private/fetch` | peers of channel orgs (reconciliation) | [`FetchRequest`] → `Vec<`[`FetchedPrivateData`]`>`: only collections the caller's org is a member of |
//! | `POST /admin/channels` | admins of this peer's org | genesis [`Block`] → [`ChannelInfo`] |
//! | `GET /admin/packages`, `POST /admin/packages` | admins of this peer's org | → `Vec<`[`InstalledInfo`]`>`, archive bytes → package id |
//!
//! Refusals are HTTP statuses with a message: 400 malformed, 403 not
//! allowed (the message names the channel and policy), 404 unknown channel,
//! block, transaction or contract, 408 not committed in time, 409 endorsers
//! disagree or txid already used, 422 the contract refused (its message),
//! 503 no orderer reachable.

use cairn_ledger::block::Block;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::ids::TxId;
use cairn_ledger::private::{MissingPrivateData, PrivateWriteSet};
use cairn_ledger::receipt::Receipt;
use cairn_ledger::tx::{
    Envelope, Invocation, ProposalResponse, Response, SignedProposal, TxHeader,
};
use cairn_ledger::validation::ValidationCode;
use cairn_net::{Client, ClientError, FrameStream};
pub use cairn_orderer::api::BroadcastResponse;
use serde::{Deserialize, Serialize};

/// A gateway endorsement request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorseRequest {
    /// The client-signed proposal.
    pub proposal: SignedProposal,
    /// If not empty, exactly these orgs endorse (Fabric Gateway's
    /// `endorsing_organizations`) instead of the plan the gateway derives
    /// from the endorsement policy.
    pub endorsing_orgs: Vec<String>,
}

/// Endorsements that agree byte for byte, ready for the client to assemble.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorseResponse {
    /// The transaction id.
    pub txid: TxId,
    /// One response per endorser, all with the same payload.
    pub responses: Vec<ProposalResponse>,
    /// The contract's response (the same in every endorsement).
    pub result: Response,
    /// The endorsing orgs' MSP ids, in the order of `responses`.
    pub endorsers: Vec<String>,
}

/// Query of `POST /gateway/submit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitQuery {
    /// Also wait (at most this long, capped by the gateway's
    /// `max_commit_wait_ms`) until the gateway's own peer committed the
    /// transaction, and answer with its block and code there: submit and
    /// commit status in one call. 0: answer once ordered.
    #[serde(default)]
    pub wait_ms: u64,
}

/// Path of the gateway's call stream.
pub const GATEWAY_STREAM: &str = "/gateway/stream";

/// One call on the gateway's stream: what the unary gateway routes take.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum GatewayCall {
    /// As `POST /gateway/evaluate`.
    Evaluate(SignedProposal),
    /// As `POST /gateway/endorse`.
    Endorse(EndorseRequest),
    /// As `POST /gateway/submit?wait_ms=N`.
    Submit {
        /// The client-signed envelope.
        envelope: Envelope,
        /// As [`SubmitQuery::wait_ms`].
        wait_ms: u64,
    },
}

/// The answer to a [`GatewayCall`], of the same kind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum GatewayAnswer {
    /// To [`GatewayCall::Evaluate`].
    Evaluated(Response),
    /// To [`GatewayCall::Endorse`].
    Endorsed(EndorseResponse),
    /// To [`GatewayCall::Submit`].
    Submitted(BroadcastResponse),
}

/// Gateway streams of a client, by gateway URL.
pub type GatewayStreams = cairn_net::StreamPool<GatewayCall, GatewayAnswer>;

/// Asks for a transaction's commit status on the gateway's peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatusRequest {
    /// The channel.
    pub channel: String,
    /// The transaction.
    pub txid: TxId,
    /// Wait at most this long for it to be committed (0: do not wait).
    pub wait_ms: u64,
}

/// Where a committed transaction is and how validation judged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    /// The transaction.
    pub txid: TxId,
    /// The block that holds it.
    pub block: u64,
    /// Its index in the block.
    pub index: u32,
    /// Its validation code (only `VALID` changed state).
    pub code: ValidationCode,
}

/// A channel this peer has joined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel name.
    pub name: String,
    /// Blocks committed on this peer.
    pub height: u64,
    /// The sequence of the configuration in force.
    pub config_sequence: u64,
    /// The member orgs' MSP ids.
    pub orgs: Vec<String>,
    /// The orderer the peer is pulling blocks from right now, if connected.
    pub orderer: Option<String>,
}

/// A transaction as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// Its id.
    pub txid: TxId,
    /// Its block.
    pub block: u64,
    /// Its index in the block.
    pub index: u32,
    /// Its validation code.
    pub code: ValidationCode,
    /// The client-signed envelope.
    pub envelope: Envelope,
}

/// One transaction's outcome, as blocks commit (Fabric's filtered blocks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatusEvent {
    /// Its block.
    pub block: u64,
    /// Its index in the block.
    pub index: u32,
    /// Its id (`None` for an envelope that did not decode).
    pub txid: Option<TxId>,
    /// Its validation code.
    pub code: ValidationCode,
}

/// The outcomes of one block's transactions: one frame of the
/// transaction event stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockTxStatuses {
    /// The block; resume after it with `from = block + 1`.
    pub block: u64,
    /// Each transaction's outcome, in block order.
    pub statuses: Vec<TxStatusEvent>,
}

/// A contract event of a valid transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEventRecord {
    /// The block; resume after it with `from = block + 1`.
    pub block: u64,
    /// The transaction's index in the block.
    pub index: u32,
    /// The transaction.
    pub txid: TxId,
    /// The emitting contract.
    pub contract: String,
    /// The event name.
    pub name: String,
    /// The event payload.
    pub payload: Vec<u8>,
}

/// An installed contract package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledInfo {
    /// The package id, `<label>:<hash>`.
    pub id: String,
    /// Its label.
    pub label: String,
}

/// Query of the block and transaction event streams.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventsQuery {
    /// The first block to report.
    pub from: u64,
    /// Blocks with private data ([`PrivateBlockEvent`]s) instead of bare
    /// blocks (block events only).
    #[serde(default)]
    pub private: bool,
}

/// A committed block with the private data the subscriber's org may hold
/// (Fabric's block-and-private-data events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateBlockEvent {
    /// The block (private data appears in it only as hashes).
    pub block: Block,
    /// Per transaction index, the cleartext writes of collections the
    /// subscriber's org is a member of, as this peer holds them when the
    /// event is sent (data still missing here is absent).
    pub private: Vec<(u32, PrivateWriteSet)>,
}

/// Private writes an endorser pushes to a peer of a member org, with the
/// endorsement it signed: the receiver takes them only from that endorser,
/// only for that transaction, and only if they match the hashes it signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The channel.
    pub channel: String,
    /// The transaction that wrote them.
    pub txid: TxId,
    /// The writes (one collection per push).
    pub writes: PrivateWriteSet,
    /// The proposal's header (binds the txid to the endorsement).
    pub header: TxHeader,
    /// The proposal's invocation (with the header, the proposal hash the
    /// endorsement signs; the transient map is not part of it).
    pub invocation: Invocation,
    /// The pushing endorser's signed response for this proposal.
    pub endorsement: ProposalResponse,
}

/// Asks a member peer for private data this peer is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The channel.
    pub channel: String,
    /// What is missing (from [`cairn_store::Ledger::missing_private_data`]).
    pub wanted: Vec<MissingPrivateData>,
}

/// Private writes of one committed transaction, as a member peer holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedPrivateData {
    /// The block.
    pub block: u64,
    /// The transaction's index in the block.
    pub tx: u32,
    /// The writes of the requested collections that this peer holds.
    pub writes: PrivateWriteSet,
}

/// Query of the contract event stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContractEventsQuery {
    /// The first block to report.
    pub from: u64,
    /// Only events of this contract.
    pub contract: String,
    /// Only events of this name (all names if absent).
    pub name: Option<String>,
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Path of the endorsement call stream (each call as `POST /endorse`).
pub const ENDORSE_STREAM: &str = "/endorse/stream";

/// Endorsement streams to the peers of one org (see [`ENDORSE_STREAM`]).
pub type EndorseStreams = cairn_net::StreamPool<SignedProposal, ProposalResponse>;

/// Asks the peer at `base` to endorse a proposal (no gateway logic).
pub async fn endorse(
    client: &Client,
    base: &str,
    proposal: &SignedProposal,
) -> Result<ProposalResponse, ClientError> {
    client.post(&url(base, "/endorse"), proposal).await
}

/// Runs a query on the gateway peer, without ordering.
pub async fn evaluate(
    client: &Client,
    base: &str,
    proposal: &SignedProposal,
) -> Result<Response, ClientError> {
    client.post(&url(base, "/gateway/evaluate"), proposal).await
}

/// Collects endorsements through the gateway peer at `base`.
pub async fn gateway_endorse(
    client: &Client,
    base: &str,
    request: &EndorseRequest,
) -> Result<EndorseResponse, ClientError> {
    client.post(&url(base, "/gateway/endorse"), request).await
}

/// Has the gateway order a client-signed envelope; answers once it is in a
/// committed block of the ordering service.
pub async fn submit(
    client: &Client,
    base: &str,
    envelope: &Envelope,
) -> Result<BroadcastResponse, ClientError> {
    let timeout = client.timeout().max(std::time::Duration::from_secs(35));
    client
        .post_within(&url(base, "/gateway/submit"), envelope, timeout)
        .await
}

/// Submits `envelope` and waits (up to `wait`) until the gateway peer
/// committed it: the answer carries that peer's block and code.
pub async fn submit_and_wait(
    client: &Client,
    base: &str,
    envelope: &Envelope,
    wait: std::time::Duration,
) -> Result<BroadcastResponse, ClientError> {
    let wait_ms = wait.as_millis() as u64;
    let timeout = client.timeout().max(std::time::Duration::from_secs(35)) + wait;
    client
        .post_within(
            &url(base, &format!("/gateway/submit?wait_ms={wait_ms}")),
            envelope,
            timeout,
        )
        .await
}

/// Waits (up to `request.wait_ms`) until the gateway peer committed the transaction.
pub async fn commit_status(
    client: &Client,
    base: &str,
    request: &CommitStatusRequest,
) -> Result<CommitStatus, ClientError> {
    let timeout = client.timeout() + std::time::Duration::from_millis(request.wait_ms);
    client
        .post_within(&url(base, "/gateway/commit-status"), request, timeout)
        .await
}

/// The channels the peer has joined.
pub async fn channels(client: &Client, base: &str) -> Result<Vec<ChannelInfo>, ClientError> {
    client.get(&url(base, "/channels")).await
}

/// Block `number` of `channel`.
pub async fn block(
    client: &Client,
    base: &str,
    channel: &str,
    number: u64,
) -> Result<Block, ClientError> {
    client
        .get(&url(base, &format!("/channels/{channel}/blocks/{number}")))
        .await
}

/// A transaction of `channel` by id.
pub async fn tx(
    client: &Client,
    base: &str,
    channel: &str,
    txid: &TxId,
) -> Result<TxRecord, ClientError> {
    client
        .get(&url(base, &format!("/channels/{channel}/txs/{txid}")))
        .await
}

/// Blocks of `channel` from `from` on, as the peer commits them.
pub async fn block_events(
    client: &Client,
    base: &str,
    channel: &str,
    from: u64,
) -> Result<FrameStream<Block>, ClientError> {
    client
        .frames(&url(
            base,
            &format!("/channels/{channel}/events/blocks?from={from}"),
        ))
        .await
}

/// Blocks of `channel` from `from` on, each with the private writes of the
/// collections the caller's org is a member of.
pub async fn private_block_events(
    client: &Client,
    base: &str,
    channel: &str,
    from: u64,
) -> Result<FrameStream<PrivateBlockEvent>, ClientError> {
    client
        .frames(&url(
            base,
            &format!("/channels/{channel}/events/blocks?from={from}&private=true"),
        ))
        .await
}

/// Pushes an endorser's private writes to a member peer (peer to peer).
pub async fn push_private(
    client: &Client,
    base: &str,
    request: &PushRequest,
    timeout: std::time::Duration,
) -> Result<(), ClientError> {
    client
        .post_within(&url(base, "/private/push"), request, timeout)
        .await
}

/// Fetches missing private data from a member peer (peer to peer).
pub async fn fetch_private(
    client: &Client,
    base: &str,
    request: &FetchRequest,
    timeout: std::time::Duration,
) -> Result<Vec<FetchedPrivateData>, ClientError> {
    client
        .post_within(&url(base, "/private/fetch"), request, timeout)
        .await
}

/// Every transaction's outcome in `channel` from block `from` on, one
/// frame per block.
pub async fn tx_events(
    client: &Client,
    base: &str,
    channel: &str,
    from: u64,
) -> Result<FrameStream<BlockTxStatuses>, ClientError> {
    client
        .frames(&url(
            base,
            &format!("/channels/{channel}/events/txs?from={from}"),
        ))
        .await
}

/// Events of `contract` (of one `name`, if given) from block `from` on.
pub async fn contract_events(
    client: &Client,
    base: &str,
    channel: &str,
    from: u64,
    contract: &str,
    name: Option<&str>,
) -> Result<FrameStream<ContractEventRecord>, ClientError> {
    let mut path = format!(
        "/channels/{channel}/events/contract?from={from}&contract={}",
        query_escape(contract)
    );
    if let Some(name) = name {
        path.push_str("&name=");
        path.push_str(&query_escape(name));
    }
    client.frames(&url(base, &path)).await
}

/// A transaction's receipt: leaf, inclusion proof and signed block header.
pub async fn receipt(
    client: &Client,
    base: &str,
    channel: &str,
    txid: &TxId,
) -> Result<Receipt, ClientError> {
    client
        .get(&url(base, &format!("/channels/{channel}/receipts/{txid}")))
        .await
}

/// The channel configuration in force on the peer.
pub async fn config(
    client: &Client,
    base: &str,
    channel: &str,
) -> Result<ChannelConfig, ClientError> {
    client
        .get(&url(base, &format!("/channels/{channel}/config")))
        .await
}

/// Joins the peer to the channel of this genesis block (admins of the peer's org).
pub async fn join_channel(
    client: &Client,
    base: &str,
    genesis: &Block,
) -> Result<ChannelInfo, ClientError> {
    client.post(&url(base, "/admin/channels"), genesis).await
}

/// Installs a contract package (a lifecycle archive) on the peer; answers its id.
pub async fn install_package(
    client: &Client,
    base: &str,
    archive: &[u8],
) -> Result<String, ClientError> {
    client.post(&url(base, "/admin/packages"), archive).await
}

/// The packages installed on the peer.
pub async fn installed_packages(
    client: &Client,
    base: &str,
) -> Result<Vec<InstalledInfo>, ClientError> {
    client.get(&url(base, "/admin/packages")).await
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("Create Asset&x=1"), "Create%20Asset%26x%3D1");
        assert_eq!(query_escape("plain-name_1.0~"), "plain-name_1.0~");
    }
}
