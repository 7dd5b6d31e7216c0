//! Fuzz target `contract_package`: see `cairn_fuzz::contract_package`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::contract_package(data));
