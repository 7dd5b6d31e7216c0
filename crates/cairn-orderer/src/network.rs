//! Raft RPCs between orderers over cairn-net (mutual TLS, postcard). The
//! server halves live in [`crate::service`] under `/raft/*`, open to orderers
//! of the channel's orderer orgs only.
//!
//! When the channel requires attested nodes, an answer counts only if the
//! orderer that gave it is admitted too (its token, bound to the TLS key of
//! the connection, checked with the same [`NodeGate`] as incoming calls): a
//! vote or an acknowledgement from an unlisted build is treated as if the
//! node were unreachable. Before its first RPC to an orderer (and whenever
//! that orderer's admission lapses) a link probes it with `GET /status`, so
//! no log entry, and so no block, is sent to an orderer that is not admitted.

use std::time::Duration;

use std::sync::Arc;

use cairn_attest::UnixTime;
use cairn_attest_client::NodeGate;
use cairn_net::{Client, ClientError, ServerProof};
use cairn_store::Ledger;
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::{NodeId, TypeConfig};

/// Path of the append-entries RPC.
pub(crate) const APPEND: &str = "/raft/append";
/// Path of the vote RPC.
pub(crate) const VOTE: &str = "/raft/vote";
/// Path of the install-snapshot RPC.
pub(crate) const SNAPSHOT: &str = "/raft/snapshot";

/// Creates a link per target orderer.
pub(crate) struct Network {
    pub(crate) client: Client,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) gate: Arc<NodeGate>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Link;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Link {
        Link {
            client: self.client.clone(),
            base: node.addr.trim_end_matches('/').to_string(),
            target,
            ledger: self.ledger.clone(),
            gate: self.gate.clone(),
            admitted: None,
        }
    }
}

/// RPCs to one orderer.
pub(crate) struct Link {
    client: Client,
    base: String,
    target: NodeId,
    ledger: Arc<Ledger>,
    gate: Arc<NodeGate>,
    /// The target's admission: (config sequence, until) from its last answer.
    admitted: Option<(u64, u64)>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Link {
    async fn call<Req, Resp, E>(
        &mut self,
        path: &str,
        req: &Req,
        ttl: Duration,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let url = format!("{}{path}", self.base);
        let sequence = {
            let ctx = self.ledger.context();
            ctx.config()
                .attestation
                .as_ref()
                .map(|_| ctx.config().sequence)
        };
        let answer = match sequence {
            None => {
                self.client
                    .post_within::<_, Result<Resp, RaftError<NodeId, E>>>(&url, req, ttl)
                    .await
            }
            Some(sequence) => self.attested_call(&url, req, ttl, sequence).await,
        };
        match answer {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            Err(e @ ClientError::Connect { .. }) => {
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }

    /// An RPC to an orderer of a channel that requires attestation: probe
    /// it first unless it is admitted under config `sequence`, then check
    /// the answer's proof too.
    async fn attested_call<Req, Resp>(
        &mut self,
        url: &str,
        req: &Req,
        ttl: Duration,
        sequence: u64,
    ) -> Result<Resp, ClientError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let admitted = self
            .admitted
            .is_some_and(|(seq, until)| seq == sequence && until > UnixTime::now().0);
        if !admitted {
            let probe = format!("{}/status", self.base);
            let (_, proof): (crate::api::NodeStatus, _) = self.client.get_attested(&probe).await?;
            self.admit(&probe, &proof, sequence)?;
        }
        let (resp, proof) = self.client.post_attested(url, req, ttl).await?;
        self.admit(url, &proof, sequence)?;
        Ok(resp)
    }

    fn admit(&mut self, url: &str, proof: &ServerProof, sequence: u64) -> Result<(), ClientError> {
        let ctx = self.ledger.context();
        match self.gate.check(
            ctx.config(),
            proof.token.as_deref(),
            &proof.spki,
            UnixTime::now(),
        ) {
            Ok(until) => {
                self.admitted = until.map(|t| (sequence, t.0));
                Ok(())
            }
            Err(e) => {
                self.admitted = None;
                tracing::warn!(target = self.target, reason = %e, "Raft peer not admitted: no entries sent to it, its answers ignored");
                Err(ClientError::Connect {
                    url: url.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for Link {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.call(APPEND, &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(SNAPSHOT, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.call(VOTE, &rpc, option.hard_ttl()).await
    }
}
