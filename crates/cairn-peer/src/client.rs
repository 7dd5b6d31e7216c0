//! [`GatewayClient`]: the client side of the gateway for the CLI, tests and
//! applications. The client builds and signs its proposal, the gateway
//! collects endorsements, the client assembles and signs the envelope
//! (`cairn_ledger::client::assemble`), the gateway orders it, and the
//! client waits for the commit on the gateway's peer. Keys never leave the
//! client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::tx::{
    Envelope, Invocation, Proposal, ProposalResponse, Response, SignedProposal,
};
use cairn_ledger::validation::ValidationCode;
use cairn_net::{Client, FrameStream, TlsIdentity, Trust};
use rand::RngCore;

use crate::api::{
    self, BlockTxStatuses, BroadcastResponse, CommitStatus, CommitStatusRequest,
    ContractEventRecord, EndorseRequest, PrivateBlockEvent,
};
use crate::error::GatewayError;

/// How long [`GatewayClient::submit`] waits for the commit by default.
pub const DEFAULT_COMMIT_WAIT: Duration = Duration::from_secs(60);

/// Endorsements of one proposal, ready to assemble.
#[derive(Clone, Debug)]
pub struct Endorsed {
    /// The proposal (with its transient map, which never leaves the client
    /// and the endorsers).
    pub proposal: Proposal,
    /// The agreeing responses.
    pub responses: Vec<ProposalResponse>,
    /// The contract's response.
    pub result: Response,
    /// The endorsing orgs.
    pub endorsers: Vec<String>,
}

/// A transaction committed as `VALID` on the gateway's peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Its id.
    pub txid: TxId,
    /// Its block.
    pub block: u64,
    /// The contract's response payload.
    pub payload: Vec<u8>,
    /// The orgs that endorsed it.
    pub endorsers: Vec<String>,
}

/// A client of one gateway peer on one channel, signing as one identity.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    client: Client,
    signer: SigningIdentity,
    gateway: String,
    channel: String,
    commit_wait: Duration,
    /// Evaluations, endorsements and submissions go over one call stream
    /// to the gateway (`POST /gateway/stream`), shared by clones.
    stream: Arc<api::GatewayStreams>,
}

impl GatewayClient {
    /// A client presenting `signer`'s certificate over mutual TLS, trusting
    /// the CAs of `orgs` (the channel's), calling the peer at `gateway`.
    pub fn new(
        signer: SigningIdentity,
        orgs: &[MspConfig],
        gateway: &str,
        channel: &str,
    ) -> Result<GatewayClient, GatewayError> {
        let tls = TlsIdentity::new(signer.clone(), Trust::new(orgs)?)?;
        let client = Client::new(&tls)?;
        Ok(GatewayClient::with_client(client, signer, gateway, channel))
    }

    /// Uses an existing transport client (its TLS identity should be `signer`).
    pub fn with_client(
        client: Client,
        signer: SigningIdentity,
        gateway: &str,
        channel: &str,
    ) -> GatewayClient {
        GatewayClient {
            client,
            signer,
            gateway: gateway.trim_end_matches('/').to_string(),
            channel: channel.to_string(),
            commit_wait: DEFAULT_COMMIT_WAIT,
            stream: Arc::new(cairn_net::StreamPool::new(
                api::GATEWAY_STREAM,
                cairn_net::DEFAULT_TIMEOUT,
            )),
        }
    }

    /// One call on the gateway stream, answered within `timeout`.
    async fn call(
        &self,
        call: api::GatewayCall,
        timeout: Duration,
    ) -> Result<api::GatewayAnswer, GatewayError> {
        Ok(self
            .stream
            .call_within(&self.client, &self.gateway, &call, timeout)
            .await?)
    }

    /// Sets how long `submit` waits for the commit.
    pub fn with_commit_wait(mut self, wait: Duration) -> GatewayClient {
        self.commit_wait = wait;
        self
    }

    /// The transport client.
    pub fn transport(&self) -> &Client {
        &self.client
    }

    /// The gateway's base URL.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// A proposal signed by nobody yet, with a fresh nonce.
    pub fn proposal(
        &self,
        invocation: Invocation,
        transient: BTreeMap<String, Vec<u8>>,
    ) -> Proposal {
        let mut nonce = vec![0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        cairn_ledger::client::proposal(
            &self.channel,
            &self.signer,
            invocation,
            transient,
            nonce,
            Timestamp::now(),
        )
    }

    /// Signs a proposal with the client's key.
    pub fn sign(
        &self,
        proposal: &Proposal,
    ) -> Result<SignedProposal, cairn_ledger::encoding::EncodingError> {
        let bytes = cairn_ledger::encoding::Canonical::encode(proposal)?;
        Ok(SignedProposal {
            signature: self.signer.sign(&bytes),
            proposal: bytes,
        })
    }

    /// Runs a query on the gateway peer; answers the contract's payload.
    pub async fn evaluate(
        &self,
        contract: &str,
        function: &str,
        args: &[&str],
    ) -> Result<Vec<u8>, GatewayError> {
        let proposal = self.proposal(invocation(contract, function, args), BTreeMap::new());
        Ok(self.evaluate_proposal(&proposal).await?.payload)
    }

    /// Runs a prepared proposal as a query.
    pub async fn evaluate_proposal(&self, proposal: &Proposal) -> Result<Response, GatewayError> {
        let call = api::GatewayCall::Evaluate(self.sign(proposal)?);
        match self.call(call, self.client.timeout()).await? {
            api::GatewayAnswer::Evaluated(r) => Ok(r),
            other => Err(mismatch("an evaluation", &other)),
        }
    }

    /// Collects endorsements (from `endorsing_orgs` if not empty, else as
    /// the gateway plans).
    pub async fn endorse(
        &self,
        proposal: &Proposal,
        endorsing_orgs: &[String],
    ) -> Result<Endorsed, GatewayError> {
        let request = EndorseRequest {
            proposal: self.sign(proposal)?,
            endorsing_orgs: endorsing_orgs.to_vec(),
        };
        let r = match self
            .call(api::GatewayCall::Endorse(request), self.client.timeout())
            .await?
        {
            api::GatewayAnswer::Endorsed(r) => r,
            other => return Err(mismatch("endorsements", &other)),
        };
        if r.txid != proposal.header.txid || r.responses.is_empty() {
            return Err(GatewayError::Protocol {
                reason: format!(
                    "asked to endorse {} and got {} response(s) for {}",
                    proposal.header.txid,
                    r.responses.len(),
                    r.txid
                ),
            });
        }
        Ok(Endorsed {
            proposal: proposal.clone(),
            responses: r.responses,
            result: r.result,
            endorsers: r.endorsers,
        })
    }

    /// Assembles the endorsements into an envelope signed by the client.
    pub fn assemble(&self, endorsed: &Endorsed) -> Result<Envelope, GatewayError> {
        Ok(cairn_ledger::client::assemble(
            &endorsed.proposal,
            &endorsed.responses,
            &self.signer,
        )?)
    }

    /// Has the gateway order a signed envelope.
    pub async fn submit_envelope(
        &self,
        envelope: &Envelope,
    ) -> Result<BroadcastResponse, GatewayError> {
        Ok(api::submit(&self.client, &self.gateway, envelope).await?)
    }

    /// Waits up to `wait` for the gateway's peer to commit `txid`.
    pub async fn commit_status(
        &self,
        txid: &TxId,
        wait: Duration,
    ) -> Result<CommitStatus, GatewayError> {
        let request = CommitStatusRequest {
            channel: self.channel.clone(),
            txid: *txid,
            wait_ms: wait.as_millis() as u64,
        };
        Ok(api::commit_status(&self.client, &self.gateway, &request).await?)
    }

    /// The whole flow for `contract.function(args)`: proposal, endorse,
    /// assemble and sign, submit, wait for the commit on the gateway peer.
    pub async fn submit(
        &self,
        contract: &str,
        function: &str,
        args: &[&str],
    ) -> Result<Committed, GatewayError> {
        self.submit_invocation(invocation(contract, function, args), BTreeMap::new(), &[])
            .await
    }

    /// The whole flow with full control: raw arguments, transient data, and
    /// optionally the orgs that must endorse. A transaction that validation
    /// refuses is [`GatewayError::Invalid`].
    pub async fn submit_invocation(
        &self,
        invocation: Invocation,
        transient: BTreeMap<String, Vec<u8>>,
        endorsing_orgs: &[String],
    ) -> Result<Committed, GatewayError> {
        let proposal = self.proposal(invocation, transient);
        let endorsed = self.endorse(&proposal, endorsing_orgs).await?;
        let envelope = self.assemble(&endorsed)?;
        let txid = proposal.header.txid;
        // Submit and commit status in one call.
        let call = api::GatewayCall::Submit {
            envelope,
            wait_ms: self.commit_wait.as_millis() as u64,
        };
        let timeout = self.client.timeout().max(Duration::from_secs(35)) + self.commit_wait;
        let status = match self.call(call, timeout).await? {
            api::GatewayAnswer::Submitted(s) => s,
            other => return Err(mismatch("a commit status", &other)),
        };
        if status.txid != txid {
            return Err(GatewayError::Protocol {
                reason: format!("submitted {txid}, the gateway answered for {}", status.txid),
            });
        }
        if status.code != ValidationCode::Valid {
            return Err(GatewayError::Invalid {
                txid,
                block: status.block,
                code: status.code,
            });
        }
        Ok(Committed {
            txid,
            block: status.block,
            payload: endorsed.result.payload,
            endorsers: endorsed.endorsers,
        })
    }

    /// Blocks of the channel from `from` on.
    pub async fn block_events(&self, from: u64) -> Result<FrameStream<Block>, GatewayError> {
        Ok(api::block_events(&self.client, &self.gateway, &self.channel, from).await?)
    }

    /// Blocks of the channel from `from` on, each with the private writes of
    /// the collections the client's org is a member of.
    pub async fn private_block_events(
        &self,
        from: u64,
    ) -> Result<FrameStream<PrivateBlockEvent>, GatewayError> {
        Ok(api::private_block_events(&self.client, &self.gateway, &self.channel, from).await?)
    }

    /// Every transaction's outcome from block `from` on.
    pub async fn tx_events(&self, from: u64) -> Result<FrameStream<BlockTxStatuses>, GatewayError> {
        Ok(api::tx_events(&self.client, &self.gateway, &self.channel, from).await?)
    }

    /// Events of `contract` (of one `name`, if given) from block `from` on.
    pub async fn contract_events(
        &self,
        from: u64,
        contract: &str,
        name: Option<&str>,
    ) -> Result<FrameStream<ContractEventRecord>, GatewayError> {
        Ok(api::contract_events(
            &self.client,
            &self.gateway,
            &self.channel,
            from,
            contract,
            name,
        )
        .await?)
    }
}

/// The gateway answered a call with an answer of another kind.
fn mismatch(wanted: &str, got: &api::GatewayAnswer) -> GatewayError {
    let got = match got {
        api::GatewayAnswer::Evaluated(_) => "an evaluation",
        api::GatewayAnswer::Endorsed(_) => "endorsements",
        api::GatewayAnswer::Submitted(_) => "a commit status",
    };
    GatewayError::Protocol {
        reason: format!("asked for {wanted}, the gateway answered with {got}"),
    }
}

/// An invocation with UTF-8 arguments.
pub fn invocation(contract: &str, function: &str, args: &[&str]) -> Invocation {
    Invocation {
        contract: contract.to_string(),
        function: function.to_string(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        is_init: false,
    }
}
