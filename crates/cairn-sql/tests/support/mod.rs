//! Shared test support: the scenario, and a throwaway PostgreSQL cluster.
#![allow(dead_code, reason = "each test binary uses part of the support")]

pub mod pg;
pub mod scenario;
