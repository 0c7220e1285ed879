//! What travels through the broker and what a handler receives.

use serde::{Deserialize, Serialize};

/// The stable id of one delivery: the id of its outbox row. The same on every attempt, and
/// the broker's idempotency key, so that a row relayed twice (the relay crashed between the
/// push and marking it done) is queued once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub i64);

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job as the broker stores it: the delivery id, the handler's route and the event as
/// JSON. Brokers treat it as opaque.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The delivery (outbox row) id.
    pub delivery_id: DeliveryId,
    /// The queue the handler was registered on.
    pub queue: String,
    /// The handler's name within its queue.
    pub handler: String,
    /// How many attempts the broker may make before the job is dead.
    pub max_attempts: u32,
    /// The event, serialized.
    pub payload: serde_json::Value,
}

/// The argument of an offloaded handler: the event, with the delivery's stable id and the
/// attempt number (1 for the first run).
#[derive(Debug, Clone, PartialEq)]
pub struct Job<T> {
    /// The event the handler runs for.
    pub payload: T,
    /// The stable delivery id: use it to make the handler's effect idempotent (delivery is
    /// at least once).
    pub delivery_id: DeliveryId,
    /// 1 on the first run, 2 on the first retry, and so on.
    pub attempt: u32,
}
