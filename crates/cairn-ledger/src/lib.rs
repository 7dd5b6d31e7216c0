//! Cairn ledger (placeholder while the crate is being built).
