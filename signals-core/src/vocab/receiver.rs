//! What the registry knows about each receiver.

use std::cmp::Ordering;
use std::fmt;

/// Whether a receiver was registered at link time or connected at runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReceiverKind {
    /// Declared with `#[receiver]`, registered at link time.
    Static,
    /// Connected at runtime with [`Signal::connect`](crate::Signal::connect); `id` is unique in the process.
    Dynamic {
        /// A process-unique id for this connection.
        id: u64,
    },
}

/// Identity and location of a receiver, as shown in errors, logs and listings.
///
/// `Display` prints `path::to::receiver (file.rs:12)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverInfo {
    pub(crate) name: &'static str,
    pub(crate) module: &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) priority: i32,
    pub(crate) signal: &'static str,
    pub(crate) sender: Option<&'static str>,
    pub(crate) dispatch_uid: Option<&'static str>,
    pub(crate) kind: ReceiverKind,
    pub(crate) is_async: bool,
    pub(crate) phase: crate::vocab::phase::Phase,
    /// See [`ReceiverInfo::shadowed_by`].
    pub(crate) shadowed_by: Option<&'static str>,
    /// See [`ReceiverInfo::when`].
    pub(crate) when: Option<&'static str>,
    /// See [`ReceiverInfo::offload`].
    pub(crate) offload: Option<&'static str>,
}

impl ReceiverInfo {
    /// Full path of the receiver function (`crate::module::function`), or the name given
    /// at connect time (by default the closure's type name).
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// Module path of a `#[receiver]`. For a runtime receiver, the source file of its
    /// `connect` call (Rust reports a caller's file and line, not its module).
    pub fn module(&self) -> &'static str {
        self.module
    }
    /// Source file of the declaration or of the `connect` call.
    pub fn file(&self) -> &'static str {
        self.file
    }
    /// Source line of the declaration or of the `connect` call.
    pub fn line(&self) -> u32 {
        self.line
    }
    /// Priority: higher runs first; default `0`.
    pub fn priority(&self) -> i32 {
        self.priority
    }
    /// Name of the signal it receives.
    pub fn signal(&self) -> &'static str {
        self.signal
    }
    /// Sender type it is filtered to, or `None` for any sender.
    pub fn sender(&self) -> Option<&'static str> {
        self.sender
    }
    /// Its `dispatch_uid`, if one was given.
    pub fn dispatch_uid(&self) -> Option<&'static str> {
        self.dispatch_uid
    }
    /// The predicate of a conditional receiver (`#[receiver(.., when = is_new)]`), as
    /// written: it runs only for the payloads the predicate accepts, and a payload it
    /// rejects counts as not delivered to it.
    pub fn when(&self) -> Option<&'static str> {
        self.when
    }
    /// The queue of an offloaded receiver (`#[receiver(.., offload = "mail")]`): its work
    /// runs on a worker, after the commit, through the outbox (see [`crate::offload`]);
    /// what runs in the send is the outbox write.
    pub fn offload(&self) -> Option<&'static str> {
        self.offload
    }
    /// Link-time or runtime.
    pub fn kind(&self) -> ReceiverKind {
        self.kind
    }
    /// When it runs relative to the transaction (`on = Commit`, ...).
    pub fn phase(&self) -> crate::vocab::phase::Phase {
        self.phase
    }
    /// Whether the receiver is `async` (reachable only through the async sends).
    pub fn is_async(&self) -> bool {
        self.is_async
    }
    /// For a link-time receiver that never runs because an earlier one (in dispatch order)
    /// holds its `dispatch_uid` for the same signal and sender: that receiver's path.
    /// `None` for every receiver that runs.
    ///
    /// Such a receiver is a mistake (two `#[receiver]`s claiming one id, often a copied
    /// attribute), so it is never silent: [`registry::receivers`](crate::registry::receivers)
    /// and the [receiver map](crate::map) list it, [`check`](crate::check) reports it, and
    /// debug builds log an error naming both receivers the first time the signal is used.
    pub fn shadowed_by(&self) -> Option<&'static str> {
        self.shadowed_by
    }
}

impl fmt::Display for ReceiverInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.name, self.file, self.line)
    }
}

/// The one dispatch-order rule: higher `priority` first; on equal priority, link-time
/// receivers before runtime ones; link-time ties by full path, then file and line;
/// runtime ties are left `Equal`, so a stable sort keeps their connection order (which is
/// how the registry inserts them). The order never depends on link order, build profile
/// or platform. Plans, listings and the receiver map all sort with it.
pub(crate) fn dispatch_order(a: &ReceiverInfo, b: &ReceiverInfo) -> Ordering {
    let runtime = |r: &ReceiverInfo| r.kind != ReceiverKind::Static;
    b.priority
        .cmp(&a.priority)
        .then_with(|| runtime(a).cmp(&runtime(b)))
        .then_with(|| match (runtime(a), runtime(b)) {
            (false, false) => (a.name, a.file, a.line).cmp(&(b.name, b.file, b.line)),
            _ => Ordering::Equal,
        })
}
