//! The model registry on the ledger through a gateway: `FindByHash` on the
//! registry contract (`contracts/model-registry`). `cairn infer` and the medical
//! platform use it to check that a diagnostics node serves a registered model.

use cairn_infer::registry::{Lookup, ModelRegistry, RegisteredModel, RegistryError};
use cairn_peer::GatewayClient;

/// The registry contract's name on the channel.
pub const REGISTRY_CONTRACT: &str = "model-registry";

/// The model registry through a gateway.
pub struct GatewayRegistry {
    gateway: GatewayClient,
    contract: String,
}

impl GatewayRegistry {
    /// A registry reached through `gateway`, on the contract named `contract`.
    pub fn new(gateway: GatewayClient, contract: &str) -> Self {
        Self {
            gateway,
            contract: contract.to_owned(),
        }
    }
}

impl ModelRegistry for GatewayRegistry {
    fn find_by_hash<'a>(&'a self, sha256: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            match self
                .gateway
                .evaluate(&self.contract, "FindByHash", &[sha256])
                .await
            {
                Ok(payload) => serde_json::from_slice::<RegisteredModel>(&payload)
                    .map(Some)
                    .map_err(|e| {
                        RegistryError(format!("FindByHash answered no model record: {e}"))
                    }),
                // The contract's refusal for an unknown hash (contracts/model-registry).
                Err(e) if e.to_string().contains("is registered") => Ok(None),
                Err(e) => Err(RegistryError(e.to_string())),
            }
        })
    }
}
