//! `SignalsLayer::request_transaction`: deferred receivers of the handler's sends wait for
//! the response (real axum server on loopback, real hyper client).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signals_core::prelude::*;
use signals_core::transaction;
use signals_tower::{SignalsLayer, panic_response};
use tokio::io::AsyncWriteExt;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

#[derive(Signal)]
struct Signup<'a> {
    email: &'a str,
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(line: String) {
    LOG.lock().unwrap().push(line);
}

fn logged(email: &str) -> Vec<String> {
    LOG.lock()
        .unwrap()
        .iter()
        .filter(|l| l.ends_with(email))
        .cloned()
        .collect()
}

#[receiver(Signup)]
fn immediately(event: &Signup<'_>) {
    log(format!("immediate {}", event.email));
}

#[receiver(Signup, on = Commit)]
fn welcome(event: &Signup<'_>) {
    log(format!("commit {}", event.email));
}

#[receiver(Signup, on = Rollback)]
fn apologise(event: &Signup<'_>) {
    log(format!("rollback {}", event.email));
}

/// Sends `Signup` the way a handler must inside the request transaction (owned).
fn signup(email: &str) {
    transaction::send_owned::<Signup, _>(email.to_owned(), |email: &String| Signup { email })
        .expect("sent");
    log(format!("handler returns {email}"));
}

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route(
            "/ok",
            get(|| async {
                signup("ok@example.com");
                StatusCode::CREATED
            }),
        )
        .route(
            "/redirect",
            get(|| async {
                signup("redirect@example.com");
                axum::response::Redirect::to("/ok")
            }),
        )
        .route(
            "/invalid",
            get(|| async {
                signup("invalid@example.com");
                StatusCode::UNPROCESSABLE_ENTITY
            }),
        )
        .route(
            "/fails",
            get(|| async {
                signup("fails@example.com");
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
        .route(
            "/panics",
            get(|| async {
                signup("panics@example.com");
                if true {
                    panic!("after the signup");
                }
                StatusCode::OK
            }),
        )
        .route(
            "/gone",
            get(|| async {
                signup("gone@example.com");
                std::future::pending::<StatusCode>().await
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(SignalsLayer::new().request_transaction(true))
                .layer(CatchPanicLayer::custom(panic_response)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn status_of(addr: SocketAddr, path: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("within 30 s")
}

#[tokio::test]
async fn a_successful_response_runs_commit_receivers_before_it_is_sent() {
    bounded(async {
        let addr = serve().await;
        assert_eq!(status_of(addr, "/ok").await, 201);
        // Deferred past the handler, delivered before the client had the response.
        assert_eq!(
            logged("ok@example.com"),
            [
                "immediate ok@example.com",
                "handler returns ok@example.com",
                "commit ok@example.com"
            ]
        );
        assert_eq!(status_of(addr, "/redirect").await, 303);
        assert_eq!(
            logged("redirect@example.com").last().unwrap(),
            "commit redirect@example.com"
        );
    })
    .await;
}

#[tokio::test]
async fn a_failed_response_runs_rollback_receivers() {
    bounded(async {
        let addr = serve().await;
        for (path, status, email) in [
            ("/invalid", 422, "invalid@example.com"),
            ("/fails", 500, "fails@example.com"),
            ("/panics", 500, "panics@example.com"),
        ] {
            assert_eq!(status_of(addr, path).await, status);
            assert_eq!(
                logged(email),
                [
                    format!("immediate {email}"),
                    format!("handler returns {email}"),
                    format!("rollback {email}")
                ],
                "{path}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_client_gone_before_the_response_rolls_back() {
    bounded(async {
        let addr = serve().await;
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /gone HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        while logged("gone@example.com").len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(socket);
        while logged("gone@example.com").len() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            logged("gone@example.com")[2],
            "rollback gone@example.com",
            "no commit for a request that never answered"
        );
        assert_eq!(signals_core::transaction::lost_deliveries(), 0);
    })
    .await;
}

#[tokio::test]
async fn around_the_router_the_request_transaction_decides_the_same() {
    bounded(async {
        let router = Router::new()
            .route(
                "/ok",
                get(|| async {
                    signup("around-ok@example.com");
                    StatusCode::CREATED
                }),
            )
            .route(
                "/fails",
                get(|| async {
                    signup("around-fails@example.com");
                    StatusCode::INTERNAL_SERVER_ERROR
                }),
            );
        let app = SignalsLayer::new().request_transaction(true).around(router);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service())
                .await
                .unwrap()
        });

        assert_eq!(status_of(addr, "/ok").await, 201);
        assert_eq!(
            logged("around-ok@example.com"),
            [
                "immediate around-ok@example.com",
                "handler returns around-ok@example.com",
                "commit around-ok@example.com"
            ]
        );
        assert_eq!(status_of(addr, "/fails").await, 500);
        assert_eq!(
            logged("around-fails@example.com").last().unwrap(),
            "rollback around-fails@example.com"
        );
    })
    .await;
}
