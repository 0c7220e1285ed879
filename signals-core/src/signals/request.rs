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

use std::time::Duration;

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
    /// The query string (after `?`, without it), when the URI has one.
    pub query: Option<&'a str>,
    /// The route template that matched (`/users/{id}`), when the framework knows it
    /// (axum's `MatchedPath`). `None` for a request no route matched (a 404 fallback).
    pub route: Option<&'a str>,
}

impl<'a> RequestMeta<'a> {
    /// A request with this method and path.
    pub fn new(method: &'a str, path: &'a str) -> Self {
        RequestMeta {
            method,
            path,
            remote_addr: None,
            query: None,
            route: None,
        }
    }
    /// Sets the client address.
    pub fn remote_addr(mut self, addr: &'a str) -> Self {
        self.remote_addr = Some(addr);
        self
    }
    /// Sets the query string (without the `?`).
    pub fn query(mut self, query: &'a str) -> Self {
        self.query = Some(query);
        self
    }
    /// Sets the route template that matched.
    pub fn route(mut self, route: &'a str) -> Self {
        self.route = Some(route);
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
    /// How long the request took, from its start to the end (or drop) of the response
    /// body, when the sender measured it.
    pub duration: Option<Duration>,
    /// Whether the response was delivered to its end: `false` when the body was dropped
    /// before it (the client went away, the response future was cancelled) or failed.
    /// `true` unless the sender says otherwise.
    pub complete: bool,
}

impl<'a> RequestFinished<'a> {
    /// A `RequestFinished` for `request`: no duration, complete.
    pub fn new(request: RequestMeta<'a>, status: Option<u16>) -> Self {
        RequestFinished {
            request,
            status,
            duration: None,
            complete: true,
        }
    }
    /// Sets how long the request took.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }
    /// Sets whether the response was delivered to its end.
    pub fn complete(mut self, complete: bool) -> Self {
        self.complete = complete;
        self
    }
}

/// Sent when handling a request failed (Django's `got_request_exception`).
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct GotRequestException<'a> {
    /// The request.
    pub request: RequestMeta<'a>,
    /// What went wrong. The error type is `'static`, so receivers can downcast it
    /// (`event.error.downcast_ref::<MyError>()`).
    pub error: &'a (dyn std::error::Error + Send + Sync + 'static),
    /// The response status sent for it, when there is one (`500` for a caught panic).
    pub status: Option<u16>,
}

impl<'a> GotRequestException<'a> {
    /// A `GotRequestException` for `request`, without a status.
    pub fn new(
        request: RequestMeta<'a>,
        error: &'a (dyn std::error::Error + Send + Sync + 'static),
    ) -> Self {
        GotRequestException {
            request,
            error,
            status: None,
        }
    }
    /// Sets the response status sent for the failure.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}
