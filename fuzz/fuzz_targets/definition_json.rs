//! Fuzz target `definition_json`: see `cairn_fuzz::definition_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::definition_json(data));
