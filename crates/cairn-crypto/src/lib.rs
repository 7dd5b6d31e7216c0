//! Cairn crypto (placeholder while the crate is being built).
