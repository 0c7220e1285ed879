//! Empty: the package is its trybuild suite (`tests/compile_fail.rs`).
