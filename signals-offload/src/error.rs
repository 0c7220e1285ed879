//! The crate's errors.

use std::error::Error as StdError;

/// An error of the offload machinery (registering, writing the outbox, relaying).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffloadError {
    /// The application database (the outbox) failed.
    #[error("signals_offload: outbox database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// An event or an outbox row's payload could not be (de)serialized as JSON.
    #[error("signals_offload: payload (de)serialization failed: {0}")]
    Json(#[from] serde_json::Error),
    /// The broker refused a push or failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// A handler of this name is already registered on this queue.
    #[error("signals_offload: handler `{queue}/{handler}` is registered twice")]
    DuplicateHandler {
        /// The queue named at registration.
        queue: String,
        /// The handler's name.
        handler: String,
    },
    /// The event type has no offloaded handler: nothing would run it.
    #[error("signals_offload: no offloaded handler is registered for `{0}`")]
    NoHandler(&'static str),
    /// A delivery id that names no outbox or dead-letter row.
    #[error("signals_offload: no delivery with id {0}")]
    UnknownDelivery(i64),
}

/// An error reported by a [`Broker`](crate::Broker) implementation.
#[derive(Debug, thiserror::Error)]
#[error("signals_offload: broker: {message}")]
pub struct BrokerError {
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl BrokerError {
    /// An error with a message and the broker's own error as its source.
    pub fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        BrokerError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// An error with a message only.
    pub fn msg(message: impl Into<String>) -> Self {
        BrokerError {
            message: message.into(),
            source: None,
        }
    }
}

/// Why a job failed on a worker: the handler's error, or a job no handler could run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No handler of this queue and name is registered in the worker's [`Offload`](crate::Offload).
    #[error("unknown receiver `{queue}/{handler}`")]
    UnknownReceiver {
        /// The job's queue.
        queue: String,
        /// The job's handler name.
        handler: String,
    },
    /// The payload does not deserialize into the handler's event type.
    #[error("payload does not match the handler's type: {0}")]
    BadPayload(String),
    /// The handler returned an error (its `Display`).
    #[error("handler failed: {0}")]
    Failed(String),
    /// The handler panicked (the panic message, when it is a string).
    #[error("handler panicked: {0}")]
    Panicked(String),
}

impl JobError {
    /// Whether retrying cannot help: an unknown receiver or a bad payload fails the same
    /// way on every attempt. A handler's error or panic is not permanent.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            JobError::UnknownReceiver { .. } | JobError::BadPayload(_)
        )
    }
}
