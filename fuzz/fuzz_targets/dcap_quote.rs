//! Fuzz target `dcap_quote`: see `cairn_fuzz::dcap_quote`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::dcap_quote(data));
