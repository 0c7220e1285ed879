//! The layer on a real axum server on loopback, driven by a real hyper client.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signals_tower::{RequestError, SignalsLayer, panic_response};
use support::{Event, bounded, events, finished, record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// GETs `path` and returns the status and the whole body.
async fn get_path(addr: SocketAddr, path: &str) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// One chunk every 5 ms, forever: only a client going away ends it.
fn endless_stream() -> Body {
    let chunks = futures_util::stream::unfold(0u64, |n| async move {
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Some((
            Ok::<_, Infallible>(Bytes::from(format!("chunk {n}\n"))),
            n + 1,
        ))
    });
    Body::from_stream(chunks)
}

/// Reads from `socket` until `marker` arrived, then returns what was read.
async fn read_until(socket: &mut tokio::net::TcpStream, marker: &str) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains(marker) {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed the stream");
        received.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

fn app() -> Router {
    Router::new()
        .route(
            "/started/users/{id}",
            get(|| async {
                record("/started/users/7", Event::Handler);
                "ada"
            }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/body", get(|| async { "x".repeat(100_000) }))
        .route(
            "/unavailable",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/panics",
            get(|| async {
                if true {
                    panic!("boom in handler");
                }
                "never"
            }),
        )
        .route("/stream", get(|| async { endless_stream() }))
        .layer(
            ServiceBuilder::new()
                .layer(SignalsLayer::new())
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

#[tokio::test]
async fn started_runs_before_the_handler_with_the_route_template_then_finished() {
    bounded(async {
        let addr = serve(app()).await;
        let (status, body) = get_path(addr, "/started/users/7?tab=posts").await;
        assert_eq!((status, &body[..]), (200, &b"ada"[..]));
        let events = finished("/started/users/7").await;
        assert_eq!(
            events,
            [
                Event::Started {
                    method: "GET".into(),
                    route: Some("/started/users/{id}".into()),
                    query: Some("tab=posts".into()),
                },
                Event::Handler,
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true
                },
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn normal_and_empty_responses_finish_complete() {
    bounded(async {
        let addr = serve(app()).await;
        assert_eq!(get_path(addr, "/empty").await.0, 204);
        let (status, body) = get_path(addr, "/body").await;
        assert_eq!((status, body.len()), (200, 100_000));
        for (path, status) in [("/empty", 204), ("/body", 200)] {
            let events = finished(path).await;
            assert_eq!(
                events.last(),
                Some(&Event::Finished {
                    status: Some(status),
                    complete: true,
                    timed: true
                }),
                "{path}: {events:?}"
            );
            assert!(
                !events.iter().any(|e| matches!(e, Event::Exception { .. })),
                "{path}: {events:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_server_error_sends_got_request_exception() {
    bounded(async {
        let addr = serve(app()).await;
        assert_eq!(get_path(addr, "/unavailable").await.0, 503);
        let events = finished("/unavailable").await;
        assert_eq!(
            &events[1..],
            [
                Event::Exception {
                    error: RequestError::Status(StatusCode::SERVICE_UNAVAILABLE),
                    status: Some(503)
                },
                Event::Finished {
                    status: Some(503),
                    complete: true,
                    timed: true
                },
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_caught_panic_sends_its_message() {
    bounded(async {
        let addr = serve(app()).await;
        let (status, body) = get_path(addr, "/panics").await;
        assert_eq!((status, &body[..]), (500, &b"Internal Server Error"[..]));
        let events = finished("/panics").await;
        assert_eq!(
            events[1],
            Event::Exception {
                error: RequestError::Panic {
                    message: Some("boom in handler".into())
                },
                status: Some(500)
            }
        );
        assert!(matches!(
            events[2],
            Event::Finished {
                status: Some(500),
                ..
            }
        ));
    })
    .await;
}

#[tokio::test]
async fn the_fallback_has_no_route_and_a_404_is_no_exception() {
    bounded(async {
        let addr = serve(app()).await;
        assert_eq!(get_path(addr, "/nowhere").await.0, 404);
        let events = finished("/nowhere").await;
        assert_eq!(
            events,
            [
                Event::Started {
                    method: "GET".into(),
                    route: None,
                    query: None
                },
                Event::Finished {
                    status: Some(404),
                    complete: true,
                    timed: true
                },
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_disconnecting_mid_stream_finishes_incomplete() {
    bounded(async {
        let addr = serve(app()).await;
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        // Read until the first chunk arrived, then go away.
        let received = read_until(&mut socket, "chunk 1").await;
        assert!(received.starts_with("HTTP/1.1 200"));
        assert!(
            !events("/stream")
                .iter()
                .any(|e| matches!(e, Event::Finished { .. })),
            "not finished while streaming"
        );
        drop(socket);
        let events = finished("/stream").await;
        assert_eq!(
            events.last(),
            Some(&Event::Finished {
                status: Some(200),
                complete: false,
                timed: true
            })
        );
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_response_future_finishes_without_status() {
    bounded(async {
        let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
        let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
        let app: Router = Router::new()
            .route(
                "/cancelled",
                get(move || {
                    let tx = entered.lock().unwrap().take();
                    record("/cancelled", Event::Handler);
                    async move {
                        let _ = tx.map(|tx| tx.send(()));
                        std::future::pending::<()>().await;
                    }
                }),
            )
            .layer(SignalsLayer::new());
        let request = axum::http::Request::get("/cancelled")
            .body(Body::empty())
            .unwrap();
        let call = tokio::spawn(app.oneshot(request));
        entered_rx.await.unwrap();
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled());
        let events = finished("/cancelled").await;
        assert_eq!(
            events.last(),
            Some(&Event::Finished {
                status: None,
                complete: false,
                timed: true
            })
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_gone_before_the_response_finishes_without_status() {
    bounded(async {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    record("/slow", Event::Handler);
                    std::future::pending::<()>().await;
                }),
            )
            .layer(SignalsLayer::new());
        let addr = serve(app).await;
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /slow HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        while !events("/slow").contains(&Event::Handler) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(socket);
        let events = finished("/slow").await;
        assert_eq!(
            events.last(),
            Some(&Event::Finished {
                status: None,
                complete: false,
                timed: true
            })
        );
    })
    .await;
}

#[tokio::test]
async fn a_service_error_sends_got_request_exception() {
    bounded(async {
        let service = ServiceBuilder::new().layer(SignalsLayer::new()).service_fn(
            |_: axum::http::Request<Body>| async {
                Err::<axum::http::Response<Body>, _>(std::io::Error::other("backend refused"))
            },
        );
        let request = axum::http::Request::get("/service-error")
            .body(Body::empty())
            .unwrap();
        let error = service.oneshot(request).await.unwrap_err();
        assert_eq!(error.to_string(), "backend refused");
        let events = finished("/service-error").await;
        assert_eq!(
            &events[1..],
            [
                Event::Exception {
                    error: RequestError::Service("backend refused".into()),
                    status: None
                },
                Event::Finished {
                    status: None,
                    complete: false,
                    timed: true
                },
            ]
        );
    })
    .await;
}

/// The routes of the `around` tests, with the panic layer inside the router: the layer
/// goes around the whole router (`SignalsLayer::around`), served by `axum::serve`.
async fn serve_around() -> SocketAddr {
    let router = Router::new()
        .route(
            "/around/users/{id}",
            get(|| async {
                record("/around/users/7", Event::Handler);
                "ada"
            }),
        )
        .route(
            "/around/unavailable",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/around/panics",
            get(|| async {
                if true {
                    panic!("boom around");
                }
                "never"
            }),
        )
        .route("/around/stream", get(|| async { endless_stream() }))
        .layer(CatchPanicLayer::custom(panic_response));
    let app = SignalsLayer::new().around(router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service())
            .await
            .unwrap()
    });
    addr
}

#[tokio::test]
async fn around_the_router_every_signal_is_sent_without_the_route() {
    bounded(async {
        let addr = serve_around().await;
        let (status, body) = get_path(addr, "/around/users/7?tab=posts").await;
        assert_eq!((status, &body[..]), (200, &b"ada"[..]));
        assert_eq!(
            finished("/around/users/7").await,
            [
                // Sent before the router matched: no template.
                Event::Started {
                    method: "GET".into(),
                    route: None,
                    query: Some("tab=posts".into()),
                },
                Event::Handler,
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true
                },
            ]
        );

        assert_eq!(get_path(addr, "/around/unavailable").await.0, 503);
        assert_eq!(
            &finished("/around/unavailable").await[1..],
            [
                Event::Exception {
                    error: RequestError::Status(StatusCode::SERVICE_UNAVAILABLE),
                    status: Some(503)
                },
                Event::Finished {
                    status: Some(503),
                    complete: true,
                    timed: true
                },
            ]
        );

        assert_eq!(get_path(addr, "/around/panics").await.0, 500);
        assert_eq!(
            finished("/around/panics").await[1],
            Event::Exception {
                error: RequestError::Panic {
                    message: Some("boom around".into())
                },
                status: Some(500)
            }
        );

        // No route matched: the router's own 404, no exception.
        assert_eq!(get_path(addr, "/around/nowhere").await.0, 404);
        assert_eq!(
            finished("/around/nowhere").await[1..],
            [Event::Finished {
                status: Some(404),
                complete: true,
                timed: true
            }]
        );
    })
    .await;
}

#[tokio::test]
async fn around_the_router_a_client_disconnecting_mid_stream_finishes_incomplete() {
    bounded(async {
        let addr = serve_around().await;
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /around/stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        assert!(
            read_until(&mut socket, "chunk 1")
                .await
                .starts_with("HTTP/1.1 200")
        );
        assert!(
            !events("/around/stream")
                .iter()
                .any(|e| matches!(e, Event::Finished { .. })),
            "not finished while streaming"
        );
        drop(socket);
        assert_eq!(
            finished("/around/stream").await.last(),
            Some(&Event::Finished {
                status: Some(200),
                complete: false,
                timed: true
            })
        );
    })
    .await;
}

#[tokio::test]
async fn a_grpc_web_post_over_http1_is_read_as_grpc_and_a_get_is_not() {
    bounded(async {
        // A trailers-only gRPC-web answer: the error status is in the headers.
        fn grpc_web_error() -> axum::response::Response {
            axum::http::Response::builder()
                .header("content-type", "application/grpc-web+proto")
                .header("grpc-status", "14")
                .header("grpc-message", "backend%20down")
                .body(Body::empty())
                .unwrap()
        }
        let app: Router = Router::new()
            .route(
                "/grpc-web/unavailable",
                axum::routing::post(|| async { grpc_web_error() }),
            )
            .route("/grpc-web/get", get(|| async { grpc_web_error() }))
            .layer(SignalsLayer::new());
        let addr = serve(app).await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let post = axum::http::Request::post(format!("http://{addr}/grpc-web/unavailable"))
            .body(Empty::new())
            .unwrap();
        let response = client.request(post).await.unwrap();
        assert_eq!(response.version(), axum::http::Version::HTTP_11);
        response.into_body().collect().await.unwrap();
        assert_eq!(
            &finished("/grpc-web/unavailable").await[1..],
            [
                Event::Exception {
                    error: RequestError::Grpc {
                        code: 14,
                        message: "backend down".into()
                    },
                    status: Some(200)
                },
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true
                },
            ]
        );
        // gRPC calls are POSTs: a GET's headers are not read as a gRPC status.
        assert_eq!(get_path(addr, "/grpc-web/get").await.0, 200);
        assert_eq!(
            &finished("/grpc-web/get").await[1..],
            [Event::Finished {
                status: Some(200),
                complete: true,
                timed: true
            }]
        );
    })
    .await;
}
