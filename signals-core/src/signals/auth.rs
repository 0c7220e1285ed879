//! Authentication signals (Django's `django.contrib.auth.signals`).
//!
//! The sender of [`UserLoggedIn`] and [`UserLoggedOut`] is the user type.
//! [`UserLoginFailed`] carries [`Credentials`] whose sensitive values are masked when
//! they are built, so no receiver ever sees a password.
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::auth::{Credentials, UserLoginFailed};
//!
//! #[receiver(UserLoginFailed)]
//! fn alert(event: &UserLoginFailed<'_>) {
//!     assert_eq!(event.credentials.get("password"), Some(Credentials::MASK));
//! }
//!
//! let credentials = Credentials::new([("username", "ada"), ("password", "hunter2")]);
//! UserLoginFailed::new(&credentials).send()?;
//! # Ok::<(), signals_core::SendError>(())
//! ```

use crate::signals::models::Model;
use crate::signals::request::RequestMeta;

/// Sent after a user logged in (Django's `user_logged_in`).
#[derive(crate::Signal)]
#[signal(sender = U)]
#[non_exhaustive]
pub struct UserLoggedIn<'a, U: ?Sized + Model = dyn Model> {
    /// The user.
    pub user: &'a U,
    /// The request, when there is one.
    pub request: Option<RequestMeta<'a>>,
}

impl<'a, U: ?Sized + Model> UserLoggedIn<'a, U> {
    /// A `UserLoggedIn` for `user`.
    pub fn new(user: &'a U, request: Option<RequestMeta<'a>>) -> Self {
        UserLoggedIn { user, request }
    }
}

/// Sent when a user logs out, before the session is dropped (Django's `user_logged_out`).
#[derive(crate::Signal)]
#[signal(sender = U)]
#[non_exhaustive]
pub struct UserLoggedOut<'a, U: ?Sized + Model = dyn Model> {
    /// The user that was logged in.
    pub user: &'a U,
    /// The request, when there is one.
    pub request: Option<RequestMeta<'a>>,
}

impl<'a, U: ?Sized + Model> UserLoggedOut<'a, U> {
    /// A `UserLoggedOut` for `user`.
    pub fn new(user: &'a U, request: Option<RequestMeta<'a>>) -> Self {
        UserLoggedOut { user, request }
    }
}

/// Login credentials with sensitive values masked (Django's `cleanse_setting` rule: any
/// key containing `API`, `AUTH`, `TOKEN`, `KEY`, `SECRET`, `PASS`, `SIGNATURE` or
/// `COOKIE`, case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pairs: Vec<(String, String)>,
}

impl Credentials {
    /// What a masked value reads as.
    pub const MASK: &'static str = "********************";

    /// Builds credentials, masking sensitive values at once.
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| {
                let key: String = k.into();
                let value = if is_sensitive(&key) {
                    Self::MASK.to_owned()
                } else {
                    v.into()
                };
                (key, value)
            })
            .collect();
        Credentials { pairs }
    }

    /// The (possibly masked) value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs, sensitive values masked.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn is_sensitive(key: &str) -> bool {
    const HIDDEN: [&str; 8] = [
        "API",
        "AUTH",
        "TOKEN",
        "KEY",
        "SECRET",
        "PASS",
        "SIGNATURE",
        "COOKIE",
    ];
    let upper = key.to_ascii_uppercase();
    HIDDEN.iter().any(|h| upper.contains(h))
}

/// Sent when authentication fails (Django's `user_login_failed`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct UserLoginFailed<'a> {
    /// The credentials tried, sensitive values masked.
    pub credentials: &'a Credentials,
    /// The request, when there is one.
    pub request: Option<RequestMeta<'a>>,
}

impl<'a> UserLoginFailed<'a> {
    /// A `UserLoginFailed` for `credentials`.
    pub fn new(credentials: &'a Credentials) -> Self {
        UserLoginFailed {
            credentials,
            request: None,
        }
    }
    /// Sets the request.
    pub fn request(mut self, request: RequestMeta<'a>) -> Self {
        self.request = Some(request);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_are_masked_and_others_kept() {
        let c = Credentials::new([
            ("username", "ada"),
            ("Password", "x"),
            ("api_key", "k"),
            ("otp_token", "1"),
        ]);
        assert_eq!(c.get("username"), Some("ada"));
        assert_eq!(c.get("Password"), Some(Credentials::MASK));
        assert_eq!(c.get("api_key"), Some(Credentials::MASK));
        assert_eq!(c.get("otp_token"), Some(Credentials::MASK));
        assert_eq!(c.get("missing"), None);
    }
}
