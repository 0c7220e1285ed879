//! Async receivers of the request signals: the layer awaits them (a boxed response
//! future), and sends synchronously (nothing boxed) while every receiver is sync. One
//! test, run in order, because the runtime receiver it connects changes which path the
//! layer takes for every request of this binary.

mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signals_core::prelude::*;
use signals_core::request::{GotRequestException, RequestStarted};
use signals_tower::{RequestError, SignalsLayer};
use support::{Event, bounded, finished, record};
use tower::{Layer, Service, ServiceExt};

/// Runs after the support module's sync recorder (priority 0), after an `.await`.
#[receiver(GotRequestException, priority = -1)]
async fn async_exception(event: &GotRequestException<'_>) {
    tokio::task::yield_now().await;
    record(event.request.path, Event::Marker("async exception"));
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn get_status(addr: SocketAddr, path: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

fn app() -> Router {
    Router::new()
        .route(
            "/unavailable",
            get(|| async {
                record("/unavailable", Event::Handler);
                (StatusCode::SERVICE_UNAVAILABLE, "down")
            }),
        )
        .route(
            "/async-started",
            get(|| async {
                record("/async-started", Event::Handler);
                "ok"
            }),
        )
        .layer(SignalsLayer::new())
}

/// The `Debug` form of the response future a `Signals` service returns for one request
/// to `path` (awaited, so that its `RequestFinished` is sent).
async fn response_future_state(layer: SignalsLayer, path: &str) -> String {
    let mut service = layer.layer(tower::service_fn(|_: axum::http::Request<Body>| async {
        Ok::<_, std::convert::Infallible>(axum::http::Response::new(Body::empty()))
    }));
    let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
    let future = service.ready().await.unwrap().call(request);
    let state = format!("{future:?}");
    drop(future.await.unwrap());
    state
}

const STARTED: Event = Event::Started {
    method: String::new(),
    route: None,
    query: None,
};

/// `Started` events with their fields blanked, to compare orders.
fn order(events: Vec<Event>) -> Vec<Event> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Started { .. } => STARTED,
            other => other,
        })
        .collect()
}

#[tokio::test]
async fn async_receivers_are_awaited_and_sync_ones_need_no_boxed_future() {
    bounded(async {
        let addr = serve(app()).await;

        // RequestStarted has sync receivers only: sent in `call`, nothing boxed.
        assert!(!RequestStarted::has_async_receivers_for_any_sender());
        assert!(
            response_future_state(SignalsLayer::new(), "/state-sync")
                .await
                .contains("\"inner\"")
        );
        // A request transaction is always boxed (its commit is awaited).
        assert!(
            response_future_state(SignalsLayer::new().request_transaction(true), "/state-tx")
                .await
                .contains("\"boxed\"")
        );

        // A server error, whose exception has an async receiver: awaited after the sync
        // one, before the response is handed on (so before RequestFinished).
        assert_eq!(get_status(addr, "/unavailable").await, 503);
        assert_eq!(
            order(finished("/unavailable").await),
            [
                STARTED,
                Event::Handler,
                Event::Exception {
                    error: RequestError::Status(StatusCode::SERVICE_UNAVAILABLE),
                    status: Some(503),
                },
                Event::Marker("async exception"),
                Event::Finished {
                    status: Some(503),
                    complete: true,
                    timed: true,
                },
            ]
        );

        // A service error, likewise.
        let service =
            SignalsLayer::new().layer(tower::service_fn(|_: axum::http::Request<Body>| async {
                Err::<axum::http::Response<Body>, _>(std::io::Error::other("refused"))
            }));
        let request = axum::http::Request::get("/service-error")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            service.oneshot(request).await.unwrap_err().to_string(),
            "refused"
        );
        assert_eq!(
            order(finished("/service-error").await),
            [
                STARTED,
                Event::Exception {
                    error: RequestError::Service("refused".into()),
                    status: None,
                },
                Event::Marker("async exception"),
                Event::Finished {
                    status: None,
                    complete: false,
                    timed: true,
                },
            ]
        );

        // An async RequestStarted receiver connected at runtime: awaited before the
        // handler runs, after the link-time sync one.
        let connection = RequestStarted::connect_async(|event: &RequestStarted<'_>| {
            Box::pin(async move {
                tokio::task::yield_now().await;
                record(event.request.path, Event::Marker("async started"));
            })
        });
        assert!(RequestStarted::has_async_receivers_for_any_sender());
        assert!(
            response_future_state(SignalsLayer::new(), "/state-async")
                .await
                .contains("\"boxed\"")
        );
        assert_eq!(get_status(addr, "/async-started").await, 200);
        assert_eq!(
            order(finished("/async-started").await),
            [
                STARTED,
                Event::Marker("async started"),
                Event::Handler,
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true,
                },
            ]
        );

        // Disconnected: back to the sync send.
        drop(connection);
        assert!(
            response_future_state(SignalsLayer::new(), "/state-sync-again")
                .await
                .contains("\"inner\"")
        );
        assert_eq!(
            order(finished("/state-sync-again").await),
            [
                STARTED,
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true,
                },
            ]
        );
    })
    .await;
}
