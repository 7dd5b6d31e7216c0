//! What the peer's request types print with `{:?}`: transient keys, never
//! transient values (issue 11, item 7). The JSON invoke body ([`InvokeDoc`])
//! and the gateway's endorsement request ([`EndorseRequest`], whose signed
//! proposal carries the transient map inside its encoding).
//!
//! These are unit checks of `Debug` impls; they live here rather than beside
//! `InvokeDoc` so that `http.rs` changes only where the type is defined.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::tx::{Invocation, Proposal, SignedProposal, TxHeader};
use cairn_peer::api::EndorseRequest;
use cairn_peer::http::InvokeDoc;

const MARKER: &str = "transient-marker-7f3a";

/// Whether `shown` holds `value` as text or as the numbers a derived
/// `Debug` prints for bytes.
fn leaks(shown: &str, value: &[u8]) -> bool {
    let numbers = format!("{:?}", value.to_vec());
    shown.contains(std::str::from_utf8(value).unwrap())
        || shown.contains(&numbers[1..numbers.len() - 1])
}

#[test]
fn debug_of_the_json_invoke_body_shows_keys_not_values() {
    let doc = InvokeDoc {
        contract: "pkv".into(),
        function: "writePDC2".into(),
        args: vec!["k1".into()],
        transient: BTreeMap::from([("value".to_owned(), MARKER.to_owned())]),
    };
    for shown in [format!("{doc:?}"), format!("{doc:#?}")] {
        assert!(!leaks(&shown, MARKER.as_bytes()), "{shown}");
        for part in ["\"value\"", "<redacted>", "writePDC2", "\"k1\""] {
            assert!(shown.contains(part), "{part} missing from {shown}");
        }
    }
    // The value is still there for the contract (the positive control).
    assert_eq!(doc.transient["value"], MARKER);
}

#[test]
fn debug_of_an_endorsement_request_shows_no_transient_bytes() {
    let proposal = Proposal {
        header: TxHeader {
            channel: "mychannel".into(),
            txid: TxId(cairn_crypto::sha256(b"tx")),
            creator: b"creator".to_vec(),
            nonce: vec![1; 24],
            timestamp: Timestamp {
                seconds: 1,
                nanos: 0,
            },
        },
        invocation: Invocation {
            contract: "pkv".into(),
            function: "writePDC2".into(),
            args: vec![b"k1".to_vec()],
            is_init: false,
        },
        transient: BTreeMap::from([("value".to_owned(), MARKER.as_bytes().to_vec())]),
    };
    let encoded = proposal.encode().unwrap();
    assert!(
        leaks(&format!("{encoded:?}"), MARKER.as_bytes()),
        "the control: the encoding holds it"
    );
    let request = EndorseRequest {
        proposal: SignedProposal {
            proposal: encoded,
            signature: vec![2; 64],
        },
        endorsing_orgs: vec!["Org3MSP".into()],
    };
    let shown = format!("{request:?}");
    assert!(!leaks(&shown, MARKER.as_bytes()), "{shown}");
    assert!(shown.contains("Org3MSP"), "{shown}");
}
