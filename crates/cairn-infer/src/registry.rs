//! The model registry on the ledger, as the service and the client see it.
//!
//! The diagnostics org registers each model (name, version, SHA-256, input/output
//! signature) with a transaction of the `model-registry` contract
//! (`contracts/model-registry`). A node refuses to serve a model whose hash is not
//! registered (or is revoked), and a client whose policy says `require_registered`
//! refuses a node whose token names such a model. This crate only defines what a
//! lookup returns; the CLI implements [`ModelRegistry`] with a gateway client
//! (`FindByHash`), so this crate needs no peer code.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::model::ModelSignature;

/// A model as the registry contract records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// The model's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of the ONNX bytes, lowercase hex.
    pub sha256: String,
    /// Inputs and outputs as registered.
    pub signature: ModelSignature,
    /// The MSP id of the org that registered it.
    pub owner: String,
    /// The registering transaction.
    #[serde(default)]
    pub txid: String,
    /// Whether the owner revoked it.
    #[serde(default)]
    pub revoked: bool,
    /// The revocation, if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
}

/// An owner's revocation of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Why.
    pub reason: String,
    /// The revoking transaction.
    #[serde(default)]
    pub txid: String,
    /// When (the transaction's time, ISO 8601).
    #[serde(default, rename = "revokedAt")]
    pub revoked_at: String,
}

/// Why a registry lookup failed (the ledger could not be asked, or answered nonsense).
#[derive(Debug, thiserror::Error)]
#[error("model registry: {0}")]
pub struct RegistryError(pub String);

/// A lookup's future.
pub type Lookup<'a> =
    Pin<Box<dyn Future<Output = Result<Option<RegisteredModel>, RegistryError>> + Send + 'a>>;

/// Looks models up by hash on the ledger.
pub trait ModelRegistry: Send + Sync {
    /// The registered model with this SHA-256 (hex), or `None` if there is none.
    fn find_by_hash<'a>(&'a self, sha256: &'a str) -> Lookup<'a>;
}

/// Why a model is not acceptable as registered.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NotRegistered {
    /// No registration has this hash.
    #[error("model {0} is not registered on the ledger")]
    Unknown(String),
    /// The owner revoked it.
    #[error("model {name} {version} ({sha256}) was revoked by {owner}: {reason}")]
    Revoked {
        /// Name.
        name: String,
        /// Version.
        version: String,
        /// Hash.
        sha256: String,
        /// Owner org.
        owner: String,
        /// Reason given.
        reason: String,
    },
    /// The registered signature is not the model's.
    #[error("model {sha256} is registered with signature {registered} but has {actual}")]
    Signature {
        /// Hash.
        sha256: String,
        /// Registered signature (JSON).
        registered: String,
        /// The model's own signature (JSON).
        actual: String,
    },
}

/// Checks a lookup result: registered, not revoked, and (if `signature` is given)
/// registered with that signature.
pub fn check(
    sha256: &str,
    found: Option<RegisteredModel>,
    signature: Option<&ModelSignature>,
) -> Result<RegisteredModel, NotRegistered> {
    let Some(m) = found.filter(|m| m.sha256 == sha256) else {
        return Err(NotRegistered::Unknown(sha256.to_owned()));
    };
    if m.revoked {
        return Err(NotRegistered::Revoked {
            name: m.name,
            version: m.version,
            sha256: m.sha256,
            owner: m.owner,
            reason: m.revocation.map(|r| r.reason).unwrap_or_default(),
        });
    }
    if let Some(sig) = signature
        && sig != &m.signature
    {
        let json = |s: &ModelSignature| serde_json::to_string(s).unwrap_or_default();
        return Err(NotRegistered::Signature {
            sha256: sha256.to_owned(),
            registered: json(&m.signature),
            actual: json(sig),
        });
    }
    Ok(m)
}
