//! One attempt of a delivery as a job store keeps it, its key, and the clock it is due by.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::job::Envelope;

/// One attempt of a delivery, as an apalis job stores it. A job queued by a version of the
/// crate that stored the bare envelope reads as attempt 1 of round 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredJob {
    #[serde(flatten)]
    pub(crate) envelope: Envelope,
    #[serde(default = "first_attempt")]
    pub(crate) attempt: u32,
    /// How many times the delivery was requeued from the dead letters before this round.
    #[serde(default)]
    pub(crate) round: u32,
    /// Unix milliseconds before which the attempt must not run (the backoff's due time;
    /// apalis' `run_at` has whole seconds).
    #[serde(default)]
    pub(crate) not_before_ms: Option<u64>,
}

fn first_attempt() -> u32 {
    1
}

impl StoredJob {
    /// The first attempt of a delivery's first round (what the relay pushes).
    pub(crate) fn first(envelope: Envelope) -> StoredJob {
        StoredJob {
            envelope,
            attempt: 1,
            round: 0,
            not_before_ms: None,
        }
    }

    /// The job's idempotency key, unique in the queue: `"{id}"` for the first attempt
    /// (what a push dedups the relay on), `"{id}/{round}/{attempt}"` for the others.
    pub(crate) fn key(&self) -> String {
        let id = self.envelope.delivery_id;
        if self.attempt <= 1 && self.round == 0 {
            id.to_string()
        } else {
            format!("{id}/{}/{}", self.round, self.attempt)
        }
    }

    /// Its JSON form, the apalis job's arguments.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, crate::error::BrokerError> {
        serde_json::to_vec(self)
            .map_err(|err| crate::error::BrokerError::new("a job does not encode as JSON", err))
    }

    /// apalis' `run_at` for it: the whole second it is due in (now when not delayed).
    pub(crate) fn run_at_secs(&self) -> u64 {
        self.not_before_ms.unwrap_or_else(now_ms) / 1000
    }
}

/// How long an attempt due at `not_before_ms` (Unix milliseconds) must still wait: apalis
/// hands it out within the second it is due, so at most a second (a clock that moved back
/// does not hold a job longer).
pub(crate) fn due_wait(not_before_ms: u64) -> Duration {
    Duration::from_millis(not_before_ms.saturating_sub(now_ms())).min(Duration::from_secs(1))
}

/// Unix milliseconds now, rounded down (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds `delay` from now, rounded up: waiting until [`now_ms`] reaches it
/// waits at least `delay`.
pub(crate) fn due_ms(delay: Duration) -> u64 {
    let due = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .saturating_add(delay);
    let ms = due.as_millis() + u128::from(!due.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}
