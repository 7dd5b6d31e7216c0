//! Cairn attestation client (being built).
