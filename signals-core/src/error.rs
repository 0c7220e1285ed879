//! Error types.

use crate::receiver::ReceiverInfo;
use crate::signal::BoxError;

/// Why [`Signal::send`](crate::Signal::send) stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A receiver returned an error. The receivers before it ran; the ones after it did not.
    #[error("receiver {receiver} failed")]
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
    #[non_exhaustive]
    #[error("recursion limit {limit} reached for {signal}: {}", render_chain(.signal, .chain))]
    Recursion {
        /// The signal.
        signal: &'static str,
        /// Its sender type, if any.
        sender: Option<&'static str>,
        /// The limit (`#[signal(max_depth = N)]`, default 32).
        limit: usize,
        /// The receivers that sent the signal again, outermost first.
        chain: Vec<ReceiverInfo>,
    },
}

fn render_chain(signal: &str, receivers: &[ReceiverInfo]) -> String {
    let mut text = String::new();
    for r in receivers {
        text.push_str(&format!("{signal} → {r} → "));
    }
    text.push_str(signal);
    text
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// The receiver returned an error.
    #[error(transparent)]
    Failed(BoxError),
    /// The receiver is `async` and the send was sync: it did not run. Use
    /// [`send_async_robust`](crate::Signal::send_async_robust).
    #[error("async receiver not run by a sync send (use send_async_robust)")]
    AsyncInSyncSend,
    /// The receiver waits for the transaction (`on = Commit`, ...) and the robust send
    /// inside it had a borrowed payload: it was not queued. Use
    /// [`transaction::send_owned`](crate::transaction::send_owned).
    #[error(
        "deferred receiver not queued: a borrowed send cannot outlive the transaction (use transaction::send_owned)"
    )]
    NotDeferred,
    /// The receiver panicked; the panic was caught.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message (`Box<dyn Any>` when the payload is not a string).
        message: String,
    },
}
