//! Fuzz target `policy`: see `cairn_fuzz::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::policy(data));
