//! A [tower](https://docs.rs/tower) layer that sends `signals_core`'s request signals
//! (Django's `request_started`, `request_finished` and `got_request_exception`) from a
//! real web stack: axum 0.8, tonic 0.14, or any hyper 1 service.
//!
//! ```
//! use axum::{Router, routing::get};
//! use signals_core::prelude::*;
//! use signals_core::request::{RequestFinished, RequestStarted};
//!
//! #[receiver(RequestStarted)]
//! fn log_start(event: &RequestStarted<'_>) {
//!     println!("{} {} (route {:?})", event.request.method, event.request.path, event.request.route);
//! }
//!
//! #[receiver(RequestFinished)]
//! fn log_end(event: &RequestFinished<'_>) {
//!     println!("{:?} in {:?}, complete: {}", event.status, event.duration, event.complete);
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "ada" }))
//!     .layer(signals_tower::SignalsLayer::new());
//! ```
//!
//! # What is sent, and when
//!
//! * [`RequestStarted`](signals_core::request::RequestStarted): before the inner service
//!   is called, with the method, the path, the query, the matched route template (axum's
//!   `MatchedPath`, feature `axum`, on by default) and the client address (a
//!   [`RemoteAddr`] request extension, when the server inserts one). Sync and async receivers run.
//! * [`GotRequestException`](signals_core::request::GotRequestException): when the
//!   response is a server error (5xx), when it is the 500 of a panic caught by
//!   `tower_http::catch_panic::CatchPanicLayer` placed *inside* this layer (with the
//!   panic's message when the panic layer uses [`panic_response`]), when a gRPC response
//!   carries an error `grpc-status` (in a trailers-only response's headers, or in the
//!   trailers at the end of the body), when the inner service returns an error, and when
//!   the response body fails. Its `error` is a [`RequestError`]; its `status` the HTTP
//!   status.
//! * [`RequestFinished`](signals_core::request::RequestFinished): once per request, when
//!   the response body has been sent to its end (`complete: true`), or when it is dropped
//!   before (the client disconnected mid-stream, the connection was closed) or the
//!   response future is cancelled before a response existed (`complete: false`, `status:
//!   None`), with the status and the duration. The end is detected from
//!   [`http_body::Body::is_end_stream`] after each frame, because hyper stops polling a
//!   body at that point and drops it: a guard that waited for a last `None` frame would
//!   report every normal response as incomplete.
//!
//! `RequestFinished` and the gRPC trailers exception are sent from the body's poll or
//! drop, where nothing can be awaited: their receivers must be sync (an async receiver is
//! reported as a failure and logged, target `signals_tower`). Receivers that fail or panic
//! never affect the response: every send is robust, and failures are logged.
//!
//! # Where it goes
//!
//! * axum: `Router::layer(SignalsLayer::new())` sees route templates (also in nested
//!   routers) and wraps the 404 fallback (`route: None`); `route_layer` does not wrap the
//!   fallback. [`SignalsLayer::around`] puts the layer around the whole router instead,
//!   served as it is by `axum::serve(listener, app.into_make_service())`: every signal is
//!   sent the same way, but before routing, so no template (`route: None` always), and
//!   axum does not re-box each route for it (a third of the layer's cost on a route that
//!   does nothing; see [Cost](#cost)).
//! * Put it *outside* `CatchPanicLayer`, so the panic's 500 response passes through it:
//!   `ServiceBuilder::new().layer(SignalsLayer::new()).layer(CatchPanicLayer::custom(panic_response))`.
//!   This crate does not depend on `tower-http` (an application on another version would
//!   build two); [`panic_response`] is a plain function the panic layer calls.
//! * tonic: `Server::builder().layer(SignalsLayer::new())`.
//!
//! # Request transactions
//!
//! [`SignalsLayer::request_transaction`] runs the handler inside a signals
//! [`Transaction`](signals_core::transaction::Transaction) (Django's `ATOMIC_REQUESTS`,
//! for signals). Deferred receivers of the handler's sends wait for the response:
//!
//! | response | `on = Commit` | `on = Rollback` | `on = Completion` |
//! |---|---|---|---|
//! | 1xx, 2xx, 3xx (no caught panic, no gRPC error status in the headers) | run | dropped | run |
//! | 4xx, 5xx, a caught panic, a gRPC error status in the headers, a service error | dropped | run | run |
//! | the response future dropped first (client gone) | dropped | run, detached | run, detached |
//!
//! They run after the handler returned and before the response is handed to the server
//! (so a slow receiver delays the response; send work to a queue from it). A gRPC error in
//! the trailers comes after this decision: the transaction has committed by then.
//! Sends must be able to outlive the handler: use
//! [`transaction::send_owned`](signals_core::transaction::send_owned) (a plain `send()`
//! that reaches a deferred receiver fails with `SendError::NotDeferrable`, as in any
//! transaction); `signals-sea-orm`'s hooks already do.
//!
//! **With a database transaction inside the handler** (`signals_sea_orm::transaction`):
//! the request is the outermost signals transaction, so the database transaction is a
//! *savepoint* of it. Its rollback drops the deliveries it queued at once; its commit
//! keeps them waiting for the response. A `Commit` receiver therefore runs only when the
//! database committed *and* the response succeeded. The database commit is not undone by
//! a failing response: a handler that commits and then answers 500 has its row committed
//! but its `Commit` receivers dropped (and `Rollback` ones run). Use the request
//! transaction when "the request succeeded" is the condition receivers care about (no
//! email for a signup whose page failed); leave it off where receivers must follow the
//! database alone.
//!
//! # Cost
//!
//! Per request: the request's method, path and query and its route (reference counts, no
//! bytes copied, kept inline in the response future), the start time, one look at the
//! response (its status, a caught panic, and for a POST, as every gRPC call is, the
//! content type), the body wrapped (which axum boxes), and the sends (one atomic load each when a signal has
//! no receivers). While every `RequestStarted` receiver is sync and no request transaction
//! is enabled, `RequestStarted` is sent synchronously from `Service::call` and the
//! response future is the inner one plus that state: nothing else is boxed and the inner
//! service is not cloned. An async `RequestStarted` receiver, or a request transaction,
//! makes each request one boxed future (the inner service is cloned, tower's
//! clone-and-swap, so that it can be called after the send).
//!
//! On an axum hello route with three receivers, `docs/PERFORMANCE.md` counts about 1,750
//! user-space instructions per request with [`SignalsLayer::around`] and 2,800 with
//! `Router::layer` (900 of which axum adds for any layer), on a request whose bare cost
//! is 12,400 instructions plus its system calls. Under `wrk` that was 5 % fewer requests
//! per second around the router and 8 % by `Router::layer` on the last host measured, 3 %
//! and 6 % on one whose system calls made the bare request twice as costly. A handler that does any work
//! (a database query) makes it a fraction of that.
#![cfg_attr(
    feature = "debug-page",
    doc = "\n# Debug page\n\nFeature `debug-page`: [`debug`] serves the receiver map and the last sends."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "axum")]
mod around;
mod body;
#[cfg(feature = "debug-page")]
#[cfg_attr(docsrs, doc(cfg(feature = "debug-page")))]
pub mod debug;
mod error;
mod layer;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use around::{AroundFuture, AroundRouter};
pub use body::SignalsBody;
pub use error::{CaughtPanic, RequestError, panic_response};
pub use layer::{RemoteAddr, ResponseFuture, Signals, SignalsLayer};
