//! The supply-chain contract (`contracts/supply-chain`, issue 18) on five orgs
//! with real ledgers: Org1 the supplier, Org2 the manufacturer, Org3 the
//! shipper, Org4 the warehouse, Org5 the retailer; the package's own
//! `collections.json` with its MSP ids mapped onto Org1..Org5.
//!
//! Checks: a product's whole life (batch, shipment to the manufacturer with
//! private terms, production, carrier, warehouse, retailer, sale) with every
//! record's steps naming the transaction that wrote it; a handover endorsed
//! by one side only is `ENDORSEMENT_POLICY_FAILURE` and changes nothing, the
//! same handover endorsed by both is valid; the terms reach the two members'
//! ledgers and no public write, argument or other org's ledger; every bad
//! input is refused naming the field or the rule.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod pdc;

use std::path::{Path, PathBuf};

use cairn_ledger::encoding::Canonical;
use cairn_ledger::private::parse_collections_config;
use cairn_ledger::validation::ValidationCode;
use pdc::{Chain, Endorsed, contains};
use serde_json::{Value, json};

const NAME: &str = "supply";
const POLICY: &str =
    "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer','Org5MSP.peer')";
const SUPPLIER: usize = 0;
const MANUFACTURER: usize = 1;
const SHIPPER: usize = 2;
const WAREHOUSE: usize = 3;
const RETAILER: usize = 4;
const ALL: [usize; 5] = [0, 1, 2, 3, 4];
/// The role names of `collections.json` and the test's orgs.
const MAPPING: [(&str, &str); 5] = [
    ("SupplierMSP", "Org1MSP"),
    ("ManufacturerMSP", "Org2MSP"),
    ("ShipperMSP", "Org3MSP"),
    ("WarehouseMSP", "Org4MSP"),
    ("RetailerMSP", "Org5MSP"),
];

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/supply-chain")
}

fn msp(i: usize) -> String {
    format!("Org{}MSP", i + 1)
}

fn chain() -> Chain {
    let mut text = std::fs::read_to_string(contract_dir().join("collections.json")).unwrap();
    for (role, org) in MAPPING {
        text = text.replace(role, org);
    }
    let collections = parse_collections_config(text.as_bytes()).unwrap();
    let chain = Chain::with_contract(
        5,
        &contract_dir(),
        "supply-chain_1.0",
        NAME,
        collections,
        POLICY,
    );
    let roles = json!({
        "supplier": msp(SUPPLIER), "manufacturer": msp(MANUFACTURER), "shipper": msp(SHIPPER),
        "warehouse": msp(WAREHOUSE), "retailer": msp(RETAILER),
    })
    .to_string();
    submit(
        &chain,
        SUPPLIER,
        &[SUPPLIER],
        "SetParticipants",
        &roles,
        &[],
    );
    chain
}

/// Simulates `function(arg)` on `client`'s own peer for a client of that org.
fn call(chain: &Chain, client: usize, function: &str, arg: &str, t: &[(&str, &[u8])]) -> Endorsed {
    chain
        .invoke(client, &chain.net.orgs[client].user, function, &[arg], t)
        .unwrap()
}

/// Endorses on `client`'s peer (must succeed), has `endorsers` sign, commits;
/// the private writes are offered to every peer. Returns the code and the endorsement.
fn commit(
    chain: &Chain,
    client: usize,
    endorsers: &[usize],
    function: &str,
    arg: &str,
    t: &[(&str, &[u8])],
) -> (ValidationCode, Endorsed) {
    let e = call(chain, client, function, arg, t);
    assert_eq!(
        e.simulation.response.status, 200,
        "{function}: {:?}",
        e.simulation.response
    );
    let code = chain.commit(&e, &chain.net.orgs[client].user, endorsers, &ALL);
    (code, e)
}

fn submit(
    chain: &Chain,
    client: usize,
    endorsers: &[usize],
    function: &str,
    arg: &str,
    t: &[(&str, &[u8])],
) -> Value {
    let (code, e) = commit(chain, client, endorsers, function, arg, t);
    assert_eq!(code, ValidationCode::Valid, "{function}");
    answer(&e)
}

fn answer(e: &Endorsed) -> Value {
    assert_eq!(
        e.simulation.response.status, 200,
        "{:?}",
        e.simulation.response
    );
    serde_json::from_slice(&e.simulation.response.payload).unwrap()
}

fn refusal(e: &Endorsed) -> String {
    assert_eq!(e.simulation.response.status, 500, "expected a refusal");
    e.simulation.response.message.clone()
}

fn query(chain: &Chain, client: usize, function: &str, arg: &str) -> Value {
    answer(&call(chain, client, function, arg, &[]))
}

fn doc(name: &str, byte: u8) -> Value {
    json!({
        "name": name, "kind": "quality-certificate",
        "sha256": hex::encode([byte; 32]), "size": 1234,
        "bucket": "supply-docs", "key": format!("certs/{name}"), "versionId": "0123456789abcdef",
    })
}

fn public_values(e: &Endorsed) -> Vec<Vec<u8>> {
    e.simulation
        .rwset
        .namespaces
        .iter()
        .flat_map(|ns| ns.writes.iter().map(|w| w.value.clone()))
        .collect()
}

#[test]
fn t83_a_product_life_with_two_sided_handovers_and_private_terms() {
    let chain = chain();
    let (batch, created) = commit(
        &chain,
        SUPPLIER,
        &[SUPPLIER],
        "CreateBatch",
        &json!({"id": "B-1", "material": "aluminium", "quantity": 500, "measure": "kg",
                "documents": [doc("b1-cert.pdf", 1)]})
        .to_string(),
        &[],
    );
    assert_eq!(batch, ValidationCode::Valid);
    let created = answer(&created);
    assert_eq!(created["custodian"], msp(SUPPLIER));
    assert_eq!(created["documents"][0]["sha256"], hex::encode([1u8; 32]));
    assert_eq!(created["documents"][0]["addedBy"], msp(SUPPLIER));

    // The batch goes to the manufacturer with private terms (the price).
    let price = "83917.25";
    let terms = json!({"price": price, "currency": "EUR", "incoterms": "FCA"}).to_string();
    let ship =
        json!({"id": "S-1", "to": msp(MANUFACTURER), "items": [{"type": "batch", "id": "B-1"}]})
            .to_string();
    let (code, shipped) = commit(
        &chain,
        SUPPLIER,
        &[SUPPLIER],
        "CreateShipment",
        &ship,
        &[("terms", terms.as_bytes())],
    );
    assert_eq!(code, ValidationCode::Valid);
    assert_eq!(answer(&shipped)["termsCollection"], "SupplierManufacturer");
    let private = shipped.simulation.private_writes();
    let pw = private.collection(NAME, "SupplierManufacturer").unwrap();
    assert!(contains(&pw.writes[0].value, price.as_bytes()));
    for v in public_values(&shipped) {
        assert!(
            !contains(&v, price.as_bytes()),
            "the price in a public write"
        );
    }
    let bytes = shipped.proposal.encode().unwrap();
    let args: Vec<u8> = shipped.proposal.invocation.args.concat();
    assert!(!contains(&args, price.as_bytes()));
    assert!(
        contains(&bytes, price.as_bytes()),
        "positive control: the transient map"
    );

    // A handover endorsed only by the receiver: recorded invalid, nothing changes.
    let receive = json!({"id": "S-1"}).to_string();
    let (one_sided, _) = commit(
        &chain,
        MANUFACTURER,
        &[MANUFACTURER],
        "ReceiveShipment",
        &receive,
        &[],
    );
    assert_eq!(one_sided, ValidationCode::EndorsementPolicyFailure);
    let still = query(&chain, WAREHOUSE, "GetShipment", "S-1");
    assert_eq!(still["status"], "in transit");
    assert_eq!(
        query(&chain, WAREHOUSE, "GetBatch", "B-1")["custodian"],
        msp(SUPPLIER)
    );
    // Endorsed only by the sender: invalid too.
    let (sender_only, _) = commit(
        &chain,
        MANUFACTURER,
        &[SUPPLIER],
        "ReceiveShipment",
        &receive,
        &[],
    );
    assert_eq!(sender_only, ValidationCode::EndorsementPolicyFailure);
    // Both sides: valid, custody moves.
    let (two_sided, received) = commit(
        &chain,
        MANUFACTURER,
        &[SUPPLIER, MANUFACTURER],
        "ReceiveShipment",
        &receive,
        &[],
    );
    assert_eq!(two_sided, ValidationCode::Valid);
    let delivered = answer(&received);
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(
        delivered["steps"][1]["txid"],
        received.proposal.header.txid.to_string()
    );
    assert_eq!(
        query(&chain, RETAILER, "GetBatch", "B-1")["custodian"],
        msp(MANUFACTURER)
    );

    // The terms: members read them; the retailer's client is refused; the
    // value reached the members' ledgers only.
    let got = query(&chain, MANUFACTURER, "GetTerms", "S-1");
    assert_eq!(got["terms"]["price"], price);
    assert_eq!(got["from"], msp(SUPPLIER));
    let refused = call(&chain, RETAILER, "GetTerms", "S-1", &[]);
    assert!(
        refusal(&refused).contains("may not read collection SupplierManufacturer"),
        "{}",
        refusal(&refused)
    );
    assert!(contains(&chain.ledger_file(SUPPLIER), price.as_bytes()));
    assert!(contains(&chain.ledger_file(MANUFACTURER), price.as_bytes()));
    for other in [SHIPPER, WAREHOUSE, RETAILER] {
        assert!(
            !contains(&chain.ledger_file(other), price.as_bytes()),
            "the price on {}'s ledger",
            msp(other)
        );
    }

    // Production, then carrier, warehouse, retailer, sale.
    let unit = json!({"id": "U-1", "product": "bicycle frame", "batches": ["B-1"],
                      "documents": [doc("u1-qc.pdf", 2)]})
    .to_string();
    let (code, produced) = commit(
        &chain,
        MANUFACTURER,
        &[MANUFACTURER],
        "ProduceUnit",
        &unit,
        &[],
    );
    assert_eq!(code, ValidationCode::Valid);
    let produce_txid = produced.proposal.header.txid.to_string();
    let legs = [
        ("S-2", MANUFACTURER, SHIPPER, "received"),
        ("S-3", SHIPPER, WAREHOUSE, "arrived at warehouse"),
        ("S-4", WAREHOUSE, RETAILER, "received"),
    ];
    let mut txids = vec![produce_txid.clone()];
    for (id, from, to, label) in legs {
        let s = json!({"id": id, "to": msp(to), "items": [{"type": "unit", "id": "U-1"}],
                       "documents": [doc(&format!("{id}-bill.pdf"), 3)]})
        .to_string();
        let (code, e) = commit(&chain, from, &[from], "CreateShipment", &s, &[]);
        assert_eq!(code, ValidationCode::Valid, "{id}");
        txids.push(e.proposal.header.txid.to_string());
        let (code, e) = commit(
            &chain,
            to,
            &[from, to],
            "ReceiveShipment",
            &json!({"id": id}).to_string(),
            &[],
        );
        assert_eq!(code, ValidationCode::Valid, "{id}");
        txids.push(e.proposal.header.txid.to_string());
        assert_eq!(query(&chain, SUPPLIER, "GetUnit", "U-1")["status"], label);
    }
    let (code, sold) = commit(
        &chain,
        RETAILER,
        &[RETAILER],
        "SellUnit",
        &json!({"id": "U-1", "saleId": "SALE-1"}).to_string(),
        &[],
    );
    assert_eq!(code, ValidationCode::Valid);
    txids.push(sold.proposal.header.txid.to_string());

    let p = query(&chain, SHIPPER, "GetProvenance", "U-1");
    let steps: Vec<&str> = p["unit"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["txid"].as_str().unwrap())
        .collect();
    assert_eq!(steps, txids.iter().map(String::as_str).collect::<Vec<_>>());
    let labels: Vec<&str> = p["unit"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "produced",
            "shipped",
            "received",
            "shipped",
            "arrived at warehouse",
            "shipped",
            "received",
            "sold"
        ]
    );
    assert_eq!(p["unit"]["custodian"], msp(RETAILER));
    assert_eq!(p["batches"][0]["id"], "B-1");
    assert_eq!(p["batches"][0]["usedIn"], json!(["U-1"]));
    let shipments: Vec<&str> = p["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(shipments, ["S-1", "S-2", "S-3", "S-4"]);
    // The retailer's (public) provenance never holds the terms.
    assert!(!p.to_string().contains(price));
}

#[test]
fn t83_refusals_name_the_field_or_the_rule() {
    let chain = chain();
    let batch = |id: &str| {
        json!({"id": id, "material": "steel", "quantity": 10, "measure": "t"}).to_string()
    };
    submit(
        &chain,
        SUPPLIER,
        &[SUPPLIER],
        "CreateBatch",
        &batch("B-9"),
        &[],
    );
    let cases: Vec<(usize, &str, String, Option<&str>, &str)> =
        vec![
        (
            MANUFACTURER,
            "CreateBatch",
            batch("B-2"),
            None,
            "only the supplier (Org1MSP) may create a batch; the client is of Org2MSP",
        ),
        (SUPPLIER, "CreateBatch", batch("B-9"), None, "batch B-9 already exists"),
        (
            SUPPLIER,
            "CreateBatch",
            json!({"id": "B-3", "material": "steel", "quantity": -1, "measure": "t"}).to_string(),
            None,
            "batch.quantity must be a positive number",
        ),
        (
            SUPPLIER,
            "CreateBatch",
            json!({"id": "B-3", "material": "steel", "quantity": 1, "measure": "t", "price": 5})
                .to_string(),
            None,
            "batch.price is not a field",
        ),
        (
            SUPPLIER,
            "CreateBatch",
            json!({"id": "B-3", "material": "steel", "quantity": 1, "measure": "t",
                   "documents": [{"name": "x", "kind": "k", "sha256": "abc", "size": 1,
                                  "bucket": "supply-docs", "key": "k", "versionId": "v"}]})
            .to_string(),
            None,
            "batch.documents[0].sha256 must be a SHA-256",
        ),
        (
            MANUFACTURER,
            "CreateShipment",
            json!({"id": "S-9", "to": msp(SHIPPER), "items": [{"type": "batch", "id": "B-9"}]})
                .to_string(),
            None,
            "batch B-9 is held by Org1MSP, not Org2MSP",
        ),
        (
            SUPPLIER,
            "CreateShipment",
            json!({"id": "S-9", "to": msp(SUPPLIER), "items": [{"type": "batch", "id": "B-9"}]})
                .to_string(),
            None,
            "a shipment goes to another org",
        ),
        (
            SUPPLIER,
            "CreateShipment",
            json!({"id": "S-9", "to": msp(WAREHOUSE), "items": [{"type": "batch", "id": "B-9"}]})
                .to_string(),
            Some(r#"{"price":"1"}"#),
            "no collection holds terms between the supplier and the warehouse",
        ),
        (
            MANUFACTURER,
            "ProduceUnit",
            json!({"id": "U-9", "product": "p", "batches": ["B-9"]}).to_string(),
            None,
            "batch B-9 is held by Org1MSP, not Org2MSP: receive it first",
        ),
        (
            SUPPLIER,
            "SetParticipants",
            json!({"supplier": "A", "manufacturer": "B", "shipper": "C", "warehouse": "D",
                   "retailer": "E"})
            .to_string(),
            None,
            "the participants are already set and never change",
        ),
        (
            RETAILER,
            "SellUnit",
            json!({"id": "U-404", "saleId": "X"}).to_string(),
            None,
            "unit U-404 does not exist",
        ),
    ];
    for (client, function, arg, terms, want) in cases {
        let transient: Vec<(&str, &[u8])> =
            terms.map(|t| ("terms", t.as_bytes())).into_iter().collect();
        let e = call(&chain, client, function, &arg, &transient);
        let got = refusal(&e);
        assert!(
            got.contains(want),
            "{function}: {got:?} does not say {want:?}"
        );
        assert!(
            e.simulation
                .rwset
                .namespaces
                .iter()
                .all(|ns| ns.writes.is_empty()),
            "{function} refused but wrote"
        );
    }
    // Positive control: the valid shipment of the same batch is accepted.
    let ok = call(
        &chain,
        SUPPLIER,
        "CreateShipment",
        &json!({"id": "S-9", "to": msp(MANUFACTURER), "items": [{"type": "batch", "id": "B-9"}]})
            .to_string(),
        &[],
    );
    assert_eq!(answer(&ok)["status"], "in transit");
    // A second receive of a delivered shipment is refused.
    let e = call(
        &chain,
        SHIPPER,
        "ReceiveShipment",
        &json!({"id": "S-404"}).to_string(),
        &[],
    );
    assert!(refusal(&e).contains("shipment S-404 does not exist"));
}
