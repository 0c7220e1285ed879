//! Side-by-side comparison of signals-core's dispatch with its peers, on one probe (every receiver runs `black_box(a * k ^ b)`)
//! harness: each case is calibrated to ~4 ms per sample, 21 samples, median ns per send.
//!
//! ```sh
//! cargo run --release -p signals-bench-compare                 # 3 process runs, merged
//! cargo run --release -p signals-bench-compare -- --runs 5     # more runs
//! cargo run --release -p signals-bench-compare -- --once       # one run, this process
//! cargo run --release -p signals-bench-compare --features bevy # + bevy_ecs observers
//! ```
//!
//! It prints one markdown table (case × N → ns per send, ns per receiver, ratio to the
//! direct call D(N), to `Vec<Box<dyn Fn>>` V(N) and to the best peer of the row's group;
//! the `send` group also shows R(N), a `Vec` of N distinct fallible fn pointers, the floor
//! for receivers that return a `Result`), the machine, and the goals G1–G13 of docs/PERFORMANCE.md
//! evaluated on the medians (plus G1r, informational: static send vs R). With
//! `--runs K` (default 3) the binary runs itself K times as separate processes (address
//! layout moves the N=100 rows by up to ±40% between processes) and reports the median
//! of the per-run medians with the range.
//!
//! The receivers are the ones of signals-core's criterion benches
//! (`signals-core/benches/common/fixtures.rs`), and each case checks once that every
//! receiver ran exactly once before it is timed.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier, RwLock};
use std::time::{Duration, Instant};

use signals2::{Connect1, Emit1};

#[path = "../../signals-core/benches/common/fixtures.rs"]
#[macro_use]
mod fixtures;
use fixtures::*;

const SAMPLE_MS: f64 = 4.0;
const SAMPLES: usize = 21;

/// perf-probe.rs's harness: calibrate to ~4 ms per sample, 21 samples, median.
fn measure<F: FnMut()>(mut f: F) -> f64 {
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f()
        }
        let el = t.elapsed().as_nanos() as f64;
        if el >= 1.0e6 {
            iters = ((iters as f64) * SAMPLE_MS * 1.0e6 / el).ceil().max(1.0) as u64;
            break;
        }
        iters *= 2;
    }
    let mut v: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f()
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[SAMPLES / 2]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Mean ns per call per thread of `f` on `threads` threads for 150 ms (perf-probe.rs).
fn run_threads(threads: usize, f: &(dyn Fn() + Sync)) -> f64 {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let per: Vec<f64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| {
                    barrier.wait();
                    let t = Instant::now();
                    let mut count: u64 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            f()
                        }
                        count += 64;
                    }
                    t.elapsed().as_nanos() as f64 / count as f64
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    per.iter().sum::<f64>() / per.len() as f64
}

/// One sender while a writer loops `write` (5 rounds of 150 ms, medians):
/// (sender ns/send, writer ns/write).
fn churn(send: &(dyn Fn() + Sync), write: &(dyn Fn() + Sync)) -> (f64, f64) {
    let mut sends = Vec::new();
    let mut writes = Vec::new();
    for _ in 0..5 {
        let stop = AtomicBool::new(false);
        let barrier = Barrier::new(3);
        let (s, w) = std::thread::scope(|sc| {
            let hs = sc.spawn(|| {
                barrier.wait();
                let t = Instant::now();
                let mut c: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        send()
                    }
                    c += 64;
                }
                t.elapsed().as_nanos() as f64 / c as f64
            });
            let hw = sc.spawn(|| {
                barrier.wait();
                let t = Instant::now();
                let mut c: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    write();
                    c += 1;
                }
                t.elapsed().as_nanos() as f64 / c as f64
            });
            barrier.wait();
            std::thread::sleep(Duration::from_millis(150));
            stop.store(true, Ordering::Relaxed);
            (hs.join().unwrap(), hw.join().unwrap())
        });
        sends.push(s);
        writes.push(w);
    }
    (median(sends), median(writes))
}

// ---- peers -----------------------------------------------------------------------------

static PEER_HITS: Hits = [const { AtomicU32::new(0) }; 100];

macro_rules! s2_connect {
    ($sig:ident; $($k:literal)*) => {{
        $( {
            let k: u64 = black_box(SALT);
            let _c = $sig.connect(move |e: Plain| work(e.a, e.b, k.wrapping_add($k), &PEER_HITS[$k]));
        } )*
    }};
}

/// signals2 0.3 with `n` distinct slots.
fn signals2_with(n: usize) -> signals2::Signal<(Plain,)> {
    let sig: signals2::Signal<(Plain,)> = signals2::Signal::new();
    match n {
        0 => {}
        1 => with_k!(1, s2_connect!(sig;)),
        10 => with_k!(10, s2_connect!(sig;)),
        100 => with_k!(100, s2_connect!(sig;)),
        _ => panic!("no signals2 set with N={n}"),
    }
    sig
}

/// tokio broadcast: one send, then each of the `n` subscribers receives it and runs the
/// receiver body (fan-out by channel).
struct Broadcast {
    tx: tokio::sync::broadcast::Sender<Plain>,
    rxs: Vec<tokio::sync::broadcast::Receiver<Plain>>,
}
impl Broadcast {
    fn new(n: usize) -> Self {
        let (tx, _) = tokio::sync::broadcast::channel::<Plain>(64);
        let rxs = (0..n).map(|_| tx.subscribe()).collect();
        Broadcast { tx, rxs }
    }
    #[inline(never)]
    fn send(&mut self, e: Plain) {
        let _ = black_box(self.tx.send(e));
        for (k, rx) in self.rxs.iter_mut().enumerate() {
            let e = rx.try_recv().unwrap();
            work(e.a, e.b, SALT.wrapping_add(k as u64), &PEER_HITS[k]);
        }
    }
}

#[cfg(feature = "bevy")]
mod bevy {
    use super::*;
    use bevy_ecs::prelude::*;

    #[derive(Event, Clone, Copy)]
    pub struct Ev {
        pub a: u64,
        pub b: u64,
    }
    macro_rules! add_obs {
        ($w:ident; $($k:literal)*) => {{ $( {
            let k: u64 = black_box(SALT);
            $w.add_observer(move |t: Trigger<Ev>| {
                let e = t.event();
                work(e.a, e.b, k.wrapping_add($k), &PEER_HITS[$k]);
            });
        } )* }};
    }
    /// A world with `n` global observers of `Ev`.
    pub fn world(n: usize) -> World {
        let mut w = World::new();
        match n {
            0 => {}
            1 => with_k!(1, add_obs!(w;)),
            10 => with_k!(10, add_obs!(w;)),
            100 => with_k!(100, add_obs!(w;)),
            _ => panic!("no bevy set with N={n}"),
        }
        w.flush();
        w
    }
}

// ---- rows --------------------------------------------------------------------------------

/// What a row is, for the ratio columns.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Role {
    /// The direct call D(N) of its group.
    Direct,
    /// The dyn-Fn floor V(N) of its group.
    Floor,
    /// The fallible fn-pointer floor R(N) (`Vec<fn -> Result>`): a baseline shown with its
    /// ratios to D and V, never itself the reference of another row's ratio column.
    FallibleFloor,
    /// signals-core.
    Ours,
    /// A peer library.
    Peer,
    /// Shown, not used as a reference.
    Other,
}

impl Role {
    fn code(self) -> &'static str {
        match self {
            Role::Direct => "D",
            Role::Floor => "V",
            Role::FallibleFloor => "R",
            Role::Ours => "ours",
            Role::Peer => "peer",
            Role::Other => "other",
        }
    }
    fn parse(s: &str) -> Role {
        match s {
            "D" => Role::Direct,
            "V" => Role::Floor,
            "R" => Role::FallibleFloor,
            "ours" => Role::Ours,
            "peer" => Role::Peer,
            _ => Role::Other,
        }
    }
}

#[derive(Clone, Debug)]
struct Row {
    order: usize,
    group: String,
    case: String,
    role: Role,
    n: usize,
    /// One value per process run.
    ns: Vec<f64>,
}

#[derive(Default)]
struct Rows(Vec<Row>);

impl Rows {
    fn push(&mut self, group: &str, case: &str, role: Role, n: usize, ns: f64) {
        eprintln!("  {group} / {case} / N={n}: {ns:.2} ns");
        let order = self.0.len();
        self.0.push(Row {
            order,
            group: group.into(),
            case: case.into(),
            role,
            n,
            ns: vec![ns],
        });
    }
}

// ---- the cases ---------------------------------------------------------------------------

fn run_all() -> Rows {
    let mut r = Rows::default();
    let e = PLAIN;

    // send
    for n in [0, 1, 10, 100] {
        let g = "send";
        let f = direct(n);
        check_once("direct", &[(&BASE_HITS, n)], || f(&e));
        r.push(
            g,
            "direct call (D)",
            Role::Direct,
            n,
            measure(|| f(black_box(&e))),
        );
        let v = dyn_vec(n);
        check_once("dyn_vec", &[(&BASE_HITS, n)], || send_dyn_vec(&v, &e));
        r.push(
            g,
            "Vec<Box<dyn Fn>> (V)",
            Role::Floor,
            n,
            measure(|| send_dyn_vec(black_box(&v), black_box(&e))),
        );
        let v = fn_list(n);
        check_once("fn_list", &[(&BASE_HITS, n)], || {
            let ok = send_fn_list(&v, &e);
            assert!(
                matches!(ok, Ok(k) if k == n),
                "fn_list: {ok:?}, expected Ok({n})"
            );
        });
        r.push(
            g,
            "fallible fn list (R)",
            Role::FallibleFloor,
            n,
            measure(|| drop(black_box(send_fn_list(black_box(&v), black_box(&e))))),
        );
        let s = send_static(n);
        check_once("static", &[(static_hits(n), n)], s);
        r.push(
            g,
            "signals-core send, static receivers",
            Role::Ours,
            n,
            measure(s),
        );
        let connections = dynamic::connect(n);
        check_once("dynamic", &[(&dynamic::HITS, n)], dynamic::send_once);
        r.push(
            g,
            "signals-core send, runtime receivers",
            Role::Ours,
            n,
            measure(dynamic::send_once),
        );
        drop(connections);
        if n >= 10 {
            let (s, hits, connections) = mixed::setup(n);
            check_once("mixed", &hits, s);
            r.push(
                g,
                "signals-core send, mixed (half each)",
                Role::Ours,
                n,
                measure(s),
            );
            drop(connections);
        }
        let sig = signals2_with(n);
        check_once("signals2", &[(&PEER_HITS, n)], || {
            sig.emit(e);
        });
        r.push(
            g,
            "signals2 0.3 emit",
            Role::Peer,
            n,
            measure(|| {
                black_box(sig.emit(black_box(e)));
            }),
        );
        let mut bc = Broadcast::new(n);
        check_once("tokio broadcast", &[(&PEER_HITS, n)], || bc.send(e));
        r.push(
            g,
            "tokio broadcast send + N try_recv",
            Role::Peer,
            n,
            measure(|| bc.send(black_box(e))),
        );
        #[cfg(feature = "bevy")]
        {
            let mut w = bevy::world(n);
            let ev = bevy::Ev { a: e.a, b: e.b };
            check_once("bevy", &[(&PEER_HITS, n)], || w.trigger(ev));
            r.push(
                g,
                "bevy_ecs 0.16 World::trigger",
                Role::Peer,
                n,
                measure(|| w.trigger(black_box(ev))),
            );
        }
    }

    // has_receivers (N = receivers connected)
    {
        let g = "has_receivers";
        let count = std::sync::atomic::AtomicUsize::new(10);
        r.push(
            g,
            "AtomicUsize load (floor)",
            Role::Direct,
            10,
            measure(|| {
                black_box(black_box(&count).load(Ordering::Acquire) != 0);
            }),
        );
        assert!(!has_receivers::<none::Ev0>());
        r.push(
            g,
            "signals-core has_receivers, none",
            Role::Ours,
            0,
            measure(|| {
                black_box(has_receivers::<none::Ev0>());
            }),
        );
        assert!(has_receivers::<st10::Ev10>());
        r.push(
            g,
            "signals-core has_receivers, static",
            Role::Ours,
            10,
            measure(|| {
                black_box(has_receivers::<st10::Ev10>());
            }),
        );
        let connections = dynamic::connect(10);
        assert!(has_receivers::<dynamic::DynEv>());
        r.push(
            g,
            "signals-core has_receivers, runtime",
            Role::Ours,
            10,
            measure(|| {
                black_box(has_receivers::<dynamic::DynEv>());
            }),
        );
        drop(connections);
    }

    // send_robust
    for n in [1, 10, 100] {
        let g = "send_robust";
        let v = res_vec(n);
        let mut sink = |_: usize, r: Result<(), signals_core::BoxError>| {
            black_box(r.is_ok());
        };
        check_once("robust baseline", &[(&BASE_HITS, n)], || {
            send_robust_sink(&v, &e, &mut sink)
        });
        r.push(
            g,
            "catch_unwind + Result to a sink, dyn-Fn (V)",
            Role::Floor,
            n,
            measure(|| send_robust_sink(black_box(&v), black_box(&e), &mut sink)),
        );
        let ok = move || match n {
            1 => drop(black_box(send_robust(black_box(&st1::EVENT)))),
            10 => drop(black_box(send_robust(black_box(&st10::EVENT)))),
            _ => drop(black_box(send_robust(black_box(&st100::EVENT)))),
        };
        check_once("robust ok", &[(static_hits(n), n)], ok);
        r.push(
            g,
            "signals-core send_robust, all ok",
            Role::Ours,
            n,
            measure(ok),
        );
        if n == 10 {
            let err = || drop(black_box(send_robust(black_box(&rob_err::EVENT))));
            check_once("robust err", &[(&rob_err::HITS, 10)], err);
            assert_eq!(send_robust(&rob_err::EVENT).failures().len(), 1);
            r.push(
                g,
                "signals-core send_robust, one Err",
                Role::Ours,
                n,
                measure(err),
            );
            with_silent_panics(|| {
                let panic = || drop(black_box(send_robust(black_box(&rob_panic::EVENT))));
                check_once("robust panic", &[(&rob_panic::HITS, 10)], panic);
                assert_eq!(send_robust(&rob_panic::EVENT).failures().len(), 1);
                r.push(
                    g,
                    "signals-core send_robust, one panic (hook silenced)",
                    Role::Ours,
                    n,
                    measure(panic),
                );
            });
        }
    }

    // sender filter
    for n in [10, 100] {
        for (matching, what) in [(true, "all match"), (false, "none match")] {
            let g = if matching {
                "sender_filter, all match"
            } else {
                "sender_filter, none match"
            };
            let v: Vec<(Option<u64>, BoxFn)> = dyn_vec(n)
                .into_iter()
                .map(|f| (Some(if matching { 7 } else { 8 }), f))
                .collect();
            let ran = if matching { n } else { 0 };
            check_once("filter baseline", &[(&BASE_HITS, ran)], || {
                send_filtered(&v, 7, &e)
            });
            r.push(
                g,
                &format!("sender id per dyn-Fn, {what} (V)"),
                Role::Floor,
                n,
                measure(|| send_filtered(black_box(&v), black_box(7), black_box(&e))),
            );
            let s = filter::sender(n, matching);
            check_once("filter", &[(filter::hits(n), ran)], s);
            r.push(
                g,
                &format!("signals-core sender filter, {what}"),
                Role::Ours,
                n,
                measure(s),
            );
        }
    }

    // async send
    for n in [1, 10, 100] {
        let g = "async_send";
        let v = async_vec(n);
        check_once("async baseline", &[(&BASE_HITS, n)], || {
            block_on(send_async_vec(&v, &e))
        });
        r.push(
            g,
            "boxed future per dyn-Fn, awaited in turn (V)",
            Role::Floor,
            n,
            measure(|| block_on(send_async_vec(black_box(&v), black_box(&e)))),
        );
        let s = send_async_sync_receivers(n);
        check_once("async sync", &[(static_hits(n), n)], s);
        r.push(
            g,
            "signals-core send_async, sync receivers",
            Role::Ours,
            n,
            measure(s),
        );
        let (s, hits) = send_async_async_receivers(n);
        check_once("async async", &[(hits, n)], s);
        r.push(
            g,
            "signals-core send_async, async fn receivers",
            Role::Ours,
            n,
            measure(s),
        );
        let mut bc = Broadcast::new(n);
        r.push(
            g,
            "tokio broadcast send + N try_recv",
            Role::Peer,
            n,
            measure(|| bc.send(black_box(e))),
        );
    }

    // connect + disconnect with m already connected
    for m in [10, 100, 1000] {
        let g = "connect_disconnect";
        let list: RwLock<Vec<ArcFn>> = RwLock::new(
            (0..m as u64)
                .map(|i| {
                    Arc::new(move |e: &Plain| {
                        black_box(e.a ^ i);
                    }) as Arc<_>
                })
                .collect(),
        );
        r.push(
            g,
            "std RwLock<Vec<Arc>> push + remove",
            Role::Other,
            m,
            measure(|| {
                let f: ArcFn = Arc::new(|e: &Plain| {
                    black_box(e.b);
                });
                list.write().unwrap().push(f.clone());
                let mut l = list.write().unwrap();
                if let Some(i) = l.iter().rposition(|x| Arc::ptr_eq(x, &f)) {
                    l.remove(i);
                }
            }),
        );
        let connections = churn::preconnect(m);
        r.push(
            g,
            "signals-core connect + drop(Connection)",
            Role::Ours,
            m,
            measure(churn::connect_disconnect),
        );
        drop(connections);
        let sig: signals2::Signal<(Plain,)> = signals2::Signal::new();
        let keep: Vec<_> = (0..m as u64)
            .map(|i| {
                sig.connect(move |e: Plain| {
                    black_box(e.a ^ i);
                })
            })
            .collect();
        r.push(
            g,
            "signals2 connect + disconnect",
            Role::Peer,
            m,
            measure(|| {
                let c = sig.connect(|e: Plain| {
                    black_box(e.b);
                });
                c.disconnect();
            }),
        );
        drop(keep);
    }

    // contention: 2 threads sending on one signal (N=10); 1-thread rows for the ratio
    {
        let n = 10;
        let v = dyn_vec(n);
        let base = || send_dyn_vec(black_box(&v), black_box(&e));
        let s = send_static(n);
        let connections = dynamic::connect(n);
        let sig = signals2_with(n);
        let s2 = || {
            black_box(sig.emit(black_box(e)));
        };
        let cases: [(&str, Role, &(dyn Fn() + Sync)); 4] = [
            ("Vec<Box<dyn Fn>> (V)", Role::Floor, &base),
            ("signals-core send, static receivers", Role::Ours, &s),
            (
                "signals-core send, runtime receivers",
                Role::Ours,
                &dynamic::send_once,
            ),
            ("signals2 0.3 emit", Role::Peer, &s2),
        ];
        for (name, role, f) in cases {
            let one = median((0..5).map(|_| run_threads(1, f)).collect());
            let two = median((0..5).map(|_| run_threads(2, f)).collect());
            r.push("contention, 1 thread", name, role, n, one);
            r.push("contention, 2 threads (per thread)", name, role, n, two);
        }
        // churn: one sender, one writer connecting + disconnecting on the same signal
        let (send, write) = churn(&dynamic::send_once, &churn::connect_disconnect_dynamic);
        r.push(
            "churn (1 sender + 1 writer)",
            "signals-core sender, runtime receivers",
            Role::Ours,
            n,
            send,
        );
        r.push(
            "churn (1 sender + 1 writer)",
            "signals-core writer: connect + drop",
            Role::Other,
            n,
            write,
        );
        let (send, write) = churn(&s2, &|| {
            let c = sig.connect(|e: Plain| {
                black_box(e.b);
            });
            c.disconnect();
        });
        r.push(
            "churn (1 sender + 1 writer)",
            "signals2 sender",
            Role::Peer,
            n,
            send,
        );
        r.push(
            "churn (1 sender + 1 writer)",
            "signals2 writer: connect + disconnect",
            Role::Other,
            n,
            write,
        );
        drop(connections);
    }
    r
}

// ---- output ------------------------------------------------------------------------------

fn machine() -> Vec<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    vec![
        format!("cpu: {cpu}"),
        format!("cores available: {cores}"),
        format!("rustc: {rustc}"),
        format!(
            "profile: {}",
            if cfg!(debug_assertions) {
                "debug (use --release!)"
            } else {
                "release"
            }
        ),
        format!("harness: ~{SAMPLE_MS} ms samples x {SAMPLES}, median ns per send"),
    ]
}

struct Merged {
    rows: Vec<Row>,
}

impl Merged {
    fn med(row: &Row) -> f64 {
        median(row.ns.clone())
    }
    fn find(&self, group: &str, n: usize, role: Role) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.group == group && r.n == n && r.role == role)
    }
    fn get(&self, group: &str, case: &str, n: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.group == group && r.case == case && r.n == n)
            .map(Self::med)
    }
    /// D or V for a row: its group's, else (for send-like groups) the `send` group's at
    /// the same N.
    fn reference(&self, row: &Row, role: Role) -> Option<f64> {
        if row.role == Role::Other {
            return None;
        }
        let send_like = ["send", "sender_filter", "async_send", "contention"];
        self.find(&row.group, row.n, role)
            .or_else(|| {
                send_like
                    .iter()
                    .any(|g| row.group.starts_with(g))
                    .then(|| self.find("send", row.n, role))
                    .flatten()
            })
            .map(Self::med)
    }
    fn best_peer(&self, row: &Row) -> Option<(f64, &str)> {
        self.rows
            .iter()
            .filter(|r| r.group == row.group && r.n == row.n && r.role == Role::Peer)
            .map(|r| (Self::med(r), r.case.as_str()))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    fn print_table(&self) {
        let runs = self.rows.first().map_or(0, |r| r.ns.len());
        println!(
            "| group | case | N | ns/send | ns/recv | x D | x V | x best peer | range over {runs} runs |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---|---|");
        for row in &self.rows {
            let med = Self::med(row);
            let per = if row.n > 0 {
                format!("{:.2}", med / row.n as f64)
            } else {
                "-".into()
            };
            let ratio = |x: Option<f64>| match x {
                Some(x) if x > 0.0 && row.role != Role::Direct => format!("{:.2}", med / x),
                _ => "-".into(),
            };
            let d = if row.role == Role::Direct {
                "-".into()
            } else {
                ratio(self.reference(row, Role::Direct))
            };
            let v = if row.role == Role::Floor {
                "-".into()
            } else {
                ratio(self.reference(row, Role::Floor))
            };
            let peer = match self.best_peer(row) {
                Some((p, name)) if row.role != Role::Peer && row.role != Role::Other => {
                    format!("{:.2} ({})", med / p, short(name))
                }
                _ => "-".into(),
            };
            let lo = row.ns.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = row.ns.iter().copied().fold(0.0, f64::max);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {}-{} |",
                row.group,
                row.case,
                row.n,
                fmt(med),
                per,
                d,
                v,
                peer,
                fmt(lo),
                fmt(hi)
            );
        }
    }

    fn print_goals(&self) {
        let send = |case: &str, n| self.get("send", case, n).unwrap_or(f64::NAN);
        let d = |n| send("direct call (D)", n);
        let v = |n| send("Vec<Box<dyn Fn>> (V)", n);
        let st = |n| send("signals-core send, static receivers", n);
        let dy = |n| send("signals-core send, runtime receivers", n);
        let s2 = |n| send("signals2 0.3 emit", n);
        let slope = |f: &dyn Fn(usize) -> f64| (f(100) - f(10)) / 90.0;
        let g = |group: &str, case: &str, n| self.get(group, case, n).unwrap_or(f64::NAN);
        let fr = |n| send("fallible fn list (R)", n);
        // `Some(met)` for a goal, `None` for an informational line.
        let mut goals: Vec<(&str, String, Option<bool>)> = Vec::new();
        let st10 = st(10);
        goals.push((
            "G1 send, static: <= 1.1 x V and <= 1.7 x D (N=10)",
            format!(
                "{:.2} x V, {:.2} x D ({} ns)",
                st10 / v(10),
                st10 / d(10),
                fmt(st10)
            ),
            Some(st10 <= 1.1 * v(10) && st10 <= 1.7 * d(10)),
        ));
        let (slope_st, slope_r) = (slope(&st), slope(&fr));
        goals.push((
            "G1r static send vs the fallible floor R (N=10)",
            format!(
                "{:.2} x R ({} ns vs {} ns); slope N=10->100: static {slope_st:.2} ns vs \
                 R {slope_r:.2} ns ({:.2} x)",
                st10 / fr(10),
                fmt(st10),
                fmt(fr(10)),
                slope_st / slope_r
            ),
            None,
        ));
        goals.push((
            "G2 send, runtime: <= 1.5 x V and <= 0.65 x signals2 (N=10)",
            format!(
                "{:.2} x V, {:.2} x signals2 ({} ns)",
                dy(10) / v(10),
                dy(10) / s2(10),
                fmt(dy(10))
            ),
            Some(dy(10) <= 1.5 * v(10) && dy(10) <= 0.65 * s2(10)),
        ));
        goals.push((
            "G2s stretch, runtime: <= 1.15 x V (N=10)",
            format!("{:.2} x V", dy(10) / v(10)),
            Some(dy(10) <= 1.15 * v(10)),
        ));
        let empty = st(0);
        let hr = g("has_receivers", "signals-core has_receivers, none", 0);
        let hr_dyn0 = dy(0);
        goals.push((
            "G3 send to nobody and has_receivers: <= 2 ns",
            format!(
                "send {} ns (runtime list emptied: {} ns), has_receivers {} ns",
                fmt(empty),
                fmt(hr_dyn0),
                fmt(hr)
            ),
            Some(empty <= 2.0 && hr <= 2.0 && hr_dyn0 <= 2.0),
        ));
        let (ss, sd, sv) = (slope(&st), slope(&dy), slope(&v));
        goals.push((
            "G4 slope N=10->100: <= 2.5 ns and <= 1.2 x slope of V",
            format!(
                "static {ss:.2} ns ({:.2} x), runtime {sd:.2} ns ({:.2} x); V {sv:.2} ns",
                ss / sv,
                sd / sv
            ),
            Some(ss <= 2.5 && sd <= 2.5 && ss <= 1.2 * sv && sd <= 1.2 * sv),
        ));
        let c1 = "contention, 1 thread";
        let c2 = "contention, 2 threads (per thread)";
        let cs = g(c2, "signals-core send, static receivers", 10)
            / g(c1, "signals-core send, static receivers", 10);
        let cd = g(c2, "signals-core send, runtime receivers", 10)
            / g(c1, "signals-core send, runtime receivers", 10);
        goals.push((
            "G5 2 threads sending: slowdown <= 1.15x",
            format!("static {cs:.2}x, runtime {cd:.2}x"),
            Some(cs <= 1.15 && cd <= 1.15),
        ));
        let churn = g(
            "churn (1 sender + 1 writer)",
            "signals-core sender, runtime receivers",
            10,
        );
        let alone = g(c1, "signals-core send, runtime receivers", 10);
        goals.push((
            "G6 send while another thread connects: <= 3 x uncontended",
            format!(
                "{:.2} x ({} ns vs {} ns)",
                churn / alone,
                fmt(churn),
                fmt(alone)
            ),
            Some(churn <= 3.0 * alone),
        ));
        let rob = g("send_robust", "signals-core send_robust, all ok", 10);
        goals.push((
            "G7 send_robust, no failure: <= 1.2 x send (N=10)",
            format!(
                "{:.2} x send ({} ns vs {} ns)",
                rob / st10,
                fmt(rob),
                fmt(st10)
            ),
            Some(rob <= 1.2 * st10),
        ));
        let panic = g(
            "send_robust",
            "signals-core send_robust, one panic (hook silenced)",
            10,
        );
        goals.push((
            "G8 one caught panic: document (Django: ~1.6 us)",
            format!("{} ns per send with one panic", fmt(panic)),
            Some(true),
        ));
        let none = g(
            "sender_filter, none match",
            "signals-core sender filter, none match",
            100,
        ) / 100.0;
        let all = g(
            "sender_filter, all match",
            "signals-core sender filter, all match",
            10,
        );
        goals.push((
            "G9 sender filter: <= 0.5 ns per skipped receiver; matching adds <= 0.3 ns",
            format!(
                "skip {none:.2} ns/recv (N=100); matching adds {:.2} ns/recv over send (N=10)",
                (all - st10) / 10.0
            ),
            Some(none <= 0.5 && (all - st10) / 10.0 <= 0.3),
        ));
        goals.push((
            "G10 no hashing on the hot path",
            "one static registry per signal (by construction); no map lookup".into(),
            Some(true),
        ));
        let a = |c: &str| g("async_send", c, 10);
        let aa = a("signals-core send_async, async fn receivers");
        let floor = a("boxed future per dyn-Fn, awaited in turn (V)");
        let tok = a("tokio broadcast send + N try_recv");
        goals.push((
            "G11 async send: <= 1.1 x boxed-future floor, <= 0.7 x tokio broadcast (N=10)",
            format!(
                "{:.2} x floor, {:.2} x tokio ({} ns)",
                aa / floor,
                aa / tok,
                fmt(aa)
            ),
            Some(aa <= 1.1 * floor && aa <= 0.7 * tok),
        ));
        let cd = |m| {
            g(
                "connect_disconnect",
                "signals-core connect + drop(Connection)",
                m,
            )
        };
        let s2cd = g("connect_disconnect", "signals2 connect + disconnect", 100);
        let per = (cd(1000) - cd(100)) / 900.0;
        goals.push((
            "G12 connect + disconnect @100: <= 1.0 x signals2; <= 25 ns per existing receiver",
            format!(
                "{:.2} x signals2 ({} ns); {per:.1} ns per existing receiver (100->1000)",
                cd(100) / s2cd,
                fmt(cd(100))
            ),
            Some(cd(100) <= s2cd && per <= 25.0),
        ));
        goals.push((
            "G13 vs Django: >= 100x per receiver, >= 50x empty send",
            format!(
                "Django (bench-compare/django_probe.sh) 281 ns/recv, 142 ns empty: {:.0}x per receiver, {:.0}x empty \
                 (re-measure with bench-compare/django_probe.sh)",
                281.0 / ss,
                142.0 / empty
            ),
            Some(281.0 / ss >= 100.0 && 142.0 / empty >= 50.0),
        ));
        println!("| goal | measured | status |");
        println!("|---|---|---|");
        for (goal, measured, met) in goals {
            println!(
                "| {goal} | {measured} | {} |",
                match met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "info",
                }
            );
        }
    }
}

fn short(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

fn fmt(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn to_tsv(rows: &Rows) -> String {
    rows.0
        .iter()
        .map(|r| {
            format!(
                "{}\t{}\t{}\t{}\t{}\n",
                r.group,
                r.case,
                r.role.code(),
                r.n,
                r.ns[0]
            )
        })
        .collect()
}

fn from_tsv(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| l.strip_prefix("ROW\t"))
        .enumerate()
        .map(|(order, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                order,
                group: f[0].into(),
                case: f[1].into(),
                role: Role::parse(f[2]),
                n: f[3].parse().unwrap(),
                ns: vec![f[4].parse().unwrap()],
            }
        })
        .collect()
}

/// `--count CASE N ITERS`: runs one case `ITERS` times and nothing else, for instruction
/// counting (`valgrind --tool=callgrind`, then the difference between two `ITERS`): exact
/// where timings on a shared host are not. Cases: `direct`, `dyn_vec`, `fn_list` (the
/// baselines), `async_vec` (the async floor), `static`, `robust`, `dynamic`, `async_sync`,
/// `async_async`, `has_none`, `has_static`, `has_runtime`.
fn count(case: &str, n: usize, iters: usize) {
    let e = PLAIN;
    let _connections;
    let run: Box<dyn Fn()> = match case {
        "direct" => {
            let f = direct(n);
            Box::new(move || f(black_box(&e)))
        }
        "dyn_vec" => {
            let v = dyn_vec(n);
            Box::new(move || send_dyn_vec(black_box(&v), black_box(&e)))
        }
        "fn_list" => {
            let v = fn_list(n);
            Box::new(move || drop(black_box(send_fn_list(black_box(&v), black_box(&e)))))
        }
        "async_vec" => {
            let v = async_vec(n);
            Box::new(move || block_on(send_async_vec(black_box(&v), black_box(&e))))
        }
        "static" => Box::new(send_static(n)),
        "filter" => Box::new(filter::sender(n, true)),
        "filter_none" => Box::new(filter::sender(n, false)),
        "robust" => Box::new(move || match n {
            1 => drop(black_box(send_robust(black_box(&st1::EVENT)))),
            10 => drop(black_box(send_robust(black_box(&st10::EVENT)))),
            _ => drop(black_box(send_robust(black_box(&st100::EVENT)))),
        }),
        "dynamic" => {
            _connections = dynamic::connect(n);
            Box::new(|| drop(black_box(send(black_box(&dynamic::EVENT)))))
        }
        "has_none" => Box::new(|| {
            black_box(has_receivers::<none::Ev0>());
        }),
        "has_static" => Box::new(|| {
            black_box(has_receivers::<st10::Ev10>());
        }),
        "has_runtime" => {
            _connections = dynamic::connect(n);
            Box::new(|| {
                black_box(has_receivers::<dynamic::DynEv>());
            })
        }
        "async_sync" => Box::new(send_async_sync_receivers(n)),
        "async_async" => Box::new(send_async_async_receivers(n).0),
        other => panic!("unknown case {other}"),
    };
    for _ in 0..iters {
        run();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--count") {
        let arg = |i: usize| args.get(i).expect("--count CASE N ITERS");
        count(
            arg(1),
            arg(2).parse().expect("N"),
            arg(3).parse().expect("ITERS"),
        );
        return;
    }
    let mut runs = 3;
    let mut once = false;
    let mut tsv = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--once" => once = true,
            "--tsv" => tsv = true,
            "--runs" => runs = it.next().and_then(|r| r.parse().ok()).expect("--runs K"),
            other => panic!("unknown argument {other} (use --runs K, --once)"),
        }
    }
    let rows: Vec<Row> = if once || tsv {
        let rows = run_all();
        if tsv {
            for line in to_tsv(&rows).lines() {
                println!("ROW\t{line}");
            }
            return;
        }
        rows.0
    } else {
        let exe = std::env::current_exe().expect("own path");
        let mut merged: BTreeMap<(String, String, usize), Row> = BTreeMap::new();
        for run in 0..runs {
            eprintln!("run {}/{runs}", run + 1);
            let out = Command::new(&exe)
                .arg("--tsv")
                .output()
                .expect("run myself");
            assert!(
                out.status.success(),
                "run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for row in from_tsv(&String::from_utf8_lossy(&out.stdout)) {
                merged
                    .entry((row.group.clone(), row.case.clone(), row.n))
                    .and_modify(|m| m.ns.extend(&row.ns))
                    .or_insert(row);
            }
        }
        let mut rows: Vec<Row> = merged.into_values().collect();
        rows.sort_by_key(|r| r.order);
        rows
    };
    let merged = Merged { rows };
    println!("# signals-core dispatch vs peers\n");
    for line in machine() {
        println!("- {line}");
    }
    println!();
    merged.print_table();
    println!();
    merged.print_goals();
}
