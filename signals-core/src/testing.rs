//! Test helpers: capture what was sent, mute receivers, connect receivers temporarily,
//! all scoped to the current test, so parallel `cargo test` stays correct.
//!
//! Enable the `testing` feature in your dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! signals-core = { version = "0.1", features = ["testing"] }
//! ```
//!
//! A [`Scope`] applies to the sends made on the current thread while it is active
//! ([`Scope::run`]), or inside a future wrapped with [`Scope::run_async`] (on whatever
//! thread polls it). Other tests, running in parallel on other threads or tasks, neither
//! see its captures nor are affected by its mutes: there is no global switch like
//! Django's (or factory_boy's) `mute_signals`.
//!
//! **Deferred receivers** (`on = Commit`, ...) are decided when their delivery is queued,
//! not when it runs: a receiver muted by a scope active at the send is not queued, and
//! stays silent even if the transaction commits after the scope ended; one that was not
//! muted then runs at the commit, whatever scope is active at that point. A capture
//! records the send itself, when it is made.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use signals_core::prelude::*;
//! use signals_core::testing::{self, Scope};
//! use signals_core::{assert_not_sent, assert_sent};
//!
//! #[derive(Signal)]
//! struct OrderPlaced<'a> { id: &'a u64 }
//!
//! #[receiver(OrderPlaced)]
//! fn charge_card(_: &OrderPlaced<'_>) { panic!("no card in tests") }
//!
//! fn place_order(id: u64) { OrderPlaced { id: &id }.send().unwrap(); }
//!
//! let scope = Scope::new().mute("charge_card");
//! let ids = scope.capture_with::<OrderPlaced, _>(|e: &OrderPlaced<'_>| *e.id);
//! scope.run(|| place_order(7));
//! assert_sent!(ids, times = 1);
//! assert_eq!(ids.values(), [7]);
//!
//! // Or in one call: capture every send of a signal while `f` runs (receivers still run).
//! let (_, sent) = testing::capture::<OrderPlaced, _>(|| ());
//! assert_not_sent!(sent);
//! # }
//! ```

use crate::engine::local::lock;
use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crate::connect::{ConnectError, ConnectOptions, Connection};
use crate::engine::hooks::{ACTIVE, AnyRecorder, Record, ScopeState};
use crate::signal::Signal;
use crate::vocab::family::{EventOf, Family};
use crate::vocab::response::IntoResponse;

static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

/// What a capture keeps of each payload.
type Projection<F, V> = Box<dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> V + Send + Sync>;

struct Recorder<F: Family, V> {
    project: Projection<F, V>,
    sent: Arc<Mutex<Vec<Sent<V>>>>,
}

impl<F: Family, V: Send> Record<F> for Recorder<F, V> {
    fn record(&self, event: &EventOf<'_, F>, signal: &'static str, sender: Option<&'static str>) {
        let value = (self.project)(event);
        lock(&self.sent).push(Sent {
            signal,
            sender,
            value,
        });
    }
}

/// One send captured by a [`Scope`].
#[derive(Clone, Debug, PartialEq)]
pub struct Sent<V> {
    /// The signal's name.
    pub signal: &'static str,
    /// The sender type, if the signal has one.
    pub sender: Option<&'static str>,
    /// What the capture's projection returned for the payload (`()` for [`capture`]).
    pub value: V,
}

/// The sends a [`Scope`] captured for one signal, readable at any time.
#[derive(Debug)]
pub struct Captured<V> {
    signal: &'static str,
    sent: Arc<Mutex<Vec<Sent<V>>>>,
}

impl<V> Clone for Captured<V> {
    fn clone(&self) -> Self {
        Captured {
            signal: self.signal,
            sent: Arc::clone(&self.sent),
        }
    }
}

impl<V: Clone> Captured<V> {
    /// The signal this capture listens to.
    pub fn signal(&self) -> &'static str {
        self.signal
    }
    /// How many sends were captured.
    pub fn len(&self) -> usize {
        lock(&self.sent).len()
    }
    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every captured send, in order.
    pub fn sent(&self) -> Vec<Sent<V>> {
        lock(&self.sent).clone()
    }
    /// The projected values, in order.
    pub fn values(&self) -> Vec<V> {
        self.sent().into_iter().map(|s| s.value).collect()
    }
}

/// Captures, mutes and temporary receivers for one test. See the [module docs](self).
#[derive(Clone)]
pub struct Scope {
    state: Arc<ScopeState>,
}

impl Default for Scope {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("id", &self.state.id)
            .field("mute_all", &self.state.mute_all)
            .field("muted", &self.state.muted)
            .finish()
    }
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Scope {
            state: Arc::new(ScopeState {
                id: NEXT_SCOPE.fetch_add(1, Ordering::Relaxed),
                ..Default::default()
            }),
        }
    }

    fn configure(self, change: impl FnOnce(&mut ScopeState)) -> Self {
        let mut state = Arc::try_unwrap(self.state).unwrap_or_else(|shared| ScopeState {
            id: shared.id,
            mute_all: shared.mute_all,
            muted: shared.muted.clone(),
            recorders: Mutex::new(Vec::new()),
        });
        change(&mut state);
        Scope {
            state: Arc::new(state),
        }
    }

    /// Mutes every receiver except the ones connected through this scope (blinker's
    /// `muted()`, but only for this test). Sends are still captured.
    ///
    /// Configure a scope before capturing or connecting through it.
    pub fn mute_all(self) -> Self {
        self.configure(|s| s.mute_all = true)
    }

    /// Mutes one receiver, by its full path (`app::handlers::create_profile`) or by its
    /// last segments (`create_profile`, `handlers::create_profile`), or a runtime
    /// receiver by the name given at connect time.
    pub fn mute(self, receiver: &'static str) -> Self {
        self.configure(|s| s.muted.push(receiver))
    }

    /// Captures every send of `S` (for a sender-specific signal, that sender's sends; for
    /// the any-sender form, every sender's).
    pub fn capture<S: Signal>(&self) -> Captured<()> {
        self.capture_with::<S, ()>(|_: &EventOf<'_, S::Family>| ())
    }

    /// Captures every send of `S`, keeping what `project` returns for each payload (the
    /// payload itself is borrowed and cannot be kept).
    pub fn capture_with<S: Signal, V: Send + 'static>(
        &self,
        project: impl for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> V + Send + Sync + 'static,
    ) -> Captured<V> {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let recorder: Box<dyn Record<S::Family>> = Box::new(Recorder::<S::Family, V> {
            project: Box::new(project),
            sent: Arc::clone(&sent),
        });
        lock(&self.state.recorders).push(AnyRecorder {
            family: TypeId::of::<S::Family>(),
            recorder: Box::new(recorder),
        });
        Captured {
            signal: S::NAME,
            sent,
        }
    }

    /// Connects a receiver that only sees the sends made inside this scope. It is
    /// disconnected when the returned [`Connection`] is dropped.
    #[track_caller]
    pub fn connect<S, O, H>(&self, handler: H) -> Connection
    where
        S: Signal,
        H: for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> O + Send + Sync + 'static,
        O: IntoResponse<S::Response>,
    {
        self.connect_with::<S, O, H>(ConnectOptions::new(), handler)
            .unwrap_or_else(|_| unreachable!("connecting without a dispatch_uid cannot conflict"))
    }

    /// [`connect`](Scope::connect) with options (priority, name, `dispatch_uid`).
    #[track_caller]
    pub fn connect_with<S, O, H>(
        &self,
        options: ConnectOptions,
        handler: H,
    ) -> Result<Connection, ConnectError>
    where
        S: Signal,
        H: for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> O + Send + Sync + 'static,
        O: IntoResponse<S::Response>,
    {
        crate::connect::connect::<S, O, H>(
            options.scope(self.state.id),
            handler,
            std::panic::Location::caller(),
        )
    }

    /// Runs `f` with this scope active on the current thread.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _active = crate::engine::local::push(&ACTIVE, Arc::clone(&self.state));
        f()
    }

    /// Wraps `future` so this scope is active whenever it is polled, on any thread.
    pub fn run_async<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            inner: crate::engine::local::Within::new(&ACTIVE, Arc::clone(&self.state), future),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run inside a [`Scope`]; see [`Scope::run_async`].
    pub struct Scoped<F> {
        #[pin]
        inner: crate::engine::local::Within<Arc<ScopeState>, F>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Captures every send of `S` made on this thread while `f` runs. Receivers still run.
pub fn capture<S: Signal, T>(f: impl FnOnce() -> T) -> (T, Captured<()>) {
    let scope = Scope::new();
    let captured = scope.capture::<S>();
    (scope.run(f), captured)
}

/// Runs `f` with every receiver muted for the sends it makes on this thread.
pub fn muted<T>(f: impl FnOnce() -> T) -> T {
    Scope::new().mute_all().run(f)
}

/// Runs `f` with `handler` connected to `S` for the sends `f` makes on this thread
/// (blinker's `connected_to`).
#[track_caller]
pub fn connected<S, O, H, T>(handler: H, f: impl FnOnce() -> T) -> T
where
    S: Signal,
    H: for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> O + Send + Sync + 'static,
    O: IntoResponse<S::Response>,
{
    let scope = Scope::new();
    let _connection = scope.connect::<S, O, H>(handler);
    scope.run(f)
}

/// `assert_sent!(captured)`: at least one send; `assert_sent!(captured, times = n)`:
/// exactly `n`. Fails with the list of what was captured.
#[macro_export]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
macro_rules! assert_sent {
    ($captured:expr) => {{
        let captured = &$captured;
        assert!(
            !captured.is_empty(),
            "expected {} to be sent, but it was not",
            captured.signal()
        );
    }};
    ($captured:expr, times = $n:expr) => {{
        let captured = &$captured;
        let n: usize = $n;
        assert!(
            captured.len() == n,
            "expected {} to be sent {} time(s), but it was sent {} time(s): {:?}",
            captured.signal(),
            n,
            captured.len(),
            captured.sent()
        );
    }};
}

/// `assert_not_sent!(captured)`: no send was captured.
#[macro_export]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
macro_rules! assert_not_sent {
    ($captured:expr) => {{
        let captured = &$captured;
        assert!(
            captured.is_empty(),
            "expected {} not to be sent, but it was sent {} time(s): {:?}",
            captured.signal(),
            captured.len(),
            captured.sent()
        );
    }};
}
