//! Cairn attestation service (being built).
