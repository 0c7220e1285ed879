//! Dispatch benches, each case beside its in-binary baselines:
//! `direct` (N distinct `#[inline(never)]` calls, D(N)) and `dyn_vec`
//! (`Vec<Box<dyn Fn>>`, V(N)). Before a case is timed, [`check_once`] asserts that every
//! receiver ran exactly once.
//!
//! ```sh
//! cargo bench -p signals-core --bench dispatch                     # full run (~8 min)
//! cargo bench -p signals-core --bench dispatch -- --warm-up-time 0.2 --measurement-time 0.5
//!                                                                  # smoke run (~1 min)
//! cargo bench -p signals-core --bench dispatch -- send/            # one group
//! ```
//!
//! Compare ratios, not absolute times (docs/PERFORMANCE.md); the peers (signals2, tokio,
//! bevy) are in the `bench-compare` workspace member so that this crate's
//! dev-dependencies stay small.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const NS: [usize; 4] = [0, 1, 10, 100];

fn throughput(n: usize) -> Throughput {
    Throughput::Elements(n.max(1) as u64)
}

fn send_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("send");
    for n in NS {
        g.throughput(throughput(n));
        let f = direct(n);
        check_once("direct", &[(&BASE_HITS, n)], || f(&PLAIN));
        g.bench_function(BenchmarkId::new("direct", n), |b| {
            b.iter(|| f(black_box(&PLAIN)))
        });

        let v = dyn_vec(n);
        check_once("dyn_vec", &[(&BASE_HITS, n)], || send_dyn_vec(&v, &PLAIN));
        g.bench_function(BenchmarkId::new("dyn_vec", n), |b| {
            b.iter(|| send_dyn_vec(black_box(&v), black_box(&PLAIN)))
        });

        let s = send_static(n);
        check_once("send/static", &[(static_hits(n), n)], s);
        g.bench_function(BenchmarkId::new("static", n), |b| b.iter(s));

        let connections = dynamic::connect(n);
        check_once("send/dynamic", &[(&dynamic::HITS, n)], dynamic::send_once);
        g.bench_function(BenchmarkId::new("dynamic", n), |b| {
            b.iter(dynamic::send_once)
        });
        drop(connections);

        if n >= 10 {
            let (s, hits, connections) = mixed::setup(n);
            check_once("send/mixed", &hits, s);
            g.bench_function(BenchmarkId::new("mixed", n), |b| b.iter(s));
            drop(connections);
        }
    }
    g.finish();
}

fn robust_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_robust");
    for n in [1, 10, 100] {
        g.throughput(throughput(n));
        let v = res_vec(n);
        let mut sink = |_: usize, r: Result<(), signals_core::BoxError>| {
            black_box(r.is_ok());
        };
        check_once("robust baseline", &[(&BASE_HITS, n)], || {
            send_robust_sink(&v, &PLAIN, &mut sink)
        });
        g.bench_function(BenchmarkId::new("dyn_vec_catch_sink", n), |b| {
            b.iter(|| send_robust_sink(black_box(&v), black_box(&PLAIN), &mut sink))
        });
        let ok = move || match n {
            1 => drop(black_box(send_robust(black_box(&st1::EVENT)))),
            10 => drop(black_box(send_robust(black_box(&st10::EVENT)))),
            _ => drop(black_box(send_robust(black_box(&st100::EVENT)))),
        };
        check_once("send_robust/ok", &[(static_hits(n), n)], ok);
        g.bench_function(BenchmarkId::new("ok", n), |b| b.iter(ok));
    }
    g.throughput(throughput(10));
    let err = || {
        let report = send_robust(black_box(&rob_err::EVENT));
        debug_assert_eq!(report.failures().len(), 1);
        drop(black_box(report));
    };
    check_once("send_robust/one_err", &[(&rob_err::HITS, 10)], err);
    assert_eq!(send_robust(&rob_err::EVENT).failures().len(), 1);
    g.bench_function(BenchmarkId::new("one_err", 10), |b| b.iter(err));
    with_silent_panics(|| {
        let panic = || drop(black_box(send_robust(black_box(&rob_panic::EVENT))));
        check_once("send_robust/one_panic", &[(&rob_panic::HITS, 10)], panic);
        assert_eq!(send_robust(&rob_panic::EVENT).failures().len(), 1);
        g.bench_function(BenchmarkId::new("one_panic", 10), |b| b.iter(panic));
    });
    g.finish();
}

fn has_receivers_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("has_receivers");
    let count = AtomicUsize::new(10);
    g.bench_function("atomic_load_baseline", |b| {
        b.iter(|| black_box(black_box(&count).load(Ordering::Acquire) != 0))
    });
    assert!(!has_receivers::<none::Ev0>());
    g.bench_function("none", |b| b.iter(has_receivers::<none::Ev0>));
    assert!(has_receivers::<st10::Ev10>());
    g.bench_function("static", |b| b.iter(has_receivers::<st10::Ev10>));
    let connections = dynamic::connect(10);
    assert!(has_receivers::<dynamic::DynEv>());
    g.bench_function("dynamic", |b| b.iter(has_receivers::<dynamic::DynEv>));
    drop(connections);
    g.finish();
}

fn filter_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("sender_filter");
    for n in [10, 100] {
        g.throughput(throughput(n));
        for (matching, name, base_name) in [
            (true, "all_match", "dyn_vec_all_match"),
            (false, "none_match", "dyn_vec_none_match"),
        ] {
            let v: Vec<(Option<u64>, BoxFn)> = dyn_vec(n)
                .into_iter()
                .map(|r| (Some(if matching { 7 } else { 8 }), r))
                .collect();
            check_once(
                "filter baseline",
                &[(&BASE_HITS, if matching { n } else { 0 })],
                || send_filtered(&v, 7, &PLAIN),
            );
            g.bench_function(BenchmarkId::new(base_name, n), |b| {
                b.iter(|| send_filtered(black_box(&v), black_box(7), black_box(&PLAIN)))
            });
            let s = filter::sender(n, matching);
            check_once(name, &[(filter::hits(n), if matching { n } else { 0 })], s);
            g.bench_function(BenchmarkId::new(name, n), |b| b.iter(s));
        }
    }
    g.finish();
}

fn async_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("async_send");
    for n in [1, 10, 100] {
        g.throughput(throughput(n));
        let v = async_vec(n);
        check_once("async baseline", &[(&BASE_HITS, n)], || {
            block_on(send_async_vec(&v, &PLAIN))
        });
        g.bench_function(BenchmarkId::new("boxed_future_vec", n), |b| {
            b.iter(|| block_on(send_async_vec(black_box(&v), black_box(&PLAIN))))
        });
        let s = send_async_sync_receivers(n);
        check_once("async_send/sync_receivers", &[(static_hits(n), n)], s);
        g.bench_function(BenchmarkId::new("sync_receivers", n), |b| b.iter(s));
        let (s, hits) = send_async_async_receivers(n);
        check_once("async_send/async_receivers", &[(hits, n)], s);
        g.bench_function(BenchmarkId::new("async_receivers", n), |b| b.iter(s));
    }
    g.finish();
}

fn connect_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("connect_disconnect");
    for m in [10, 100, 1000] {
        let list: RwLock<Vec<ArcFn>> = RwLock::new(
            (0..m as u64)
                .map(|i| {
                    Arc::new(move |e: &Plain| {
                        black_box(e.a ^ i);
                    }) as Arc<_>
                })
                .collect(),
        );
        g.bench_function(BenchmarkId::new("rwlock_vec_baseline", m), |b| {
            b.iter(|| {
                let f: ArcFn = Arc::new(|e: &Plain| {
                    black_box(e.b);
                });
                list.write().unwrap().push(f.clone());
                let mut l = list.write().unwrap();
                if let Some(i) = l.iter().rposition(|x| Arc::ptr_eq(x, &f)) {
                    l.remove(i);
                }
            })
        });
        let connections = churn::preconnect(m);
        g.bench_function(BenchmarkId::new("connect_drop", m), |b| {
            b.iter(churn::connect_disconnect)
        });
        drop(connections);
    }
    g.finish();
}

/// Times `iters` calls of `measured` on this thread while another thread runs
/// `background` in a loop until a stop flag is set (perf-probe.rs's time-boxed threads).
fn beside(iters: u64, measured: &(dyn Fn() + Sync), background: &(dyn Fn() + Sync)) -> Duration {
    let stop = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            started.store(true, Ordering::Release);
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..16 {
                    background();
                }
            }
        });
        while !started.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        for _ in 0..iters {
            measured();
        }
        let elapsed = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn threads_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("contention");
    g.throughput(throughput(10));
    let v = dyn_vec(10);
    let base = || send_dyn_vec(black_box(&v), black_box(&PLAIN));
    g.bench_function("2_senders/dyn_vec", |b| {
        b.iter_custom(|iters| beside(iters, &base, &base))
    });
    let s = send_static(10);
    check_once("contention/static", &[(&st10::HITS, 10)], s);
    g.bench_function("2_senders/static", |b| {
        b.iter_custom(|iters| beside(iters, &s, &s))
    });
    let connections = dynamic::connect(10);
    check_once(
        "contention/dynamic",
        &[(&dynamic::HITS, 10)],
        dynamic::send_once,
    );
    g.bench_function("2_senders/dynamic", |b| {
        b.iter_custom(|iters| beside(iters, &dynamic::send_once, &dynamic::send_once))
    });
    g.bench_function("churn/sender_vs_writer", |b| {
        b.iter_custom(|iters| {
            beside(
                iters,
                &dynamic::send_once,
                &churn::connect_disconnect_dynamic,
            )
        })
    });
    drop(connections);
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = send_group, robust_group, has_receivers_group, filter_group, async_group,
        connect_group, threads_group
}
criterion_main!(benches);
