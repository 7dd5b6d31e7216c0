//! Fuzz target `receipt_json`: see `cairn_fuzz::receipt_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::receipt_json(data));
