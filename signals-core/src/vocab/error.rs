//! Error types, and how they print.
//!
//! Every error of this crate (and of `signals-sea-orm`) follows Rust's conventions:
//!
//! * `{}` (`Display`) is the error's own message only; what caused it is
//!   [`source()`](std::error::Error::source), never repeated in the message (so reporters
//!   such as `anyhow` or `eyre`, which walk `source()`, print each cause once).
//! * `{:#}` (alternate `Display`) is the whole chain on one line: the message, then each
//!   cause's, joined by `": "`.
//! * `{:?}` (`Debug`) is a readable report: the message, then `Caused by:` and one cause
//!   per line, as `anyhow` prints its errors. So `fn main() -> Result<(), SendError>`
//!   shows why it failed.
//! * `{:#?}` (alternate `Debug`) is the structural dump (`Receiver { receiver: ..,
//!   source: .. }`), as `#[derive(Debug)]` would print it.
//!
//! [`chain`] does the same for any error, foreign ones included.

use std::error::Error;
use std::fmt;

use crate::vocab::family::BoxError;
use crate::vocab::receiver::ReceiverInfo;

/// Why [`Signal::send`](crate::Signal::send) stopped.
///
/// # Printing
///
/// `{}` is this error alone (`receiver app::sync_to_crm (src/crm.rs:21) failed`); the
/// receiver's own error is its [`source()`](std::error::Error::source). `{:#}` adds every
/// cause, `{:?}` is a report with one cause per line (what `fn main() -> Result<(),
/// SendError>` prints), `{:#?}` the structural dump (see the [module docs](self)).
///
/// ```
/// use signals_core::prelude::*;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("CRM unavailable (HTTP 503)")]
/// struct CrmDown(#[source] std::io::Error);
///
/// #[derive(Signal)]
/// struct UserCreated;
///
/// #[receiver(UserCreated)]
/// fn sync_to_crm(_: &UserCreated) -> Result<(), CrmDown> {
///     Err(CrmDown(std::io::Error::other("connection refused")))
/// }
///
/// let error = UserCreated.send().unwrap_err();
/// let receiver = error.receiver().unwrap().to_string(); // `path (file:line)`
/// assert_eq!(error.to_string(), format!("receiver {receiver} failed"));
/// assert_eq!(
///     format!("{error:#}"),
///     format!("receiver {receiver} failed: CRM unavailable (HTTP 503): connection refused"),
/// );
/// assert_eq!(
///     format!("{error:?}"),
///     format!(
///         "receiver {receiver} failed\n\nCaused by:\n    CRM unavailable (HTTP 503)\n    connection refused"
///     ),
/// );
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A receiver returned an error. The receivers before it ran; the ones after it did not.
    #[error(fmt = receiver_failed)]
    #[non_exhaustive]
    Receiver {
        /// The receiver that failed (boxed to keep `Result<_, SendError>` small).
        receiver: Box<ReceiverInfo>,
        /// The error it returned.
        #[source]
        source: BoxError,
    },
    /// A sync send reached `async` receivers: nothing ran. Send with
    /// [`send_async`](crate::Signal::send_async) instead.
    #[non_exhaustive]
    #[error("{signal} has async receivers, which a sync send cannot run (use send_async): {}", list(.receivers))]
    AsyncReceivers {
        /// The signal.
        signal: &'static str,
        /// The async receivers that would have been reached.
        receivers: Vec<ReceiverInfo>,
    },
    /// A plain `send` inside a transaction reached receivers that wait for its end
    /// (`on = Commit`, ...): nothing ran. Their payload would not outlive the send; send
    /// it with [`transaction::send_owned`](crate::transaction::send_owned) instead (ORM
    /// integrations do).
    #[non_exhaustive]
    #[error("{signal} has receivers that wait for the transaction, which a borrowed send cannot defer (use transaction::send_owned): {}", list(.receivers))]
    NotDeferrable {
        /// The signal.
        signal: &'static str,
        /// The deferred receivers that would have been reached.
        receivers: Vec<ReceiverInfo>,
    },
    /// The signal was sent again from its own receivers (directly or through other
    /// signals) more than its depth limit allows, for one sender: nothing ran at the
    /// deepest level. `chain` lists the receivers that sent it again, outermost first.
    ///
    /// The message walks the loop, each receiver after the signal it received:
    /// `recursion limit 32 reached for X: X → app::a (src/a.rs:3) → Y → app::b
    /// (src/b.rs:7) → X → ... → X`. A chain of more than 16 receivers keeps its first and
    /// last 6, with `… (N more receivers) …` between them; `chain` has them all.
    #[non_exhaustive]
    #[error("recursion limit {limit} reached for {signal}: {}", recursion_path(.signal, .chain))]
    Recursion {
        /// The signal that reached its limit (the innermost send, which ran nothing).
        signal: &'static str,
        /// Its sender type, if any.
        sender: Option<&'static str>,
        /// The limit (`#[signal(max_depth = N)]`, default 32).
        limit: usize,
        /// The receivers that sent the signal again, outermost first; each one's
        /// [`signal`](ReceiverInfo::signal) is the signal it received.
        chain: Vec<ReceiverInfo>,
    },
}

/// `SendError::Receiver`'s message; with `{:#}`, followed by the receiver's error chain.
fn receiver_failed(
    receiver: &ReceiverInfo,
    source: &BoxError,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(f, "receiver {receiver} failed")?;
    causes_if_alternate(&**source, f)
}

/// Under `{:#}`, writes `": cause"` for `cause` and each of its sources; nothing otherwise.
/// For the `Display` of an error whose `source()` is `cause`.
pub(crate) fn causes_if_alternate(
    cause: &(dyn Error + 'static),
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    if f.alternate() {
        for message in Messages::from(cause) {
            write!(f, ": {message}")?;
        }
    }
    Ok(())
}

/// A recursion chain as text: `X → a (file:line) → Y → b (file:line) → X`, each receiver
/// after the signal it received, ending with the signal that reached its limit.
struct RecursionPath<'a> {
    signal: &'a str,
    chain: &'a [ReceiverInfo],
}

fn recursion_path<'a>(signal: &'a str, chain: &'a [ReceiverInfo]) -> RecursionPath<'a> {
    RecursionPath { signal, chain }
}

impl RecursionPath<'_> {
    /// Longer chains are elided in the middle...
    const ELIDE_OVER: usize = 16;
    /// ...keeping this many receivers at each end.
    const KEEP: usize = 6;
}

impl fmt::Display for RecursionPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hop = |f: &mut fmt::Formatter<'_>, r: &ReceiverInfo| write!(f, "{} → {r} → ", r.signal);
        let n = self.chain.len();
        if n > Self::ELIDE_OVER {
            for r in &self.chain[..Self::KEEP] {
                hop(f, r)?;
            }
            write!(f, "… ({} more receivers) … → ", n - 2 * Self::KEEP)?;
            for r in &self.chain[n - Self::KEEP..] {
                hop(f, r)?;
            }
        } else {
            for r in self.chain {
                hop(f, r)?;
            }
        }
        f.write_str(self.signal)
    }
}

fn list(receivers: &[ReceiverInfo]) -> String {
    receivers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SendError {
    /// The receiver that caused the error: the failing receiver, the first async receiver
    /// reached by a sync send, or the outermost receiver of a recursion chain (`None` only
    /// for the deepest recursion error, which no receiver has seen yet).
    pub fn receiver(&self) -> Option<&ReceiverInfo> {
        match self {
            SendError::Receiver { receiver, .. } => Some(receiver),
            SendError::AsyncReceivers { receivers, .. }
            | SendError::NotDeferrable { receivers, .. } => receivers.first(),
            SendError::Recursion { chain, .. } => chain.first(),
        }
    }

    /// The receiver's error, if it is of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            SendError::Receiver { source, .. } => source.downcast_ref::<E>(),
            SendError::AsyncReceivers { .. }
            | SendError::NotDeferrable { .. }
            | SendError::Recursion { .. } => None,
        }
    }

    /// The error for `receiver` failing with `source`: a recursion error coming up from a
    /// nested send (anywhere in `source`'s chain) is extended with `receiver`; anything
    /// else becomes [`SendError::Receiver`].
    pub(crate) fn from_receiver(receiver: &ReceiverInfo, source: BoxError) -> SendError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*source);
        while let Some(error) = cause {
            if let Some(SendError::Recursion {
                signal,
                sender,
                limit,
                chain,
            }) = error.downcast_ref::<SendError>()
            {
                let mut full = Vec::with_capacity(chain.len() + 1);
                full.push(*receiver);
                full.extend_from_slice(chain);
                return SendError::Recursion {
                    signal,
                    sender: *sender,
                    limit: *limit,
                    chain: full,
                };
            }
            cause = error.source();
        }
        SendError::Receiver {
            receiver: Box::new(*receiver),
            source,
        }
    }
}

/// How one receiver failed in [`Signal::send_robust`](crate::Signal::send_robust).
///
/// Prints as the [module docs](self) say; [`Failed`](ReceiverError::Failed) is
/// transparent: its message and `source()` are the receiver's error's own.
#[non_exhaustive]
pub enum ReceiverError {
    /// The receiver returned an error.
    Failed(BoxError),
    /// The receiver is `async` and the send was sync: it did not run. Use
    /// [`send_async_robust`](crate::Signal::send_async_robust).
    AsyncInSyncSend,
    /// The receiver waits for the transaction (`on = Commit`, ...) and the robust send
    /// inside it had a borrowed payload: it was not queued. Use
    /// [`transaction::send_owned`](crate::transaction::send_owned).
    NotDeferred,
    /// The receiver panicked; the panic was caught.
    Panicked {
        /// The panic message (`Box<dyn Any>` when the payload is not a string).
        message: String,
    },
}

// By hand rather than with thiserror: a transparent variant's derived `Display` hands
// `{:#}` to the receiver's error, which (unless it is an `anyhow::Error`) ignores it, so
// the chain would not be printed.
impl fmt::Display for ReceiverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return fmt::Display::fmt(&chain(self), f);
        }
        match self {
            ReceiverError::Failed(error) => fmt::Display::fmt(error, f),
            ReceiverError::AsyncInSyncSend => {
                f.write_str("async receiver not run by a sync send (use send_async_robust)")
            }
            ReceiverError::NotDeferred => f.write_str(
                "deferred receiver not queued: a borrowed send cannot outlive the transaction \
                 (use transaction::send_owned)",
            ),
            ReceiverError::Panicked { message } => write!(f, "panicked: {message}"),
        }
    }
}

impl Error for ReceiverError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ReceiverError::Failed(error) => error.source(),
            ReceiverError::AsyncInSyncSend
            | ReceiverError::NotDeferred
            | ReceiverError::Panicked { .. } => None,
        }
    }
}

impl fmt::Debug for ReceiverError {
    /// `{:?}`: the report (message and causes); `{:#?}`: the structural dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Debug::fmt(&chain(self), f);
        }
        match self {
            ReceiverError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            ReceiverError::AsyncInSyncSend => f.write_str("AsyncInSyncSend"),
            ReceiverError::NotDeferred => f.write_str("NotDeferred"),
            ReceiverError::Panicked { message } => f
                .debug_struct("Panicked")
                .field("message", message)
                .finish(),
        }
    }
}

impl fmt::Debug for SendError {
    /// `{:?}`: the report (message and causes); `{:#?}`: the structural dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Debug::fmt(&chain(self), f);
        }
        match self {
            SendError::Receiver { receiver, source } => f
                .debug_struct("Receiver")
                .field("receiver", receiver)
                .field("source", source)
                .finish(),
            SendError::AsyncReceivers { signal, receivers } => f
                .debug_struct("AsyncReceivers")
                .field("signal", signal)
                .field("receivers", receivers)
                .finish(),
            SendError::NotDeferrable { signal, receivers } => f
                .debug_struct("NotDeferrable")
                .field("signal", signal)
                .field("receivers", receivers)
                .finish(),
            SendError::Recursion {
                signal,
                sender,
                limit,
                chain,
            } => f
                .debug_struct("Recursion")
                .field("signal", signal)
                .field("sender", sender)
                .field("limit", limit)
                .field("chain", chain)
                .finish(),
        }
    }
}

/// Prints `error` with its causes, walking [`source()`](Error::source): `{}` on one line
/// (`message: cause: deeper cause`), `{:?}` as a report with one cause per line:
///
/// ```text
/// receiver app::sync_to_crm (src/crm.rs:21) failed
///
/// Caused by:
///     CRM unavailable (HTTP 503)
///     connection refused
/// ```
///
/// This is what the errors of this crate print with `{:#}` and `{:?}`; use it for any
/// other error, `sea_orm::DbErr` or `std::io::Error` included. A cause whose message the
/// previous one already ends with (`"...: {cause}"`, an error that repeats its source in
/// its own message) is not printed twice. Every line of a multi-line cause is indented.
///
/// ```
/// use signals_core::error::chain;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("CRM unavailable (HTTP 503)")]
/// struct CrmDown(#[source] std::io::Error);
///
/// let error = CrmDown(std::io::Error::other("connection refused"));
/// assert_eq!(error.to_string(), "CRM unavailable (HTTP 503)");
/// assert_eq!(
///     chain(&error).to_string(),
///     "CRM unavailable (HTTP 503): connection refused"
/// );
/// assert_eq!(
///     format!("{:?}", chain(&error)),
///     "CRM unavailable (HTTP 503)\n\nCaused by:\n    connection refused"
/// );
/// ```
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain { error }
}

/// An error and its causes, to print: made by [`chain`].
#[derive(Clone, Copy)]
pub struct Chain<'a> {
    error: &'a (dyn Error + 'static),
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut messages = Messages::from(self.error);
        if let Some(message) = messages.next() {
            f.write_str(&message)?;
        }
        for message in messages {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut messages = Messages::from(self.error);
        if let Some(message) = messages.next() {
            f.write_str(&message)?;
        }
        let mut messages = messages.peekable();
        if messages.peek().is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        for message in messages {
            // Every line of a multi-line message is indented like its first.
            for line in message.lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// The messages of an error and its sources, without one that its predecessor already
/// ends with.
struct Messages<'a> {
    next: Option<&'a (dyn Error + 'static)>,
    previous: Option<String>,
}

impl<'a> From<&'a (dyn Error + 'static)> for Messages<'a> {
    fn from(error: &'a (dyn Error + 'static)) -> Self {
        Messages {
            next: Some(error),
            previous: None,
        }
    }
}

impl Iterator for Messages<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let error = self.next?;
            self.next = error.source();
            let message = error.to_string();
            let repeated = self.previous.as_deref().is_some_and(|previous| {
                previous == message
                    || previous
                        .strip_suffix(message.as_str())
                        .is_some_and(|head| head.ends_with(": "))
            });
            self.previous = Some(message);
            if !repeated {
                return self.previous.clone();
            }
        }
    }
}

/// The error of a receiver that panicked (the panic was caught).
pub(crate) fn panic_error(panic: Box<dyn std::any::Any + Send>) -> ReceiverError {
    ReceiverError::Panicked {
        message: panic_message(&*panic),
    }
}

/// A panic's message (`Box<dyn Any>` when its payload is not a string).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
