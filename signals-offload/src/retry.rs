//! The retry policy: what becomes of a job after one attempt. The crate decides it, not the
//! job queue, so that every [`Broker`](crate::Broker) retries, backs off and dead-letters
//! the same way.
//!
//! One attempt of a delivery ends in one [`Outcome`]:
//!
//! ```text
//!  handler Ok ───────────────────────────────────────────────► Done
//!  handler Err / panic, attempt < max_attempts ──────────────► Retry { next_attempt, delay }
//!  handler Err / panic, attempt = max_attempts ──────────────► Dead (Exhausted)
//!  unknown receiver, payload of the wrong type (any attempt) ► Dead (Permanent)
//! ```
//!
//! The broker stores the retry as a new job due `delay` from now (no job is kept spinning
//! or sleeping), or the dead letter in its own table; see [`Broker`](crate::Broker).

use std::time::Duration;

use crate::error::JobError;

/// The delay before a retry: `base * 2^(attempt - 2)` before attempt `attempt` (so `base`
/// before the first retry), at most `max`. No jitter is added.
///
/// The delay is a lower bound: the retry is due `delay` after the failed attempt ended and
/// runs at the first fetch of a worker after that (within the worker's poll interval when
/// one is idle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s, doubling up to 60 s.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before running `attempt` (none for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(attempt - 2).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Why a job was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadReason {
    /// Its last allowed attempt failed.
    Exhausted,
    /// It can never run: no handler of its name in the worker, or a payload the handler's
    /// event type does not decode. Dead-lettered on the first attempt, never retried.
    Permanent,
}

impl DeadReason {
    /// The value brokers store (`"exhausted"`, `"permanent"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::Exhausted => "exhausted",
            DeadReason::Permanent => "permanent",
        }
    }

    /// The reason [`as_str`](DeadReason::as_str) wrote, if `value` is one.
    pub fn parse(value: &str) -> Option<DeadReason> {
        match value {
            "exhausted" => Some(DeadReason::Exhausted),
            "permanent" => Some(DeadReason::Permanent),
            _ => None,
        }
    }
}

impl std::fmt::Display for DeadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What becomes of a delivery after one attempt ([`Offload::run_attempt`](crate::Offload::run_attempt)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler succeeded: the delivery is done.
    Done,
    /// The attempt failed and attempts are left: run `next_attempt` once `delay` has
    /// passed.
    Retry {
        /// The number of the next attempt.
        next_attempt: u32,
        /// How long to wait before it ([`Backoff::delay`]).
        delay: Duration,
        /// Why this attempt failed.
        error: JobError,
    },
    /// The delivery is dead: keep it as a dead letter with `error` as its last error.
    Dead {
        /// How many attempts it had, this one included.
        attempts: u32,
        /// Why it is dead.
        reason: DeadReason,
        /// The last attempt's error.
        error: JobError,
    },
}

/// The outcome of attempt `attempt` (from 1) of a job allowed `max_attempts` attempts.
pub(crate) fn decide(
    result: Result<(), JobError>,
    attempt: u32,
    max_attempts: u32,
    backoff: &Backoff,
) -> Outcome {
    let error = match result {
        Ok(()) => return Outcome::Done,
        Err(error) => error,
    };
    let attempt = attempt.max(1);
    if error.is_permanent() {
        Outcome::Dead {
            attempts: attempt,
            reason: DeadReason::Permanent,
            error,
        }
    } else if attempt >= max_attempts.max(1) {
        Outcome::Dead {
            attempts: attempt,
            reason: DeadReason::Exhausted,
            error,
        }
    } else {
        let next_attempt = attempt + 1;
        Outcome::Retry {
            next_attempt,
            delay: backoff.delay(next_attempt),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_from_base_up_to_max() {
        let backoff = Backoff {
            base: 100 * MS,
            max: 450 * MS,
        };
        let delays: Vec<_> = (1..=6).map(|attempt| backoff.delay(attempt)).collect();
        assert_eq!(
            delays,
            vec![
                Duration::ZERO,
                100 * MS,
                200 * MS,
                400 * MS,
                450 * MS,
                450 * MS
            ]
        );
        assert_eq!(backoff.delay(0), Duration::ZERO);
        // No overflow on absurd attempt numbers: the cap holds.
        assert_eq!(backoff.delay(40), 450 * MS);
        assert_eq!(backoff.delay(u32::MAX), 450 * MS);
    }

    #[test]
    fn failures_retry_until_the_last_attempt_then_die_exhausted() {
        let backoff = Backoff {
            base: 10 * MS,
            max: Duration::from_secs(1),
        };
        let failed = || Err(JobError::Failed("boom".into()));
        assert_eq!(decide(Ok(()), 1, 3, &backoff), Outcome::Done);
        assert_eq!(
            decide(failed(), 1, 3, &backoff),
            Outcome::Retry {
                next_attempt: 2,
                delay: 10 * MS,
                error: JobError::Failed("boom".into())
            }
        );
        assert_eq!(
            decide(failed(), 2, 3, &backoff),
            Outcome::Retry {
                next_attempt: 3,
                delay: 20 * MS,
                error: JobError::Failed("boom".into())
            }
        );
        assert_eq!(
            decide(failed(), 3, 3, &backoff),
            Outcome::Dead {
                attempts: 3,
                reason: DeadReason::Exhausted,
                error: JobError::Failed("boom".into())
            }
        );
        // A single attempt allowed: dead at once.
        assert!(matches!(
            decide(failed(), 1, 1, &backoff),
            Outcome::Dead {
                reason: DeadReason::Exhausted,
                ..
            }
        ));
        // A panic is retried like an error.
        assert!(matches!(
            decide(Err(JobError::Panicked("x".into())), 1, 2, &backoff),
            Outcome::Retry {
                next_attempt: 2,
                ..
            }
        ));
    }

    #[test]
    fn unknown_receiver_and_bad_payload_die_on_the_first_attempt() {
        let unknown = JobError::UnknownReceiver {
            queue: "q".into(),
            handler: "h".into(),
        };
        assert_eq!(
            decide(Err(unknown.clone()), 1, 5, &Backoff::default()),
            Outcome::Dead {
                attempts: 1,
                reason: DeadReason::Permanent,
                error: unknown
            }
        );
        assert!(matches!(
            decide(
                Err(JobError::BadPayload("x".into())),
                1,
                5,
                &Backoff::default()
            ),
            Outcome::Dead {
                attempts: 1,
                reason: DeadReason::Permanent,
                ..
            }
        ));
    }

    #[test]
    fn dead_reason_round_trips_through_its_stored_form() {
        for reason in [DeadReason::Exhausted, DeadReason::Permanent] {
            assert_eq!(DeadReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(DeadReason::parse("Killed"), None);
    }
}
