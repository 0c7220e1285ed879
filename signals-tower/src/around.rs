//! The layer around a whole axum `Router`, outside its routing (feature `axum`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::{BoxError, Router};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::{ResponseFuture, Signals, SignalsLayer};

impl SignalsLayer {
    /// Wraps a whole axum [`Router`], outside its routing, as a service that
    /// [`axum::serve`](https://docs.rs/axum/0.8/axum/fn.serve.html) takes: the cheapest
    /// placement, at the price of the route template.
    ///
    /// Every signal is sent as with [`Router::layer`], with one difference:
    /// `RequestStarted` is sent before the router has matched a route, so
    /// [`RequestMeta::route`](signals_core::request::RequestMeta::route) is `None` in
    /// every signal. In exchange, axum does not re-box each route and its future for the
    /// layer (what any `Router::layer` costs: about 900 instructions per request, a
    /// third of this layer's whole cost on a hello route; see `docs/PERFORMANCE.md`).
    /// Use `Router::layer(SignalsLayer::new())` where receivers need the template.
    ///
    /// A `tower_http::catch_panic::CatchPanicLayer` goes on the router
    /// (`router.layer(CatchPanicLayer::custom(panic_response))`), which puts it inside this
    /// layer, as it must be for the panic to be reported.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use signals_tower::SignalsLayer;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let router: Router = Router::new().route("/", get(|| async { "Hello, World!" }));
    /// let app = SignalsLayer::new().around(router);
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// axum::serve(listener, app.into_make_service()).await
    /// # }
    /// ```
    pub fn around(&self, router: Router) -> AroundRouter {
        AroundRouter {
            // Turns every handler into its route once, as `Router::into_make_service`
            // does: a router called as a plain service would do it on every request.
            inner: self.layer(router.with_state(())),
        }
    }
}

/// An axum [`Router`] inside [`SignalsLayer`], made by [`SignalsLayer::around`]: a
/// service whose responses are axum's [`Response`], so that `axum::serve` takes it.
#[derive(Clone, Debug)]
pub struct AroundRouter {
    inner: Signals<Router>,
}

impl AroundRouter {
    /// The make-service `axum::serve` takes (each connection gets a clone, as with
    /// [`Router::into_make_service`]).
    pub fn into_make_service(self) -> axum::routing::IntoMakeService<Self> {
        axum::ServiceExt::<Request<Body>>::into_make_service(self)
    }
}

impl<B> Service<Request<B>> for AroundRouter
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AroundFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Signals<Router> as Service<Request<B>>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request<B>) -> AroundFuture {
        AroundFuture {
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AroundRouter`]: the router's response, its body wrapped
    /// (to send `RequestFinished`) and boxed into axum's [`Body`].
    pub struct AroundFuture {
        #[pin]
        inner: ResponseFuture<RouteFuture<Infallible>, Body, Infallible>,
    }
}

impl std::fmt::Debug for AroundFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AroundFuture")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Future for AroundFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll_map(cx, Body::new)
    }
}
