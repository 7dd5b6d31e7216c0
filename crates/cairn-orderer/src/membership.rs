//! Which orderers form the Raft cluster, from the channel configuration.
//!
//! The config's `orderers` list, when not empty, is the membership the
//! cluster must have (an empty list leaves the membership to the nodes'
//! `cluster` setting, as when the channel does not name its orderers). A
//! config block that changes the list is carried out by the Raft leader,
//! which *reconciles*: it compares the list with the Raft membership and
//!
//! 1. adds each listed orderer that is not a member as a learner, and waits
//!    until replication to it has caught up (an orderer that is not running
//!    yet is never made a voter, so it cannot cost the cluster its quorum);
//! 2. makes exactly the listed orderers the voters (openraft's joint
//!    consensus), which removes the unlisted ones.
//!
//! Comparing states rather than reacting to one block means a leader
//! elected half way through a change finishes it, and a failed step is
//! retried on the next round.
//!
//! Every node also watches whether its own ledger's config lists it. One
//! that is not listed (removed, or added but not caught up yet) does not
//! serve the channel — broadcast and deliver answer 503 naming the listed
//! orderers — and does not campaign: the leader stops replicating to a
//! removed node, which would otherwise start elections forever.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_ledger::config::ChannelConfig;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::node::Shared;
use crate::types::{NodeId, TypeConfig};

/// How often the membership is compared with the config when nothing else
/// (a new block) prompts it; bounds how long a new leader takes to notice.
const TICK: Duration = Duration::from_millis(300);

/// How long one round waits for a new learner to catch up before it leaves
/// the learner as is and tries again next round.
const CATCH_UP_WAIT: Duration = Duration::from_secs(20);

/// The Raft membership a channel config asks for: `None` when it lists no
/// orderers (the membership is then configured out of band).
pub(crate) fn desired(config: &ChannelConfig) -> Option<BTreeMap<NodeId, BasicNode>> {
    if config.orderers.is_empty() {
        return None;
    }
    Some(
        config
            .orderers
            .iter()
            .map(|o| (o.id, BasicNode::new(o.url.trim_end_matches('/'))))
            .collect(),
    )
}

/// Whether `config` lets orderer `id` serve the channel.
pub(crate) fn listed(config: &ChannelConfig, id: NodeId) -> bool {
    config.orderers.is_empty() || config.orderers.iter().any(|o| o.id == id)
}

/// The ids the config lists, for messages.
pub(crate) fn listed_ids(config: &ChannelConfig) -> String {
    config
        .orderers
        .iter()
        .map(|o| format!("{} ({})", o.id, o.url))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who may stop this node from campaigning: installs in progress (holds)
/// and not being listed. Elections run only when neither applies.
#[derive(Debug, Default)]
pub(crate) struct Elections {
    /// (holds, unlisted)
    state: Mutex<(usize, bool)>,
}

impl Elections {
    fn update(&self, raft: &Raft<TypeConfig>, f: impl FnOnce(&mut (usize, bool))) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state);
        raft.runtime_config().elect(state.0 == 0 && !state.1);
    }

    /// Stops campaigning until the returned guard is dropped.
    pub(crate) fn hold<'a>(&'a self, raft: &'a Raft<TypeConfig>) -> ElectionHold<'a> {
        self.update(raft, |s| s.0 += 1);
        ElectionHold {
            elections: self,
            raft,
        }
    }

    fn set_unlisted(&self, raft: &Raft<TypeConfig>, unlisted: bool) {
        self.update(raft, |s| s.1 = unlisted);
    }
}

/// Elections stay off while this lives (even if the request that took it
/// is dropped half way).
pub(crate) struct ElectionHold<'a> {
    elections: &'a Elections,
    raft: &'a Raft<TypeConfig>,
}

impl Drop for ElectionHold<'_> {
    fn drop(&mut self) {
        self.elections
            .update(self.raft, |s| s.0 = s.0.saturating_sub(1));
    }
}

/// Runs on every orderer: keeps its standing (listed or not) current and,
/// while it leads, the Raft membership equal to the config's list.
pub(crate) async fn run(node: Arc<Shared>) {
    let mut height = node.height.subscribe();
    let mut was_listed: Option<bool> = None;
    loop {
        let ctx = node.ledger.context();
        let config = ctx.config();
        let is_listed = listed(config, node.id);
        if was_listed != Some(is_listed) {
            if is_listed {
                info!(id = node.id, channel = %config.name, "this orderer serves the channel");
            } else {
                warn!(
                    id = node.id,
                    channel = %config.name,
                    orderers = %listed_ids(config),
                    "the channel configuration does not list this orderer: it does not serve the \
                     channel and does not campaign (removed, or added and still catching up)"
                );
            }
            node.elections.set_unlisted(&node.raft, !is_listed);
            was_listed = Some(is_listed);
        }
        if let Some(want) = desired(config)
            && is_leader(&node)
            && let Err(e) = reconcile(&node, &want).await
        {
            warn!(reason = %e, "changing the Raft membership to the channel's orderers failed; retrying");
        }
        tokio::select! {
            changed = height.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

fn is_leader(node: &Shared) -> bool {
    let m = node.raft.metrics();
    let m = m.borrow();
    m.state == ServerState::Leader && m.current_leader == Some(node.id)
}

type WriteError = RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>;

fn raft_err(step: &str) -> impl Fn(WriteError) -> String + '_ {
    move |e| format!("{step}: {e}")
}

/// One round of bringing the membership to `want` (leader only).
async fn reconcile(node: &Shared, want: &BTreeMap<NodeId, BasicNode>) -> Result<(), String> {
    let membership = node.raft.metrics().borrow().membership_config.clone();
    let current = membership.membership();
    let voters: BTreeSet<NodeId> = current.voter_ids().collect();
    let want_ids: BTreeSet<NodeId> = want.keys().copied().collect();
    let moved: BTreeMap<NodeId, BasicNode> = want
        .iter()
        .filter(|(id, n)| current.get_node(id).is_some_and(|m| m.addr != n.addr))
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    let stray: BTreeSet<NodeId> = current
        .learner_ids()
        .filter(|id| !want.contains_key(id))
        .collect();
    if voters == want_ids && moved.is_empty() && stray.is_empty() {
        return Ok(());
    }
    info!(voters = ?voters, listed = ?want_ids, "the channel's orderers changed: changing the Raft membership");
    if !moved.is_empty() {
        node.raft
            .change_membership(ChangeMembers::SetNodes(moved), true)
            .await
            .map_err(raft_err("updating orderer addresses"))?;
    }
    for (id, n) in want {
        if current.get_node(id).is_none() {
            info!(id, url = %n.addr, "adding orderer as a learner");
            node.raft
                .add_learner(*id, n.clone(), false)
                .await
                .map_err(raft_err("adding a learner"))?;
        }
    }
    let target = node.raft.metrics().borrow().last_log_index.unwrap_or(0);
    for id in want_ids.difference(&voters) {
        wait_caught_up(node, *id, target).await?;
    }
    if voters != want_ids {
        node.raft
            .change_membership(want_ids.clone(), false)
            .await
            .map_err(raft_err("changing the voters"))?;
        info!(voters = ?want_ids, "Raft membership now matches the channel's orderers");
    }
    if !stray.is_empty() {
        node.raft
            .change_membership(ChangeMembers::RemoveNodes(stray), false)
            .await
            .map_err(raft_err("removing learners the channel no longer lists"))?;
    }
    Ok(())
}

/// Waits until this leader has replicated its log up to `index` to `id`.
async fn wait_caught_up(node: &Shared, id: NodeId, index: u64) -> Result<(), String> {
    let mut metrics = node.raft.metrics();
    let deadline = Instant::now() + CATCH_UP_WAIT;
    loop {
        {
            let m = metrics.borrow_and_update();
            if m.state != ServerState::Leader {
                return Err("leadership moved; the new leader continues".into());
            }
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).cloned().flatten())
                .map(|l| l.index);
            if matched.is_some_and(|i| i >= index) {
                return Ok(());
            }
        }
        match tokio::time::timeout_at(deadline, metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("Raft stopped".into()),
            Err(_) => {
                return Err(format!(
                    "orderer {id} has not caught up with the log (index {index}) in {CATCH_UP_WAIT:?}: \
                     is it running and reachable?"
                ));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use cairn_ledger::config::OrdererEndpoint;

    use super::*;

    fn config(ids: &[u64]) -> ChannelConfig {
        let mut c = ChannelConfig::with_defaults("ch", Vec::new(), Vec::new());
        c.orderers = ids
            .iter()
            .map(|id| OrdererEndpoint {
                id: *id,
                msp_id: format!("Org{id}MSP"),
                url: format!("https://o{id}.example:7050/"),
            })
            .collect();
        c
    }

    #[test]
    fn an_empty_list_leaves_the_membership_alone_and_lists_everyone() {
        let c = config(&[]);
        assert_eq!(desired(&c), None);
        assert!(listed(&c, 7));
    }

    #[test]
    fn the_list_is_the_membership_with_urls_normalized() {
        let c = config(&[1, 3]);
        let want = desired(&c).unwrap();
        assert_eq!(want.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(want[&3].addr, "https://o3.example:7050");
        assert!(listed(&c, 1));
        assert!(!listed(&c, 2));
    }
}
