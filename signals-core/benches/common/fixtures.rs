//! Fixtures shared by the criterion benches (`benches/dispatch.rs`) and the comparison
//! binary (`bench-compare/`, which includes this file with `#[path]`).
//!
//! Every receiver runs the same tiny body, the comparison's probe, `black_box(a * k ^ b)`,
//! so that dispatch cost dominates, and every receiver is a *distinct* function or
//! closure (a literal is folded into each body), so indirect-call targets differ as in a
//! real program. Each receiver also bumps its own counter while [`CHECKING`] is on: a
//! relaxed load and a predictable branch per call when off (the baselines pay it too), so
//! [`check_once`] can assert that every receiver ran exactly once before anything is timed.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};

use signals_core::prelude::*;
use signals_core::{BoxError, Connection, SendError};

pub const SALT: u64 = 0x9E37_79B9_7F4A_7C15;
/// The payload every send carries (16 bytes).
pub const A: u64 = 0x1234_5678;
pub const B: u64 = 42;

/// While set, every receiver counts its calls in its own slot of a [`Hits`] array.
pub static CHECKING: AtomicBool = AtomicBool::new(false);

/// One call counter per receiver of a group (at most 100 receivers).
pub type Hits = [AtomicU32; 100];

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU32 = AtomicU32::new(0);

/// The receiver body: a multiply, an xor and an opaque store (plus the check counter).
#[inline(always)]
pub fn work(a: u64, b: u64, k: u64, hit: &AtomicU32) {
    black_box(a.wrapping_mul(k) ^ b);
    if CHECKING.load(Ordering::Relaxed) {
        hit.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `f` once with counting on and asserts that, in each `(hits, n)` group, receivers
/// `0..n` ran exactly once and no other slot moved. Guards against a bench that measures
/// nothing (dead code, a receiver not linked, a wrong sender filter).
pub fn check_once(what: &str, groups: &[(&Hits, usize)], f: impl FnOnce()) {
    for (hits, _) in groups {
        for c in hits.iter() {
            c.store(0, Ordering::SeqCst);
        }
    }
    CHECKING.store(true, Ordering::SeqCst);
    f();
    CHECKING.store(false, Ordering::SeqCst);
    for (g, (hits, n)) in groups.iter().enumerate() {
        for (k, c) in hits.iter().enumerate() {
            let want = u32::from(k < *n);
            let got = c.load(Ordering::SeqCst);
            assert_eq!(
                got, want,
                "{what}: group {g}, receiver {k} ran {got} times, expected {want}"
            );
        }
    }
}

/// Polls a future with a no-op waker until it is ready (the futures here never wait):
/// measures the dispatch, not an executor.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Silences the panic hook while `f` runs (the one-panic robust cases).
pub fn with_silent_panics<R>(f: impl FnOnce() -> R) -> R {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    std::panic::set_hook(previous);
    out
}

/// The error the failing robust receiver returns.
#[derive(Debug)]
pub struct Failed;
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bench receiver failed")
    }
}
impl std::error::Error for Failed {}

/// Which receiver of the one-error / one-panic groups fails.
pub const fn fails(k: u32) -> bool {
    k == 4
}

macro_rules! with_k {
    (1, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        0
        }
    };
    (5, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        0 1 2 3 4
        }
    };
    (10, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        0 1 2 3 4 5 6 7 8 9
        }
    };
    (50, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49
        }
    };
    (100, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61
        62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90
        91 92 93 94 95 96 97 98 99
        }
    };
}
macro_rules! with_ids {
    (1, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        r0 0
        }
    };
    (5, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        r0 0 r1 1 r2 2 r3 3 r4 4
        }
    };
    (10, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        r0 0 r1 1 r2 2 r3 3 r4 4 r5 5 r6 6 r7 7 r8 8 r9 9
        }
    };
    (50, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        r0 0 r1 1 r2 2 r3 3 r4 4 r5 5 r6 6 r7 7 r8 8 r9 9 r10 10 r11 11 r12 12 r13 13 r14 14 r15
        15 r16 16 r17 17 r18 18 r19 19 r20 20 r21 21 r22 22 r23 23 r24 24 r25 25 r26 26 r27 27
        r28 28 r29 29 r30 30 r31 31 r32 32 r33 33 r34 34 r35 35 r36 36 r37 37 r38 38 r39 39 r40
        40 r41 41 r42 42 r43 43 r44 44 r45 45 r46 46 r47 47 r48 48 r49 49
        }
    };
    (100, $m:ident ! ($($pre:tt)*)) => {
        $m! { $($pre)*
        r0 0 r1 1 r2 2 r3 3 r4 4 r5 5 r6 6 r7 7 r8 8 r9 9 r10 10 r11 11 r12 12 r13 13 r14 14 r15
        15 r16 16 r17 17 r18 18 r19 19 r20 20 r21 21 r22 22 r23 23 r24 24 r25 25 r26 26 r27 27
        r28 28 r29 29 r30 30 r31 31 r32 32 r33 33 r34 34 r35 35 r36 36 r37 37 r38 38 r39 39 r40
        40 r41 41 r42 42 r43 43 r44 44 r45 45 r46 46 r47 47 r48 48 r49 49 r50 50 r51 51 r52 52
        r53 53 r54 54 r55 55 r56 56 r57 57 r58 58 r59 59 r60 60 r61 61 r62 62 r63 63 r64 64 r65
        65 r66 66 r67 67 r68 68 r69 69 r70 70 r71 71 r72 72 r73 73 r74 74 r75 75 r76 76 r77 77
        r78 78 r79 79 r80 80 r81 81 r82 82 r83 83 r84 84 r85 85 r86 86 r87 87 r88 88 r89 89 r90
        90 r91 91 r92 92 r93 93 r94 94 r95 95 r96 96 r97 97 r98 98 r99 99
        }
    };
}

// ---- in-binary baselines ---------------------------------------------------------------

/// The baselines' payload (same 16 bytes as the signals').
#[derive(Clone, Copy, Debug)]
pub struct Plain {
    pub a: u64,
    pub b: u64,
}

pub const PLAIN: Plain = Plain { a: A, b: B };

pub static BASE_HITS: Hits = [ZERO; 100];

#[inline(never)]
fn recv_call<const K: usize>(e: &Plain) {
    work(e.a, e.b, SALT.wrapping_add(K as u64), &BASE_HITS[K]);
}

macro_rules! direct_fn {
    ($name:ident; $($k:literal)*) => {
        #[inline(never)]
        fn $name(e: &Plain) {
            $( recv_call::<$k>(e); )*
        }
    };
}
#[inline(never)]
fn direct_0(e: &Plain) {
    black_box(e);
}
with_k!(1, direct_fn!(direct_1;));
with_k!(10, direct_fn!(direct_10;));
with_k!(100, direct_fn!(direct_100;));

/// D(N): a hand-written send naming N distinct `#[inline(never)]` receivers ("the limit").
pub fn direct(n: usize) -> fn(&Plain) {
    match n {
        0 => direct_0,
        1 => direct_1,
        10 => direct_10,
        100 => direct_100,
        _ => panic!("no direct baseline for N={n}"),
    }
}

#[inline(never)]
fn recv_fallible<const K: usize>(e: &Plain) -> Result<(), BoxError> {
    work(e.a, e.b, SALT.wrapping_add(K as u64), &BASE_HITS[K]);
    Ok(())
}

/// A fallible receiver as a plain fn pointer (the shape of a link-time receiver).
pub type FallibleFn = fn(&Plain) -> Result<(), BoxError>;

macro_rules! fn_list {
    ($($k:literal)*) => {
        vec![ $( recv_fallible::<$k> as FallibleFn ),* ]
    };
}

/// R(N): `Vec<fn(&Plain) -> Result<(), BoxError>>` of N distinct `#[inline(never)]`
/// functions (the floor for receivers that return a `Result`).
pub fn fn_list(n: usize) -> Vec<FallibleFn> {
    match n {
        0 => Vec::new(),
        1 => with_k!(1, fn_list!()),
        10 => with_k!(10, fn_list!()),
        100 => with_k!(100, fn_list!()),
        _ => panic!("no fallible fn baseline for N={n}"),
    }
}

/// Calls the fns of R(N) in order and stops at the first `Err`, which it returns; else
/// the number of receivers that returned `Ok`.
#[inline(never)]
pub fn send_fn_list(v: &[FallibleFn], e: &Plain) -> Result<usize, BoxError> {
    let mut ok = 0;
    for r in v {
        r(e)?;
        ok += 1;
    }
    Ok(ok)
}

pub type BoxFn = Box<dyn Fn(&Plain) + Send + Sync>;
pub type BoxResFn = Box<dyn Fn(&Plain) -> Result<(), BoxError> + Send + Sync>;
pub type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;
pub type AsyncFn = Box<dyn Fn(&Plain) -> BoxFut + Send + Sync>;
pub type ArcFn = std::sync::Arc<dyn Fn(&Plain) + Send + Sync>;

macro_rules! dyn_vec {
    ($($k:literal)*) => {
        vec![ $( {
            let k: u64 = black_box(SALT);
            Box::new(move |e: &Plain| work(e.a, e.b, k.wrapping_add($k), &BASE_HITS[$k])) as BoxFn
        } ),* ]
    };
}
macro_rules! res_vec {
    ($($k:literal)*) => {
        vec![ $( {
            let k: u64 = black_box(SALT);
            Box::new(move |e: &Plain| -> Result<(), BoxError> {
                work(e.a, e.b, k.wrapping_add($k), &BASE_HITS[$k]);
                Ok(())
            }) as BoxResFn
        } ),* ]
    };
}
macro_rules! async_vec {
    ($($k:literal)*) => {
        vec![ $( {
            let k: u64 = black_box(SALT);
            Box::new(move |e: &Plain| -> BoxFut {
                let e = *e;
                Box::pin(async move { work(e.a, e.b, k.wrapping_add($k), &BASE_HITS[$k]) })
            }) as AsyncFn
        } ),* ]
    };
}

/// V(N): `Vec<Box<dyn Fn>>` of N distinct closures (the indirect-call floor).
pub fn dyn_vec(n: usize) -> Vec<BoxFn> {
    match n {
        0 => Vec::new(),
        1 => with_k!(1, dyn_vec!()),
        10 => with_k!(10, dyn_vec!()),
        100 => with_k!(100, dyn_vec!()),
        _ => panic!("no dyn-Fn baseline for N={n}"),
    }
}
/// `Vec<Box<dyn Fn -> Result>>` for the robust baseline.
pub fn res_vec(n: usize) -> Vec<BoxResFn> {
    match n {
        1 => with_k!(1, res_vec!()),
        10 => with_k!(10, res_vec!()),
        100 => with_k!(100, res_vec!()),
        _ => panic!("no robust baseline for N={n}"),
    }
}
/// Receivers returning a boxed future each (the async floor).
pub fn async_vec(n: usize) -> Vec<AsyncFn> {
    match n {
        1 => with_k!(1, async_vec!()),
        10 => with_k!(10, async_vec!()),
        100 => with_k!(100, async_vec!()),
        _ => panic!("no async baseline for N={n}"),
    }
}

#[inline(never)]
pub fn send_dyn_vec(v: &[BoxFn], e: &Plain) {
    for r in v {
        r(e)
    }
}
/// The robust baseline: `catch_unwind` + `Result` per receiver, each result to a sink.
#[inline(never)]
pub fn send_robust_sink(
    v: &[BoxResFn],
    e: &Plain,
    sink: &mut dyn FnMut(usize, Result<(), BoxError>),
) {
    for (i, r) in v.iter().enumerate() {
        let res = match catch_unwind(AssertUnwindSafe(|| r(e))) {
            Ok(x) => x,
            Err(_) => Err("receiver panicked".into()),
        };
        sink(i, res);
    }
}
/// The sender-filter baseline: a sender id per receiver, compared before the call.
#[inline(never)]
pub fn send_filtered(v: &[(Option<u64>, BoxFn)], sender: u64, e: &Plain) {
    for (s, r) in v {
        if s.is_none_or(|s| s == sender) {
            r(e)
        }
    }
}
pub async fn send_async_vec(v: &[AsyncFn], e: &Plain) {
    for r in v {
        r(e).await
    }
}

// ---- signals -----------------------------------------------------------------------------

/// Sends through an opaque call, as the baselines are (`#[inline(never)]`).
#[inline(never)]
pub fn send<S: Signal>(event: &S) -> Result<S::Output, SendError> {
    event.send()
}
#[inline(never)]
pub fn send_robust<S: Signal>(event: &S) -> signals_core::Report<S::Output> {
    event.send_robust()
}
#[inline(never)]
pub fn has_receivers<S: Signal>() -> bool {
    S::has_receivers()
}

macro_rules! static_recvs {
    ($sig:ident, $hits:ident; $($f:ident $k:literal)*) => {
        $(
            #[receiver($sig)]
            fn $f(e: &$sig) {
                work(e.a, e.b, SALT.wrapping_add($k), &$hits[$k]);
            }
        )*
    };
}
macro_rules! err_recvs {
    ($sig:ident, $hits:ident; $($f:ident $k:literal)*) => {
        $(
            #[receiver($sig)]
            fn $f(e: &$sig) -> Result<(), Failed> {
                work(e.a, e.b, SALT.wrapping_add($k), &$hits[$k]);
                if fails($k) { Err(Failed) } else { Ok(()) }
            }
        )*
    };
}
macro_rules! panic_recvs {
    ($sig:ident, $hits:ident; $($f:ident $k:literal)*) => {
        $(
            #[receiver($sig)]
            fn $f(e: &$sig) {
                work(e.a, e.b, SALT.wrapping_add($k), &$hits[$k]);
                if fails($k) && black_box(true) {
                    panic!("bench receiver panics");
                }
            }
        )*
    };
}
macro_rules! async_recvs {
    ($sig:ident, $hits:ident; $($f:ident $k:literal)*) => {
        $(
            #[receiver($sig)]
            async fn $f(e: &$sig) {
                work(e.a, e.b, SALT.wrapping_add($k), &$hits[$k]);
            }
        )*
    };
}
macro_rules! filter_recvs {
    ($sig:ident, $hits:ident; $($f:ident $k:literal)*) => {
        $(
            #[receiver($sig, sender = SrcA)]
            fn $f(e: &$sig<'_, SrcA>) {
                work(e.a, e.b, SALT.wrapping_add($k), &$hits[$k]);
            }
        )*
    };
}
macro_rules! dyn_connect {
    ($sig:ident, $hits:ident; $($k:literal)*) => {
        vec![ $( {
            let k: u64 = black_box(SALT);
            $sig::connect(move |e: &$sig| work(e.a, e.b, k.wrapping_add($k), &$hits[$k]))
        } ),* ]
    };
}

/// Declares `$sig { a, b }` in a module of its own with `HITS`, and `$n` receivers made
/// by `$recvs`.
macro_rules! signal_mod {
    ($module:ident, $sig:ident, $n:tt, $recvs:ident) => {
        pub mod $module {
            use super::*;
            #[derive(Signal)]
            pub struct $sig {
                pub a: u64,
                pub b: u64,
            }
            pub static HITS: Hits = [ZERO; 100];
            with_ids!($n, $recvs!($sig, HITS;));
            pub const EVENT: $sig = $sig { a: A, b: B };
        }
    };
}

/// No receivers at all.
pub mod none {
    use super::*;
    #[derive(Signal)]
    pub struct Ev0 {
        pub a: u64,
        pub b: u64,
    }
    pub const EVENT: Ev0 = Ev0 { a: A, b: B };
}

signal_mod!(st1, Ev1, 1, static_recvs);
signal_mod!(st10, Ev10, 10, static_recvs);
signal_mod!(st100, Ev100, 100, static_recvs);
signal_mod!(rob_err, RobErr, 10, err_recvs);
signal_mod!(rob_panic, RobPanic, 10, panic_recvs);
signal_mod!(as1, As1, 1, async_recvs);
signal_mod!(as10, As10, 10, async_recvs);
signal_mod!(as100, As100, 100, async_recvs);

/// The static-receiver signal with `n` receivers, sent once through [`send`].
pub fn send_static(n: usize) -> fn() {
    match n {
        0 => || drop(black_box(send(black_box(&none::EVENT)))),
        1 => || drop(black_box(send(black_box(&st1::EVENT)))),
        10 => || drop(black_box(send(black_box(&st10::EVENT)))),
        100 => || drop(black_box(send(black_box(&st100::EVENT)))),
        _ => panic!("no static signal with N={n}"),
    }
}
/// The counters of the static-receiver signal with `n` receivers.
pub fn static_hits(n: usize) -> &'static Hits {
    match n {
        0 => &BASE_HITS,
        1 => &st1::HITS,
        10 => &st10::HITS,
        _ => &st100::HITS,
    }
}

/// Runtime receivers only: connect `n` distinct closures with [`dynamic::connect`].
pub mod dynamic {
    use super::*;
    #[derive(Signal)]
    pub struct DynEv {
        pub a: u64,
        pub b: u64,
    }
    pub static HITS: Hits = [ZERO; 100];
    pub const EVENT: DynEv = DynEv { a: A, b: B };
    pub fn connect(n: usize) -> Vec<Connection> {
        match n {
            0 => Vec::new(),
            1 => with_k!(1, dyn_connect!(DynEv, HITS;)),
            10 => with_k!(10, dyn_connect!(DynEv, HITS;)),
            100 => with_k!(100, dyn_connect!(DynEv, HITS;)),
            _ => panic!("no dynamic set with N={n}"),
        }
    }
    pub fn send_once() {
        drop(black_box(send(black_box(&EVENT))));
    }
}

/// Half link-time, half runtime receivers (same priority: the link-time ones run first).
pub mod mixed {
    use super::*;
    /// The counters of both halves, for [`check_once`].
    pub type Groups = [(&'static Hits, usize); 2];
    pub mod m10 {
        use super::*;
        #[derive(Signal)]
        pub struct Mix10 {
            pub a: u64,
            pub b: u64,
        }
        pub static HITS: Hits = [ZERO; 100];
        pub static HITS_DYN: Hits = [ZERO; 100];
        with_ids!(5, static_recvs!(Mix10, HITS;));
        pub const EVENT: Mix10 = Mix10 { a: A, b: B };
        pub fn connect() -> Vec<Connection> {
            with_k!(5, dyn_connect!(Mix10, HITS_DYN;))
        }
    }
    pub mod m100 {
        use super::*;
        #[derive(Signal)]
        pub struct Mix100 {
            pub a: u64,
            pub b: u64,
        }
        pub static HITS: Hits = [ZERO; 100];
        pub static HITS_DYN: Hits = [ZERO; 100];
        with_ids!(50, static_recvs!(Mix100, HITS;));
        pub const EVENT: Mix100 = Mix100 { a: A, b: B };
        pub fn connect() -> Vec<Connection> {
            with_k!(50, dyn_connect!(Mix100, HITS_DYN;))
        }
    }
    /// Connects the runtime half for N = 10 or 100; returns the sender, its counters and
    /// the connections (keep them alive).
    pub fn setup(n: usize) -> (fn(), Groups, Vec<Connection>) {
        match n {
            10 => (
                || drop(black_box(send(black_box(&m10::EVENT)))),
                [(&m10::HITS, 5), (&m10::HITS_DYN, 5)],
                m10::connect(),
            ),
            100 => (
                || drop(black_box(send(black_box(&m100::EVENT)))),
                [(&m100::HITS, 50), (&m100::HITS_DYN, 50)],
                m100::connect(),
            ),
            _ => panic!("no mixed set with N={n}"),
        }
    }
}

/// Sender filtering: receivers for `SrcA` only; sent as `SrcA` (all match) or `SrcB`
/// (none match: the receivers are scanned and skipped).
pub mod filter {
    use super::*;
    pub trait Src: 'static {}
    pub struct SrcA;
    impl Src for SrcA {}
    pub struct SrcB;
    impl Src for SrcB {}

    pub mod f10 {
        use super::*;
        #[derive(Signal)]
        #[signal(sender = M)]
        pub struct Filt10<'a, M: ?Sized + Src = dyn Src> {
            pub src: &'a M,
            pub a: u64,
            pub b: u64,
        }
        pub static HITS: Hits = [ZERO; 100];
        with_ids!(10, filter_recvs!(Filt10, HITS;));
    }
    pub mod f100 {
        use super::*;
        #[derive(Signal)]
        #[signal(sender = M)]
        pub struct Filt100<'a, M: ?Sized + Src = dyn Src> {
            pub src: &'a M,
            pub a: u64,
            pub b: u64,
        }
        pub static HITS: Hits = [ZERO; 100];
        with_ids!(100, filter_recvs!(Filt100, HITS;));
    }
    /// One send with `n` ∈ {10, 100} receivers for `SrcA`; `matching` picks the sender.
    pub fn sender(n: usize, matching: bool) -> fn() {
        match (n, matching) {
            (10, true) => || {
                drop(black_box(send(black_box(&f10::Filt10 {
                    src: &SrcA,
                    a: A,
                    b: B,
                }))))
            },
            (10, false) => || {
                drop(black_box(send(black_box(&f10::Filt10 {
                    src: &SrcB,
                    a: A,
                    b: B,
                }))))
            },
            (100, true) => || {
                drop(black_box(send(black_box(&f100::Filt100 {
                    src: &SrcA,
                    a: A,
                    b: B,
                }))))
            },
            (100, false) => || {
                drop(black_box(send(black_box(&f100::Filt100 {
                    src: &SrcB,
                    a: A,
                    b: B,
                }))))
            },
            _ => panic!("no filter set with N={n}"),
        }
    }
    pub fn hits(n: usize) -> &'static Hits {
        if n == 10 { &f10::HITS } else { &f100::HITS }
    }
}

/// `send_async` (noop-waker poll) of the static sync receivers with `n` receivers.
pub fn send_async_sync_receivers(n: usize) -> fn() {
    match n {
        1 => || drop(black_box(block_on(black_box(&st1::EVENT).send_async()))),
        10 => || drop(black_box(block_on(black_box(&st10::EVENT).send_async()))),
        100 => || drop(black_box(block_on(black_box(&st100::EVENT).send_async()))),
        _ => panic!("no async set with N={n}"),
    }
}
/// `send_async` of `n` static `async fn` receivers.
pub fn send_async_async_receivers(n: usize) -> (fn(), &'static Hits) {
    match n {
        1 => (
            || drop(black_box(block_on(black_box(&as1::EVENT).send_async()))),
            &as1::HITS,
        ),
        10 => (
            || drop(black_box(block_on(black_box(&as10::EVENT).send_async()))),
            &as10::HITS,
        ),
        100 => (
            || drop(black_box(block_on(black_box(&as100::EVENT).send_async()))),
            &as100::HITS,
        ),
        _ => panic!("no async set with N={n}"),
    }
}

/// Connect + disconnect: a signal with `m` runtime receivers already connected.
pub mod churn {
    use super::*;
    #[derive(Signal)]
    pub struct CdEv {
        pub a: u64,
        pub b: u64,
    }
    pub static HITS: Hits = [ZERO; 100];
    /// Connects `m` receivers (any count) and returns their connections.
    pub fn preconnect(m: usize) -> Vec<Connection> {
        (0..m as u64)
            .map(|i| {
                let k = black_box(SALT).wrapping_add(i);
                CdEv::connect(move |e: &CdEv| work(e.a, e.b, k, &HITS[0]))
            })
            .collect()
    }
    /// One connect + disconnect pair on `CdEv`.
    #[inline(never)]
    pub fn connect_disconnect() {
        let k = black_box(SALT);
        let c = CdEv::connect(move |e: &CdEv| work(e.a, e.b, k, &HITS[0]));
        drop(black_box(c));
    }
    /// The same pair on the dynamic signal of [`dynamic`] (the churn writer).
    #[inline(never)]
    pub fn connect_disconnect_dynamic() {
        let k = black_box(SALT);
        let c = dynamic::DynEv::connect(move |e: &dynamic::DynEv| work(e.a, e.b, k, &HITS[0]));
        drop(black_box(c));
    }
}
