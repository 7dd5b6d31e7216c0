//! Fuzz target `proposal_response`: see `cairn_fuzz::proposal_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::proposal_response(data));
