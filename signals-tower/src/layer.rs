//! The layer and its service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::uri::PathAndQuery;
use http::{Method, Request, Response, Uri};
use http_body::Body;
use signals_core::request::{GotRequestException, RequestMeta, RequestStarted};
use signals_core::transaction::Transaction;
use signals_core::{Failure, Report, Signal};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{Finish, SignalsBody};
use crate::error::{CaughtPanic, RequestError, grpc_error};

/// A tower [`Layer`] that sends `signals_core`'s request signals around every request:
/// [`RequestStarted`] before the inner service runs, [`GotRequestException`] for a failed
/// one, and `RequestFinished` when its response body has been sent or dropped. See the
/// [crate documentation](crate) for when each is sent and what it carries.
///
/// ```
/// use axum::{Router, routing::get};
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "ada" }))
///     .layer(signals_tower::SignalsLayer::new());
/// ```
#[derive(Clone, Debug, Default)]
pub struct SignalsLayer {
    transaction: bool,
}

impl SignalsLayer {
    /// A layer that sends the request signals, without a request transaction.
    pub fn new() -> Self {
        SignalsLayer::default()
    }

    /// Runs each request inside a signals [`Transaction`] (Django's `ATOMIC_REQUESTS`,
    /// for signals): deferred receivers (`on = Commit`, `Rollback`, `Completion`) of the
    /// sends the handler makes with `transaction::send_owned` (or through an ORM
    /// integration) wait for the response. A 1xx, 2xx or 3xx response commits, before it
    /// is handed to the server; any other status, an error from the inner service, or a
    /// response future dropped before it produced a response (the client went away) rolls
    /// back. See [Request transactions](crate#request-transactions).
    pub fn request_transaction(mut self, enabled: bool) -> Self {
        self.transaction = enabled;
        self
    }
}

impl<S> Layer<S> for SignalsLayer {
    type Service = Signals<S>;

    fn layer(&self, inner: S) -> Signals<S> {
        Signals {
            inner,
            transaction: self.transaction,
        }
    }
}

/// The service [`SignalsLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct Signals<S> {
    inner: S,
    transaction: bool,
}

type BoxedResponse<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<SignalsBody<B>>, E>> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// The response future of [`Signals`]: the inner service's response (body `B`) with
    /// its body wrapped in a [`SignalsBody`], or its error `E`, once `GotRequestException`
    /// has been sent for a failed one. `F` is the inner service's future.
    ///
    /// When no receiver of `RequestStarted` is async and no request transaction is
    /// enabled (the common case), `RequestStarted` has been sent by the time
    /// [`Service::call`] returns, and this future is the inner future plus the state the
    /// response needs: nothing is boxed. Otherwise the whole request (the async send, the
    /// inner call, the transaction's commit or rollback) is one boxed future.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        // `RequestStarted` was sent synchronously; the inner future runs. `pending` is
        // taken when it is ready.
        Inner {
            #[pin]
            future: F,
            pending: Option<Pending>,
        },
        // An async send (of `RequestStarted` or of the exception), or a request
        // transaction.
        Boxed { future: BoxedResponse<B, E> },
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Inner { .. } => "inner",
            State::Boxed { .. } => "boxed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    type Output = Result<Response<SignalsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_map(cx, std::convert::identity)
    }
}

impl<F, B, E> ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    /// [`Future::poll`], with the wrapped body passed through `map` as the response is
    /// made (`AroundFuture` boxes it into axum's body there, in the same move).
    #[inline(always)]
    pub(crate) fn poll_map<T>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        map: impl FnOnce(SignalsBody<B>) -> T,
    ) -> Poll<Result<Response<T>, E>> {
        let mut state = self.project().state;
        let (pending, result) = match state.as_mut().project() {
            StateProj::Boxed { future } => return poll_boxed(future, cx, map),
            StateProj::Inner { future, pending } => {
                let result = std::task::ready!(future.poll(cx));
                let pending = pending
                    .take()
                    .expect("`ResponseFuture` polled after it completed");
                (pending, result)
            }
        };
        let verdict = Verdict::of(&result, pending.maybe_grpc);
        if verdict.error.is_some() && GotRequestException::has_async_receivers_for_any_sender() {
            // Rare: a failed request whose exception has an async receiver.
            state.set(State::Boxed {
                future: boxed_respond(pending, result, verdict),
            });
            return match state.project() {
                StateProj::Boxed { future } => poll_boxed(future, cx, map),
                StateProj::Inner { .. } => unreachable!("just set"),
            };
        }
        if let Some(error) = &verdict.error {
            send_exception(&pending, &result, error);
        }
        Poll::Ready(finish(pending, result, verdict.grpc, map))
    }
}

/// Polls the boxed future, mapping the body of its response.
fn poll_boxed<B, E, T>(
    future: &mut BoxedResponse<B, E>,
    cx: &mut Context<'_>,
    map: impl FnOnce(SignalsBody<B>) -> T,
) -> Poll<Result<Response<T>, E>> {
    let result = std::task::ready!(future.as_mut().poll(cx));
    Poll::Ready(result.map(|response| response.map(map)))
}

/// [`respond`], boxed (kept out of the response future's hot path).
#[cold]
#[inline(never)]
fn boxed_respond<B, E>(
    pending: Pending,
    result: Result<Response<B>, E>,
    verdict: Verdict,
) -> BoxedResponse<B, E>
where
    B: Body + Send + 'static,
    E: Send + 'static,
{
    Box::pin(respond(pending, result, verdict))
}

/// Sends the `GotRequestException` for `error` now (every receiver is sync).
#[cold]
#[inline(never)]
fn send_exception<B, E>(pending: &Pending, result: &Result<Response<B>, E>, error: &RequestError) {
    send_now(&exception(pending, result, error));
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Signals<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: fmt::Display + Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
{
    type Response = Response<SignalsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let pending = Pending {
            info: Some(RequestInfo::from_request(&request)),
            started: Instant::now(),
            // gRPC (and gRPC-web) calls are POSTs: other responses skip the look at the
            // content type.
            maybe_grpc: request.method() == Method::POST,
            transaction: None,
        };
        if self.transaction || RequestStarted::has_async_receivers_for_any_sender() {
            return self.call_boxed(request, pending);
        }
        // Every receiver is sync: send now, and call the service that was driven to
        // readiness in place (no clone, nothing boxed).
        send_now(&RequestStarted::new(pending.meta()));
        let future = self.inner.call(request);
        ResponseFuture {
            state: State::Inner {
                future,
                pending: Some(pending),
            },
        }
    }
}

impl<S> Signals<S> {
    /// The request as one boxed future: an async `RequestStarted` receiver, or a request
    /// transaction.
    #[cold]
    #[inline(never)]
    fn call_boxed<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        mut pending: Pending,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: fmt::Display + Send + 'static,
        ReqBody: Send + 'static,
        ResBody: Body + Send + 'static,
    {
        pending.transaction = self.transaction.then(Transaction::begin);
        // The service that was driven to readiness is the one that is called (tower's
        // clone-and-swap); it is called after `RequestStarted` has been delivered.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = Box::pin(async move {
            let report = RequestStarted::new(pending.meta())
                .send_async_robust()
                .await;
            log_failures(RequestStarted::NAME, &report);
            let result = match &pending.transaction {
                Some(tx) => {
                    let future = tx.run(|| inner.call(request));
                    tx.run_async(future).await
                }
                None => inner.call(request).await,
            };
            let verdict = Verdict::of(&result, pending.maybe_grpc);
            respond(pending, result, verdict).await
        });
        ResponseFuture {
            state: State::Boxed { future },
        }
    }
}

/// What the layer makes of a result of the inner service, read once.
struct Verdict {
    /// The exception it is: a caught panic, a server error status, a gRPC error status in
    /// the headers, or the service's error.
    error: Option<RequestError>,
    /// Whether the response is gRPC (its trailers may still carry an error).
    grpc: bool,
}

impl Verdict {
    /// `maybe_grpc`: whether the request could be a gRPC call (a POST).
    fn of<B, E: fmt::Display>(result: &Result<Response<B>, E>, maybe_grpc: bool) -> Self {
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                return Verdict {
                    error: Some(RequestError::Service(error.to_string())),
                    grpc: false,
                };
            }
        };
        let status = response.status();
        let grpc = maybe_grpc && is_grpc(response.headers());
        let error = if let Some(panic) = response.extensions().get::<CaughtPanic>() {
            Some(RequestError::Panic {
                message: panic.message.clone(),
            })
        } else if status.is_server_error() {
            Some(RequestError::Status(status))
        } else if grpc {
            grpc_error(response.headers())
        } else {
            None
        };
        Verdict { error, grpc }
    }
}

/// The `GotRequestException` for `error`, with the response's status if there is one.
fn exception<'a, B, E>(
    pending: &'a Pending,
    result: &Result<Response<B>, E>,
    error: &'a RequestError,
) -> GotRequestException<'a> {
    let event = GotRequestException::new(pending.meta(), error);
    match result {
        Ok(response) => event.status(response.status().as_u16()),
        Err(_) => event,
    }
}

/// The rest of a request once the inner service has answered, with async sends: the
/// exception (if any), then the transaction's commit or rollback, then the response.
async fn respond<B: Body, E>(
    mut pending: Pending,
    result: Result<Response<B>, E>,
    verdict: Verdict,
) -> Result<Response<SignalsBody<B>>, E> {
    if let Some(error) = &verdict.error {
        let report = exception(&pending, &result, error)
            .send_async_robust()
            .await;
        log_failures(GotRequestException::NAME, &report);
    }
    if let Some(tx) = pending.transaction.take() {
        let succeeded = match &result {
            Ok(response) => verdict.error.is_none() && !response.status().is_client_error(),
            Err(_) => false,
        };
        let failures = if succeeded {
            tx.commit_async().await
        } else {
            tx.rollback_async().await
        };
        log_delivery_failures(&failures);
    }
    finish(pending, result, verdict.grpc, std::convert::identity)
}

/// The response, its body wrapped to send `RequestFinished` (then passed through `map`);
/// an error is passed on, and `pending` (dropped) sends `RequestFinished` without a
/// status, incomplete.
fn finish<B: Body, E, T>(
    mut pending: Pending,
    result: Result<Response<B>, E>,
    grpc: bool,
    map: impl FnOnce(SignalsBody<B>) -> T,
) -> Result<Response<T>, E> {
    let response = result?;
    let finish = Finish {
        info: pending.info.take().expect("taken once"),
        status: response.status().as_u16(),
        started: pending.started,
        grpc,
        ended: false,
    };
    Ok(response.map(|body| map(SignalsBody::new(body, finish))))
}

fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// A request whose response has not been produced yet. Dropped before (the future
/// cancelled, the service failed), it sends `RequestFinished` without a status, incomplete,
/// and rolls its transaction back (finishing detached).
struct Pending {
    /// Inline, not boxed: the allocation costs more than the bytes it keeps out of each
    /// move of the response future and body (measured, see `docs/PERFORMANCE.md`).
    info: Option<RequestInfo>,
    started: Instant,
    /// Whether the request is a POST, as every gRPC call is.
    maybe_grpc: bool,
    transaction: Option<Transaction>,
}

impl Pending {
    fn meta(&self) -> RequestMeta<'_> {
        self.info
            .as_ref()
            .map(|info| info.meta())
            .unwrap_or(RequestMeta::new("", ""))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tx) = self.transaction.take() {
            // Never polled: the rollback deliveries (if any) run detached.
            drop(tx.rollback_async());
        }
        if let Some(info) = self.info.take() {
            send_now(
                &signals_core::request::RequestFinished::new(info.meta(), None)
                    .duration(self.started.elapsed())
                    .complete(false),
            );
        }
    }
}

/// The client's address, for [`RequestMeta::remote_addr`]: insert it into the request's
/// extensions (a `tower::util::MapRequest` in the accept loop, say) and the layer reports
/// it. (axum's `ConnectInfo` needs axum's `tokio` feature, which this crate leaves off.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);

/// What the request signals need from a request, owned (the request itself moves into
/// the inner service).
#[derive(Debug)]
pub(crate) struct RequestInfo {
    method: Method,
    /// The URI's path and query (`None` when its path is empty); the scheme and
    /// authority are not reported.
    path_and_query: Option<PathAndQuery>,
    #[cfg(feature = "axum")]
    route: Option<axum::extract::MatchedPath>,
    #[cfg(not(feature = "axum"))]
    #[allow(dead_code)] // without axum there is no route template
    route: Option<std::convert::Infallible>,
    remote_addr: Option<String>,
}

impl RequestInfo {
    fn from_request<B>(request: &Request<B>) -> Self {
        #[cfg(feature = "axum")]
        // `MatchedPath` is a shared string: cloning it does not allocate.
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned();
        #[cfg(not(feature = "axum"))]
        let route = None;
        // Any server may insert the client's address as a `RemoteAddr` extension.
        let remote_addr = request
            .extensions()
            .get::<RemoteAddr>()
            .map(|a| a.0.to_string());
        RequestInfo {
            method: request.method().clone(),
            path_and_query: path_and_query(request.uri()),
            route,
            remote_addr,
        }
    }

    pub(crate) fn meta(&self) -> RequestMeta<'_> {
        let (path, query) = match &self.path_and_query {
            Some(pq) => (pq.path(), pq.query()),
            None => ("", None),
        };
        let mut meta = RequestMeta::new(self.method.as_str(), path);
        if let Some(query) = query {
            meta = meta.query(query);
        }
        #[cfg(feature = "axum")]
        if let Some(route) = &self.route {
            meta = meta.route(route.as_str());
        }
        if let Some(addr) = &self.remote_addr {
            meta = meta.remote_addr(addr);
        }
        meta
    }
}

/// `uri`'s path and query, kept so that the path reads as [`Uri::path`] does (`""` for
/// an authority-form URI, `"/"` for an absolute one without a path), without the scheme
/// and authority (a smaller copy in every request's state).
fn path_and_query(uri: &Uri) -> Option<PathAndQuery> {
    if uri.path().is_empty() {
        return None;
    }
    uri.path_and_query().cloned()
}

/// Sends `event` from a context that cannot await (a body's poll or drop): sync
/// receivers run; an async one is reported as a failure (logged).
pub(crate) fn send_now<S: Signal>(event: &S) {
    log_failures(S::NAME, &event.send_robust());
}

#[inline]
fn log_failures<O>(signal: &'static str, report: &Report<O>) {
    if report.is_ok() {
        return;
    }
    log_trouble(signal, report);
}

#[cold]
fn log_trouble<O>(signal: &'static str, report: &Report<O>) {
    if let Some(error) = report.stopped_by() {
        tracing::warn!(target: "signals_tower", signal, error = %error, "request signal stopped");
    }
    for failure in report.failures() {
        tracing::warn!(target: "signals_tower", signal, failure = %failure, "request signal receiver failed");
    }
}

fn log_delivery_failures(failures: &[Failure]) {
    for failure in failures {
        tracing::warn!(target: "signals_tower", failure = %failure, "request transaction delivery failed");
    }
}

#[cfg(test)]
mod tests {
    use super::RequestInfo;

    #[test]
    fn the_reported_path_and_query_are_the_uris() {
        for uri in [
            "/users/7?tab=posts",
            "/",
            "/?",
            "/a?b=c?d",
            "*",
            "http://example.com",
            "http://example.com/x/y?z",
            "https://example.com?q=1",
            "example.com:443",
        ] {
            let uri: http::Uri = uri.parse().unwrap();
            let request = http::Request::get(uri.clone()).body(()).unwrap();
            let info = RequestInfo::from_request(&request);
            let meta = info.meta();
            assert_eq!((meta.path, meta.query), (uri.path(), uri.query()), "{uri}");
        }
    }
}
