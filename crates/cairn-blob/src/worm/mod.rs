//! The WORM rules, in one place and without I/O: every path that deletes,
//! overwrites, appends or changes a policy asks a function here first, with
//! the version's [`Protection`], the time as far as it can be trusted
//! ([`Now`]) and the caller's [`Bypass`]. A refusal is a [`Refusal`] that
//! names the rule that fired (mode, retain-until, legal hold, container
//! policy), so the S3 layer only maps it to a status code.
//!
//! Two vocabularies, one engine (docs/blobs.md has the table):
//! - S3 Object Lock: per-version retention (GOVERNANCE or COMPLIANCE, with a
//!   retain-until date), a per-version legal hold, bucket default retention;
//!   versions are immutable, an overwrite is a new version, a delete without
//!   a version id is a delete marker.
//! - Azure container-level immutability: a [`ContainerPolicy`] of N days from
//!   a blob's creation (or last append), Unlocked then Locked (one-way;
//!   locked is extend-only, at most [`MAX_EXTENSIONS`] times), container
//!   legal-hold tags, and protected append writes.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds per day.
pub const DAY_MS: i64 = 86_400_000;
/// Azure's longest retention interval (146,000 days, 400 years).
pub const MAX_CONTAINER_DAYS: u32 = 146_000;
/// Extensions a locked container policy allows over its lifetime (Azure's limit).
pub const MAX_EXTENSIONS: u8 = 5;
/// S3's longest default retention: 100 years.
pub const MAX_DEFAULT_DAYS: u32 = 36_500;

/// A point in time: milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// `self` plus `days` whole days.
    pub fn plus_days(self, days: u32) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::from(days).saturating_mul(DAY_MS)),
        )
    }

    /// RFC 3339 with milliseconds, UTC (`2030-01-01T00:00:00.000Z`), as S3 writes dates.
    pub fn rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            // Outside time's range (year ±9999): still printed, never a panic.
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Parses an RFC 3339 / ISO 8601 date as clients send it
    /// (`2030-01-01T00:00:00Z`, with or without fractional seconds).
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let t = time::OffsetDateTime::parse(
            text.trim(),
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// What time it is, as far as the store can trust it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Now {
    /// The time source answered (never earlier than the persisted high-water mark).
    Known(Timestamp),
    /// The time source failed: every retention is treated as still in force.
    Unknown {
        /// The last time known (the high-water mark): new records are stamped with it.
        at_least: Timestamp,
    },
}

impl Now {
    /// Whether `until` is still in the future (always, when the time is unknown:
    /// the rules fail closed).
    pub fn before(self, until: Timestamp) -> bool {
        match self {
            Now::Known(now) => now < until,
            Now::Unknown { .. } => true,
        }
    }
}

/// S3 Object Lock's retention modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// No one can delete, overwrite, shorten or change the mode before the date.
    Compliance,
    /// Protected unless an allowed caller asks for the bypass.
    Governance,
}

impl Mode {
    /// `COMPLIANCE` or `GOVERNANCE`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Compliance => "COMPLIANCE",
            Mode::Governance => "GOVERNANCE",
        }
    }

    /// Parses the wire form (exact, upper case, as S3 requires).
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim() {
            "COMPLIANCE" => Some(Mode::Compliance),
            "GOVERNANCE" => Some(Mode::Governance),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version's retention: a mode and the date until which it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Retention {
    /// Governance or compliance.
    pub mode: Mode,
    /// The version is protected while the time is before this.
    pub until: Timestamp,
}

/// A bucket's default retention (S3's `DefaultRetention`), applied to new versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// Governance or compliance.
    pub mode: Mode,
    /// Days from a version's creation.
    pub days: u32,
}

/// Azure container policy state: Unlocked may be shortened or removed, Locked only extended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyState {
    /// Extend-only, never removed; the lock is one-way.
    Locked,
    /// For testing a policy: may be shortened, extended or removed.
    Unlocked,
}

/// An Azure-style container-level time-based retention policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPolicy {
    /// Days from a blob's creation (or last append) during which it is protected.
    pub days: u32,
    /// Unlocked or Locked.
    pub state: PolicyState,
    /// Whether append writes are allowed on protected blobs.
    pub allow_protected_append: bool,
    /// How many times the locked policy was extended.
    pub extensions: u8,
}

/// A change to a container policy (Azure's CreateOrUpdate, Lock, Extend, Delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChange {
    /// Extend a locked policy (or change an unlocked one) to `days`.
    Extend {
        /// The new period.
        days: u32,
    },
    /// Lock the policy (one-way).
    Lock,
    /// Delete the policy (unlocked only).
    Remove,
    /// Create or update an unlocked policy.
    Set {
        /// The period.
        days: u32,
        /// Whether protected append writes are allowed.
        allow_protected_append: bool,
    },
}

/// Everything that protects one object version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Protection {
    /// S3 retention on the version.
    pub retention: Option<Retention>,
    /// S3 legal hold on the version.
    pub legal_hold: bool,
    /// The container's time-based policy, if any.
    pub container: Option<ContainerPolicy>,
    /// The container's legal-hold tags.
    pub container_holds: BTreeSet<String>,
    /// Creation (or last append) of the version: the container policy counts from here.
    pub protected_since: Option<Timestamp>,
}

impl Protection {
    /// Until when the container policy protects this version, if it does.
    pub fn container_until(&self) -> Option<Timestamp> {
        let policy = self.container?;
        Some(self.protected_since?.plus_days(policy.days))
    }
}

/// The caller's governance bypass: asked for with `x-amz-bypass-governance-retention: true`,
/// allowed by the caller's access key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bypass {
    /// The request carried the bypass header.
    pub requested: bool,
    /// The caller's key allows bypassing governance retention.
    pub allowed: bool,
}

impl Bypass {
    /// No bypass asked for.
    pub const NONE: Bypass = Bypass {
        requested: false,
        allowed: false,
    };

    fn effective(self) -> bool {
        self.requested && self.allowed
    }
}

/// Who is at fault for a refusal, which sets the wire code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// The bucket's state does not allow it (S3 409 InvalidBucketState).
    Conflict,
    /// The request is malformed or makes no sense here (S3 400 InvalidRequest).
    Invalid,
    /// A WORM rule protects the data (S3 403 AccessDenied; Azure 409).
    Protected,
}

/// Why a WORM rule refused an operation; the message names the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A container without protected appends, or with a legal hold, refuses appends.
    #[error(
        "append refused: the container's retention policy ({days} days, {state:?}) does not allow \
         protected append writes"
    )]
    AppendNotAllowed {
        /// The policy's period.
        days: u32,
        /// Its state.
        state: PolicyState,
    },
    /// The bypass header was sent by a caller whose key may not bypass.
    #[error(
        "Access Denied because object protected by object lock: GOVERNANCE retention until {until}; \
         the bypass header was sent but this access key is not allowed to bypass governance \
         retention (issue a key with --allow-bypass-governance)"
    )]
    BypassNotPermitted {
        /// The retain-until date.
        until: Timestamp,
    },
    /// A compliance-mode version cannot be deleted before its date.
    #[error(
        "Access Denied because object protected by object lock: COMPLIANCE retention until {until}; \
         no one can delete it or shorten the retention before then"
    )]
    ComplianceActive {
        /// The retain-until date.
        until: Timestamp,
    },
    /// A compliance retention cannot change mode.
    #[error(
        "Access Denied because object protected by object lock: COMPLIANCE retention until {until} \
         cannot be changed to GOVERNANCE or removed"
    )]
    ComplianceModeChange {
        /// The retain-until date.
        until: Timestamp,
    },
    /// A compliance retention can only be extended.
    #[error(
        "Access Denied because object protected by object lock: COMPLIANCE retention until {until} \
         can only be extended, not shortened to {requested}"
    )]
    ComplianceShortened {
        /// The current date.
        until: Timestamp,
        /// The earlier date asked for.
        requested: Timestamp,
    },
    /// The container's legal-hold tags block deletes and overwrites.
    #[error(
        "This operation is not permitted as the blob is immutable due to one or more legal holds \
         on the container: {tags:?}"
    )]
    ContainerHold {
        /// The hold tags.
        tags: BTreeSet<String>,
    },
    /// A container policy protects the blob.
    #[error(
        "This operation is not permitted as the blob is immutable due to a policy: the container's \
         time-based retention ({days} days, {state:?}) protects it until {until}"
    )]
    ContainerPolicyActive {
        /// The policy's period.
        days: u32,
        /// Its state.
        state: PolicyState,
        /// Until when this blob is protected.
        until: Timestamp,
    },
    /// A locked container policy only allows extension.
    #[error(
        "the container's retention policy is Locked ({days} days): a locked policy can only be \
         extended, never shortened, removed, unlocked or have its append setting changed"
    )]
    ContainerPolicyLocked {
        /// The policy's period.
        days: u32,
    },
    /// Container policy operations need a policy.
    #[error("the container has no time-based retention policy; create one first")]
    ContainerPolicyMissing,
    /// A locked policy was extended too often.
    #[error(
        "the locked container policy was already extended {extensions} times; Azure allows at most \
         {MAX_EXTENSIONS}"
    )]
    ExtensionLimit {
        /// How many extensions were made.
        extensions: u8,
    },
    /// A governance-mode version needs the bypass to be deleted or shortened.
    #[error(
        "Access Denied because object protected by object lock: GOVERNANCE retention until {until}; \
         only a caller allowed to bypass governance retention, sending \
         x-amz-bypass-governance-retention: true, may delete it or shorten the retention"
    )]
    GovernanceActive {
        /// The retain-until date.
        until: Timestamp,
    },
    /// A period outside what the model allows.
    #[error("invalid retention period of {days} days: it must be between 1 and {max}")]
    InvalidDays {
        /// The period given.
        days: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A legal hold on the version blocks deletion, whatever the retention.
    #[error(
        "Access Denied because object protected by object lock: a legal hold is ON for this version; \
         remove the legal hold first (governance bypass does not override it)"
    )]
    LegalHold,
    /// Object lock, once enabled, stays enabled.
    #[error("object lock cannot be disabled once enabled (and versioning cannot be suspended)")]
    LockIrreversible,
    /// Retention and legal holds need a bucket created with object lock.
    #[error(
        "Bucket is missing Object Lock Configuration: create the bucket with \
         x-amz-bucket-object-lock-enabled: true to use retention or legal holds"
    )]
    LockNotEnabled,
    /// Object lock can be enabled only when the bucket is created.
    #[error(
        "Object Lock configuration cannot be enabled on existing buckets; create a new bucket with \
         x-amz-bucket-object-lock-enabled: true"
    )]
    LockOnlyAtCreation,
    /// A new retain-until date must be in the future.
    #[error("the retain until date must be in the future (got {until})")]
    RetainUntilPast {
        /// The date given.
        until: Timestamp,
    },
}

impl Refusal {
    /// Who is at fault, which chooses the status code.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::AppendNotAllowed { .. }
            | Refusal::BypassNotPermitted { .. }
            | Refusal::ComplianceActive { .. }
            | Refusal::ComplianceModeChange { .. }
            | Refusal::ComplianceShortened { .. }
            | Refusal::ContainerHold { .. }
            | Refusal::ContainerPolicyActive { .. }
            | Refusal::GovernanceActive { .. }
            | Refusal::LegalHold => RefusalKind::Protected,
            Refusal::ContainerPolicyLocked { .. }
            | Refusal::ExtensionLimit { .. }
            | Refusal::LockIrreversible
            | Refusal::LockOnlyAtCreation => RefusalKind::Conflict,
            Refusal::ContainerPolicyMissing
            | Refusal::InvalidDays { .. }
            | Refusal::LockNotEnabled
            | Refusal::RetainUntilPast { .. } => RefusalKind::Invalid,
        }
    }

    /// The code Azure's Blob service gives for the same refusal.
    pub fn azure_code(&self) -> &'static str {
        match self {
            Refusal::LegalHold | Refusal::ContainerHold { .. } => "BlobImmutableDueToLegalHold",
            r if r.kind() == RefusalKind::Protected => "BlobImmutableDueToPolicy",
            Refusal::ContainerPolicyLocked { .. } | Refusal::ExtensionLimit { .. } => {
                "ImmutabilityPolicyLocked"
            }
            _ => "InvalidOperation",
        }
    }
}

/// May this version be deleted for good (a delete with its version id)?
///
/// Checked in MinIO's order: legal holds, compliance, the container policy,
/// then governance (which the bypass lifts only for an allowed caller).
pub fn check_delete_version(p: &Protection, now: Now, bypass: Bypass) -> Result<(), Refusal> {
    if p.legal_hold {
        return Err(Refusal::LegalHold);
    }
    check_container(p, now)?;
    if let Some(r) = p.retention
        && now.before(r.until)
    {
        match r.mode {
            Mode::Compliance => return Err(Refusal::ComplianceActive { until: r.until }),
            Mode::Governance if bypass.effective() => {}
            Mode::Governance if bypass.requested => {
                return Err(Refusal::BypassNotPermitted { until: r.until });
            }
            Mode::Governance => return Err(Refusal::GovernanceActive { until: r.until }),
        }
    }
    Ok(())
}

/// May a delete without a version id hide the current version behind a
/// delete marker? Always in S3 (the marker hides, it does not delete); a
/// container policy or container hold refuses it (Azure's Delete Blob).
pub fn check_delete_marker(latest: Option<&Protection>, now: Now) -> Result<(), Refusal> {
    match latest {
        Some(p) => check_container(p, now),
        None => Ok(()),
    }
}

/// May a new version be written over the current one? Always in S3 (the old
/// version stays); under a container policy an existing blob is never
/// overwritten (Azure: overwrite is refused even after the period), and a
/// container hold refuses it too.
pub fn check_overwrite(latest: Option<&Protection>) -> Result<(), Refusal> {
    let Some(p) = latest else { return Ok(()) };
    if !p.container_holds.is_empty() {
        return Err(Refusal::ContainerHold {
            tags: p.container_holds.clone(),
        });
    }
    if let (Some(policy), Some(since)) = (p.container, p.protected_since) {
        return Err(Refusal::ContainerPolicyActive {
            days: policy.days,
            state: policy.state,
            until: since.plus_days(policy.days),
        });
    }
    Ok(())
}

/// May bytes be appended to the current version (a new version whose content
/// extends it)? Under a container policy only with protected appends, and never
/// under a container hold.
pub fn check_append(latest: Option<&Protection>) -> Result<(), Refusal> {
    let Some(p) = latest else { return Ok(()) };
    if !p.container_holds.is_empty() {
        return Err(Refusal::ContainerHold {
            tags: p.container_holds.clone(),
        });
    }
    match p.container {
        Some(policy) if !policy.allow_protected_append => Err(Refusal::AppendNotAllowed {
            days: policy.days,
            state: policy.state,
        }),
        _ => Ok(()),
    }
}

/// May a version's retention change from `current` to `new`?
///
/// While a retention is in force: compliance only extends (same mode, a date
/// not earlier); governance extends freely and otherwise needs an effective
/// bypass. An expired retention may change freely. A new date must be in the
/// future (unknowable when the time source fails: then only the in-force
/// rules apply, which is the closed side).
pub fn check_set_retention(
    lock_enabled: bool,
    current: Option<Retention>,
    new: Option<Retention>,
    now: Now,
    bypass: Bypass,
) -> Result<(), Refusal> {
    if !lock_enabled {
        return Err(Refusal::LockNotEnabled);
    }
    if let (Some(n), Now::Known(t)) = (new, now)
        && n.until <= t
    {
        return Err(Refusal::RetainUntilPast { until: n.until });
    }
    let Some(cur) = current else { return Ok(()) };
    if !now.before(cur.until) {
        return Ok(());
    }
    let extends = matches!(new, Some(n) if n.mode == cur.mode && n.until >= cur.until);
    if extends {
        return Ok(());
    }
    match cur.mode {
        Mode::Compliance => Err(match new {
            Some(n) if n.mode == Mode::Compliance => Refusal::ComplianceShortened {
                until: cur.until,
                requested: n.until,
            },
            _ => Refusal::ComplianceModeChange { until: cur.until },
        }),
        Mode::Governance if bypass.effective() => Ok(()),
        Mode::Governance if bypass.requested => {
            Err(Refusal::BypassNotPermitted { until: cur.until })
        }
        Mode::Governance => Err(Refusal::GovernanceActive { until: cur.until }),
    }
}

/// May a version's legal hold be set or cleared? Whenever the bucket has object lock.
pub fn check_set_legal_hold(lock_enabled: bool) -> Result<(), Refusal> {
    if lock_enabled {
        Ok(())
    } else {
        Err(Refusal::LockNotEnabled)
    }
}

/// May a bucket's object-lock configuration go from `enabled` to `enable`?
/// Enabling happens only at creation; disabling never.
pub fn check_lock_configuration(enabled: bool, enable: bool) -> Result<(), Refusal> {
    match (enabled, enable) {
        (true, true) => Ok(()),
        (true, false) => Err(Refusal::LockIrreversible),
        (false, true) => Err(Refusal::LockOnlyAtCreation),
        (false, false) => Err(Refusal::LockNotEnabled),
    }
}

/// Checks a bucket default retention's period.
pub fn check_default_retention(d: DefaultRetention) -> Result<(), Refusal> {
    if d.days == 0 || d.days > MAX_DEFAULT_DAYS {
        return Err(Refusal::InvalidDays {
            days: d.days,
            max: MAX_DEFAULT_DAYS,
        });
    }
    Ok(())
}

/// The container policy after `change`, or why it is refused. Unlocked →
/// Locked is one-way; a locked policy is extend-only, at most
/// [`MAX_EXTENSIONS`] times, and is never removed.
pub fn apply_policy_change(
    current: Option<ContainerPolicy>,
    change: PolicyChange,
) -> Result<Option<ContainerPolicy>, Refusal> {
    let valid_days = |days: u32| {
        if days == 0 || days > MAX_CONTAINER_DAYS {
            Err(Refusal::InvalidDays {
                days,
                max: MAX_CONTAINER_DAYS,
            })
        } else {
            Ok(())
        }
    };
    match (current, change) {
        (
            None,
            PolicyChange::Set {
                days,
                allow_protected_append,
            },
        ) => {
            valid_days(days)?;
            Ok(Some(ContainerPolicy {
                days,
                state: PolicyState::Unlocked,
                allow_protected_append,
                extensions: 0,
            }))
        }
        (None, _) => Err(Refusal::ContainerPolicyMissing),
        (Some(p), change) if p.state == PolicyState::Unlocked => match change {
            PolicyChange::Set {
                days,
                allow_protected_append,
            } => {
                valid_days(days)?;
                Ok(Some(ContainerPolicy {
                    days,
                    allow_protected_append,
                    ..p
                }))
            }
            PolicyChange::Extend { days } => {
                valid_days(days)?;
                Ok(Some(ContainerPolicy { days, ..p }))
            }
            PolicyChange::Lock => Ok(Some(ContainerPolicy {
                state: PolicyState::Locked,
                ..p
            })),
            PolicyChange::Remove => Ok(None),
        },
        (Some(p), PolicyChange::Extend { days }) => {
            valid_days(days)?;
            if days < p.days {
                return Err(Refusal::ContainerPolicyLocked { days: p.days });
            }
            if p.extensions >= MAX_EXTENSIONS {
                return Err(Refusal::ExtensionLimit {
                    extensions: p.extensions,
                });
            }
            Ok(Some(ContainerPolicy {
                days,
                extensions: p.extensions + 1,
                ..p
            }))
        }
        // Locking a locked policy changes nothing.
        (Some(p), PolicyChange::Lock) => Ok(Some(p)),
        (Some(p), PolicyChange::Set { .. } | PolicyChange::Remove) => {
            Err(Refusal::ContainerPolicyLocked { days: p.days })
        }
    }
}

/// The container-policy and container-hold part of a delete check.
fn check_container(p: &Protection, now: Now) -> Result<(), Refusal> {
    if !p.container_holds.is_empty() {
        return Err(Refusal::ContainerHold {
            tags: p.container_holds.clone(),
        });
    }
    if let (Some(policy), Some(until)) = (p.container, p.container_until())
        && now.before(until)
    {
        return Err(Refusal::ContainerPolicyActive {
            days: policy.days,
            state: policy.state,
            until,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
