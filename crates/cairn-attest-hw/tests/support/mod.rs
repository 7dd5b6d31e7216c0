//! Test support shared by this crate's end-to-end tests.

pub mod amd_pki;
