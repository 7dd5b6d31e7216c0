//! Fuzz target `envelope`: see `cairn_fuzz::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::envelope(data));
