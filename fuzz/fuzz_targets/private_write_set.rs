//! Fuzz target `private_write_set`: see `cairn_fuzz::private_write_set`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::private_write_set(data));
