//! Fuzz target `jwks`: see `cairn_fuzz::jwks`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::jwks(data));
