//! Fuzz target `jwt`: see `cairn_fuzz::jwt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::jwt(data));
