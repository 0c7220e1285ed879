//! Runtime connections: [`Signal::connect`](crate::Signal::connect) and its guard.
//!
//! The one import cycle the domain forces: connecting and disconnecting send
//! [`ReceiverConnected`](crate::meta::ReceiverConnected) /
//! [`ReceiverDisconnected`](crate::meta::ReceiverDisconnected) (`meta.rs`), which are
//! signals themselves, and `Signal::connect` comes back here.

use std::any::TypeId;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::payload::Payload;
use crate::engine::store::entry::RuntimeEntry;
use crate::engine::store::erased::{AsyncReceiverClosure, ErasedClosure, ReceiverClosure};
use crate::engine::store::registry::Registry;
use crate::meta::{self, DisconnectCause};
use crate::vocab::family::BoxFuture;
use crate::vocab::family::EventOf;
use crate::vocab::receiver::{ReceiverInfo, ReceiverKind};
use crate::vocab::response::IntoResponse;

/// Options for [`Signal::connect_with`](crate::Signal::connect_with).
///
/// ```
/// use signals_core::ConnectOptions;
/// let options = ConnectOptions::new().priority(10).dispatch_uid("audit").name("audit log");
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ConnectOptions {
    priority: i32,
    dispatch_uid: Option<&'static str>,
    name: Option<&'static str>,
    /// The test scope the receiver belongs to (0: none).
    scope: u64,
    phase: crate::vocab::phase::Phase,
}

impl ConnectOptions {
    /// Default options: priority `0`, no `dispatch_uid`, the closure's type name as name.
    pub fn new() -> Self {
        Self::default()
    }
    /// Higher runs first; default `0`.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
    /// A unique id for this receiver within the signal and sender: connecting a second
    /// receiver with the same id fails with [`ConnectError::DuplicateDispatchUid`], and
    /// [`Signal::disconnect`](crate::Signal::disconnect) removes it by id.
    pub fn dispatch_uid(mut self, uid: &'static str) -> Self {
        self.dispatch_uid = Some(uid);
        self
    }
    /// Restricts the receiver to the sends made inside test scope `scope`.
    #[cfg(feature = "testing")]
    pub(crate) fn scope(mut self, scope: u64) -> Self {
        self.scope = scope;
        self
    }
    /// When the receiver runs relative to the transaction (default
    /// [`Phase::Immediate`](crate::transaction::Phase::Immediate)); see
    /// [`transaction`](crate::transaction).
    pub fn on(mut self, phase: crate::vocab::phase::Phase) -> Self {
        self.phase = phase;
        self
    }
    /// The name shown in logs, errors and listings.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }
    /// `name` unless a name was given (for the derive's sender-inferring `connect`, which
    /// wraps the user's closure: the listed name stays the user's closure's type).
    #[doc(hidden)]
    pub fn __default_name(mut self, name: &'static str) -> Self {
        self.name.get_or_insert(name);
        self
    }
}

/// Why a runtime connection was refused.
#[derive(thiserror::Error)] // Debug: a report, in error.rs
#[non_exhaustive]
pub enum ConnectError {
    /// A receiver with this `dispatch_uid` is already connected for this signal and sender.
    #[error("dispatch_uid `{dispatch_uid}` is already used by {existing}")]
    DuplicateDispatchUid {
        /// The id that was asked for.
        dispatch_uid: &'static str,
        /// The receiver that holds it (left connected; boxed to keep the error small).
        existing: Box<ReceiverInfo>,
    },
}

impl std::fmt::Debug for ConnectError {
    /// `{:?}`: the message (it has no cause); `{:#?}`: the structural dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !f.alternate() {
            return std::fmt::Debug::fmt(&crate::vocab::error::chain(self), f);
        }
        match self {
            ConnectError::DuplicateDispatchUid {
                dispatch_uid,
                existing,
            } => f
                .debug_struct("DuplicateDispatchUid")
                .field("dispatch_uid", dispatch_uid)
                .field("existing", existing)
                .finish(),
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A runtime receiver's connection. Dropping it disconnects the receiver, Rust's answer to
/// Django's weak receivers: a receiver lives exactly as long as its guard, never silently
/// shorter. [`detach`](Connection::detach) keeps it connected for the rest of the process.
///
/// Connecting sends [`ReceiverConnected`](crate::meta::ReceiverConnected), disconnecting
/// [`ReceiverDisconnected`](crate::meta::ReceiverDisconnected) (see [`meta`]).
#[must_use = "dropping a Connection disconnects its receiver at once; call .detach() to keep it"]
pub struct Connection {
    registry: &'static Registry,
    id: u64,
    info: ReceiverInfo,
    armed: bool,
    /// A receiver of a meta-signal: its (dis)connection is not reported.
    quiet: bool,
}

impl Connection {
    /// Disconnects now. Returns whether the receiver was still connected (it may already
    /// have been removed with [`Signal::disconnect`](crate::Signal::disconnect)).
    pub fn disconnect(mut self) -> bool {
        self.armed = false;
        self.remove(DisconnectCause::Disconnect)
    }

    fn remove(&self, cause: DisconnectCause) -> bool {
        let removed = self.registry.remove(self.id);
        if removed && !self.quiet {
            meta::disconnected(&self.info, cause);
        }
        removed
    }

    /// Keeps the receiver connected for the rest of the process.
    pub fn detach(mut self) {
        self.armed = false;
    }

    /// The connected receiver.
    pub fn receiver(&self) -> &ReceiverInfo {
        &self.info
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("receiver", &self.info)
            .field("connected", &self.armed)
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.armed {
            self.remove(DisconnectCause::Dropped);
        }
    }
}

pub(crate) fn connect<S, O, H>(
    options: ConnectOptions,
    handler: H,
    caller: &'static Location<'static>,
) -> Result<Connection, ConnectError>
where
    S: Payload,
    H: for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> O + Send + Sync + 'static,
    O: IntoResponse<S::Response>,
{
    let boxed: Box<ReceiverClosure<S::Family>> =
        Box::new(move |event| handler(event).into_response());
    register::<S, H>(
        options,
        ErasedClosure::new::<S::Family>(boxed),
        false,
        caller,
    )
}

pub(crate) fn connect_async<S, O, H>(
    options: ConnectOptions,
    handler: H,
    caller: &'static Location<'static>,
) -> Result<Connection, ConnectError>
where
    S: Payload,
    H: for<'a, 'b> Fn(&'b EventOf<'a, S::Family>) -> BoxFuture<'b, O> + Send + Sync + 'static,
    O: IntoResponse<S::Response> + 'static,
{
    let boxed: Box<AsyncReceiverClosure<S::Family>> = Box::new(move |event| {
        let future = handler(event);
        Box::pin(async move { future.await.into_response() })
    });
    register::<S, H>(
        options,
        ErasedClosure::new_async::<S::Family>(boxed),
        true,
        caller,
    )
}

fn register<S: Payload, H>(
    options: ConnectOptions,
    call: ErasedClosure,
    is_async: bool,
    caller: &'static Location<'static>,
) -> Result<Connection, ConnectError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let info = ReceiverInfo {
        name: options.name.unwrap_or(std::any::type_name::<H>()),
        module: caller.file(),
        file: caller.file(),
        line: caller.line(),
        priority: options.priority,
        signal: S::NAME,
        sender: S::sender_name(),
        dispatch_uid: options.dispatch_uid,
        kind: ReceiverKind::Dynamic { id },
        is_async,
        phase: options.phase,
        shadowed_by: None,
        when: None,
        offload: None,
    };
    let entry = std::sync::Arc::new(RuntimeEntry::new(info, id, call, options.scope));
    let registry = S::registry();
    match registry.insert(TypeId::of::<S::AnySender>(), S::LINK_TIME, entry) {
        Ok(()) => {
            let quiet = meta::is_meta::<S>();
            if !quiet {
                meta::connected(&info);
            }
            Ok(Connection {
                registry,
                id,
                info,
                armed: true,
                quiet,
            })
        }
        Err((existing, refused)) => {
            // The refused closure is dropped here, outside the registry's lock.
            drop(refused);
            Err(ConnectError::DuplicateDispatchUid {
                dispatch_uid: options.dispatch_uid.unwrap_or_default(),
                existing,
            })
        }
    }
}

/// [`Signal::disconnect`](crate::Signal::disconnect): removes the runtime receiver of `S`
/// (this sender) connected under `uid`, and reports it.
pub(crate) fn disconnect_uid<S: Payload>(uid: &str) -> bool {
    let removed = S::registry().disconnect_uid(TypeId::of::<S::Family>(), uid);
    match removed {
        Some(info) => {
            if !meta::is_meta::<S>() {
                meta::disconnected(&info, DisconnectCause::DispatchUid);
            }
            true
        }
        None => false,
    }
}
