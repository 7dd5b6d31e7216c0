//! The ordering service's HTTP API (postcard bodies over mutual TLS), and
//! typed client calls for peers, gateways and the CLI.
//!
//! | method and path | who may call | body → answer |
//! |---|---|---|
//! | `POST /broadcast[?leader_only=true]` | any identity of a channel org whose envelope's creator satisfies `Writers` | [`Envelope`] → [`BroadcastResponse`] once the block is committed; a follower relays it to the leader, or with `leader_only` answers [`NOT_LEADER`] with the leader's URL |
//! | `POST /broadcast/stream` | as `/broadcast` | a call stream (`cairn_net::serve_calls`) of [`StreamedEnvelope`]s, each answered as `/broadcast?leader_only=true` answers it; opened on the leader only, else [`NOT_LEADER`] |
//! | `GET /deliver?from=N` | identities satisfying the channel's `Readers` policy | endless stream of [`Block`]s `N, N+1, ...` |
//! | `GET /status` | any identity of a channel org | [`NodeStatus`] |
//! | `GET /counters` | any identity of a channel org | this process's event counters (`cairn_counters::snapshot`) |
//! | `POST /raft/{append,vote,snapshot,forward}` | orderers of the channel's orderer orgs | openraft RPCs; `forward` is `/broadcast` relayed by a follower |

use cairn_ledger::block::Block;
use cairn_ledger::ids::TxId;
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_net::{Client, ClientError, FrameStream};
use serde::{Deserialize, Serialize};

/// The answer to a broadcast: the envelope is in a committed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastResponse {
    /// The transaction id.
    pub txid: TxId,
    /// The block that holds it.
    pub block: u64,
    /// Its validation code in that block (only `VALID` changed state).
    pub code: ValidationCode,
}

/// What an orderer says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its Raft node id.
    pub id: u64,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// Its Raft term.
    pub term: u64,
    /// Blocks in its ledger.
    pub height: u64,
    /// Index of the last Raft entry applied to its ledger.
    pub applied: Option<u64>,
    /// Index of the last entry covered by its latest snapshot.
    pub snapshot: Option<u64>,
    /// Index of the last entry purged from its Raft log.
    pub purged: Option<u64>,
    /// The Raft voters, as this node knows them.
    pub voters: Vec<u64>,
    /// The Raft learners (orderers being added), as this node knows them.
    pub learners: Vec<u64>,
    /// Whether it serves the channel (its ledger's configuration lists it).
    pub serving: bool,
}

/// Query of `GET /deliver`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeliverQuery {
    /// The first block to send.
    pub from: u64,
}

/// Submits `envelope` to the orderer at `base` (`https://host:port`) and
/// waits until it is in a committed block.
pub async fn broadcast(
    client: &Client,
    base: &str,
    envelope: &Envelope,
) -> Result<BroadcastResponse, ClientError> {
    post_broadcast(client, base, "", envelope).await
}

async fn post_broadcast(
    client: &Client,
    base: &str,
    query: &str,
    envelope: &Envelope,
) -> Result<BroadcastResponse, ClientError> {
    let url = format!("{}/broadcast{query}", base.trim_end_matches('/'));
    client.post(&url, envelope).await
}

/// Query of `POST /broadcast`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct BroadcastQuery {
    /// A follower answers `421 Misdirected Request` whose body is the
    /// leader's URL, instead of relaying the envelope to the leader.
    #[serde(default)]
    pub leader_only: bool,
}

/// The status a follower answers a [`BroadcastQuery::leader_only`]
/// broadcast with; the body is the leader's URL.
pub const NOT_LEADER: u16 = 421;

/// [`broadcast`] to the Raft leader only: a follower at `base` does not
/// relay but answers [`ClientError::Status`] with status [`NOT_LEADER`]
/// and the leader's URL as its message ([`leader_of`] reads it).
pub async fn broadcast_to_leader(
    client: &Client,
    base: &str,
    envelope: &Envelope,
) -> Result<BroadcastResponse, ClientError> {
    post_broadcast(client, base, "?leader_only=true", envelope).await
}

/// Path of the broadcast call stream.
pub const BROADCAST_STREAM: &str = "/broadcast/stream";

/// One envelope on a broadcast stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamedEnvelope {
    /// The client-signed envelope.
    pub envelope: Envelope,
    /// Sent before without an answer: the leader first looks for it in its
    /// ledger, and answers with the block that holds it, if one does.
    pub resent: bool,
}

/// Broadcast streams to the orderers of a channel, one per orderer, opened
/// on first use; each envelope waits at most `timeout` for its block.
pub type BroadcastStreams = cairn_net::StreamPool<StreamedEnvelope, BroadcastResponse>;

/// A pool of [`BroadcastStreams`].
pub fn broadcast_streams(timeout: std::time::Duration) -> BroadcastStreams {
    cairn_net::StreamPool::new(BROADCAST_STREAM, timeout)
}

/// [`broadcast_to_leader`] over the stream to `base` in `streams`: the same
/// answers and errors, without an HTTP request per envelope.
pub async fn broadcast_streamed(
    streams: &BroadcastStreams,
    client: &Client,
    base: &str,
    envelope: &Envelope,
    resent: bool,
) -> Result<BroadcastResponse, ClientError> {
    let call = StreamedEnvelope {
        envelope: envelope.clone(),
        resent,
    };
    streams.call(client, base, &call).await
}

/// The leader's URL a follower named in answer to [`broadcast_to_leader`].
pub fn leader_of(e: &ClientError) -> Option<&str> {
    match e {
        ClientError::Status {
            status, message, ..
        } if *status == NOT_LEADER => Some(message.trim()),
        _ => None,
    }
}

/// Streams blocks from number `from` on, in order, as the orderer at `base`
/// commits them (resume after a failure by calling again with the next number).
pub async fn deliver(
    client: &Client,
    base: &str,
    from: u64,
) -> Result<FrameStream<Block>, ClientError> {
    client
        .frames(&format!(
            "{}/deliver?from={from}",
            base.trim_end_matches('/')
        ))
        .await
}

/// The status of the orderer at `base`.
pub async fn status(client: &Client, base: &str) -> Result<NodeStatus, ClientError> {
    client
        .get(&format!("{}/status", base.trim_end_matches('/')))
        .await
}
