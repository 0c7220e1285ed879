//! The three auth signals from a real login flow: axum-login 0.18 with a real session
//! store (tower-sessions' memory store), an axum server on loopback, a hyper client that
//! carries the session cookie.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_login::{AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signals_axum_login::{AuthSession, AuthSessionExt, SignalCredentials, SignalingBackend};
use signals_core::auth::{Credentials, UserLoggedIn, UserLoggedOut, UserLoginFailed};
use signals_core::models::Model;
use signals_core::prelude::*;
use tower_sessions::{MemoryStore, SessionManagerLayer};

#[derive(Clone, Debug)]
struct User {
    id: i64,
    name: String,
}

impl Model for User {}

impl AuthUser for User {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        self.name.as_bytes()
    }
}

#[derive(Clone, serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

impl SignalCredentials for Login {
    fn signal_credentials(&self) -> Credentials {
        Credentials::new([
            ("username", self.username.as_str()),
            ("password", self.password.as_str()),
        ])
    }
}

#[derive(Clone)]
struct Users;

impl AuthnBackend for Users {
    type User = User;
    type Credentials = Login;
    type Error = std::convert::Infallible;

    async fn authenticate(&self, login: Login) -> Result<Option<User>, Self::Error> {
        Ok(
            (login.username == "ada" && login.password == "hunter2").then(|| User {
                id: 1,
                name: "ada".into(),
            }),
        )
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
        Ok((*id == 1).then(|| User {
            id: 1,
            name: "ada".into(),
        }))
    }
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn path(request: Option<signals_core::request::RequestMeta<'_>>) -> String {
    request.map_or("-".into(), |r| format!("{} {}", r.method, r.path))
}

#[receiver(UserLoginFailed)]
fn on_failed(event: &UserLoginFailed<'_>) {
    let pairs: Vec<String> = event
        .credentials
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    LOG.lock().unwrap().push(format!(
        "failed {} ({})",
        pairs.join(","),
        path(event.request)
    ));
}

#[receiver(UserLoggedIn, sender = User)]
fn on_logged_in(event: &UserLoggedIn<'_, User>) {
    LOG.lock().unwrap().push(format!(
        "in {}#{} ({})",
        event.user.name,
        event.user.id,
        path(event.request)
    ));
}

#[receiver(UserLoggedOut)]
fn on_logged_out(event: &UserLoggedOut<'_>) {
    let user = event.user.downcast_ref::<User>().expect("a User");
    LOG.lock()
        .unwrap()
        .push(format!("out {} ({})", user.name, path(event.request)));
}

async fn login(mut auth: AuthSession<Users>, parts: Parts, Form(login): Form<Login>) -> StatusCode {
    match auth.authenticate_signaled(login, &parts).await {
        Ok(Some(user)) => match auth.login_signaled(&user, &parts).await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Ok(None) => StatusCode::UNAUTHORIZED,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn logout(mut auth: AuthSession<Users>, parts: Parts) -> StatusCode {
    match auth.logout_signaled(&parts).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn me(auth: AuthSession<Users>) -> Result<String, StatusCode> {
    auth.user.map(|u| u.name).ok_or(StatusCode::UNAUTHORIZED)
}

async fn serve() -> SocketAddr {
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let auth = AuthManagerLayerBuilder::new(SignalingBackend::new(Users), sessions).build();
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .layer(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A client that keeps the session cookie.
struct Browser {
    addr: SocketAddr,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    cookie: Option<String>,
}

impl Browser {
    async fn send(&mut self, method: &str, path: &str, form: &str) -> (u16, String) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let request = request
            .body(Full::new(bytes::Bytes::from(form.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test]
async fn a_failed_login_a_login_and_a_logout_send_the_three_auth_signals() {
    let flow = async {
        let mut browser = Browser {
            addr: serve().await,
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookie: None,
        };
        assert_eq!(browser.send("GET", "/me", "").await.0, 401);
        let (status, _) = browser
            .send("POST", "/login", "username=ada&password=wrong")
            .await;
        assert_eq!(status, 401);
        let (status, _) = browser
            .send("POST", "/login", "username=ada&password=hunter2")
            .await;
        assert_eq!(status, 200);
        assert!(browser.cookie.is_some(), "a session cookie");
        assert_eq!(browser.send("GET", "/me", "").await, (200, "ada".into()));
        assert_eq!(browser.send("POST", "/logout", "").await.0, 200);
        assert_eq!(browser.send("GET", "/me", "").await.0, 401);
        // Nobody logged in: no UserLoggedOut.
        assert_eq!(browser.send("POST", "/logout", "").await.0, 200);
    };
    tokio::time::timeout(Duration::from_secs(30), flow)
        .await
        .expect("within 30 s");
    let log = LOG.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!(
                "failed username=ada,password={} (POST /login)",
                Credentials::MASK
            ),
            "in ada#1 (POST /login)".to_owned(),
            "out ada (POST /logout)".to_owned(),
        ]
    );
    assert!(
        !log.concat().contains("wrong"),
        "the password never reaches a receiver"
    );
}
