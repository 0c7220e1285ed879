//! signals-sea-orm's integration tests, one module per topic, in one test binary: each
//! binary links SeaORM, sqlx and tokio, so sixteen of them spent most of a cold
//! `cargo test --workspace` linking the same code. Every module's tables carry a prefix of
//! its own, so the modules' tests can run in parallel on one PostgreSQL database.
//!
//! Two files stay binaries of their own, because they install a `tracing` subscriber
//! (a global one in `old_values.rs`, which counts every SQL statement the process runs;
//! a thread's default in `phases.rs`) that other tests' spans must not cross.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod abort;
mod alias;
mod atomic;
mod bulk;
mod cancel;
mod changed;
mod conditional;
mod error_reports;
mod load;
mod m2m;
mod migration;
mod receivers;
mod save_delete;
mod senders;
