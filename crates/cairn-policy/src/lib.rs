//! Cairn policy: Hyperledger Fabric's signature-policy language and implicit
//! meta policies, parsed, printed and evaluated.
//!
//! # What this crate owns
//!
//! - The language: `AND(...)`, `OR(...)`, `OutOf(n, ...)` over principals
//!   `'MSPID.role'` (roles `member`, `admin`, `client`, `peer`, `orderer`), as
//!   Fabric's `policydsl` accepts it ([`SignaturePolicy`], [`Rule`], [`Principal`]),
//!   with errors that name the byte position and the problem ([`ParseError`]).
//! - Evaluation against already-verified signers ([`Signer`], [`SignerSet`]).
//! - Implicit meta policies `ANY|ALL|MAJORITY SubPolicy` over a channel's
//!   organizations ([`ImplicitMetaPolicy`], [`ChannelPolicy`], [`OrgPolicies`],
//!   [`ChannelOrgs`], [`fabric_default_org_policies`]).
//! - Endorser selection helpers: [`SignaturePolicy::orgs`] and
//!   [`SignaturePolicy::minimal_org_sets`].
//!
//! It is pure: no I/O, no clock, no crypto. Checking that signatures are valid
//! and which role an identity has belongs to the callers (crypto, ledger).
//! Allowed dependencies: `serde` and `thiserror` only.
//!
//! # Invariants
//!
//! - A [`SignaturePolicy`] is always one Fabric accepts: its root is a gate,
//!   no gate is empty, `OutOf(n, r1..rk)` has `0 <= n <= k + 1` (Fabric's
//!   bound; `k + 1` is its "never satisfied" idiom), nesting is at most
//!   [`MAX_DEPTH`] and there are at most [`MAX_PRINCIPALS`] principals.
//! - `Display` prints canonical text (`AND`, `OR`, `OutOf`, single quotes,
//!   `", "` between arguments) and `text.parse()` of that text gives back an
//!   equal policy. Serde uses the same string.
//! - Evaluation is monotone: adding a signer never turns satisfied into not
//!   satisfied, and signers of organizations the policy does not mention never
//!   change the result.
//!
//! # Evaluation semantics, and how they differ from Fabric
//!
//! A policy is satisfied iff the signers can be assigned to principal leaves so
//! that every gate on the way to the root gets enough satisfied children, where
//! each distinct signer (by `(msp_id, id)`) fills at most one leaf in the whole
//! tree. So `AND('Org1MSP.member', 'Org1MSP.member')` needs two different Org1
//! identities, and the same identity listed twice counts once.
//!
//! Fabric's `cauthdsl` implements the same rule greedily: each gate walks its
//! children in order and each leaf takes the first unused matching signer, with
//! no backtracking. It can therefore answer "not satisfied" when an assignment
//! exists: with signers {Org1 admin, Org1 peer} and
//! `AND('Org1MSP.member', 'Org1MSP.admin')`, Fabric gives the admin to `member`
//! and finds nobody left for `admin`. This crate searches exactly (see
//! `eval.rs`), so it accepts everything Fabric accepts plus such cases; it
//! never accepts a set that has no valid assignment.
//!
//! Implicit meta policies follow Fabric's `implicitmeta.go`: ANY needs 1
//! organization, ALL all of them, MAJORITY `n / 2 + 1`; an organization lacking
//! the named sub-policy counts as unsatisfied; and a channel with no
//! organizations satisfies every implicit meta policy (Fabric's threshold 0).
//!
//! Parsing refuses a few things Fabric's parser lets through because they are
//! never useful: nesting deeper than [`MAX_DEPTH`] and non-integer thresholds
//! such as `OutOf(1.0, ...)`.
//!
//! ```
//! use cairn_policy::{ChannelOrgs, ChannelPolicy, Signer, SignerSet, SignaturePolicy};
//!
//! let policy: SignaturePolicy = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".parse()?;
//! let signers: SignerSet = ["Org1MSP.peer", "Org3MSP.peer"]
//!     .iter()
//!     .map(|s| s.parse::<Signer>())
//!     .collect::<Result<_, _>>()?;
//! assert!(policy.is_satisfied_by(&signers));
//!
//! let orgs = ChannelOrgs::with_fabric_defaults(["Org1MSP", "Org2MSP", "Org3MSP"])?;
//! let majority: ChannelPolicy = "MAJORITY Endorsement".parse()?;
//! assert!(majority.is_satisfied_by(&orgs, &signers));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod eval;
mod limits;
mod meta;
mod orgsets;
mod parser;
mod policy;
mod principal;
mod signer;

pub use error::{ParseError, PolicyError};
pub use limits::{MAX_DEPTH, MAX_PRINCIPALS};
pub use meta::{
    ChannelOrgs, ChannelPolicy, ImplicitMetaPolicy, MetaOutcome, MetaRule, OrgPolicies,
    fabric_default_org_policies, names,
};
pub use policy::{Rule, SignaturePolicy};
pub use principal::{Principal, PrincipalRole, Role, validate_msp_id};
pub use signer::{Signer, SignerSet};
