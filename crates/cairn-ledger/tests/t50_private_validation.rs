//! Validation of private data end to end, with real certificates and
//! signatures over an in-memory state: a collection's endorsement policy
//! replaces the contract's for writes to it, implicit collections need their
//! org's peer, writes to unknown collections are refused with Fabric's code,
//! hashed reads are checked for MVCC, and a valid transaction's effects name
//! the collection's members and blockToLive.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_crypto::{
    CertificateAuthority, Identity, IssueRequest, KeyType, Role, SigningIdentity, unix_now,
};
use cairn_ledger::client;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, Version};
use cairn_ledger::lifecycle::{ContractDefinition, LIFECYCLE_NS, definition_key};
use cairn_ledger::memory::MemoryState;
use cairn_ledger::private::{PrivateWrite, key_hash, parse_collections_config};
use cairn_ledger::rwset::{CollectionHashedRwSet, KvReadHash, NsRwSet, TxRwSet};
use cairn_ledger::state::{StateView, VersionedValue};
use cairn_ledger::tx::{ContractId, Invocation, ProposalResponsePayload, Response};
use cairn_ledger::validate::{ChannelContext, validate_block};
use cairn_ledger::validation::ValidationCode;

const CC: &str = "acme";

struct Org {
    peer: SigningIdentity,
    user: SigningIdentity,
    ca: CertificateAuthority,
}

fn org(i: usize) -> Org {
    let name = format!("Org{i}");
    let ca = CertificateAuthority::new(
        &name,
        &format!("{name}MSP"),
        KeyType::Ed25519,
        unix_now() - 3600,
        unix_now() + 86_400 * 30,
    )
    .unwrap();
    let id = |cn: &str, role| {
        let (cert, key) = ca
            .issue(&IssueRequest::new(cn, role, 30), KeyType::Ed25519)
            .unwrap();
        SigningIdentity::new(Identity::from_certificate_unvalidated(cert).unwrap(), key).unwrap()
    };
    Org {
        peer: id("peer0", Role::Peer),
        user: id("user1", Role::Client),
        ca,
    }
}

struct World {
    orgs: Vec<Org>,
    ctx: ChannelContext,
    state: MemoryState,
    nonce: u64,
}

impl World {
    fn new() -> World {
        let orgs: Vec<Org> = (1..=4).map(org).collect();
        let config = ChannelConfig::with_defaults(
            "ch",
            orgs.iter().map(|o| o.ca.msp_config()).collect(),
            vec!["Org1MSP".into()],
        );
        let mut collections = parse_collections_config(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/collections/acmechain.json"
            ))
            .unwrap(),
        )
        .unwrap();
        collections[1].block_to_live = 5;
        collections.push(
            parse_collections_config(
                br#"[{"name": "Strict", "policy": "OR('Org3MSP.member')",
                     "endorsementPolicy": {"signaturePolicy": "AND('Org3MSP.peer', 'Org4MSP.peer')"}}]"#,
            )
            .unwrap()
            .remove(0),
        );
        let def = ContractDefinition {
            name: CC.into(),
            version: "1".into(),
            sequence: 1,
            endorsement_policy: "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')"
                .into(),
            init_required: false,
            collections,
        };
        let mut state = MemoryState::default();
        state.state.insert(
            (LIFECYCLE_NS.into(), definition_key(CC)),
            VersionedValue {
                value: def.encode().unwrap(),
                version: Version { block: 0, tx: 0 },
            },
        );
        state.height = 1;
        World {
            ctx: ChannelContext::new(config).unwrap(),
            orgs,
            state,
            nonce: 0,
        }
    }

    /// An envelope writing `key` into `coll` (and reading `reads`), endorsed
    /// by the peers of `endorsers` (org indexes).
    fn tx(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        reads: Vec<KvReadHash>,
        endorsers: &[usize],
    ) -> Vec<u8> {
        let write = PrivateWrite {
            key: key.into(),
            is_delete: false,
            is_purge: false,
            value: b"v".to_vec(),
        };
        let rwset = TxRwSet {
            namespaces: vec![NsRwSet {
                namespace: ns.into(),
                collections: vec![CollectionHashedRwSet {
                    collection: coll.into(),
                    hashed_reads: reads,
                    hashed_writes: vec![write.hashed()],
                    private_rwset_hash: cairn_crypto::sha256(b"unchecked at validation"),
                }],
                ..NsRwSet::default()
            }],
        };
        self.nonce += 1;
        let client = &self.orgs[0].user;
        let proposal = client::proposal(
            "ch",
            client,
            Invocation {
                contract: CC.into(),
                function: "f".into(),
                args: Vec::new(),
                is_init: false,
            },
            Default::default(),
            self.nonce.to_be_bytes().repeat(3),
            Timestamp::now(),
        );
        let payload = ProposalResponsePayload {
            proposal_hash: proposal.hash().unwrap(),
            contract: ContractId {
                name: CC.into(),
                version: "1".into(),
            },
            rwset,
            events: Vec::new(),
            response: Response {
                status: 200,
                message: String::new(),
                payload: Vec::new(),
            },
        };
        let responses: Vec<_> = endorsers
            .iter()
            .map(|i| client::endorse(&payload, &self.orgs[*i].peer).unwrap())
            .collect();
        client::assemble(&proposal, &responses, client)
            .unwrap()
            .encode()
            .unwrap()
    }

    fn block(&mut self, data: Vec<Vec<u8>>) -> cairn_ledger::validate::BlockResult {
        let n = self.state.height;
        let r = validate_block(&self.ctx, n, Timestamp::now(), &data, &self.state).unwrap();
        self.state.apply(n, &r);
        r
    }
}

#[test]
fn collection_policies_codes_and_effects() {
    let mut w = World::new();
    let txs = vec![
        w.tx(CC, "PDC2", "k", vec![], &[0]),
        w.tx(CC, "Strict", "k", vec![], &[2]),
        w.tx(CC, "Strict", "k", vec![], &[2, 3]),
        w.tx(CC, "_implicit_org_Org4MSP", "k", vec![], &[2]),
        w.tx(CC, "_implicit_org_Org4MSP", "k", vec![], &[3]),
        w.tx(CC, "Undefined", "k", vec![], &[0, 1, 2, 3]),
        w.tx(LIFECYCLE_NS, "PDC1", "k", vec![], &[0, 1, 2, 3]),
    ];
    let r = w.block(txs);
    assert_eq!(
        r.codes(),
        vec![
            ValidationCode::Valid,
            ValidationCode::EndorsementPolicyFailure,
            ValidationCode::Valid,
            ValidationCode::EndorsementPolicyFailure,
            ValidationCode::Valid,
            ValidationCode::EndorsementPolicyFailure,
            ValidationCode::IllegalWriteset,
        ]
    );
    let e = &r.txs[0].effects.hashed_writes[0];
    assert_eq!((e.namespace.as_str(), e.collection.as_str()), (CC, "PDC2"));
    assert_eq!(e.members, ["Org3MSP", "Org4MSP"]);
    assert_eq!(e.block_to_live, 5);
    assert_eq!(r.txs[4].effects.hashed_writes[0].members, ["Org4MSP"]);
    assert!(
        r.txs[1].effects.hashed_writes.is_empty(),
        "an invalid tx has no effects"
    );
    let h = w
        .state
        .private_hash(CC, "PDC2", &key_hash("k"))
        .unwrap()
        .unwrap();
    assert_eq!(h.value_hash, cairn_crypto::sha256(b"v"));
    assert_eq!(h.version, Version { block: 1, tx: 0 });
}

#[test]
fn hashed_reads_are_checked_against_the_hashed_state() {
    let mut w = World::new();
    let seed = w.tx(CC, "PDC1", "k", vec![], &[0]);
    let r = w.block(vec![seed]);
    assert_eq!(r.codes(), vec![ValidationCode::Valid]);
    let at = |v: Option<Version>| {
        vec![KvReadHash {
            key_hash: key_hash("k"),
            version: v,
        }]
    };
    let current = Some(Version { block: 1, tx: 0 });
    let txs = vec![
        w.tx(CC, "PDC1", "a", at(None), &[0]),
        w.tx(CC, "PDC1", "b", at(current), &[0]),
        w.tx(CC, "PDC1", "k", at(current), &[0]),
        w.tx(CC, "PDC1", "c", at(current), &[0]),
    ];
    assert_eq!(
        w.block(txs).codes(),
        vec![
            ValidationCode::MvccReadConflict,
            ValidationCode::Valid,
            ValidationCode::Valid,
            ValidationCode::MvccReadConflict,
        ],
        "the third overwrites k, so the fourth read a stale version"
    );
}

#[test]
fn malformed_collection_sets_are_bad_rwsets() {
    let mut w = World::new();
    let env = w.tx(CC, "PDC1", "k", vec![], &[0]);
    // Duplicate the collection entry: two collections of the same name.
    let mut tx = cairn_ledger::tx::Envelope::decode(&env).unwrap();
    let cairn_ledger::tx::Transaction::Endorsed(mut e) = tx.transaction().unwrap() else {
        panic!("endorsed");
    };
    let mut payload = ProposalResponsePayload::decode(&e.response_payload).unwrap();
    let dup = payload.rwset.namespaces[0].collections[0].clone();
    payload.rwset.namespaces[0].collections.push(dup);
    e.response_payload = payload.encode().unwrap();
    e.endorsements = vec![{
        let p = &w.orgs[0].peer;
        let r = client::endorse(&payload, p).unwrap();
        r.endorsement
    }];
    tx.payload = cairn_ledger::tx::Transaction::Endorsed(e).encode().unwrap();
    tx.signature = w.orgs[0].user.sign(&tx.payload);
    assert_eq!(
        w.block(vec![tx.encode().unwrap()]).codes(),
        vec![ValidationCode::BadRwset]
    );
}
