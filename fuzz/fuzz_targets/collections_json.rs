//! Fuzz target `collections_json`: see `cairn_fuzz::collections_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::collections_json(data));
