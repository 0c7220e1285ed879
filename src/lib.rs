//! Examples and integration tests for the workspace.

/// The README's Rust blocks, compiled and run as doctests (`cargo test --workspace` runs
/// them), so that what a newcomer pastes works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
