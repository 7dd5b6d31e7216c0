//! Which package a peer runs for a committed contract: its org's approval
//! for the committed sequence names the package id, and the peer's package
//! store holds the package (Fabric 2.x's rule).

use std::sync::Arc;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Version;
use cairn_ledger::lifecycle::{ContractDefinition, LIFECYCLE_NS, definition_key};
use cairn_ledger::state::StateView;

use super::{ApprovalRecord, approval_key};
use crate::error::{ContractError, PackageError};
use crate::package::{PackageId, PackageStore};
use crate::runtime::{ContractResolver, Deployed};

/// The committed definition of `name` and the version of its state entry.
pub fn committed_definition(
    state: &dyn StateView,
    name: &str,
) -> Result<Option<(ContractDefinition, Version)>, ContractError> {
    let Some(entry) = state.state(LIFECYCLE_NS, &definition_key(name))? else {
        return Ok(None);
    };
    let definition = ContractDefinition::decode(&entry.value).map_err(|e| {
        ContractError::State(format!(
            "the committed definition of {name:?} is unreadable: {e}"
        ))
    })?;
    Ok(Some((definition, entry.version)))
}

/// The package `msp_id` approved for `name` at `sequence`, if it named one.
pub fn approved_package(
    state: &dyn StateView,
    name: &str,
    sequence: u64,
    msp_id: &str,
) -> Result<Option<PackageId>, ContractError> {
    let Some(entry) = state.state(LIFECYCLE_NS, &approval_key(name, sequence, msp_id))? else {
        return Ok(None);
    };
    let record = ApprovalRecord::decode(&entry.value).map_err(|e| {
        ContractError::State(format!(
            "the approval of {msp_id} for {name:?} is unreadable: {e}"
        ))
    })?;
    record
        .package_id
        .map(|p| p.parse::<PackageId>().map_err(ContractError::from))
        .transpose()
}

/// Resolves contracts from the ledger's committed definitions and a peer's
/// installed packages.
#[derive(Debug, Clone)]
pub struct LedgerResolver {
    store: Arc<PackageStore>,
    msp_id: String,
}

impl LedgerResolver {
    /// A resolver for a peer of `msp_id` with its package store.
    pub fn new(store: Arc<PackageStore>, msp_id: impl Into<String>) -> Self {
        LedgerResolver {
            store,
            msp_id: msp_id.into(),
        }
    }
}

impl ContractResolver for LedgerResolver {
    fn resolve(
        &self,
        name: &str,
        state: &dyn StateView,
    ) -> Result<Option<Deployed>, ContractError> {
        let Some((definition, version)) = committed_definition(state, name)? else {
            return Ok(None);
        };
        let Some(package_id) = approved_package(state, name, definition.sequence, &self.msp_id)?
        else {
            return Ok(None);
        };
        let package = match self.store.load(&package_id) {
            Ok(p) => p,
            Err(PackageError::NotInstalled(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Deployed {
            definition,
            definition_version: Some(version),
            package,
        }))
    }
}
