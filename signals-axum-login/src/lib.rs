//! [axum-login](https://docs.rs/axum-login) 0.18 integration for `signals-core`: the
//! authentication signals (Django's `user_logged_in`, `user_logged_out` and
//! `user_login_failed`) from a real login flow.
//!
//! * [`SignalingBackend`] decorates your `AuthnBackend`: when it rejects credentials
//!   (`Ok(None)`), it sends [`UserLoginFailed`] with the credentials *masked before the
//!   backend even sees them* (they are moved into it): your credentials type says what it
//!   holds through [`SignalCredentials`], and [`Credentials`] masks every sensitive value
//!   (`password`, `token`, ...) when it is built.
//! * [`AuthSessionExt`] adds `login_signaled`, `logout_signaled` and
//!   `authenticate_signaled` to `axum_login::AuthSession`: they call axum-login's own
//!   `login` / `logout` / `authenticate` and send [`UserLoggedIn`] (after the login) /
//!   [`UserLoggedOut`] (before the session is flushed, as Django does), with the user and
//!   the request's method, path and query.
//! * [`AuthSession<B>`] is `axum_login::AuthSession<SignalingBackend<B>>`, so handlers keep
//!   one extractor type.
//!
//! ```
//! use axum_login::{AuthUser, AuthnBackend, UserId};
//! use signals_axum_login::{AuthSession, AuthSessionExt, SignalCredentials, SignalingBackend};
//! use signals_core::auth::{Credentials, UserLoggedIn};
//! use signals_core::models::Model;
//! use signals_core::prelude::*;
//!
//! #[derive(Clone, Debug)]
//! struct User { id: i64, name: String, hash: Vec<u8> }
//! impl Model for User {}
//! impl AuthUser for User {
//!     type Id = i64;
//!     fn id(&self) -> i64 { self.id }
//!     fn session_auth_hash(&self) -> &[u8] { &self.hash }
//! }
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Login { username: String, password: String }
//! impl SignalCredentials for Login {
//!     fn signal_credentials(&self) -> Credentials {
//!         Credentials::new([("username", self.username.as_str()), ("password", self.password.as_str())])
//!     }
//! }
//!
//! #[derive(Clone)]
//! struct Users;
//! impl AuthnBackend for Users {
//!     type User = User;
//!     type Credentials = Login;
//!     type Error = std::convert::Infallible;
//!     async fn authenticate(&self, login: Login) -> Result<Option<User>, Self::Error> {
//!         Ok((login.password == "hunter2").then(|| User { id: 1, name: login.username, hash: vec![1] }))
//!     }
//!     async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
//!         Ok((*id == 1).then(|| User { id: 1, name: "ada".into(), hash: vec![1] }))
//!     }
//! }
//!
//! #[receiver(UserLoggedIn, sender = User)]
//! fn greet(event: &UserLoggedIn<'_, User>) {
//!     println!("welcome back, {}", event.user.name);
//! }
//!
//! async fn login(
//!     mut auth: AuthSession<Users>,
//!     parts: axum::http::request::Parts,
//!     axum::Form(login): axum::Form<Login>,
//! ) -> axum::http::StatusCode {
//!     match auth.authenticate_signaled(login, &parts).await {
//!         Ok(Some(user)) => match auth.login_signaled(&user, &parts).await {
//!             Ok(()) => axum::http::StatusCode::OK,
//!             Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
//!         },
//!         Ok(None) => axum::http::StatusCode::UNAUTHORIZED, // UserLoginFailed was sent
//!         Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
//!     }
//! }
//!
//! // The backend is wrapped once, where the auth layer is built:
//! let backend = SignalingBackend::new(Users);
//! # let _ = (backend, login);
//! ```
//!
//! A backend *error* (`Err`, the database is down) is not a failed login and sends
//! nothing. `logout_signaled` without a logged-in user sends nothing either
//! ([`UserLoggedOut`] always has a user). Signal sends are robust: a failing receiver is
//! logged (target `signals_axum_login`) and never fails the login.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

use std::collections::HashSet;
use std::future::Future;

use axum_login::{AuthnBackend, AuthzBackend, UserId};
use http::request::Parts;
pub use signals_core::auth::{Credentials, UserLoggedIn, UserLoggedOut, UserLoginFailed};
use signals_core::models::Model;
use signals_core::request::RequestMeta;
use signals_core::{Report, Signal};

/// `axum_login::AuthSession` over a [`SignalingBackend`]: the extractor handlers take.
pub type AuthSession<B> = axum_login::AuthSession<SignalingBackend<B>>;

/// A credentials type that can say what it holds, for [`UserLoginFailed`]: build the
/// [`Credentials`] from every field (`Credentials::new` masks the sensitive ones).
pub trait SignalCredentials {
    /// The credentials as key/value pairs, sensitive values masked.
    fn signal_credentials(&self) -> Credentials;
}

/// An `AuthnBackend` (and `AuthzBackend`) decorator that sends [`UserLoginFailed`] when
/// the backend rejects credentials; see the [crate documentation](crate).
#[derive(Clone, Debug)]
pub struct SignalingBackend<B> {
    inner: B,
}

impl<B> SignalingBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        SignalingBackend { inner }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Unwraps the backend.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

tokio::task_local! {
    /// The request an `authenticate_signaled` call is for.
    static REQUEST: OwnedRequest;
}

impl<B> AuthnBackend for SignalingBackend<B>
where
    B: AuthnBackend,
    B::Credentials: SignalCredentials,
{
    type User = B::User;
    type Credentials = B::Credentials;
    type Error = B::Error;

    fn authenticate(
        &self,
        credentials: Self::Credentials,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send {
        // Masked before the backend takes the credentials: nothing but the backend sees
        // the secrets.
        let masked = credentials.signal_credentials();
        let request = REQUEST.try_with(OwnedRequest::clone).ok();
        let authenticated = self.inner.authenticate(credentials);
        async move {
            let result = authenticated.await;
            if let Ok(None) = &result {
                let mut event = UserLoginFailed::new(&masked);
                if let Some(request) = &request {
                    event = event.request(request.meta());
                }
                log(UserLoginFailed::NAME, &event.send_async_robust().await);
            }
            result
        }
    }

    fn get_user(
        &self,
        user_id: &UserId<Self>,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send {
        self.inner.get_user(user_id)
    }
}

impl<B> AuthzBackend for SignalingBackend<B>
where
    B: AuthzBackend,
    B::Credentials: SignalCredentials,
{
    type Permission = B::Permission;

    fn get_user_permissions(
        &self,
        user: &Self::User,
    ) -> impl Future<Output = Result<HashSet<Self::Permission>, Self::Error>> + Send {
        self.inner.get_user_permissions(user)
    }

    fn get_group_permissions(
        &self,
        user: &Self::User,
    ) -> impl Future<Output = Result<HashSet<Self::Permission>, Self::Error>> + Send {
        self.inner.get_group_permissions(user)
    }
}

/// Login, logout and authentication that send the auth signals, on
/// `axum_login::AuthSession`; see the [crate documentation](crate).
pub trait AuthSessionExt<B: AuthnBackend> {
    /// `login(user)`, then [`UserLoggedIn`] with the user and the request.
    fn login_signaled(
        &mut self,
        user: &B::User,
        request: &Parts,
    ) -> impl Future<Output = Result<(), axum_login::Error<B>>> + Send;

    /// [`UserLoggedOut`] with the logged-in user and the request (none when nobody is
    /// logged in), then `logout()`.
    fn logout_signaled(
        &mut self,
        request: &Parts,
    ) -> impl Future<Output = Result<Option<B::User>, axum_login::Error<B>>> + Send;

    /// `authenticate(credentials)`, with the request attached to the
    /// [`UserLoginFailed`] a [`SignalingBackend`] sends if they are rejected.
    fn authenticate_signaled(
        &self,
        credentials: B::Credentials,
        request: &Parts,
    ) -> impl Future<Output = Result<Option<B::User>, axum_login::Error<B>>> + Send;
}

impl<B> AuthSessionExt<B> for axum_login::AuthSession<B>
where
    B: AuthnBackend + 'static,
    B::User: Model,
    B::Credentials: 'static,
{
    fn login_signaled(
        &mut self,
        user: &B::User,
        request: &Parts,
    ) -> impl Future<Output = Result<(), axum_login::Error<B>>> + Send {
        let request = OwnedRequest::from(request);
        async move {
            self.login(user).await?;
            let event = UserLoggedIn::<'_, B::User>::new(user, Some(request.meta()));
            log(
                UserLoggedIn::<B::User>::NAME,
                &event.send_async_robust().await,
            );
            Ok(())
        }
    }

    fn logout_signaled(
        &mut self,
        request: &Parts,
    ) -> impl Future<Output = Result<Option<B::User>, axum_login::Error<B>>> + Send {
        let request = OwnedRequest::from(request);
        async move {
            if let Some(user) = self.user.clone() {
                let event = UserLoggedOut::<'_, B::User>::new(&user, Some(request.meta()));
                log(
                    UserLoggedOut::<B::User>::NAME,
                    &event.send_async_robust().await,
                );
            }
            self.logout().await
        }
    }

    fn authenticate_signaled(
        &self,
        credentials: B::Credentials,
        request: &Parts,
    ) -> impl Future<Output = Result<Option<B::User>, axum_login::Error<B>>> + Send {
        REQUEST.scope(OwnedRequest::from(request), self.authenticate(credentials))
    }
}

/// What the auth signals report about a request, owned.
#[derive(Clone, Debug)]
struct OwnedRequest {
    method: String,
    path: String,
    query: Option<String>,
}

impl From<&Parts> for OwnedRequest {
    fn from(parts: &Parts) -> Self {
        OwnedRequest {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
        }
    }
}

impl OwnedRequest {
    fn meta(&self) -> RequestMeta<'_> {
        let meta = RequestMeta::new(&self.method, &self.path);
        match &self.query {
            Some(query) => meta.query(query),
            None => meta,
        }
    }
}

fn log<O>(signal: &'static str, report: &Report<O>) {
    if let Some(error) = report.stopped_by() {
        tracing::warn!(target: "signals_axum_login", signal, error = %error, "auth signal stopped");
    }
    for failure in report.failures() {
        tracing::warn!(target: "signals_axum_login", signal, failure = %failure, "auth signal receiver failed");
    }
}
