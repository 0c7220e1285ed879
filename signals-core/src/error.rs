//! Error types.

use crate::receiver::ReceiverInfo;
use crate::signal::BoxError;

/// Why [`Signal::send`](crate::Signal::send) stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A receiver returned an error. The receivers before it ran; the ones after it did not.
    #[error("receiver {receiver} failed")]
    Receiver {
        /// The receiver that failed.
        receiver: ReceiverInfo,
        /// The error it returned.
        #[source]
        source: BoxError,
    },
}

impl SendError {
    /// The receiver that caused the error.
    pub fn receiver(&self) -> &ReceiverInfo {
        match self {
            SendError::Receiver { receiver, .. } => receiver,
        }
    }

    /// The receiver's error, if it is of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            SendError::Receiver { source, .. } => source.downcast_ref::<E>(),
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
    /// The receiver panicked; the panic was caught.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message (`Box<dyn Any>` when the payload is not a string).
        message: String,
    },
}
