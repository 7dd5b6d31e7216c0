//! Fuzz target `peer_json`: see `cairn_fuzz::peer_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::peer_json(data));
