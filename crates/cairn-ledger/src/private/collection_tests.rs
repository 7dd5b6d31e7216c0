#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use super::*;
use cairn_crypto::MspConfig;

fn testdata(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/collections/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

fn channel(orgs: &[&str]) -> ChannelConfig {
    let orgs = orgs
        .iter()
        .map(|o| MspConfig {
            msp_id: (*o).to_owned(),
            ca_pem: String::new(),
            revoked: Vec::new(),
        })
        .collect();
    ChannelConfig::with_defaults("ch", orgs, vec!["OrdererMSP".into()])
}

fn parse(json: &str) -> Result<Vec<CollectionConfig>, CollectionError> {
    parse_collections_config(json.as_bytes())
}

fn one(fields: &str) -> Result<CollectionConfig, CollectionError> {
    parse(&format!(
        r#"[{{"name": "c1", "policy": "OR('Org1MSP.member')"{fields}}}]"#
    ))
    .map(|mut v| v.remove(0))
}

#[test]
fn fabric_documented_files_are_accepted_as_is() {
    let ch = channel(&["Org1MSP", "Org2MSP"]);
    let arch = parse_collections_config(&testdata("fabric_private_data_arch.json")).unwrap();
    assert_eq!(arch.len(), 2);
    assert_eq!(arch[1].name, "collectionMarblePrivateDetails");
    assert_eq!(arch[1].block_to_live, 3);
    assert_eq!(arch[1].max_peer_count, 3);
    assert!(arch[1].member_only_read && !arch[1].member_only_write);
    validate_collections(&arch, &ch).unwrap();

    let cli = parse_collections_config(&testdata("fabric_peer_cli_example.json")).unwrap();
    assert_eq!(
        cli[1].endorsement_policy,
        Some(CollectionEndorsementPolicy::SignaturePolicy(
            "OR('Org1MSP.member')".into()
        ))
    );
    assert!(cli[1].member_only_write);
    validate_collections(&cli, &ch).unwrap();

    let samples = parse_collections_config(&testdata("asset_transfer_private_data.json")).unwrap();
    assert_eq!(samples[0].required_peer_count, 1);
    validate_collections(&samples, &ch).unwrap();

    let acme = parse_collections_config(&testdata("acmechain.json")).unwrap();
    validate_collections(
        &acme,
        &channel(&["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"]),
    )
    .unwrap();
    assert_eq!(
        validate_collections(&acme, &ch),
        Err(CollectionError::UnknownOrg {
            name: "PDC2".into(),
            msp_id: "Org3MSP".into()
        })
    );
}

#[test]
fn the_seeds_example_with_its_stray_quote_is_refused() {
    let err = parse_collections_config(&testdata("seed_pdc_xyz.json")).unwrap_err();
    assert!(
        matches!(&err, CollectionError::Policy { name, .. } if name == "pdc_xyz"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid policy"), "{err}");
}

#[test]
fn defaults_and_case_insensitive_fields_follow_go() {
    let c = one("").unwrap();
    assert_eq!((c.required_peer_count, c.max_peer_count), (0, 1));
    assert_eq!(c.block_to_live, 0);
    assert!(!c.member_only_read && !c.member_only_write && c.endorsement_policy.is_none());
    let c = one(r#", "MemberOnlyWrite": true, "BLOCKTOLIVE": 7, "maxPeerCount": null"#).unwrap();
    assert!(c.member_only_write);
    assert_eq!((c.block_to_live, c.max_peer_count), (7, 1));
    let c = one(
        r#", "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/Endorsement"}"#,
    )
    .unwrap();
    assert_eq!(
        c.endorsement_policy,
        Some(CollectionEndorsementPolicy::ChannelConfigPolicy(
            "/Channel/Application/Endorsement".into()
        ))
    );
    let c = one(r#", "endorsementPolicy": {"signaturePolicy": "", "channelConfigPolicy": ""}"#)
        .unwrap();
    assert!(
        c.endorsement_policy.is_none(),
        "empty strings mean no policy, as in Fabric"
    );
}

#[test]
fn bad_documents_get_fabrics_errors() {
    let msg = |r: Result<CollectionConfig, CollectionError>| r.unwrap_err().to_string();
    assert!(
        msg(one(r#", "requiredPeerCount": -1"#))
            .contains("requiredPeerCount (-1) cannot be less than zero")
    );
    assert!(
        msg(one(r#", "requiredPeerCount": 3, "maxPeerCount": 2"#))
            .contains("maximum peer count (2) cannot be less than the required peer count (3)")
    );
    assert!(
        msg(one(r#", "maxPeerCount": -1"#))
            .contains("maximum peer count (-1) cannot be less than the required peer count (0)")
    );
    assert!(
        msg(one(r#", "blockToLive": -3"#)).contains("blockToLive must be a non-negative integer")
    );
    assert!(msg(one(r#", "requiredPeerCount": 4294967296"#)).contains("32-bit integer"));
    assert!(
        msg(one(r#", "memberOnlyWrite": "yes""#)).contains("memberOnlyWrite must be a boolean")
    );
    assert!(msg(one(r#", "memberOnlyWirte": true"#)).contains("unknown field \"memberOnlyWirte\""));
    assert!(
        msg(one(
            r#", "endorsementPolicy": {"signaturePolicy": "OR('A.member')", "channelConfigPolicy": "Endorsement"}"#
        ))
        .contains("cannot specify both")
    );
    assert!(
        msg(one(
            r#", "endorsementPolicy": {"signaturePolicy": "OR(nope"}"#
        ))
        .contains("invalid endorsement policy")
    );
    assert!(matches!(parse("{}"), Err(CollectionError::Syntax(_))));
    assert!(matches!(parse("[1]"), Err(CollectionError::Syntax(_))));
    assert!(matches!(parse("[{"), Err(CollectionError::Syntax(_))));
    assert_eq!(parse("[]").unwrap(), Vec::new());
}

#[test]
fn channel_checks_follow_the_lifecycle() {
    let ch = channel(&["Org1MSP", "Org2MSP"]);
    let check = |json: &str| validate_collections(&parse(json).unwrap(), &ch);
    for name in ["_private", "a b", "", "é"] {
        let err = check(&format!(
            r#"[{{"name": "{name}", "policy": "OR('Org1MSP.member')"}}]"#
        ))
        .unwrap_err();
        assert_eq!(err, CollectionError::InvalidName { name: name.into() });
    }
    for name in ["-x", "a_b", "A-1_", "Org1MSPPrivateCollection"] {
        check(&format!(
            r#"[{{"name": "{name}", "policy": "OR('Org1MSP.member')"}}]"#
        ))
        .unwrap();
    }
    assert_eq!(
        check(
            r#"[{"name": "a", "policy": "OR('Org1MSP.member')"}, {"name": "a", "policy": "OR('Org2MSP.member')"}]"#
        ),
        Err(CollectionError::Duplicate { name: "a".into() })
    );
    assert!(matches!(
        check(r#"[{"name": "a", "policy": "AND('Org1MSP.member', 'Org2MSP.member')"}]"#),
        Err(CollectionError::NotOrConcatenation { .. })
    ));
    check(r#"[{"name": "a", "policy": "OutOf(1, 'Org1MSP.member', OR('Org2MSP.member'))"}]"#)
        .unwrap();
    assert!(matches!(
        check(r#"[{"name": "a", "policy": "OR('Org9MSP.member')"}]"#),
        Err(CollectionError::UnknownOrg { msp_id, .. }) if msp_id == "Org9MSP"
    ));
    check(r#"[{"name": "a", "policy": "OR('Org1MSP.member')", "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/Endorsement"}}]"#).unwrap();
    let err = check(r#"[{"name": "a", "policy": "OR('Org1MSP.member')", "endorsementPolicy": {"channelConfigPolicy": "NoSuchPolicy"}}]"#)
        .unwrap_err();
    assert!(err.to_string().contains("NoSuchPolicy"), "{err}");
}

#[test]
fn upgrades_keep_collections_and_their_block_to_live() {
    let old =
        parse(r#"[{"name": "a", "policy": "OR('Org1MSP.member')", "blockToLive": 3}]"#).unwrap();
    let mut new = old.clone();
    new.push(one("").unwrap());
    validate_collection_upgrade(&old, &new).unwrap();
    new[0].member_only_read = true;
    validate_collection_upgrade(&old, &new).unwrap();
    new[0].block_to_live = 4;
    assert_eq!(
        validate_collection_upgrade(&old, &new),
        Err(CollectionError::BlockToLiveChanged {
            name: "a".into(),
            old: 3
        })
    );
    assert_eq!(
        validate_collection_upgrade(&old, &new[1..]),
        Err(CollectionError::Missing { name: "a".into() })
    );
}

#[test]
fn resolution_covers_explicit_and_implicit_collections() {
    let ch = channel(&["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"]);
    let def = ContractDefinition {
        name: "acme".into(),
        version: "1".into(),
        sequence: 1,
        endorsement_policy: String::new(),
        init_required: false,
        collections: parse_collections_config(&testdata("acmechain.json")).unwrap(),
    };
    let pdc2 = Collection::resolve(&def, &ch, "PDC2").unwrap();
    assert!(pdc2.is_member("Org3MSP") && pdc2.is_member("Org4MSP"));
    assert!(!pdc2.is_member("Org1MSP"));
    assert_eq!(pdc2.endorsement_policy(&ch), None);
    let implicit = Collection::resolve(&def, &ch, "_implicit_org_Org2MSP").unwrap();
    assert!(implicit.is_implicit() && implicit.is_member("Org2MSP"));
    assert_eq!(implicit.member_orgs().len(), 1);
    assert_eq!(
        implicit.endorsement_policy(&ch).as_deref(),
        Some("OR('Org2MSP.peer')")
    );
    assert!(Collection::resolve(&def, &ch, "_implicit_org_Org9MSP").is_none());
    assert!(Collection::resolve(&def, &ch, "PDC3").is_none());
    assert_eq!(Collection::all(&def, &ch).len(), 2 + 4);
    assert_eq!(
        implicit_collection_org("_implicit_org_Org1MSP"),
        Some("Org1MSP")
    );
    assert_eq!(implicit_collection_org("_implicit_org_"), None);

    let mut with_ep = def.collections[0].clone();
    with_ep.endorsement_policy = Some(CollectionEndorsementPolicy::ChannelConfigPolicy(
        "/Channel/Application/Endorsement".into(),
    ));
    assert_eq!(
        Collection::explicit(with_ep.clone())
            .endorsement_policy(&ch)
            .as_deref(),
        Some("MAJORITY Endorsement")
    );
    with_ep.endorsement_policy = Some(CollectionEndorsementPolicy::ChannelConfigPolicy(
        "Gone".into(),
    ));
    assert_eq!(
        Collection::explicit(with_ep)
            .endorsement_policy(&ch)
            .as_deref(),
        Some(""),
        "an unknown channel policy resolves to a policy nobody satisfies"
    );
}
