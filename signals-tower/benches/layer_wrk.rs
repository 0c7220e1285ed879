//! The cost of `SignalsLayer` under load: an axum hello route with the layer and 3
//! receivers, applied with `Router::layer` and with `SignalsLayer::around`, against the
//! same route without the layer (and under a pass-through `Router::layer`, what axum's
//! layering costs by itself), on loopback, under `wrk` (Debian's `wrk`
//! and util-linux's `taskset` must be installed: this bench fails without them, and on a
//! machine with fewer than two cores).
//!
//! `cargo bench -p signals-tower --bench layer_wrk -- [SECONDS] [QUIET_ROUNDS]
//! [CONNECTIONS] [MINUTES]` (default 1 s runs, 120 quiet rounds, 32 connections, at most
//! 30 minutes).
//!
//! * The four servers run on one Tokio worker each, and the whole bench process (so
//!   every server) is pinned to core 0; wrk runs pinned to core 1. They never share a
//!   core, and only one server is loaded at a time.
//! * Each round loads every server in turn, in one of eight orders (a different one each
//!   round: over eight rounds each server runs twice in each position), so a slow drift
//!   of the machine hits all alike.
//! * Besides wrk's requests/s and p50 latency, each run records the CPU time the loaded
//!   server's threads used (from `/proc/self/task/*/schedstat`) per request: the layer's
//!   cost even where wrk, not the server, is the bottleneck; and its split into user
//!   space and kernel (from the threads' `stat`, in clock ticks).
//! * Each run also records what else used the two cores meanwhile: the busy time of
//!   both cores (`/proc/stat`) less the server's and wrk's own CPU time ("others":
//!   other processes, softirq work), and the time the hypervisor stole.
//! * A round counts as quiet when none of its runs shared the two cores with 5 % or more
//!   of other work (others + steal). Before each round the bench waits (up to 10 s)
//!   until the two cores have been idle for a second; it runs rounds until it has
//!   QUIET_ROUNDS quiet ones, or MINUTES have passed, and then **fails** (exit status 1)
//!   if it has fewer: a busy machine gives no figure for the layer, only the tables of
//!   what it ran.
//! * The report gives, for each measure, the median over the rounds and the range, and
//!   the per-round ratios (within one round, relative to the server without a layer) as
//!   median, a 95 % confidence interval of that median (distribution-free, from the order
//!   statistics) and range: once over every round run, once over the quiet rounds. One
//!   server's rate moves by ±20 % between rounds on a VM, so many short rounds (the
//!   default: 120 of 1 s) measure a few per cent where a few long ones cannot. The load
//!   average is printed before and after, to be quoted with the figures.
//!
//! `layer_wrk serve plain|noop|layer|around PORT` serves one of the four alone, for
//! `benches/layer_callgrind.sh` (instructions per request, exact where timings are not);
//! `serve hyper-plain|hyper-layer PORT` serves the bare router or the router inside the
//! layer through hyper's HTTP/1 connection directly, not `axum::serve` (the wrapped body
//! unboxed);
//! `layer_wrk clock` times the layer's two clock reads per request.
//!
//! Not run in CI (compiled only, like the other benches); docs/PERFORMANCE.md records a
//! run.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use signals_core::prelude::*;
use signals_core::request::{RequestFinished, RequestStarted};
use signals_tower::{AroundRouter, SignalsLayer};

/// The core the bench process (both servers) is pinned to; wrk gets [`WRK_CORE`].
const SERVER_CORE: usize = 0;
const WRK_CORE: usize = 1;

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

/// One server: its address and the name its threads carry.
#[derive(Clone, Copy)]
struct Server {
    addr: SocketAddr,
    threads: &'static str,
}

/// Serves `app` on its own one-worker runtime, on a thread of its own; every thread of
/// it is named `threads` (at most 15 bytes, the kernel's limit).
fn serve(app: App, threads: &'static str) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::Builder::new()
        .name(threads.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(threads)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                app.serve(listener).await;
            });
        })
        .expect("server thread");
    Server { addr, threads }
}

/// Runs `program` to check that it is installed; panics (the bench fails) if it is not.
fn require(program: &str, arg: &str, install: &str) {
    if let Err(error) = Command::new(program).arg(arg).output() {
        panic!("`{program}` cannot be run ({error}): {install}");
    }
}

/// Pins this process's main thread to `core` (the threads it spawns afterwards inherit
/// it), and checks that the kernel took it.
fn pin_self(core: usize) {
    let status = Command::new("taskset")
        .args([
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .output()
        .expect("taskset runs");
    assert!(status.status.success(), "taskset failed: {status:?}");
    let allowed = std::fs::read_to_string("/proc/thread-self/status")
        .expect("/proc/thread-self/status")
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cpus_allowed_list:")
                .map(|v| v.trim().to_owned())
        })
        .expect("Cpus_allowed_list");
    assert_eq!(allowed, core.to_string(), "pinned to core {core}");
}

/// CPU time of a server's threads: nanoseconds on a CPU (`schedstat`, exact), and the
/// user and system ticks it splits into (`stat`, in clock ticks).
#[derive(Clone, Copy, Default)]
struct CpuTime {
    ns: u64,
    user_ticks: u64,
    system_ticks: u64,
}

/// The CPU time of every thread of this process named `threads`.
fn cpu_time(threads: &str) -> CpuTime {
    let mut total = CpuTime::default();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("a task").path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread exited
        };
        if comm.trim_end() != threads {
            continue;
        }
        let schedstat = std::fs::read_to_string(dir.join("schedstat")).expect("schedstat");
        total.ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .expect("schedstat's first field: ns on a CPU");
        let stat = std::fs::read_to_string(dir.join("stat")).expect("stat");
        total.user_ticks += stat_field(&stat, 14);
        total.system_ticks += stat_field(&stat, 15);
    }
    total
}

/// Field `field` (1-based, as `proc(5)` numbers them) of a `/proc/.../stat` line, a tick
/// count. The fields are counted after the command name, which ends with the last `)`
/// and may contain spaces.
fn stat_field(stat: &str, field: usize) -> u64 {
    stat.rsplit_once(')')
        .expect("a command name")
        .1
        .split_whitespace()
        .nth(field - 3)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("field {field} of {stat:?}"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One column of a run for the report: its name, how it is read, its unit.
type Measure = (&'static str, fn(&Run) -> f64, &'static str);

struct Run {
    requests_per_sec: f64,
    p50_us: f64,
    /// The server's CPU time per request, in µs.
    cpu_us: f64,
    /// The part of it spent in user space, and in the kernel (from clock ticks: coarse
    /// for one run, meaningful as a median).
    user_us: f64,
    system_us: f64,
    /// CPU time that neither the loaded server nor wrk used on the two cores while it ran
    /// (other processes, and softirq work), as a % of the two cores' time.
    others_pct: f64,
    /// Time the hypervisor took from the two cores, as a % of their time.
    steal_pct: f64,
}

/// Clock ticks per second of `/proc`'s counters (`getconf CLK_TCK`).
fn clock_ticks() -> u64 {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}

/// Busy ticks (user, nice, system, irq, softirq) and stolen ticks of the two cores, from
/// `/proc/stat`.
fn core_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let (mut busy, mut steal) = (0, 0);
    for core in [SERVER_CORE, WRK_CORE] {
        let name = format!("cpu{core}");
        let fields: Vec<u64> = stat
            .lines()
            .find_map(|l| l.strip_prefix(&name).filter(|rest| rest.starts_with(' ')))
            .unwrap_or_else(|| panic!("no {name} in /proc/stat"))
            .split_whitespace()
            .map(|f| f.parse().expect("a tick count"))
            .collect();
        // user nice system idle iowait irq softirq steal ...
        busy += fields[0] + fields[1] + fields[2] + fields[5] + fields[6];
        steal += fields[7];
    }
    (busy, steal)
}

/// Ticks of CPU time of this process's waited-for children (wrk): `cutime` and
/// `cstime` of `/proc/self/stat`.
fn children_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    stat_field(&stat, 16) + stat_field(&stat, 17)
}

fn wrk(server: Server, seconds: u32, connections: u32, tick_ns: u64) -> Run {
    let cpu_before = cpu_time(server.threads);
    let (busy_before, steal_before) = core_ticks();
    let children_before = children_ticks();
    let started = Instant::now();
    let output = Command::new("taskset")
        .args([
            "-c",
            &WRK_CORE.to_string(),
            "wrk",
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            &format!("http://{}/", server.addr),
        ])
        .output()
        .expect("taskset runs wrk");
    let wall_ns = started.elapsed().as_nanos() as f64;
    let cpu_after = cpu_time(server.threads);
    let cpu = cpu_after.ns - cpu_before.ns;
    let user_ns = (cpu_after.user_ticks - cpu_before.user_ticks) * tick_ns;
    let system_ns = (cpu_after.system_ticks - cpu_before.system_ticks) * tick_ns;
    let (busy_after, steal_after) = core_ticks();
    let wrk_ns = (children_ticks() - children_before) * tick_ns;
    let busy_ns = (busy_after - busy_before) * tick_ns;
    let steal_ns = (steal_after - steal_before) * tick_ns;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wrk failed: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A server that fails requests would look fast.
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw errors:\n{text}"
    );
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{text}"));
    let p50 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("50%"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no 50% line in wrk's output:\n{text}"));
    let two_cores = 2.0 * wall_ns;
    Run {
        requests_per_sec,
        p50_us: duration_us(p50),
        cpu_us: cpu as f64 / 1_000.0 / requests,
        user_us: user_ns as f64 / 1_000.0 / requests,
        system_us: system_ns as f64 / 1_000.0 / requests,
        others_pct: (busy_ns as f64 - cpu as f64 - wrk_ns as f64).max(0.0) / two_cores * 100.0,
        steal_pct: steal_ns as f64 / two_cores * 100.0,
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

/// Median, minimum and maximum.
fn summary(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

/// A 95 % confidence interval of the median of `values` (distribution-free: the order
/// statistics `k` and `n + 1 - k`, with `k` from the binomial's normal approximation);
/// the whole range when there are too few values for one (under 8).
fn median_interval(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let k = (n as f64 / 2.0 - 1.96 * (n as f64).sqrt() / 2.0).floor() as usize;
    if n < 8 || k < 1 {
        return (values[0], values[n - 1]);
    }
    (values[k - 1], values[n - k])
}

/// `serve plain|noop|layer|around|hyper-plain|hyper-layer PORT`: one server, on
/// `127.0.0.1:PORT`, until killed (for `layer_callgrind.sh`, which counts its
/// instructions per request).
fn serve_only(args: &[String]) {
    let (Some(which), Some(port)) = (args.get(1), args.get(2).and_then(|p| p.parse::<u16>().ok()))
    else {
        panic!("usage: layer_wrk serve plain|noop|layer|around|hyper-plain|hyper-layer PORT");
    };
    let app = match which.as_str() {
        "plain" => app(0),
        "noop" => app(1),
        "layer" => app(2),
        "around" => app(3),
        "hyper-plain" => App::Hyper(HyperApp::Plain(hello().with_state(()))),
        "hyper-layer" => App::Hyper(HyperApp::Layer(tower::Layer::layer(
            &SignalsLayer::new(),
            hello().with_state(()),
        ))),
        other => panic!("`{other}`: plain, noop, layer, around, hyper-plain or hyper-layer"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        println!(
            "serving {which} on {}",
            listener.local_addr().expect("addr")
        );
        app.serve(listener).await;
    });
}

/// `clock`: what the layer's two clock reads cost (`Instant::now` when the request
/// starts, `elapsed` when its body ends, for `RequestFinished::duration`), in ns per pair,
/// beside the same pair on `quanta`'s TSC clock: for each, the median of 9 batches of 10
/// million pairs, the batches of the two interleaved, each result kept from the optimiser.
fn clock_pair() {
    const PAIRS: u32 = 10_000_000;
    const BATCHES: usize = 9;
    /// ns per pair of one batch of `pair`.
    fn batch(pair: impl Fn() -> Duration) -> f64 {
        let batch = Instant::now();
        let mut total = Duration::ZERO;
        for _ in 0..PAIRS {
            total += std::hint::black_box(pair());
        }
        std::hint::black_box(total);
        batch.elapsed().as_nanos() as f64 / f64::from(PAIRS)
    }
    let std_pair = || std::hint::black_box(Instant::now()).elapsed();
    let tsc_pair = || std::hint::black_box(quanta::Instant::now()).elapsed();
    tsc_pair(); // quanta calibrates its clock on first use
    let (mut std_ns, mut tsc_ns) = (Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        std_ns.push(batch(std_pair));
        tsc_ns.push(batch(tsc_pair));
    }
    for (name, ns) in [
        ("std::time::Instant", &mut std_ns),
        ("quanta::Instant", &mut tsc_ns),
    ] {
        ns.sort_by(f64::total_cmp);
        println!(
            "{name}: now + elapsed {:.1} ns per pair (median of {BATCHES} batches of {PAIRS}; range {:.1}-{:.1})",
            ns[BATCHES / 2],
            ns[0],
            ns[BATCHES - 1]
        );
    }
    println!(
        "quanta / std: {:.2}",
        tsc_ns[BATCHES / 2] / std_ns[BATCHES / 2]
    );
}

/// The servers the bench compares, in the report's column order.
const SERVERS: [(&str, &str); N] = [
    ("without the layer", "srv-plain"),
    ("a no-op Router::layer", "srv-noop"),
    ("Router::layer(SignalsLayer)", "srv-layer"),
    ("SignalsLayer::around", "srv-around"),
];

/// How many servers the bench compares.
const N: usize = 4;

/// The app each server serves (see [`SERVERS`]): the hello route bare, under a
/// pass-through `Router::layer` (what axum's layering itself costs), under `SignalsLayer`
/// by `Router::layer`, and inside `SignalsLayer::around`.
fn app(which: usize) -> App {
    match which {
        0 => App::Router(hello()),
        1 => App::Router(hello().layer(tower::layer::layer_fn(|service| service))),
        2 => App::Router(hello().layer(SignalsLayer::new())),
        _ => App::Around(SignalsLayer::new().around(hello())),
    }
}

/// What a server serves: a router, or a router inside `SignalsLayer::around`.
enum App {
    Router(Router),
    Around(AroundRouter),
    /// Served by hyper directly (`serve` mode only): the router bare, or inside the layer,
    /// whose wrapped body hyper takes as it is, without axum's box.
    Hyper(HyperApp),
}

/// What `App::Hyper` serves.
enum HyperApp {
    Plain(Router),
    Layer(signals_tower::Signals<Router>),
}

impl App {
    async fn serve(self, listener: tokio::net::TcpListener) {
        match self {
            App::Router(router) => axum::serve(listener, router).await,
            App::Around(app) => axum::serve(listener, app.into_make_service()).await,
            App::Hyper(HyperApp::Plain(router)) => serve_hyper(listener, router).await,
            App::Hyper(HyperApp::Layer(app)) => serve_hyper(listener, app).await,
        }
        .expect("serve");
    }
}

/// Serves `service` with hyper's HTTP/1 connection directly, one task per connection:
/// the same loop for the bare router and the router inside the layer.
async fn serve_hyper<S, B>(listener: tokio::net::TcpListener, service: S) -> std::io::Result<()>
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let service = hyper_util::service::TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            // A client closing its connection ends it; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// The orders the servers run in: round `r` runs `ORDERS[r % 8]`, so that over 8 rounds
/// each server runs twice in each position, once after each of its two neighbours.
const ORDERS: [[usize; N]; 8] = [
    [0, 1, 2, 3],
    [1, 2, 3, 0],
    [2, 3, 0, 1],
    [3, 0, 1, 2],
    [3, 2, 1, 0],
    [2, 1, 0, 3],
    [1, 0, 3, 2],
    [0, 3, 2, 1],
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.first().is_some_and(|a| a == "serve") {
        return serve_only(&args);
    }
    if args.first().is_some_and(|a| a == "clock") {
        return clock_pair();
    }
    let arg = |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (seconds, wanted, connections, minutes) = (arg(0, 1), arg(1, 120), arg(2, 32), arg(3, 30));
    assert!(
        wanted > 0 && seconds > 0,
        "SECONDS and QUIET_ROUNDS must be positive"
    );

    require(
        "wrk",
        "--version",
        "install it (Debian: apt-get install wrk)",
    );
    require("taskset", "--version", "install util-linux");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cores > WRK_CORE,
        "needs two cores (servers on {SERVER_CORE}, wrk on {WRK_CORE}), has {cores}"
    );
    // Before any thread exists: every thread of the servers inherits it.
    pin_self(SERVER_CORE);
    println!(
        "load average before: {}; servers on core {SERVER_CORE}, wrk on core {WRK_CORE}; \
         until {wanted} quiet rounds (at most {minutes} min) of {N} runs x {seconds} s, \
         {connections} connections",
        load_average()
    );
    let deadline = Instant::now() + Duration::from_secs(u64::from(minutes) * 60);

    let tick_ns = 1_000_000_000 / clock_ticks();
    let servers: Vec<Server> = SERVERS
        .iter()
        .enumerate()
        .map(|(i, (_, threads))| serve(app(i), threads))
        .collect();
    // Warm up each (connections, allocator, caches).
    for server in &servers {
        wrk(*server, 2, connections, tick_ns);
    }

    // runs[round][server]
    let mut runs: Vec<[Run; N]> = Vec::new();
    let quiet_count = |runs: &[[Run; N]]| runs.iter().filter(|round| is_quiet(round)).count();
    while quiet_count(&runs) < wanted as usize && wait_idle(deadline, tick_ns) {
        let round = runs.len();
        let mut this: [Option<Run>; N] = Default::default();
        for which in ORDERS[round % ORDERS.len()] {
            let run = wrk(servers[which], seconds, connections, tick_ns);
            println!(
                "round {round:>2}: {:<26} {:>8.0} req/s  p50 {:>6.1} us  \
                 server CPU {:>5.2} us/req  others {:>4.1} %  steal {:>4.1} %",
                SERVERS[which].0,
                run.requests_per_sec,
                run.p50_us,
                run.cpu_us,
                run.others_pct,
                run.steal_pct
            );
            this[which] = Some(run);
        }
        runs.push(this.map(|run| run.expect("each server ran")));
    }
    let load_after = load_average();
    let started = STARTED.load(Ordering::Relaxed);
    let finished = FINISHED.load(Ordering::Relaxed);
    assert!(started > 0 && finished > 0, "the receivers ran");
    assert!(
        started >= finished,
        "{started} started, {finished} finished"
    );

    println!();
    println!("load average after: {load_after}");
    let all: Vec<&[Run; N]> = runs.iter().collect();
    if !all.is_empty() {
        report("every round", &all);
    }
    let quiet: Vec<&[Run; N]> = runs.iter().filter(|round| is_quiet(round)).collect();
    if !quiet.is_empty() {
        report(
            &format!("quiet rounds (others + steal < {QUIET} % in each run)"),
            &quiet,
        );
    }
    println!("(receivers ran: {started} started, {finished} finished)");
    if quiet.len() < wanted as usize {
        // Not a measurement of the layer: say so, and fail.
        eprintln!(
            "only {} of {wanted} quiet rounds in {minutes} min ({} rounds run): \
             the machine was too busy to measure the layer",
            quiet.len(),
            runs.len()
        );
        std::process::exit(1);
    }
}

/// Whether no run of `round` shared the two cores with `QUIET` % or more of other work.
fn is_quiet(round: &[Run; N]) -> bool {
    round.iter().all(|r| r.others_pct + r.steal_pct < QUIET)
}

/// Waits (at most [`IDLE_WAIT`]) until the two cores have been idle for a second (under
/// `QUIET` % busy or stolen, with every server idle); `false` once `deadline` has passed.
/// A round that starts on a busy machine still runs: whether it was quiet is decided by
/// what its runs saw.
fn wait_idle(deadline: Instant, tick_ns: u64) -> bool {
    let give_up = Instant::now() + IDLE_WAIT;
    while Instant::now() < deadline {
        if Instant::now() >= give_up {
            return true;
        }
        let (busy, steal) = core_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let (busy_after, steal_after) = core_ticks();
        let used_ns = (busy_after - busy + steal_after - steal) * tick_ns;
        if (used_ns as f64) < 2e9 * QUIET / 100.0 {
            return true;
        }
    }
    false
}

/// How long a round waits for the two cores to be idle before it runs anyway.
const IDLE_WAIT: Duration = Duration::from_secs(10);

/// The share of the two cores' time other work may have taken in every run of a round
/// for the round to count as quiet.
const QUIET: f64 = 5.0;

/// Prints the table for `rounds`: per server, the median and range of each measure over
/// the rounds, and the per-round ratios to the server without a layer.
fn report(title: &str, rounds: &[&[Run; N]]) {
    let of = |which: usize, f: fn(&Run) -> f64| {
        summary(rounds.iter().map(|round| f(&round[which])).collect())
    };
    // Within each round: server `which` relative to the one without a layer, in %.
    let ratio = |which: usize, f: fn(&Run) -> f64| {
        let ratios: Vec<f64> = rounds
            .iter()
            .map(|round| (f(&round[which]) / f(&round[0]) - 1.0) * 100.0)
            .collect();
        (summary(ratios.clone()), median_interval(ratios))
    };
    let measures: [Measure; 7] = [
        ("req/s", |r| r.requests_per_sec, ""),
        ("p50 latency", |r| r.p50_us, " us"),
        ("server CPU per request", |r| r.cpu_us, " us"),
        ("of which user space", |r| r.user_us, " us"),
        ("of which kernel", |r| r.system_us, " us"),
        ("others on the two cores", |r| r.others_pct, " %"),
        ("steal", |r| r.steal_pct, " %"),
    ];
    // The ratio columns: each server with a layer against the one without.
    const RATIOS: [usize; 3] = [3, 2, 1];
    println!();
    println!("{title}:");
    let mut header = format!("| median of {} (range) |", rounds.len());
    for (name, _) in SERVERS {
        header += &format!(" {name} |");
    }
    for which in RATIOS {
        header += &format!(" {} vs without, per round |", SERVERS[which].0);
    }
    println!("{header}");
    println!("|---|{}", "---:|".repeat(N + RATIOS.len()));
    for (index, (name, f, unit)) in measures.into_iter().enumerate() {
        let digits = if unit.is_empty() { 0 } else { 2 };
        let mut line = format!("| {name} |");
        for which in 0..N {
            let (median, low, high) = of(which, f);
            line += &format!(" {median:.digits$}{unit} ({low:.digits$}-{high:.digits$}) |");
        }
        for which in RATIOS {
            // Ratios of the interference columns would mean nothing.
            if index < 5 {
                let ((m, lo, hi), (ci_lo, ci_hi)) = ratio(which, f);
                line += &format!(
                    " {m:+.1} % (95 % CI {ci_lo:+.1} to {ci_hi:+.1}; range {lo:+.1} to {hi:+.1}) |"
                );
            } else {
                line += " |";
            }
        }
        println!("{line}");
    }
}
