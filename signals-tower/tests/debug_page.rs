//! The debug page in a real headless browser (Debian's `chromium`): the page loads, the
//! Mermaid diagram renders (an `<svg>` in the DOM after its script ran), and a send made
//! by a request appears with its receiver and outcome.
//!
//! Needs `chromium` (or `SIGNALS_CHROMIUM`) and Mermaid's bundle at `SIGNALS_MERMAID_JS`.
//! `.ci/run` installs both and sets `SIGNALS_REQUIRE_BROWSER`, under which a missing one
//! fails the test. Without that variable (a developer's fresh checkout running the
//! README's `cargo test --workspace`), a missing bundle is reported with a notice past the
//! test harness's capture and the browser half is not run, as the PostgreSQL tests do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signals_core::prelude::*;
use signals_tower::SignalsLayer;
use signals_tower::debug::{DebugPage, MermaidJs, SendLog};
use tracing_subscriber::prelude::*;

#[derive(Signal)]
struct NewsletterJoined<'a> {
    email: &'a str,
}

#[receiver(NewsletterJoined)]
fn send_confirmation(event: &NewsletterJoined<'_>) {
    assert!(event.email.contains('@'));
}

/// The layer's own signals are recorded too (a send is recorded when it has receivers).
#[receiver(signals_core::request::RequestStarted)]
fn count_request(_: &signals_core::request::RequestStarted<'_>) {}

fn mermaid_js() -> PathBuf {
    let path = std::env::var_os("SIGNALS_MERMAID_JS").map(PathBuf::from).expect(
        "SIGNALS_MERMAID_JS must name mermaid.min.js (11.12.0): .ci/run installs it with `npm pack mermaid@11.12.0`",
    );
    assert!(path.is_file(), "{} is not a file", path.display());
    path
}

async fn serve(log: SendLog) -> SocketAddr {
    let page = DebugPage::new(log)
        .mermaid_js(MermaidJs::File(mermaid_js()))
        .router()
        .expect("the Mermaid bundle is readable");
    let app = Router::new()
        .route(
            "/newsletter",
            post(|| async {
                NewsletterJoined {
                    email: "ada@example.com",
                }
                .send()
                .map(|_| "joined")
                .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }),
        )
        .layer(SignalsLayer::new())
        .nest("/_signals", page);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The DOM of `url` after its scripts ran, from headless chromium (bounded: 60 s).
fn dump_dom(url: &str) -> String {
    let chromium = std::env::var("SIGNALS_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = std::env::temp_dir().join(format!("signals-chromium-{}", std::process::id()));
    let output = Command::new("timeout")
        .arg("60")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {chromium} (apt-get install chromium): {e}"));
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "{chromium} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_loads_renders_the_diagram_and_lists_a_send_made_by_a_request() {
    if std::env::var_os("SIGNALS_MERMAID_JS").is_none()
        && std::env::var_os("SIGNALS_REQUIRE_BROWSER").is_none()
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: debug page browser test not run (set SIGNALS_MERMAID_JS, see .ci/run)"
        );
        return;
    }
    let log = SendLog::new(50);
    tracing_subscriber::registry().with(log.layer()).init();
    let run = async {
        let addr = serve(log.clone()).await;
        assert_eq!(
            request(addr, "POST", "/newsletter").await,
            (200, "joined".into())
        );

        // Recorded from the spans: the request's own signals and the handler's send.
        let sends = log.sends();
        let joined = sends
            .iter()
            .find(|s| s.signal == "NewsletterJoined")
            .unwrap_or_else(|| panic!("the handler's send is recorded: {sends:?}"));
        assert_eq!(joined.mode, "sync");
        assert_eq!(joined.receivers_ran, 1);
        assert_eq!(joined.receivers.len(), 1);
        assert_eq!(
            joined.receivers[0].receiver,
            "debug_page::send_confirmation"
        );
        assert_eq!(joined.receivers[0].outcome, "ok");
        assert!(
            joined.receivers[0]
                .location
                .starts_with("signals-tower/tests/debug_page.rs:")
        );

        // The HTML, as served.
        let (status, html) = request(addr, "GET", "/_signals").await;
        assert_eq!(status, 200);
        assert!(html.contains("<pre class=\"mermaid\""), "{html}");
        let (status, script) = request(addr, "GET", "/_signals/mermaid.min.js").await;
        assert_eq!(status, 200);
        assert!(script.len() > 1_000_000, "the Mermaid bundle is served");

        // In a real browser, after the page's scripts ran.
        let url = format!("http://{addr}/_signals");
        let dom = tokio::task::spawn_blocking(move || dump_dom(&url))
            .await
            .unwrap();
        let diagram = dom
            .split("id=\"diagram\"")
            .nth(1)
            .unwrap_or_else(|| panic!("the diagram element: {dom}"));
        let diagram = diagram.split("</pre>").next().unwrap();
        assert!(
            diagram.contains("<svg"),
            "Mermaid rendered the receiver map as SVG: {diagram}"
        );
        assert!(diagram.contains("send_confirmation"), "{diagram}");
        let sends_table = dom.split("id=\"sends\"").nth(1).expect("the sends table");
        assert!(sends_table.contains("NewsletterJoined"), "{sends_table}");
        assert!(
            sends_table.contains("debug_page::send_confirmation"),
            "{sends_table}"
        );
        assert!(sends_table.contains("RequestStarted"), "{sends_table}");
    };
    tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("within 90 s");
}
