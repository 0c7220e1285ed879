//! A sync `send` whose responses are `()` allocates nothing, and neither do
//! `has_receivers` and a `send_robust` where nothing fails, with link-time and runtime receivers alike. Measured with
//! `allocation-counter`'s counting global allocator, per thread.

use std::sync::atomic::{AtomicU64, Ordering};

use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

/// Heap allocations made by `f` on this thread (`allocation-counter` installs a counting
/// global allocator in this test binary only).
fn allocations(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

static HITS: AtomicU64 = AtomicU64::new(0);

struct Account;
impl Model for Account {}

#[derive(Signal)]
struct Ping<'a> {
    n: &'a u64,
}

#[receiver(Ping)]
fn ping_static(e: &Ping<'_>) {
    HITS.fetch_add(*e.n, Ordering::Relaxed);
}

#[receiver(PostSave, sender = Account)]
fn account_saved(_: &PostSave<'_, Account>) {
    HITS.fetch_add(1, Ordering::Relaxed);
}

#[receiver(PostSave)]
fn any_saved(_: &PostSave) {
    HITS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn unit_sends_and_has_receivers_do_not_allocate() {
    assert_eq!(
        allocations(|| drop(std::hint::black_box(vec![1u8]))),
        1,
        "the counter counts"
    );
    let n = 1;
    let account = Account;
    // Warm up: the first send collects and sorts the link-time receivers (allocates once).
    Ping { n: &n }.send().unwrap();
    PostSave::new(&account, true).send().unwrap();

    let before = HITS.load(Ordering::Relaxed);
    assert_eq!(
        allocations(|| {
            Ping { n: &n }.send().unwrap();
        }),
        0,
        "static receivers"
    );
    assert_eq!(
        allocations(|| {
            PostSave::new(&account, true).send().unwrap();
        }),
        0,
        "sender filter + any-sender view"
    );
    assert_eq!(allocations(|| assert!(Ping::has_receivers())), 0);
    assert_eq!(
        HITS.load(Ordering::Relaxed),
        before + 3,
        "every receiver ran"
    );

    let connection = Ping::connect(|e: &Ping<'_>| {
        HITS.fetch_add(*e.n, Ordering::Relaxed);
    });
    let before = HITS.load(Ordering::Relaxed);
    assert_eq!(
        allocations(|| {
            Ping { n: &n }.send().unwrap();
        }),
        0,
        "static + runtime receivers"
    );
    assert_eq!(allocations(|| assert!(Ping::has_receivers())), 0);
    assert_eq!(HITS.load(Ordering::Relaxed), before + 2);
    // An async send that reaches only sync receivers does not allocate either.
    let before = HITS.load(Ordering::Relaxed);
    let sent = allocations(|| {
        let delivered = futures_util::FutureExt::now_or_never(Ping { n: &n }.send_async());
        assert_eq!(delivered.unwrap().unwrap().receivers(), 2);
    });
    assert_eq!(sent, 0, "send_async to sync receivers");
    assert_eq!(HITS.load(Ordering::Relaxed), before + 2);
    // A robust send where nothing fails allocates nothing either: its report holds no
    // failure list until the first failure.
    let before = HITS.load(Ordering::Relaxed);
    let robust = allocations(|| {
        let report = Ping { n: &n }.send_robust();
        assert!(report.is_ok());
        assert_eq!(report.responses().receivers(), 2);
    });
    assert_eq!(robust, 0, "send_robust, nothing failing");
    assert_eq!(HITS.load(Ordering::Relaxed), before + 2);
    drop(connection);

    // A conditional receiver whose predicate says no costs the predicate: no allocation
    // (the "skipped" outcome and its future are zero-sized).
    #[derive(Signal)]
    struct Gated<'a> {
        n: &'a u32,
    }
    fn is_even(e: &Gated<'_>) -> bool {
        e.n.is_multiple_of(2)
    }
    #[receiver(Gated, when = is_even)]
    fn gated(e: &Gated<'_>) {
        HITS.fetch_add(*e.n as u64, Ordering::Relaxed);
    }
    #[derive(Signal)]
    struct GatedAsync<'a> {
        n: &'a u32,
    }
    fn is_even_async(e: &GatedAsync<'_>) -> bool {
        e.n.is_multiple_of(2)
    }
    #[receiver(GatedAsync, when = is_even_async)]
    async fn gated_async(_: &GatedAsync<'_>) {}
    let odd = 3;
    let send_async = || futures_util::FutureExt::now_or_never(GatedAsync { n: &odd }.send_async());
    Gated { n: &odd }.send_robust().responses();
    send_async();
    assert_eq!(
        allocations(|| {
            let delivered = Gated { n: &odd }.send_robust();
            assert_eq!(delivered.responses().receivers(), 0);
        }),
        0,
        "skipped by its predicate"
    );
    assert_eq!(
        allocations(|| assert_eq!(send_async().unwrap().unwrap().receivers(), 0)),
        0,
        "skipped by its predicate, async"
    );

    // Nobody listens: nothing at all.
    #[derive(Signal)]
    struct Silent;
    Silent.send().unwrap();
    assert_eq!(
        allocations(|| {
            Silent.send().unwrap();
        }),
        0
    );
    assert_eq!(allocations(|| assert!(!Silent::has_receivers())), 0);
}
