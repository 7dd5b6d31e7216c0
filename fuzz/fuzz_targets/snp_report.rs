//! Fuzz target `snp_report`: see `cairn_fuzz::snp_report`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::snp_report(data));
