//! The transaction simulator contracts run against: Fabric's `ChaincodeStub`
//! in Rust. JavaScript's `ctx.stub` and native contracts both use it.
//!
//! Reads come from the peer's committed state (a [`StateView`] snapshot) and
//! are recorded with their versions; writes only go to the read/write set.
//! As in Fabric, a read never sees the transaction's own uncommitted writes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use cairn_ledger::config::ChannelConfig;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::lifecycle::ContractDefinition;
use cairn_ledger::rwset::MetadataEntry;
use cairn_ledger::state::{HistoryEntry, StateView, VersionedValue};
use cairn_ledger::tx::{ContractEvent, Proposal};

use crate::composite::partial_key_range;
use crate::creator::CreatorInfo;
use crate::error::StubError;
use crate::rwset::RwSetBuilder;

/// The metadata entry that holds a key's state-based endorsement policy.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// Keys fetched from the state per batch while a range iterator advances.
const RANGE_BATCH: usize = 128;

/// Handle of an open range iterator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IteratorId(pub u32);

/// What a paginated range query reports besides its results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageInfo {
    /// How many records the page holds.
    pub fetched: u32,
    /// Where the next page starts; empty when there is no next page.
    pub bookmark: String,
}

/// Who, what and when: everything a contract may learn about its transaction.
/// No `Debug`: it holds the transient values.
#[derive(Clone)]
pub(crate) struct TxContext {
    pub(crate) txid: TxId,
    pub(crate) nonce: Vec<u8>,
    pub(crate) channel_id: String,
    pub(crate) timestamp: Timestamp,
    pub(crate) creator: CreatorInfo,
    pub(crate) peer_msp_id: String,
    pub(crate) function: String,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) transient: BTreeMap<String, Vec<u8>>,
    pub(crate) is_init: bool,
}

impl TxContext {
    pub(crate) fn new(proposal: &Proposal, creator: &CreatorInfo, peer_msp_id: &str) -> Self {
        TxContext {
            txid: proposal.header.txid,
            nonce: proposal.header.nonce.clone(),
            channel_id: proposal.header.channel.clone(),
            timestamp: proposal.header.timestamp,
            creator: creator.clone(),
            peer_msp_id: peer_msp_id.to_owned(),
            function: proposal.invocation.function.clone(),
            args: proposal.invocation.args.clone(),
            transient: proposal.transient.clone(),
            is_init: proposal.invocation.is_init,
        }
    }

    /// Fabric's proposal binding: hex SHA-256 of nonce, creator and epoch (0).
    pub(crate) fn binding(&self) -> String {
        let mut h = cairn_crypto::Sha256Hasher::new();
        h.update(&self.nonce);
        h.update(self.creator.cert_der());
        h.update(&0u64.to_le_bytes());
        h.finalize().to_hex()
    }

    /// The same transaction calling another function (`invokeChaincode`).
    pub(crate) fn called(&self, function: String, args: Vec<Vec<u8>>) -> Self {
        TxContext {
            function,
            args,
            is_init: false,
            ..self.clone()
        }
    }
}

#[derive(Debug)]
struct RangeCursor {
    range_index: usize,
    next_start: String,
    end: String,
    buffered: VecDeque<(String, VersionedValue)>,
    store_done: bool,
    /// Set for paginated pages, whose reads are recorded when opened.
    recorded: bool,
}

/// One contract's view of one transaction: its namespace, the committed
/// state, and the read/write set being recorded.
pub struct Stub {
    pub(crate) tx: Arc<TxContext>,
    pub(crate) namespace: String,
    pub(crate) state: Arc<dyn StateView + Send + Sync>,
    pub(crate) channel: Arc<ChannelConfig>,
    pub(crate) rw: RwSetBuilder,
    /// The contract's committed definition (its collections); `None` for
    /// native contracts, which have no collections.
    pub(crate) definition: Option<Arc<ContractDefinition>>,
    event: Option<ContractEvent>,
    iterators: BTreeMap<u32, RangeCursor>,
    next_iterator: u32,
    paginated: bool,
}

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub")
            .field("txid", &self.tx.txid)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Stub {
    pub(crate) fn new(
        tx: Arc<TxContext>,
        namespace: &str,
        state: Arc<dyn StateView + Send + Sync>,
        channel: Arc<ChannelConfig>,
        rw: RwSetBuilder,
    ) -> Self {
        Stub {
            tx,
            namespace: namespace.to_owned(),
            state,
            channel,
            rw,
            definition: None,
            event: None,
            iterators: BTreeMap::new(),
            next_iterator: 1,
            paginated: false,
        }
    }

    /// Sets the contract's definition, which holds its collections.
    pub(crate) fn set_definition(&mut self, definition: ContractDefinition) {
        self.definition = Some(Arc::new(definition));
    }

    /// Hands the read/write set to a called contract's stub (see [`Stub::finish`]).
    pub(crate) fn take_rwset(&mut self) -> RwSetBuilder {
        std::mem::take(&mut self.rw)
    }

    /// Takes back the read/write set after a called contract returned.
    pub(crate) fn restore_rwset(&mut self, rw: RwSetBuilder) {
        self.rw = rw;
    }

    /// Ends the simulation: the read/write set and the event, if any.
    /// Iterators still open count as not exhausted.
    pub(crate) fn finish(self) -> (RwSetBuilder, Option<ContractEvent>) {
        (self.rw, self.event)
    }

    pub(crate) fn tx(&self) -> &Arc<TxContext> {
        &self.tx
    }

    pub(crate) fn state_view(&self) -> &Arc<dyn StateView + Send + Sync> {
        &self.state
    }

    /// Records a read in another namespace (the runtime reads the contract's
    /// definition in `_lifecycle`).
    pub(crate) fn record_foreign_read(
        &mut self,
        ns: &str,
        key: &str,
        version: Option<cairn_ledger::ids::Version>,
    ) {
        self.rw.add_read(ns, key, version);
    }

    pub(crate) fn channel_arc(&self) -> Arc<ChannelConfig> {
        self.channel.clone()
    }

    /// The transaction id.
    pub fn txid(&self) -> TxId {
        self.tx.txid
    }

    /// The channel the transaction runs on.
    pub fn channel_id(&self) -> &str {
        &self.tx.channel_id
    }

    /// The channel's configuration (orgs and policies).
    pub fn channel_config(&self) -> &ChannelConfig {
        &self.channel
    }

    /// The client's timestamp from the proposal header.
    pub fn timestamp(&self) -> Timestamp {
        self.tx.timestamp
    }

    /// Who proposed the transaction.
    pub fn creator(&self) -> &CreatorInfo {
        &self.tx.creator
    }

    /// The MSP id of the peer running the contract.
    pub fn peer_msp_id(&self) -> &str {
        &self.tx.peer_msp_id
    }

    /// The function invoked (possibly `Contract:function`).
    pub fn function(&self) -> &str {
        &self.tx.function
    }

    /// The invocation's arguments (not including the function name).
    pub fn args(&self) -> &[Vec<u8>] {
        &self.tx.args
    }

    /// The proposal's transient map.
    pub fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.tx.transient
    }

    /// Whether this is the contract's `init` call.
    pub fn is_init(&self) -> bool {
        self.tx.is_init
    }

    /// The namespace (contract name) reads and writes go to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The committed value of `key` (`None`: absent), recording the read.
    pub fn state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        let found = self.state.state(&self.namespace, key)?;
        self.rw
            .add_read(&self.namespace, key, found.as_ref().map(|v| v.version));
        Ok(found.map(|v| v.value))
    }

    /// Writes `value` to `key` (an empty value deletes, as in Fabric).
    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        check_key(key)?;
        self.check_write()?;
        self.rw
            .add_write(&self.namespace, key, Some(value.to_vec()));
        Ok(())
    }

    /// Deletes `key`.
    pub fn delete_state(&mut self, key: &str) -> Result<(), StubError> {
        check_key(key)?;
        self.check_write()?;
        self.rw.add_write(&self.namespace, key, None);
        Ok(())
    }

    /// Opens an iterator over keys in `[start, end)` (empty `end`: no upper bound).
    pub fn open_range(&mut self, start: &str, end: &str) -> Result<IteratorId, StubError> {
        let range_index = self.rw.begin_range(&self.namespace, start, end);
        let id = self.next_iterator;
        self.next_iterator += 1;
        self.iterators.insert(
            id,
            RangeCursor {
                range_index,
                next_start: start.to_owned(),
                end: end.to_owned(),
                buffered: VecDeque::new(),
                store_done: false,
                recorded: false,
            },
        );
        Ok(IteratorId(id))
    }

    /// Opens an iterator over keys that extend a partial composite key.
    pub fn open_partial_composite(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<IteratorId, StubError> {
        let (start, end) = partial_key_range(object_type, attributes)?;
        self.open_range(&start, &end)
    }

    /// One page of at most `page_size` keys in `[start, end)`, starting at
    /// `bookmark` if it is not empty. Fabric allows paginated queries only in
    /// read-only transactions: later writes are refused.
    pub fn open_range_page(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<(IteratorId, PageInfo), StubError> {
        if self.rw.has_writes() {
            return Err(StubError::PaginationAfterWrite);
        }
        if page_size == 0 {
            return Err(StubError::InvalidArgument(
                "pageSize must be greater than zero".into(),
            ));
        }
        let from = if bookmark.is_empty() { start } else { bookmark };
        if !bookmark.is_empty() && (bookmark < start || (!end.is_empty() && bookmark >= end)) {
            return Err(StubError::InvalidArgument(format!(
                "bookmark {bookmark:?} is outside the queried range"
            )));
        }
        self.paginated = true;
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let mut rows = self
            .state
            .range(&self.namespace, from, end, size.saturating_add(1))?;
        let bookmark = if rows.len() > size {
            rows.truncate(size + 1);
            rows.pop().map(|(k, _)| k).unwrap_or_default()
        } else {
            String::new()
        };
        let range_index = self.rw.begin_range(&self.namespace, from, end);
        for (key, value) in &rows {
            self.rw
                .add_range_read(&self.namespace, range_index, key, value.version);
        }
        if bookmark.is_empty() {
            self.rw.exhaust_range(&self.namespace, range_index);
        }
        let id = self.next_iterator;
        self.next_iterator += 1;
        let fetched = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        self.iterators.insert(
            id,
            RangeCursor {
                range_index,
                next_start: String::new(),
                end: end.to_owned(),
                buffered: rows.into(),
                store_done: true,
                recorded: true,
            },
        );
        Ok((IteratorId(id), PageInfo { fetched, bookmark }))
    }

    /// The next key and value of an iterator; `None` once it is exhausted.
    pub fn next(&mut self, id: IteratorId) -> Result<Option<(String, Vec<u8>)>, StubError> {
        let ns = self.namespace.clone();
        let cursor = self
            .iterators
            .get_mut(&id.0)
            .ok_or(StubError::UnknownIterator(id.0))?;
        if cursor.buffered.is_empty() && !cursor.store_done {
            let rows = self
                .state
                .range(&ns, &cursor.next_start, &cursor.end, RANGE_BATCH)?;
            if rows.len() < RANGE_BATCH {
                cursor.store_done = true;
            }
            if let Some((last, _)) = rows.last() {
                // The smallest key after `last`: continue strictly past it.
                cursor.next_start = format!("{last}\u{0}");
            }
            cursor.buffered.extend(rows);
        }
        let (ns_index, recorded) = (cursor.range_index, cursor.recorded);
        match cursor.buffered.pop_front() {
            Some((key, value)) => {
                // Paginated pages recorded their reads when they were opened.
                if !recorded {
                    self.rw.add_range_read(&ns, ns_index, &key, value.version);
                }
                Ok(Some((key, value.value)))
            }
            None => {
                if !recorded {
                    self.rw.exhaust_range(&ns, ns_index);
                }
                Ok(None)
            }
        }
    }

    /// Closes an iterator (closing twice is harmless).
    pub fn close(&mut self, id: IteratorId) {
        self.iterators.remove(&id.0);
    }

    /// Every key and value in `[start, end)`, reading the iterator to its end.
    pub fn range(&mut self, start: &str, end: &str) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let id = self.open_range(start, end)?;
        let mut out = Vec::new();
        while let Some(row) = self.next(id)? {
            out.push(row);
        }
        self.close(id);
        Ok(out)
    }

    /// The committed history of `key`, newest first (not recorded for validation).
    pub fn history(&mut self, key: &str) -> Result<Vec<HistoryEntry>, StubError> {
        check_key(key)?;
        Ok(self.state.history(&self.namespace, key)?)
    }

    /// The key's state-based endorsement policy, if any (records a read of the key).
    pub fn validation_parameter(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        let version = self.state.state(&self.namespace, key)?.map(|v| v.version);
        self.rw.add_read(&self.namespace, key, version);
        let entries = self.state.metadata(&self.namespace, key)?;
        Ok(entries
            .into_iter()
            .find(|e| e.name == VALIDATION_PARAMETER)
            .map(|e| e.value))
    }

    /// Sets the key's state-based endorsement policy.
    pub fn set_validation_parameter(&mut self, key: &str, policy: &[u8]) -> Result<(), StubError> {
        check_key(key)?;
        self.check_write()?;
        self.rw.add_metadata_write(
            &self.namespace,
            key,
            vec![MetadataEntry {
                name: VALIDATION_PARAMETER.to_owned(),
                value: policy.to_vec(),
            }],
        );
        Ok(())
    }

    /// Sets the transaction's event; Fabric keeps the last one set.
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::InvalidArgument(
                "Event name must be a non-empty string".into(),
            ));
        }
        self.event = Some(ContractEvent {
            contract: self.namespace.clone(),
            name: name.to_owned(),
            payload: payload.to_vec(),
        });
        Ok(())
    }

    pub(crate) fn check_write(&self) -> Result<(), StubError> {
        if self.paginated {
            return Err(StubError::WriteAfterPagination);
        }
        Ok(())
    }
}

pub(crate) fn check_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() {
        return Err(StubError::InvalidArgument(
            "key must not be an empty string".into(),
        ));
    }
    Ok(())
}
