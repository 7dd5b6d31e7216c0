//! Ledger-table benchmarks.

fn main() {}
