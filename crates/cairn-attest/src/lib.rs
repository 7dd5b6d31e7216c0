//! Cairn attestation (placeholder while the crate is being built).
