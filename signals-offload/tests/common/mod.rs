//! Shared by the test binaries: the broker scenarios every broker must pass, a fresh
//! PostgreSQL database per test, and child processes.
#![allow(dead_code, unreachable_pub)]

pub mod pg;
pub mod process;
pub mod scenarios;
