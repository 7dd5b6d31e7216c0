//! Cairn policy (placeholder while the crate is being built).
