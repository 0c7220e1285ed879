//! Request signals (Django's `django.core.signals`), for any web framework.
//!
//! A middleware sends [`RequestStarted`] before the handler runs, [`GotRequestException`]
//! when handling fails, and [`RequestFinished`] when the response is done.
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::request::{RequestMeta, RequestStarted};
//!
//! #[receiver(RequestStarted)]
//! fn count(event: &RequestStarted<'_>) {
//!     println!("{} {}", event.request.method, event.request.path);
//! }
//!
//! let request = RequestMeta::new("GET", "/health");
//! RequestStarted::new(request).send()?;
//! # Ok::<(), signals_core::SendError>(())
//! ```

/// What request signals know about a request, borrowed from the framework's own type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestMeta<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request path.
    pub path: &'a str,
    /// Client address, when known.
    pub remote_addr: Option<&'a str>,
}

impl<'a> RequestMeta<'a> {
    /// A request with this method and path.
    pub fn new(method: &'a str, path: &'a str) -> Self {
        RequestMeta {
            method,
            path,
            remote_addr: None,
        }
    }
    /// Sets the client address.
    pub fn remote_addr(mut self, addr: &'a str) -> Self {
        self.remote_addr = Some(addr);
        self
    }
}

/// Sent when the application starts handling a request (Django's `request_started`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct RequestStarted<'a> {
    /// The request.
    pub request: RequestMeta<'a>,
}

impl<'a> RequestStarted<'a> {
    /// A `RequestStarted` for `request`.
    pub fn new(request: RequestMeta<'a>) -> Self {
        RequestStarted { request }
    }
}

/// Sent when the response has been delivered (Django's `request_finished`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct RequestFinished<'a> {
    /// The request.
    pub request: RequestMeta<'a>,
    /// The response status, if a response was produced.
    pub status: Option<u16>,
}

impl<'a> RequestFinished<'a> {
    /// A `RequestFinished` for `request`.
    pub fn new(request: RequestMeta<'a>, status: Option<u16>) -> Self {
        RequestFinished { request, status }
    }
}

/// Sent when handling a request failed (Django's `got_request_exception`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct GotRequestException<'a> {
    /// The request.
    pub request: RequestMeta<'a>,
    /// What went wrong.
    pub error: &'a (dyn std::error::Error + Send + Sync),
}

impl<'a> GotRequestException<'a> {
    /// A `GotRequestException` for `request`.
    pub fn new(request: RequestMeta<'a>, error: &'a (dyn std::error::Error + Send + Sync)) -> Self {
        GotRequestException { request, error }
    }
}
