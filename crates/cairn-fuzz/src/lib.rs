//! Fuzz bodies (issue 17, item 1; in progress): one function per parser that
//! takes bytes from outside the process. Each must return normally for every
//! input; a panic is a finding. Where a structure round-trips, the body also
//! checks that decode(encode(x)) = x.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly, libFuzzer) call these
//! functions, and `tests/replay.rs` runs every file of `fuzz/corpus/<target>/`
//! through them in the ordinary test suite, so CI replays the corpora on stable
//! without building the sanitizers.
//!
//! May use: the crates whose parsers it exercises. Only tests and the fuzz
//! targets depend on it.

#![allow(
    clippy::panic,
    reason = "a fuzz body reports a finding by panicking; libFuzzer catches it"
)]

use cairn_attest::{AppraisalPolicy, Expectations, Jwks, UnixTime, verify_token};
use cairn_contract::ContractPackage;
use cairn_contract::DefinitionArgs;
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::private::{PrivateWriteSet, parse_collections_config};
use cairn_ledger::receipt::Receipt;
use cairn_ledger::tx::{Envelope, ProposalResponse, SignedProposal};
use cairn_policy::{ChannelPolicy, SignaturePolicy};

/// A fuzz body: takes any bytes, panics only on a finding.
pub type Body = fn(&[u8]);

/// The fuzz targets, by name (each has `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Body); 16] = [
    ("policy", policy),
    ("block", block),
    ("envelope", envelope),
    ("signed_proposal", signed_proposal),
    ("proposal_response", proposal_response),
    ("receipt_json", receipt_json),
    ("private_write_set", private_write_set),
    ("collections_json", collections_json),
    ("definition_json", definition_json),
    ("jwks", jwks),
    ("jwt", jwt),
    ("attestation_policy", attestation_policy),
    ("contract_package", contract_package),
    ("snp_report", snp_report),
    ("dcap_quote", dcap_quote),
    ("peer_json", peer_json),
];

/// Fabric's policy language: signature policies and channel (implicit meta) policies.
/// A parsed signature policy prints as text that parses back to the same policy.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = text.parse::<SignaturePolicy>() {
        let shown = p.to_string();
        match shown.parse::<SignaturePolicy>() {
            Ok(again) if again == p => {}
            Ok(again) => panic!("{text:?} printed as {shown:?}, which parses as {again:?}"),
            Err(e) => panic!("{text:?} printed as {shown:?}, which does not parse: {e}"),
        }
    }
    let _ = text.parse::<ChannelPolicy>();
}

/// Canonical decoding: a value that decodes re-encodes to exactly the input
/// (the one-form rule of `docs/encoding.md`).
fn canonical<T: Canonical + PartialEq>(data: &[u8]) {
    if let Ok(v) = T::decode(data) {
        match v.encode() {
            Ok(bytes) if bytes == data => {}
            Ok(bytes) => panic!(
                "{} decoded from {} bytes re-encodes to {} other bytes",
                std::any::type_name::<T>(),
                data.len(),
                bytes.len()
            ),
            Err(e) => panic!("a decoded value does not encode: {e}"),
        }
    }
}

/// Blocks as peers receive them from orderers and other peers.
pub fn block(data: &[u8]) {
    canonical::<Block>(data);
}

/// Transaction envelopes as the orderer receives them.
pub fn envelope(data: &[u8]) {
    canonical::<Envelope>(data);
}

/// Signed proposals as endorsers receive them.
pub fn signed_proposal(data: &[u8]) {
    canonical::<SignedProposal>(data);
}

/// Proposal responses as gateways receive them from endorsers.
pub fn proposal_response(data: &[u8]) {
    canonical::<ProposalResponse>(data);
}

/// Receipt files given to `cairn receipt verify`: parsing must not panic, and a
/// parsed receipt serializes back to JSON that parses to the same receipt.
pub fn receipt_json(data: &[u8]) {
    if let Ok(r) = serde_json::from_slice::<Receipt>(data) {
        let json = serde_json::to_vec(&r).unwrap_or_else(|e| panic!("cannot re-serialize: {e}"));
        let again: Receipt = serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("a re-serialized receipt does not parse: {e}"));
        if again != r {
            panic!("a receipt changed through JSON");
        }
    }
}

/// Private write sets as peers receive them by dissemination and reconciliation.
pub fn private_write_set(data: &[u8]) {
    canonical::<PrivateWriteSet>(data);
}

/// `collections_config.json` as `cairn contract approve` and the lifecycle read
/// it: a parsed configuration serializes to JSON that parses to the same one.
pub fn collections_json(data: &[u8]) {
    if let Ok(configs) = parse_collections_config(data) {
        let json =
            serde_json::to_vec(&configs).unwrap_or_else(|e| panic!("cannot re-serialize: {e}"));
        match parse_collections_config(&json) {
            Ok(again) if again == configs => {}
            Ok(_) => panic!("a collection configuration changed through JSON"),
            Err(e) => panic!("a re-serialized collection configuration does not parse: {e}"),
        }
    }
}

/// Lifecycle definitions (`ApproveChaincodeDefinitionForMyOrg`'s JSON argument).
pub fn definition_json(data: &[u8]) {
    if let Ok(d) = serde_json::from_slice::<DefinitionArgs>(data) {
        let json = serde_json::to_vec(&d).unwrap_or_else(|e| panic!("cannot re-serialize: {e}"));
        let again: DefinitionArgs = serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("a re-serialized definition does not parse: {e}"));
        if again != d {
            panic!("a contract definition changed through JSON");
        }
    }
}

/// JWKS documents as relying parties fetch them.
pub fn jwks(data: &[u8]) {
    let _ = Jwks::parse(data);
}

/// The JWKS [`jwt`] verifies against: RFC 7517 A.1's P-256 key and RFC 7515
/// A.3's, as `testdata/jwt.json` carries them (with a `kid` added to the latter).
pub const FUZZ_JWKS: &str = r#"{"keys":[
  {"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"sig","kid":"1"},
  {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","kid":"rfc7515-a3"}
]}"#;

/// Attestation tokens (JWS compact) as relying parties receive them: every path
/// of the verifier returns a refusal or a token, never a panic.
pub fn jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(keys) = Jwks::parse(FUZZ_JWKS.as_bytes()) else {
        panic!("the fuzz JWKS does not parse");
    };
    let expect = Expectations::new("https://attest.fuzz")
        .with_nonce("fuzz-nonce")
        .allowing_virtual();
    let _ = verify_token(token, &keys, &expect, UnixTime(1_300_819_300));
}

/// Attestation (appraisal) policy documents as `cairn attest set-policy` sends them.
pub fn attestation_policy(data: &[u8]) {
    let _ = AppraisalPolicy::parse(data);
}

/// Contract packages (`.tar.gz`) as peers receive them from `cairn contract
/// install`: paths, links and sizes chosen by an attacker are refused, never
/// followed, and never panic.
pub fn contract_package(data: &[u8]) {
    let _ = ContractPackage::from_archive(data);
}

/// The size of an SEV-SNP attestation report.
const SNP_REPORT_LEN: usize = 1184;

/// SEV-SNP evidence: the first 1,184 bytes are the report, the rest the VCEK
/// certificate (DER), checked as of a fixed time without collateral; every
/// path refuses or accepts, never panics.
pub fn snp_report(data: &[u8]) {
    let verifier = cairn_attest_hw::SnpVerifier::new(None);
    let at = UnixTime(1_752_919_277);
    let (report, vek) = data.split_at(data.len().min(SNP_REPORT_LEN));
    let vek = (!vek.is_empty()).then_some(vek);
    let _ = verifier.verify_parts(report, vek, None, None, None, at);
}

/// Intel DCAP quotes (SGX and TDX) without collateral: parsing, the canonical
/// bytes check and the PCK chain never panic.
pub fn dcap_quote(data: &[u8]) {
    let at = UnixTime(1_752_919_277);
    let _ = cairn_attest_hw::DcapVerifier::sgx(None).verify_quote(data, None, at);
    let _ = cairn_attest_hw::DcapVerifier::tdx(None).verify_quote(data, None, at);
}

/// The peer's JSON API bodies (`/api/v1/...`): a contract call, a signed
/// proposal, a signed transaction. Each parses as axum's `Json` extractor would,
/// round-trips through JSON, and its hex fields decode to what the gateway then
/// decodes (a proposal, a transaction), never panicking.
pub fn peer_json(data: &[u8]) {
    use cairn_ledger::tx::{Proposal, Transaction};
    use cairn_peer::http::{InvokeDoc, SignedProposalDoc, SignedTransactionDoc};
    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        let json = serde_json::to_vec(v).unwrap_or_else(|e| panic!("cannot re-serialize: {e}"));
        serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("a re-serialized body does not parse: {e}"))
    }
    if let Ok(call) = serde_json::from_slice::<InvokeDoc>(data) {
        let again = round_trip(&call);
        if (again.contract, again.function, again.args, again.transient)
            != (call.contract, call.function, call.args, call.transient)
        {
            panic!("a contract call changed through JSON");
        }
    }
    if let Ok(doc) = serde_json::from_slice::<SignedProposalDoc>(data) {
        let again = round_trip(&doc);
        if (again.proposal.as_str(), again.signature.as_str())
            != (doc.proposal.as_str(), doc.signature.as_str())
        {
            panic!("a signed proposal changed through JSON");
        }
        if let Ok(bytes) = hex::decode(doc.proposal.trim()) {
            canonical::<Proposal>(&bytes);
        }
    }
    if let Ok(doc) = serde_json::from_slice::<SignedTransactionDoc>(data) {
        let _ = round_trip(&doc);
        if let Ok(bytes) = hex::decode(doc.transaction.trim()) {
            canonical::<Transaction>(&bytes);
        }
    }
}
