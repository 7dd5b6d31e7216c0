//! Fuzz target `signed_proposal`: see `cairn_fuzz::signed_proposal`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::signed_proposal(data));
