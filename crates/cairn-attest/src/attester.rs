//! The workload side: something that can produce evidence about itself.

use crate::binding::ReportData;
use crate::platform::Platform;

/// Why evidence could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum AttesterError {
    /// The TEE interface or key could not be used.
    #[error("attester failed: {0}")]
    Failed(String),
}

/// Produces evidence for the workload it runs in, binding caller-chosen report data.
pub trait Attester: Send + Sync {
    /// The platform whose evidence this attester produces.
    fn platform(&self) -> Platform;

    /// Evidence (the platform's JSON form) whose signed report data is `report_data`.
    fn evidence(&self, report_data: &ReportData) -> Result<serde_json::Value, AttesterError>;
}
