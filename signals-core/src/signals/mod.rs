//! The built-in signals, typed after Django's: models, auth, requests, management
//! commands, settings and database connections. Ordinary signals declared with
//! `#[derive(Signal)]`; the engine knows nothing about them.

pub mod auth;
pub mod db;
pub mod management;
pub mod models;
pub mod request;
pub mod settings;
