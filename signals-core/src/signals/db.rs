//! [`ConnectionCreated`] (Django's `connection_created`).

/// Sent when a database connection is first opened, e.g. to set session parameters.
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct ConnectionCreated<'a> {
    /// The database alias.
    pub alias: &'a str,
    /// The backend (`sqlite`, `postgresql`, ...).
    pub vendor: &'a str,
}

impl<'a> ConnectionCreated<'a> {
    /// A `ConnectionCreated` for `alias`.
    pub fn new(alias: &'a str, vendor: &'a str) -> Self {
        ConnectionCreated { alias, vendor }
    }
}

pub use crate::vocab::connection::{Connection, ConnectionFuture};
