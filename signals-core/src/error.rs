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
}

fn list(receivers: &[ReceiverInfo]) -> String {
    receivers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SendError {
    /// The receiver that caused the error.
    ///
    /// For [`SendError::AsyncReceivers`], the first async receiver.
    pub fn receiver(&self) -> &ReceiverInfo {
        match self {
            SendError::Receiver { receiver, .. } => receiver,
            SendError::AsyncReceivers { receivers, .. } => &receivers[0],
        }
    }

    /// The receiver's error, if it is of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            SendError::Receiver { source, .. } => source.downcast_ref::<E>(),
            SendError::AsyncReceivers { .. } => None,
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
    /// The receiver panicked; the panic was caught.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message (`Box<dyn Any>` when the payload is not a string).
        message: String,
    },
}
