//! Meta-signals about runtime connections: [`ReceiverConnected`] and
//! [`ReceiverDisconnected`] (blinker's `receiver_connected` / `receiver_disconnected`),
//! and about deferred deliveries that could not run: [`DeliveryLost`].
//!
//! The one import cycle the domain forces: `connect.rs` sends these on every runtime
//! (dis)connection, and they are signals (`#[derive(Signal)]`), connectable in turn. They
//! are sent through the engine directly, robustly.
//!
//! Use them to observe who subscribes at runtime: a debug panel, an audit log, a cache
//! of "does anybody listen to X" that must be invalidated.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use signals_core::prelude::*;
//! use signals_core::meta::{DisconnectCause, ReceiverConnected, ReceiverDisconnected};
//! use signals_core::ConnectOptions;
//!
//! #[derive(Signal)]
//! struct Tick;
//!
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let l = log.clone();
//! let _watch_connects = <ReceiverConnected>::connect(move |e: &ReceiverConnected<'_>| {
//!     l.lock().unwrap().push(format!("+ {} on {}", e.receiver.name(), e.signal));
//! });
//! let l = log.clone();
//! let _watch_disconnects = <ReceiverDisconnected>::connect(move |e: &ReceiverDisconnected<'_>| {
//!     l.lock().unwrap().push(format!("- {} ({:?})", e.receiver.name(), e.cause));
//! });
//!
//! let tick = Tick::connect_with(ConnectOptions::new().name("ticker"), |_: &Tick| {}).unwrap();
//! drop(tick);
//!
//! let log = log.lock().unwrap();
//! assert!(log.contains(&"+ ticker on Tick".to_string()));
//! assert!(log.contains(&"- ticker (Dropped)".to_string()));
//! ```
//!
//! # What sends them
//!
//! * [`ReceiverConnected`]: every successful runtime connection
//!   ([`Signal::connect`](crate::Signal::connect) and its `_with` / `_async` forms), once
//!   the receiver is in place: a send that starts after the meta-signal already reaches it.
//!   A connection refused for its `dispatch_uid` sends nothing.
//! * [`ReceiverDisconnected`]: every runtime disconnection, once the receiver is removed:
//!   dropping the [`Connection`](crate::Connection), [`Connection::disconnect`] and
//!   [`Signal::disconnect`](crate::Signal::disconnect) by `dispatch_uid`. Each connection is
//!   reported at most once, whichever way it goes first.
//!   [`Connection::detach`] sends nothing (the receiver stays).
//! * Link-time `#[receiver]`s are not connected at runtime and send neither; list them
//!   with [`registry::receivers`](crate::registry::receivers).
//! * [`DeliveryLost`]: a deferred delivery (`on = Commit`, ...) that will never run,
//!   counted by [`transaction::lost_deliveries`](crate::transaction::lost_deliveries);
//!   see [`LostReason`] for when. Route it to your alerting.
//!
//! [`Connection::disconnect`]: crate::Connection::disconnect
//! [`Connection::detach`]: crate::Connection::detach
//!
//! # Decisions
//!
//! * **No meta-signals about the meta-signals.** Connecting or disconnecting a receiver
//!   of `ReceiverConnected` or `ReceiverDisconnected` sends nothing, so observing
//!   connections cannot recurse into itself, and a watcher never hears about itself.
//! * **Sent robustly.** They go out with [`send_robust`](crate::Signal::send_robust): a
//!   meta receiver that fails or panics is logged (target `signals_core::dispatch`) and
//!   cannot break the `connect` or disconnect that triggered it, nor keep the other meta
//!   receivers from running. For the same reason they are sent from synchronous code:
//!   an `async` receiver of a meta-signal is never run (it is reported as a failure).
//! * **No rollback.** blinker disconnects a receiver again when a `receiver_connected`
//!   handler raises. Here the connection stands: `Signal::connect` is infallible and
//!   returns its guard, a watcher is an observer and not a gatekeeper, and a failing
//!   observer (a full audit log, say) silently unsubscribing application code would be the
//!   kind of hidden flow this crate avoids. Refuse connections up front instead (e.g. with
//!   a `dispatch_uid`).
//! * They run on the thread that connects or disconnects, after the registry's lock is
//!   released: a meta receiver may itself connect or disconnect receivers (each such
//!   change sends its own meta-signal, so take care not to loop).

use std::any::TypeId;

use crate::engine::dispatch;
use crate::engine::payload::Payload;
use crate::vocab::receiver::ReceiverInfo;

/// Sent after a receiver was connected at runtime.
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct ReceiverConnected<'a> {
    /// The receiver just connected (its name, location, priority, `dispatch_uid`, id).
    pub receiver: &'a ReceiverInfo,
    /// The name of the signal it was connected to (the same as `receiver.signal()`).
    pub signal: &'a str,
}

/// Sent after a runtime receiver was disconnected.
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct ReceiverDisconnected<'a> {
    /// The receiver just disconnected.
    pub receiver: &'a ReceiverInfo,
    /// The name of the signal it was disconnected from (the same as `receiver.signal()`).
    pub signal: &'a str,
    /// How it was disconnected.
    pub cause: DisconnectCause,
}

/// How a runtime receiver was disconnected (see [`ReceiverDisconnected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// Its [`Connection`](crate::Connection) guard was dropped.
    Dropped,
    /// [`Connection::disconnect`](crate::Connection::disconnect) was called.
    Disconnect,
    /// [`Signal::disconnect`](crate::Signal::disconnect) removed it by `dispatch_uid`.
    DispatchUid,
}

/// Sent when a deferred delivery (`on = Commit`, ...) can never run, after it was logged
/// and counted ([`transaction::lost_deliveries`](crate::transaction::lost_deliveries)).
///
/// ```
/// use signals_core::prelude::*;
/// use signals_core::meta::{DeliveryLost, LostReason};
/// use signals_core::transaction::{self, Transaction};
/// use signals_core::{ConnectOptions, Phase};
///
/// #[derive(Signal)]
/// struct Paid<'a> { order: &'a u64 }
///
/// let _alert = <DeliveryLost>::connect(|e: &DeliveryLost<'_>| {
///     eprintln!("lost: {} ({})", e.receiver, e.reason);
/// });
/// let _receipt = Paid::connect_with(ConnectOptions::new().on(Phase::Commit), |_: &Paid<'_>| {})?;
/// let before = transaction::lost_deliveries();
/// let tx = Transaction::begin();
/// tx.run(|| transaction::send_owned::<Paid, _>(7u64, |order: &u64| Paid { order }))?;
/// drop(tx); // neither committed nor rolled back
/// assert_eq!(transaction::lost_deliveries(), before + 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(crate::Signal)]
#[non_exhaustive]
pub struct DeliveryLost<'a> {
    /// The receiver that will not run.
    pub receiver: &'a ReceiverInfo,
    /// Why.
    pub reason: LostReason,
}

pub use crate::vocab::phase::LostReason;

/// Reports a lost delivery (robustly: a failing watcher cannot make things worse).
pub(crate) fn lost(receiver: &ReceiverInfo, reason: LostReason) {
    let _ = dispatch::send_robust(&DeliveryLost { receiver, reason });
}

/// Whether `S` is one of the meta-signals, whose own connections are not reported.
pub(crate) fn is_meta<S: Payload>() -> bool {
    let key = TypeId::of::<S::AnySender>();
    key == TypeId::of::<<ReceiverConnected<'static> as Payload>::AnySender>()
        || key == TypeId::of::<<ReceiverDisconnected<'static> as Payload>::AnySender>()
}

/// Reports a runtime connection.
pub(crate) fn connected(receiver: &ReceiverInfo) {
    let event = ReceiverConnected {
        receiver,
        signal: receiver.signal,
    };
    // Failures are logged by send_robust; they must not undo or fail the connection.
    let _ = dispatch::send_robust(&event);
}

/// Reports a runtime disconnection.
pub(crate) fn disconnected(receiver: &ReceiverInfo, cause: DisconnectCause) {
    let event = ReceiverDisconnected {
        receiver,
        signal: receiver.signal,
        cause,
    };
    let _ = dispatch::send_robust(&event);
}
