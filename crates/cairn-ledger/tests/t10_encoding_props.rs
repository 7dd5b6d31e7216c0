//! Property tests of the canonical encoding (issue 11, item 9): for every
//! main ledger type, `decode(encode(x)) == x`, and any byte string that
//! decodes is the value's one encoding, `encode(decode(b)) == b`.
//!
//! Accepted byte strings come from three sources: encodings of arbitrary
//! values, those encodings mutated (a byte replaced, inserted or deleted, or
//! a varint stretched to a non-minimal form, which postcard alone accepts),
//! and arbitrary bytes for the small types where random input often decodes.

use std::collections::BTreeMap;
use std::fmt::Debug;

use cairn_crypto::{Digest, MspConfig};
use cairn_ledger::block::{Block, BlockHeader, BlockMetadata, HeaderSignature};
use cairn_ledger::config::{AttestationRequirement, BatchConfig, ChannelConfig, OrdererEndpoint};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId, Version};
use cairn_ledger::lifecycle::{CollectionConfig, CollectionEndorsementPolicy, ContractDefinition};
use cairn_ledger::private::{
    CollectionPrivateWrites, MissingPrivateData, NsPrivateWrites, PrivateWrite, PrivateWriteSet,
};
use cairn_ledger::rwset::{
    CollectionHashedRwSet, KvMetadataWrite, KvRead, KvReadHash, KvWrite, KvWriteHash,
    MetadataEntry, NsRwSet, RangeQueryInfo, TxRwSet,
};
use cairn_ledger::state::{HashedValue, HistoryEntry, VersionedValue};
use cairn_ledger::tx::{
    ConfigTx, ContractEvent, ContractId, EndorsedTx, Endorsement, Envelope, Invocation, Proposal,
    ProposalResponsePayload, Response, SignedProposal, Transaction, TxHeader,
};
use cairn_ledger::validation::ValidationCode;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

// ---- strategies -----------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including multi-byte characters and the empty string.
    ".{0,6}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..12)
}

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>().prop_map(Digest::from)
}

fn txid() -> impl Strategy<Value = TxId> {
    digest().prop_map(TxId)
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (any::<i64>(), 0..1_000_000_000u32).prop_map(|(seconds, nanos)| Timestamp { seconds, nanos })
}

fn version() -> impl Strategy<Value = Version> {
    (any::<u64>(), any::<u32>()).prop_map(|(block, tx)| Version { block, tx })
}

fn code() -> impl Strategy<Value = ValidationCode> {
    prop::sample::select(ValidationCode::ALL.to_vec())
}

fn tx_header() -> impl Strategy<Value = TxHeader> {
    (text(), txid(), bytes(), bytes(), timestamp()).prop_map(
        |(channel, txid, creator, nonce, timestamp)| TxHeader {
            channel,
            txid,
            creator,
            nonce,
            timestamp,
        },
    )
}

fn invocation() -> impl Strategy<Value = Invocation> {
    (text(), text(), vec(bytes(), 0..3), any::<bool>()).prop_map(
        |(contract, function, args, is_init)| Invocation {
            contract,
            function,
            args,
            is_init,
        },
    )
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (tx_header(), invocation(), btree_map(text(), bytes(), 0..3)).prop_map(
        |(header, invocation, transient)| Proposal {
            header,
            invocation,
            transient,
        },
    )
}

fn kv_read() -> impl Strategy<Value = KvRead> {
    (text(), proptest::option::of(version())).prop_map(|(key, version)| KvRead { key, version })
}

fn collection_hashed() -> impl Strategy<Value = CollectionHashedRwSet> {
    let read = (digest(), proptest::option::of(version()))
        .prop_map(|(key_hash, version)| KvReadHash { key_hash, version });
    let write = (digest(), any::<bool>(), any::<bool>(), digest()).prop_map(
        |(key_hash, is_delete, is_purge, value_hash)| KvWriteHash {
            key_hash,
            is_delete,
            is_purge,
            value_hash,
        },
    );
    (text(), vec(read, 0..2), vec(write, 0..2), digest()).prop_map(
        |(collection, hashed_reads, hashed_writes, private_rwset_hash)| CollectionHashedRwSet {
            collection,
            hashed_reads,
            hashed_writes,
            private_rwset_hash,
        },
    )
}

fn ns_rwset() -> impl Strategy<Value = NsRwSet> {
    let range = (text(), text(), any::<bool>(), vec(kv_read(), 0..2)).prop_map(
        |(start_key, end_key, itr_exhausted, reads)| RangeQueryInfo {
            start_key,
            end_key,
            itr_exhausted,
            reads,
        },
    );
    let write = (text(), any::<bool>(), bytes()).prop_map(|(key, is_delete, value)| KvWrite {
        key,
        is_delete,
        value,
    });
    let entry = (text(), bytes()).prop_map(|(name, value)| MetadataEntry { name, value });
    let meta =
        (text(), vec(entry, 0..2)).prop_map(|(key, entries)| KvMetadataWrite { key, entries });
    (
        text(),
        vec(kv_read(), 0..3),
        vec(range, 0..2),
        vec(write, 0..3),
        vec(meta, 0..2),
        vec(collection_hashed(), 0..2),
    )
        .prop_map(
            |(namespace, reads, range_queries, writes, metadata_writes, collections)| NsRwSet {
                namespace,
                reads,
                range_queries,
                writes,
                metadata_writes,
                collections,
            },
        )
}

fn rwset() -> impl Strategy<Value = TxRwSet> {
    vec(ns_rwset(), 0..3).prop_map(|namespaces| TxRwSet { namespaces })
}

fn response_payload() -> impl Strategy<Value = ProposalResponsePayload> {
    let event = (text(), text(), bytes()).prop_map(|(contract, name, payload)| ContractEvent {
        contract,
        name,
        payload,
    });
    let response =
        (any::<u32>(), text(), bytes()).prop_map(|(status, message, payload)| Response {
            status,
            message,
            payload,
        });
    (
        digest(),
        (text(), text()).prop_map(|(name, version)| ContractId { name, version }),
        rwset(),
        vec(event, 0..2),
        response,
    )
        .prop_map(|(proposal_hash, contract, rwset, events, response)| {
            ProposalResponsePayload {
                proposal_hash,
                contract,
                rwset,
                events,
                response,
            }
        })
}

fn endorsement() -> impl Strategy<Value = Endorsement> {
    (bytes(), bytes()).prop_map(|(endorser, signature)| Endorsement {
        endorser,
        signature,
    })
}

fn channel_config() -> impl Strategy<Value = ChannelConfig> {
    let org = (text(), text(), vec(text(), 0..2)).prop_map(|(msp_id, ca_pem, revoked)| MspConfig {
        msp_id,
        ca_pem,
        revoked,
    });
    let batch = (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
        |(max_tx_count, max_bytes, timeout_ms)| BatchConfig {
            max_tx_count,
            max_bytes,
            timeout_ms,
        },
    );
    let orderer = (any::<u64>(), text(), text()).prop_map(|(id, msp_id, url)| OrdererEndpoint {
        id,
        msp_id,
        url,
    });
    let attestation = (text(), text(), vec(text(), 0..2), any::<bool>()).prop_map(
        |(issuer, jwks, measurements, allow_virtual)| AttestationRequirement {
            issuer,
            jwks,
            measurements,
            allow_virtual,
        },
    );
    (
        text(),
        any::<u64>(),
        vec(org, 0..2),
        vec(text(), 0..2),
        btree_map(text(), text(), 0..3),
        batch,
        vec(orderer, 0..2),
        proptest::option::of(attestation),
    )
        .prop_map(
            |(name, sequence, orgs, orderer_orgs, policies, batch, orderers, attestation)| {
                ChannelConfig {
                    name,
                    sequence,
                    orgs,
                    orderer_orgs,
                    policies,
                    batch,
                    orderers,
                    attestation,
                }
            },
        )
}

fn transaction() -> impl Strategy<Value = Transaction> {
    let endorsed = (tx_header(), invocation(), bytes(), vec(endorsement(), 0..3)).prop_map(
        |(header, invocation, response_payload, endorsements)| {
            Transaction::Endorsed(EndorsedTx {
                header,
                invocation,
                response_payload,
                endorsements,
            })
        },
    );
    let config = (tx_header(), channel_config(), vec(endorsement(), 0..2)).prop_map(
        |(header, config, signatures)| {
            Transaction::Config(ConfigTx {
                header,
                config,
                signatures,
            })
        },
    );
    prop_oneof![endorsed, config]
}

fn block_header() -> impl Strategy<Value = BlockHeader> {
    (
        text(),
        any::<u64>(),
        digest(),
        digest(),
        timestamp(),
        any::<u64>(),
        digest(),
    )
        .prop_map(
            |(channel, number, previous_hash, data_hash, timestamp, tree_size, tree_root)| {
                BlockHeader {
                    channel,
                    number,
                    previous_hash,
                    data_hash,
                    timestamp,
                    tree_size,
                    tree_root,
                }
            },
        )
}

fn block() -> impl Strategy<Value = Block> {
    let signature =
        (bytes(), bytes()).prop_map(|(signer, signature)| HeaderSignature { signer, signature });
    let metadata = (vec(code(), 0..4), vec(signature, 0..2), any::<u64>()).prop_map(
        |(validation_codes, signatures, last_config)| BlockMetadata {
            validation_codes,
            signatures,
            last_config,
        },
    );
    (block_header(), vec(bytes(), 0..4), metadata).prop_map(|(header, data, metadata)| Block {
        header,
        data,
        metadata,
    })
}

fn private_write_set() -> impl Strategy<Value = PrivateWriteSet> {
    let write = (text(), any::<bool>(), any::<bool>(), bytes()).prop_map(
        |(key, is_delete, is_purge, value)| PrivateWrite {
            key,
            is_delete,
            is_purge,
            value,
        },
    );
    let coll = (text(), vec(write, 0..3))
        .prop_map(|(collection, writes)| CollectionPrivateWrites { collection, writes });
    let ns = (text(), vec(coll, 0..2)).prop_map(|(namespace, collections)| NsPrivateWrites {
        namespace,
        collections,
    });
    vec(ns, 0..2).prop_map(|namespaces| PrivateWriteSet { namespaces })
}

fn contract_definition() -> impl Strategy<Value = ContractDefinition> {
    let policy = prop_oneof![
        text().prop_map(CollectionEndorsementPolicy::SignaturePolicy),
        text().prop_map(CollectionEndorsementPolicy::ChannelConfigPolicy),
    ];
    let collection = (
        text(),
        text(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(policy),
    )
        .prop_map(
            |(
                name,
                policy,
                required_peer_count,
                max_peer_count,
                block_to_live,
                member_only_read,
                member_only_write,
                endorsement_policy,
            )| CollectionConfig {
                name,
                policy,
                required_peer_count,
                max_peer_count,
                block_to_live,
                member_only_read,
                member_only_write,
                endorsement_policy,
            },
        );
    (
        text(),
        text(),
        any::<u64>(),
        text(),
        any::<bool>(),
        vec(collection, 0..2),
    )
        .prop_map(
            |(name, version, sequence, endorsement_policy, init_required, collections)| {
                ContractDefinition {
                    name,
                    version,
                    sequence,
                    endorsement_policy,
                    init_required,
                    collections,
                }
            },
        )
}

/// How to damage an encoding.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the byte at this position (modulo the length).
    Set(usize, u8),
    /// Insert a byte before this position.
    Insert(usize, u8),
    /// Remove the byte at this position.
    Delete(usize),
    /// Rewrite a one-byte varint (`< 0x80`) at this position as two bytes,
    /// `b | 0x80, 0x00`: the same number, non-minimally.
    Stretch(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Stretch),
    ]
}

fn mutate(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    let at = |i: usize| i % b.len();
    match *m {
        Mutation::Set(i, v) => {
            let i = at(i);
            b[i] = v;
        }
        Mutation::Insert(i, v) => b.insert(i % (b.len() + 1), v),
        Mutation::Delete(i) => {
            b.remove(at(i));
        }
        Mutation::Stretch(i) => {
            let i = at(i);
            if b[i] < 0x80 {
                b[i] |= 0x80;
                b.insert(i + 1, 0);
            }
        }
    }
    b
}

// ---- properties -------------------------------------------------------------

/// The value's encoding; an encoding error fails the case.
fn encode<T: Canonical>(x: &T) -> Result<Vec<u8>, TestCaseError> {
    x.encode().map_err(|e| TestCaseError::fail(e.to_string()))
}

/// `decode(encode(x)) == x`, and the encoding is itself accepted as canonical.
fn round_trips<T: Canonical + PartialEq + Debug>(x: &T) -> Result<(), TestCaseError> {
    let bytes = encode(x)?;
    let back = T::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, x);
    Ok(())
}

/// If `bytes` decode at all, they are exactly the encoding of what they decode to.
fn accepted_only_if_canonical<T: Canonical + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = T::decode(bytes) {
        prop_assert_eq!(
            encode(&value)?,
            bytes,
            "{:?} decoded from a byte string that is not its encoding",
            value
        );
    }
    Ok(())
}

/// Both properties for `x`, then the second for its encoding after each mutation.
fn check<T: Canonical + PartialEq + Debug>(
    x: &T,
    mutations: &[Mutation],
) -> Result<(), TestCaseError> {
    round_trips(x)?;
    let mut bytes = encode(x)?;
    for m in mutations {
        bytes = mutate(bytes, m);
        accepted_only_if_canonical::<T>(&bytes)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn headers_proposals_and_envelopes(
        h in tx_header(), p in proposal(), i in invocation(),
        e in (bytes(), bytes()), m in vec(mutation(), 1..4),
    ) {
        check(&h, &m)?;
        check(&p, &m)?;
        check(&i, &m)?;
        let env = Envelope { payload: e.0.clone(), signature: e.1.clone() };
        check(&env, &m)?;
        check(&SignedProposal { proposal: e.0, signature: e.1 }, &m)?;
    }

    #[test]
    fn transactions_and_configs(t in transaction(), c in channel_config(), m in vec(mutation(), 1..4)) {
        check(&t, &m)?;
        check(&c, &m)?;
        // As stored in a block: the transaction inside its envelope.
        let env = Envelope { payload: t.encode().unwrap(), signature: vec![1, 2] };
        check(&env, &m)?;
    }

    #[test]
    fn response_payloads_and_rwsets(p in response_payload(), r in rwset(), m in vec(mutation(), 1..4)) {
        check(&p, &m)?;
        check(&r, &m)?;
    }

    #[test]
    fn blocks(b in block(), m in vec(mutation(), 1..4)) {
        check(&b, &m)?;
        check(&b.header, &m)?;
    }

    #[test]
    fn state_and_private_data(
        v in (bytes(), version()), h in (digest(), version()), t in (txid(), timestamp(), any::<bool>(), bytes()),
        w in private_write_set(), d in contract_definition(),
        missing in (any::<u64>(), any::<u32>(), text(), text(), vec(digest(), 0..3)),
        m in vec(mutation(), 1..4),
    ) {
        check(&VersionedValue { value: v.0, version: v.1 }, &m)?;
        check(&HashedValue { value_hash: h.0, version: h.1 }, &m)?;
        check(&HistoryEntry { txid: t.0, timestamp: t.1, is_delete: t.2, value: t.3 }, &m)?;
        check(&w, &m)?;
        check(&d, &m)?;
        check(&MissingPrivateData {
            block: missing.0, tx: missing.1, namespace: missing.2, collection: missing.3,
            key_hashes: missing.4,
        }, &m)?;
    }

    #[test]
    fn arbitrary_bytes_decode_only_in_canonical_form(b in vec(any::<u8>(), 0..24)) {
        accepted_only_if_canonical::<Version>(&b)?;
        accepted_only_if_canonical::<Timestamp>(&b)?;
        accepted_only_if_canonical::<ValidationCode>(&b)?;
        accepted_only_if_canonical::<Option<Version>>(&b)?;
        accepted_only_if_canonical::<Vec<KvRead>>(&b)?;
        accepted_only_if_canonical::<KvWrite>(&b)?;
        accepted_only_if_canonical::<VersionedValue>(&b)?;
        accepted_only_if_canonical::<TxRwSet>(&b)?;
        accepted_only_if_canonical::<BTreeMap<String, Vec<u8>>>(&b)?;
        accepted_only_if_canonical::<BTreeMap<u8, u8>>(&b)?;
    }

    #[test]
    fn maps_in_any_entry_order_decode_only_when_sorted(
        entries in vec((any::<u8>(), any::<u8>()), 0..6),
    ) {
        // A hand-built map encoding with entries in generated order (possibly
        // unsorted, possibly with repeated keys): accepted only if canonical.
        let mut b = vec![u8::try_from(entries.len()).unwrap_or(0)];
        for (k, v) in &entries {
            // u8 keys and values are single raw bytes in postcard.
            b.extend_from_slice(&[*k, *v]);
        }
        accepted_only_if_canonical::<BTreeMap<u8, u8>>(&b)?;
        let map: BTreeMap<u8, u8> = entries.iter().copied().collect();
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        prop_assert_eq!(BTreeMap::<u8, u8>::decode(&b).is_ok(), sorted);
        if sorted {
            prop_assert_eq!(BTreeMap::<u8, u8>::decode(&b).ok(), Some(map));
        }
    }
}
