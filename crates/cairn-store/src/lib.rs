//! Cairn store (placeholder while the crate is being built).
