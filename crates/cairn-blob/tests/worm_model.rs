//! The store against a model: random sequences of puts, overwrites,
//! appends, deletes (with and without version ids, with and without the
//! governance bypass, by allowed and not allowed callers), retention and
//! legal-hold changes, container policy changes (set, lock, extend,
//! remove), container holds, and a clock that moves both ways or fails.
//! Every operation must get exactly the model's allow/refuse decision, and
//! afterwards exactly the model's versions must exist.
//!
//! The model is written separately from `cairn_blob::worm`, as plain
//! statements of the rules (S3 Object Lock and Azure immutability as
//! docs/blobs.md describes them), over small integers of days.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_blob::worm::{DAY_MS, PolicyChange};
use cairn_blob::{Bypass, ManualClock, Mode, PutOptions, Retention, Store, StoreError, Timestamp};
use proptest::prelude::*;

const T0: i64 = 1_800_000_000_000;
const KEYS: [&str; 2] = ["a", "b"];

#[derive(Clone, Debug)]
enum Op {
    Put {
        key: usize,
        retention: Option<(bool, i64)>,
        hold: bool,
    },
    Append {
        key: usize,
    },
    DeleteVersion {
        pick: usize,
        requested: bool,
        allowed: bool,
    },
    DeleteMarker {
        key: usize,
    },
    SetRetention {
        pick: usize,
        new: Option<(bool, i64)>,
        requested: bool,
        allowed: bool,
    },
    SetHold {
        pick: usize,
        on: bool,
    },
    Clock {
        days: i64,
    },
    ClockFails(bool),
    Policy(PolicyOp),
    ContainerHold(bool),
}

#[derive(Clone, Copy, Debug)]
enum PolicyOp {
    Set { days: u32, append: bool },
    Lock,
    Extend { days: u32 },
    Remove,
}

fn op() -> impl Strategy<Value = Op> {
    let retention = proptest::option::of((any::<bool>(), -1i64..4));
    prop_oneof![
        4 => (0..2usize, retention.clone(), any::<bool>()).prop_map(|(key, retention, hold)| Op::Put { key, retention, hold }),
        1 => (0..2usize).prop_map(|key| Op::Append { key }),
        4 => (0..8usize, any::<bool>(), any::<bool>())
            .prop_map(|(pick, requested, allowed)| Op::DeleteVersion { pick, requested, allowed }),
        2 => (0..2usize).prop_map(|key| Op::DeleteMarker { key }),
        3 => (0..8usize, retention, any::<bool>(), any::<bool>())
            .prop_map(|(pick, new, requested, allowed)| Op::SetRetention { pick, new, requested, allowed }),
        2 => (0..8usize, any::<bool>()).prop_map(|(pick, on)| Op::SetHold { pick, on }),
        3 => (-2i64..4).prop_map(|days| Op::Clock { days }),
        1 => any::<bool>().prop_map(Op::ClockFails),
        2 => prop_oneof![
            (0u32..4, any::<bool>()).prop_map(|(days, append)| PolicyOp::Set { days, append }),
            Just(PolicyOp::Lock),
            (0u32..8).prop_map(|days| PolicyOp::Extend { days }),
            Just(PolicyOp::Remove),
        ]
        .prop_map(Op::Policy),
        1 => any::<bool>().prop_map(Op::ContainerHold),
    ]
}

/// One version in the model.
#[derive(Clone, Debug)]
struct MVersion {
    id: String,
    key: usize,
    marker: bool,
    created: i64,
    /// (compliance?, until)
    retention: Option<(bool, i64)>,
    hold: bool,
    alive: bool,
}

#[derive(Clone, Copy, Debug)]
struct MPolicy {
    days: i64,
    locked: bool,
    append: bool,
    extensions: u32,
}

#[derive(Default)]
struct Model {
    source: i64,
    high_water: i64,
    failing: bool,
    versions: Vec<MVersion>,
    policy: Option<MPolicy>,
    container_hold: bool,
}

impl Model {
    /// (known time, stamp): the time never goes back; unknown when failing.
    fn now(&mut self) -> (Option<i64>, i64) {
        if self.failing {
            return (None, self.high_water);
        }
        self.high_water = self.high_water.max(self.source);
        (Some(self.high_water), self.high_water)
    }

    fn in_force(now: Option<i64>, until: i64) -> bool {
        now.is_none_or(|t| t < until)
    }

    fn latest(&self, key: usize) -> Option<&MVersion> {
        self.versions.iter().rfind(|v| v.alive && v.key == key)
    }

    /// Whether the container (policy or hold) protects `v` now.
    fn container_protects(&self, v: &MVersion, now: Option<i64>) -> bool {
        self.container_hold
            || self
                .policy
                .is_some_and(|p| Self::in_force(now, v.created + p.days * DAY_MS))
    }
}

fn mode(compliance: bool) -> Mode {
    if compliance {
        Mode::Compliance
    } else {
        Mode::Governance
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp(T0));
    let store = Store::open(dir.path(), Box::new(clock.clone())).unwrap();
    store.create_bucket("model", true, "t").unwrap();
    let mut m = Model {
        source: T0,
        high_water: T0,
        ..Model::default()
    };
    for (step, op) in ops.into_iter().enumerate() {
        let (expected, actual): (bool, Result<(), StoreError>) = match op.clone() {
            Op::Clock { days } => {
                m.source += days * DAY_MS;
                clock.set(Some(Timestamp(m.source)));
                if m.failing {
                    clock.set(None);
                }
                (true, Ok(()))
            }
            Op::ClockFails(fail) => {
                m.failing = fail;
                clock.set(if fail {
                    None
                } else {
                    Some(Timestamp(m.source))
                });
                (true, Ok(()))
            }
            Op::Put {
                key,
                retention,
                hold,
            } => {
                let (now, stamp) = m.now();
                let until = retention.map(|(c, d)| (c, m.source + d * DAY_MS));
                let overwrite_refused = m
                    .latest(key)
                    .is_some_and(|v| !v.marker && (m.container_hold || m.policy.is_some()));
                let past = match (until, now) {
                    (Some((_, u)), Some(t)) => u <= t,
                    _ => false,
                };
                let allow = !overwrite_refused && !past;
                let opts = PutOptions {
                    retention: until.map(|(c, u)| Retention {
                        mode: mode(c),
                        until: Timestamp(u),
                    }),
                    legal_hold: hold,
                    owner: "t".to_owned(),
                    ..PutOptions::default()
                };
                let r = store.put("model", KEYS[key], format!("{step}").as_bytes(), opts);
                if let Ok(v) = &r {
                    m.versions.push(MVersion {
                        id: v.version_id.clone(),
                        key,
                        marker: false,
                        created: stamp,
                        retention: until,
                        hold,
                        alive: true,
                    });
                }
                (allow, r.map(|_| ()))
            }
            Op::Append { key } => {
                let (_, stamp) = m.now();
                let latest = m.latest(key).filter(|v| !v.marker).cloned();
                let allow = latest
                    .as_ref()
                    .is_none_or(|_| !m.container_hold && m.policy.is_none_or(|p| p.append));
                let r = store.append("model", KEYS[key], b"+", "t");
                if let Ok(v) = &r {
                    m.versions.push(MVersion {
                        id: v.version_id.clone(),
                        key,
                        marker: false,
                        created: stamp,
                        retention: latest.as_ref().and_then(|l| l.retention),
                        hold: latest.as_ref().is_some_and(|l| l.hold),
                        alive: true,
                    });
                }
                (allow, r.map(|_| ()))
            }
            Op::DeleteMarker { key } => {
                let (now, stamp) = m.now();
                let allow = match m.latest(key) {
                    Some(v) if !v.marker => !m.container_protects(v, now),
                    _ => true,
                };
                let r = store.delete("model", KEYS[key], None, Bypass::NONE, "t");
                if let Ok(out) = &r {
                    m.versions.push(MVersion {
                        id: out.version_id.clone(),
                        key,
                        marker: true,
                        created: stamp,
                        retention: None,
                        hold: false,
                        alive: true,
                    });
                }
                (allow, r.map(|_| ()))
            }
            Op::DeleteVersion {
                pick,
                requested,
                allowed,
            } => {
                let Some(i) = pick_index(&m, pick) else {
                    continue;
                };
                let (now, _) = m.now();
                let v = m.versions[i].clone();
                let allow = v.alive
                    && (v.marker
                        || (!v.hold
                            && !m.container_protects(&v, now)
                            && match v.retention {
                                Some((compliance, until)) if Model::in_force(now, until) => {
                                    !compliance && requested && allowed
                                }
                                _ => true,
                            }));
                let bypass = Bypass { requested, allowed };
                let r = store.delete("model", KEYS[v.key], Some(&v.id), bypass, "t");
                if r.is_ok() {
                    m.versions[i].alive = false;
                }
                (allow, r.map(|_| ()))
            }
            Op::SetRetention {
                pick,
                new,
                requested,
                allowed,
            } => {
                let Some(i) = pick_index(&m, pick) else {
                    continue;
                };
                let (now, _) = m.now();
                let v = m.versions[i].clone();
                let new = new.map(|(c, d)| (c, m.source + d * DAY_MS));
                let past = matches!((new, now), (Some((_, u)), Some(t)) if u <= t);
                let allow = v.alive
                    && !v.marker
                    && !past
                    && match v.retention {
                        Some((compliance, until)) if Model::in_force(now, until) => {
                            let extends =
                                matches!(new, Some((c, u)) if c == compliance && u >= until);
                            extends || (!compliance && requested && allowed)
                        }
                        _ => true,
                    };
                let r = store.set_retention(
                    "model",
                    KEYS[v.key],
                    Some(&v.id),
                    new.map(|(c, u)| Retention {
                        mode: mode(c),
                        until: Timestamp(u),
                    }),
                    Bypass { requested, allowed },
                    "t",
                );
                if r.is_ok() {
                    m.versions[i].retention = new;
                }
                (allow, r.map(|_| ()))
            }
            Op::SetHold { pick, on } => {
                let Some(i) = pick_index(&m, pick) else {
                    continue;
                };
                m.now();
                let v = m.versions[i].clone();
                let allow = v.alive && !v.marker;
                let r = store.set_legal_hold("model", KEYS[v.key], Some(&v.id), on, "t");
                if r.is_ok() {
                    m.versions[i].hold = on;
                }
                (allow, r.map(|_| ()))
            }
            Op::ContainerHold(on) => {
                m.now();
                m.container_hold = on;
                let r = store.set_container_hold("model", "case1", on, "t");
                (true, r.map(|_| ()))
            }
            Op::Policy(p) => {
                m.now();
                let (allow, next, change) = model_policy(m.policy, p);
                let r = store.change_container_policy("model", change, "t");
                if r.is_ok() {
                    m.policy = next;
                }
                (allow, r.map(|_| ()))
            }
        };
        assert_eq!(
            actual.is_ok(),
            expected,
            "step {step}: {op:?}: the store said {actual:?}, the model {}",
            if expected { "allow" } else { "refuse" }
        );
        // The store holds exactly the model's versions.
        let listed = store.list_versions("model", "", None, None, 1000).unwrap();
        let mut ids: Vec<String> = listed
            .entries
            .iter()
            .map(|(v, _)| v.version_id.clone())
            .collect();
        ids.sort();
        let mut alive: Vec<String> = m
            .versions
            .iter()
            .filter(|v| v.alive)
            .map(|v| v.id.clone())
            .collect();
        alive.sort();
        assert_eq!(ids, alive, "step {step}: {op:?}");
    }
}

/// The model's container policy after `op`: (allowed, new state, the store's change).
fn model_policy(cur: Option<MPolicy>, op: PolicyOp) -> (bool, Option<MPolicy>, PolicyChange) {
    match op {
        PolicyOp::Set { days, append } => {
            let change = PolicyChange::Set {
                days,
                allow_protected_append: append,
            };
            match cur {
                Some(p) if p.locked => (false, cur, change),
                _ if days == 0 => (false, cur, change),
                Some(p) => (
                    true,
                    Some(MPolicy {
                        days: i64::from(days),
                        append,
                        ..p
                    }),
                    change,
                ),
                None => (
                    true,
                    Some(MPolicy {
                        days: i64::from(days),
                        locked: false,
                        append,
                        extensions: 0,
                    }),
                    change,
                ),
            }
        }
        PolicyOp::Lock => match cur {
            None => (false, cur, PolicyChange::Lock),
            Some(p) => (
                true,
                Some(MPolicy { locked: true, ..p }),
                PolicyChange::Lock,
            ),
        },
        PolicyOp::Extend { days } => {
            let change = PolicyChange::Extend { days };
            match cur {
                None => (false, cur, change),
                Some(_) if days == 0 => (false, cur, change),
                Some(p) if !p.locked => (
                    true,
                    Some(MPolicy {
                        days: i64::from(days),
                        ..p
                    }),
                    change,
                ),
                Some(p) if i64::from(days) < p.days || p.extensions >= 5 => (false, cur, change),
                Some(p) => (
                    true,
                    Some(MPolicy {
                        days: i64::from(days),
                        extensions: p.extensions + 1,
                        ..p
                    }),
                    change,
                ),
            }
        }
        PolicyOp::Remove => match cur {
            Some(p) if !p.locked => (true, None, PolicyChange::Remove),
            _ => (false, cur, PolicyChange::Remove),
        },
    }
}

/// A version to act on (live or already deleted); none before the first put.
fn pick_index(m: &Model, pick: usize) -> Option<usize> {
    (!m.versions.is_empty()).then(|| pick % m.versions.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_sequence_gets_the_models_decisions(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}

/// The two one-way rules, spelled out: once locked a container policy never
/// unlocks or shrinks, and a compliance retention never shrinks.
#[test]
fn lock_is_one_way_and_compliance_extend_only() {
    run(vec![
        Op::Policy(PolicyOp::Set {
            days: 2,
            append: false,
        }),
        Op::Policy(PolicyOp::Lock),
        Op::Policy(PolicyOp::Remove),
        Op::Policy(PolicyOp::Set {
            days: 1,
            append: true,
        }),
        Op::Policy(PolicyOp::Extend { days: 1 }),
        Op::Policy(PolicyOp::Extend { days: 3 }),
        Op::Put {
            key: 0,
            retention: Some((true, 2)),
            hold: false,
        },
        Op::SetRetention {
            pick: 0,
            new: Some((true, 1)),
            requested: true,
            allowed: true,
        },
        Op::SetRetention {
            pick: 0,
            new: Some((false, 5)),
            requested: true,
            allowed: true,
        },
        Op::SetRetention {
            pick: 0,
            new: Some((true, 3)),
            requested: false,
            allowed: false,
        },
        Op::DeleteVersion {
            pick: 0,
            requested: true,
            allowed: true,
        },
        Op::Clock { days: 4 },
        Op::DeleteVersion {
            pick: 0,
            requested: false,
            allowed: false,
        },
    ]);
}
