//! Admission of envelopes before they are ordered, and the words for a
//! refused configuration update.
//!
//! Invariant: the orderer a client submits to admits the envelope
//! ([`admit`]: creator valid now, the channel's `Writers` policy) before it
//! relays or orders it; the leader verifies the envelope's signature when it
//! seals the batch and refuses the envelopes that fail, so no block a
//! correct leader seals holds one. A leader only checks the shape of
//! what a follower relays: the relay is an orderer of the channel,
//! authenticated by mutual TLS, and orderers are trusted to follow the
//! protocol (the Raft cluster tolerates crashes, not lies: a lying leader
//! could order anything anyway). Block validation on every node still
//! checks every signature again.

use std::collections::BTreeSet;

use cairn_crypto::{Identity, Role};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::{ConfigTx, Envelope, Transaction};
use cairn_ledger::validate::ChannelContext;
use cairn_ledger::validation::ValidationCode;

use crate::error::BroadcastError;

/// The checks that cost next to nothing: size, decoding, channel.
pub(crate) fn check_shape(
    ctx: &ChannelContext,
    env: &Envelope,
) -> Result<(Vec<u8>, Transaction), BroadcastError> {
    let bytes = env
        .encode()
        .map_err(|e| BroadcastError::Malformed(e.to_string()))?;
    let max = ctx.config().batch.max_bytes;
    if bytes.len() as u64 > max {
        return Err(BroadcastError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    let tx = env
        .transaction()
        .map_err(|e| BroadcastError::Malformed(e.to_string()))?;
    let header = tx.header();
    if header.channel != ctx.config().name {
        return Err(BroadcastError::WrongChannel {
            got: header.channel.clone(),
            expected: ctx.config().name.clone(),
        });
    }
    Ok((bytes, tx))
}

/// Full admission: [`check_shape`], then the creator is a valid identity
/// of a channel org now and satisfies the channel's `Writers` policy. The
/// envelope's signature is verified once, when the leader seals the batch
/// (validation verifies it anyway; an envelope that fails is refused then).
pub(crate) fn admit(
    ctx: &ChannelContext,
    env: &Envelope,
) -> Result<(Vec<u8>, Transaction), BroadcastError> {
    let (bytes, tx) = check_shape(ctx, env)?;
    let header = tx.header();
    let creator = ctx
        .identify(&header.creator, cairn_crypto::unix_now())
        .map_err(|e| BroadcastError::Forbidden(format!("creator certificate: {e}")))?;
    let writers = ctx.channel_policy_text("Writers");
    if !ctx.satisfied(&writers, std::slice::from_ref(&creator)) {
        return Err(BroadcastError::Forbidden(format!(
            "creator {} ({}) does not satisfy the channel's Writers policy `{writers}`",
            creator.subject(),
            creator.msp_id()
        )));
    }
    Ok((bytes, tx))
}

/// Why a configuration update that validation found invalid is refused,
/// in words the submitting admin can act on.
pub(crate) fn config_refusal(
    ctx: &ChannelContext,
    tx: &ConfigTx,
    code: ValidationCode,
) -> BroadcastError {
    let current = ctx.config();
    let new = &tx.config;
    if code != ValidationCode::InvalidConfigTransaction {
        return BroadcastError::Forbidden(format!("configuration update ({code})"));
    }
    let reason = if new.name != current.name {
        format!(
            "it is for channel {}, this is channel {}",
            new.name, current.name
        )
    } else if new.sequence != current.sequence + 1 {
        format!(
            "its sequence is {}; the configuration in force has sequence {}, so the next is {}",
            new.sequence,
            current.sequence,
            current.sequence + 1
        )
    } else if let Err(e) = ChannelContext::new(new.clone()) {
        format!("the new configuration is not valid: {e}")
    } else {
        let msg = match ConfigTx::signed_bytes(&tx.header, new) {
            Ok(msg) => msg,
            Err(e) => return BroadcastError::Malformed(e.to_string()),
        };
        let now = cairn_crypto::unix_now();
        let admins: Vec<Identity> = tx
            .signatures
            .iter()
            .filter_map(|s| {
                let id = ctx.identify(&s.endorser, now).ok()?;
                id.verify(&msg, &s.signature).ok()?;
                Some(id)
            })
            .collect();
        let policy = ctx.channel_policy_text("Admins");
        if ctx.satisfied(&policy, &admins) {
            return BroadcastError::Forbidden(format!(
                "configuration update ({code}): its admin signatures were not valid at the \
                 block's time (a certificate expired or was revoked meanwhile?); sign it again"
            ));
        }
        let orgs: BTreeSet<&str> = admins
            .iter()
            .filter(|a| a.role() == Role::Admin)
            .map(|a| a.msp_id())
            .collect();
        let orgs: Vec<&str> = orgs.into_iter().collect();
        format!(
            "its signatures do not satisfy the channel's Admins policy `{policy}` (valid \
             admin signatures from: {})",
            if orgs.is_empty() {
                "none".to_string()
            } else {
                orgs.join(", ")
            }
        )
    };
    BroadcastError::Forbidden(format!("configuration update ({code}): {reason}"))
}

/// The configuration update an envelope carries, if it is one.
pub(crate) fn config_tx(bytes: &[u8]) -> Option<ConfigTx> {
    match Envelope::decode(bytes).ok()?.transaction().ok()? {
        Transaction::Config(c) => Some(c),
        Transaction::Endorsed(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use cairn_ledger::client::config_update;
    use cairn_testkit::{TestNet, nonce, now, write_set};

    use super::*;

    fn envelope(net: &TestNet, creator: &cairn_crypto::SigningIdentity) -> Envelope {
        let rwset = write_set("basic", &[("k", b"v")]);
        let (_, bytes) = net.endorsed_tx(creator, "basic", rwset, &[&net.orgs[0].peer]);
        Envelope::decode(&bytes).unwrap()
    }

    fn refusal(r: Result<(Vec<u8>, Transaction), BroadcastError>) -> String {
        match r {
            Err(BroadcastError::Forbidden(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn admits_a_writer_and_refuses_outsiders_forgeries_and_non_writers() {
        let net = TestNet::new(2);
        let mut config = net.config.clone();
        config
            .policies
            .insert("Writers".into(), "OR('Org1MSP.client')".into());
        let ctx = ChannelContext::new(config).unwrap();
        let good = envelope(&net, &net.orgs[0].user);
        let (bytes, _) = admit(&ctx, &good).unwrap();
        assert_eq!(bytes, good.encode().unwrap());

        // A creator whose org is not on the channel.
        let dir = tempfile::tempdir().unwrap();
        cairn_crypto::generate(&["Rogue".to_string()], dir.path(), &Default::default()).unwrap();
        let rogue =
            cairn_crypto::SigningIdentity::from_dir(&dir.path().join("rogue/users/user1")).unwrap();
        let m = refusal(admit(&ctx, &envelope(&net, &rogue)));
        assert!(
            m.starts_with("creator certificate: no organization in this channel"),
            "{m}"
        );

        // A signature that is not the creator's over this payload passes
        // admission: the leader verifies it once, when sealing (refusing it
        // then; see t10_cluster's refusals), so admission does not repeat it.
        let mut forged = good.clone();
        forged.signature = net.orgs[1].user.sign(&forged.payload);
        assert!(admit(&ctx, &forged).is_ok());
        assert!(check_shape(&ctx, &forged).is_ok());

        // A valid member that is not a writer.
        let m = refusal(admit(&ctx, &envelope(&net, &net.orgs[1].user)));
        assert!(m.contains("Writers policy `OR('Org1MSP.client')`"), "{m}");
    }

    #[test]
    fn a_refused_config_update_says_what_to_fix() {
        let net = TestNet::new(3);
        let ctx = ChannelContext::new(net.config.clone()).unwrap();
        let mut next = net.config.clone();
        next.sequence = 1;
        next.batch.max_tx_count = 7;
        let code = ValidationCode::InvalidConfigTransaction;
        let message = |new: &cairn_ledger::config::ChannelConfig, admins: &[usize]| {
            let signers: Vec<_> = admins.iter().map(|i| &net.orgs[*i].admin).collect();
            let env = config_update(new, &net.orgs[0].admin, &signers, nonce(), now()).unwrap();
            let tx = config_tx(&env.encode().unwrap()).unwrap();
            config_refusal(&ctx, &tx, code).to_string()
        };
        let m = message(&next, &[0]);
        assert!(
            m.contains("Admins policy `MAJORITY Admins` (valid admin signatures from: Org1MSP)"),
            "{m}"
        );
        let mut skipped = next.clone();
        skipped.sequence = 2;
        let m = message(&skipped, &[0, 1]);
        assert!(
            m.contains(
                "its sequence is 2; the configuration in force has sequence 0, so the next is 1"
            ),
            "{m}"
        );
        assert!(config_tx(&envelope(&net, &net.orgs[0].user).encode().unwrap()).is_none());
    }
}
