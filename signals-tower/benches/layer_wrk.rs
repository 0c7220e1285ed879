//! The cost of `SignalsLayer` under load: an axum hello route with the layer and 3
//! receivers against the same route without the layer, on loopback, under `wrk`
//! (Debian's `wrk`, which must be installed: this bench fails without it).
//!
//! `cargo bench -p signals-tower --bench layer_wrk -- [SECONDS] [ROUNDS] [CONNECTIONS]`
//! (default 5 s × 3 rounds, 32 connections). The two servers run on one Tokio worker
//! each (so that wrk has a core), alternate within each round (A, B, B, A, ...), and the
//! report is the median over the rounds. Not run in CI (compiled only, like the other
//! benches); docs/PERFORMANCE.md records a run.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use signals_core::prelude::*;
use signals_core::request::{RequestFinished, RequestStarted};
use signals_tower::SignalsLayer;

static STARTED: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);
static SLOW: AtomicU64 = AtomicU64::new(0);

#[receiver(RequestStarted)]
fn count_started(_: &RequestStarted<'_>) {
    STARTED.fetch_add(1, Ordering::Relaxed);
}

#[receiver(RequestFinished)]
fn count_finished(_: &RequestFinished<'_>) {
    FINISHED.fetch_add(1, Ordering::Relaxed);
}

#[receiver(RequestFinished)]
fn count_slow(event: &RequestFinished<'_>) {
    if event.duration.is_some_and(|d| d.as_millis() > 100) {
        SLOW.fetch_add(1, Ordering::Relaxed);
    }
}

fn hello() -> Router {
    Router::new().route("/", get(|| async { "Hello, World!" }))
}

/// Serves `app` on its own one-worker runtime, on a thread of its own.
fn serve(app: Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    addr
}

struct Run {
    requests_per_sec: f64,
    p50_us: f64,
}

fn wrk(addr: SocketAddr, seconds: u32, connections: u32) -> Run {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            &format!("http://{addr}/"),
        ])
        .output()
        .expect("wrk runs (apt-get install wrk)");
    assert!(output.status.success(), "wrk failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let p50 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("50%"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no 50% line in wrk's output:\n{text}"));
    Run {
        requests_per_sec,
        p50_us: duration_us(p50),
    }
}

/// wrk's durations: `85.00us`, `1.20ms`, `2.00s`.
fn duration_us(text: &str) -> f64 {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000.0)
    } else {
        panic!("unknown duration {text:?}")
    };
    number.parse::<f64>().expect("a number") * scale
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let arg = |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (seconds, rounds, connections) = (arg(0, 5), arg(1, 3), arg(2, 32));

    let plain = serve(hello());
    let layered = serve(hello().layer(SignalsLayer::new()));
    // Warm up both (connections, allocator, caches).
    wrk(plain, 1, connections);
    wrk(layered, 1, connections);

    let (mut plain_runs, mut layered_runs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with_layer in order {
            let run = match with_layer {
                false => wrk(plain, seconds, connections),
                true => wrk(layered, seconds, connections),
            };
            println!(
                "round {round}: {:<13} {:>10.0} req/s  p50 {:>7.1} us",
                if with_layer {
                    "with layer"
                } else {
                    "without layer"
                },
                run.requests_per_sec,
                run.p50_us
            );
            match with_layer {
                false => plain_runs.push(run),
                true => layered_runs.push(run),
            }
        }
    }
    let started = STARTED.load(Ordering::Relaxed);
    let finished = FINISHED.load(Ordering::Relaxed);
    assert!(started > 0 && finished > 0, "the receivers ran");
    assert!(
        started >= finished,
        "{started} started, {finished} finished"
    );

    let rps = |runs: &[Run]| median(runs.iter().map(|r| r.requests_per_sec).collect());
    let p50 = |runs: &[Run]| median(runs.iter().map(|r| r.p50_us).collect());
    let (rps_plain, rps_layer) = (rps(&plain_runs), rps(&layered_runs));
    let (p50_plain, p50_layer) = (p50(&plain_runs), p50(&layered_runs));
    println!();
    println!("| | req/s (median of {rounds}) | p50 latency |");
    println!("|---|---:|---:|");
    println!("| without the layer | {rps_plain:.0} | {p50_plain:.1} us |");
    println!("| with the layer, 3 receivers | {rps_layer:.0} | {p50_layer:.1} us |");
    println!(
        "| difference | {:+.2} % | {:+.1} us ({:+.2} %) |",
        (rps_layer / rps_plain - 1.0) * 100.0,
        p50_layer - p50_plain,
        (p50_layer / p50_plain - 1.0) * 100.0
    );
    println!("(receivers ran: {started} started, {finished} finished)");
}
