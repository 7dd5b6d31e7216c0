//! Private data collections (Fabric 2.x): collection definitions, the
//! cleartext private write sets endorsers produce and member peers keep, and
//! the hashes that go on the ledger in their place.
//!
//! ```text
//!  endorsement:  contract ──► PrivateWriteSet (cleartext, kept off the ledger)
//!                         └─► CollectionHashedRwSet in the rwset (key hash, value hash)
//!  commit:       block (hashes) + PrivateData (cleartext, per txid)
//!                ──► every peer: hashed state;  member orgs: values that match the hashes
//! ```
//!
//! Invariants:
//! - a key hash is SHA-256 of the key's UTF-8 bytes and a value hash SHA-256
//!   of the value ([`key_hash`], [`value_hash`]), as in Fabric; deletes and
//!   purges carry the zero digest as value hash;
//! - a cleartext write is accepted only if its key hash, value hash and flags
//!   equal a hashed write of the same transaction and collection
//!   ([`verify_collection`]); nothing else ever reaches private state;
//! - membership is by org: an org is a member of a collection if its MSP id
//!   appears in the collection's `policy` ([`Collection::is_member`]).

mod collection;
mod writes;

pub use collection::{
    Collection, CollectionError, IMPLICIT_COLLECTION_PREFIX, implicit_collection_name,
    implicit_collection_org, parse_collections_config, validate_collection_upgrade,
    validate_collections,
};
pub use writes::{
    CollectionPrivateWrites, MissingPrivateData, NsPrivateWrites, PrivateData, PrivateWrite,
    PrivateWriteSet, VerifiedWrites, key_hash, value_hash, verify_collection,
};
