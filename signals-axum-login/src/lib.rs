//! axum-login integration for `signals-core` (in progress).
#![deny(missing_docs)]
