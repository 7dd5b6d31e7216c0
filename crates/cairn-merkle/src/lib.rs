//! Cairn merkle (placeholder while the crate is being built).
