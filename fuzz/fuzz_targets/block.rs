//! Fuzz target `block`: see `cairn_fuzz::block`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::block(data));
