//! Fuzz target `attestation_policy`: see `cairn_fuzz::attestation_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::attestation_policy(data));
