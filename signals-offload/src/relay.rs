//! The relay: pushes committed outbox rows to the broker and marks them relayed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::broker::Broker;
use crate::error::OffloadError;
use crate::job::{DeliveryId, Envelope};
use crate::outbox::{self, Status};
use crate::registry::Offload;

/// How many rows one relay pass reads at a time.
const BATCH: u64 = 256;

/// How long [`Relay::run`] waits after a wake-up before its pass, unless
/// [`Relay::linger`] says otherwise: 20 ms, a fiftieth of the workers' default poll
/// interval ([`DEFAULT_POLL_INTERVAL`](crate::DEFAULT_POLL_INTERVAL), which bounds the
/// latency anyway). Chosen on `benches/throughput.rs` (docs/PERFORMANCE.md): on
/// PostgreSQL with one producer, 0 ms gave ~1090 jobs/s, 20 ms ~1330.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

/// Moves committed outbox rows to a [`Broker`].
///
/// A row is pushed with its id as the idempotency key, then marked relayed (a batch of
/// rows at a time: one broker transaction, one `UPDATE`). A crash
/// between the two leaves it pending: the next pass (at the next start, say) pushes it
/// again and the broker ignores the duplicate, so a delivery is neither lost nor queued
/// twice.
///
/// Woken by a commit, [`run`](Relay::run) first lingers ([`linger`](Relay::linger),
/// [`DEFAULT_LINGER`]) so that the commits arriving meanwhile go in the same pass.
pub struct Relay<C> {
    db: C,
    broker: Arc<dyn Broker>,
    wake: Arc<tokio::sync::Notify>,
    linger: Duration,
}

impl<C> std::fmt::Debug for Relay<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl<C: ConnectionTrait + Send + Sync> Relay<C> {
    /// A relay reading the outbox through `db` (the application's database, not a
    /// transaction) and pushing to `broker`; woken by `offload`'s writes.
    pub fn new(db: C, broker: Arc<dyn Broker>, offload: &Offload) -> Relay<C> {
        Relay {
            db,
            broker,
            wake: offload.wake(),
            linger: DEFAULT_LINGER,
        }
    }

    /// Sets how long [`run`](Relay::run) waits after a wake-up before it reads the outbox
    /// ([`DEFAULT_LINGER`] by default; `Duration::ZERO`: a pass at once), as Kafka's
    /// `linger.ms`: the rows committed during the wait go in the same pass.
    ///
    /// The trade-off: a pass costs a few statements whatever its size (a `SELECT`, one
    /// broker transaction, an `UPDATE`), so under a steady stream of commits a longer
    /// linger means fewer, larger passes, less work per job and more jobs per second for
    /// the same CPU; but each job reaches the broker up to `linger` later (a lone commit
    /// waits the whole linger). Keep it well below the workers' poll interval, which
    /// bounds the latency anyway. The startup sweep and the interval sweeps do not
    /// linger.
    pub fn linger(mut self, linger: Duration) -> Relay<C> {
        self.linger = linger;
        self
    }

    /// One pass: pushes every pending row, oldest first, a batch of up to 256 rows at a time
    /// ([`Broker::push_batch`]: one broker transaction), and marks each batch relayed in
    /// one `UPDATE`; a batch of fewer than 256 rows was the last (the pass does not read
    /// the outbox again: a row committed since then wakes the next pass). Returns
    /// how many rows it relayed. Run it at startup (the sweep of rows a crash left
    /// pending); [`run`](Relay::run) does.
    pub async fn relay_pending(&self) -> Result<usize, OffloadError> {
        let mut relayed = 0;
        loop {
            let rows = outbox::Entity::find()
                .filter(outbox::Column::Status.eq(Status::Pending.as_str()))
                .order_by_asc(outbox::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            if rows.is_empty() {
                return Ok(relayed);
            }
            // Fewer rows than asked for: every row committed before the SELECT is in
            // this batch. One committed after it woke the relay after its commit (or is
            // left to the next interval sweep), so no second SELECT to find it empty.
            let last = (rows.len() as u64) < BATCH;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let envelopes = rows
                .into_iter()
                .map(|row| {
                    Ok(Envelope {
                        delivery_id: DeliveryId(row.id),
                        queue: row.queue,
                        handler: row.handler,
                        max_attempts: u32::try_from(row.max_attempts).unwrap_or(1).max(1),
                        payload: serde_json::from_str(&row.payload)?,
                    })
                })
                .collect::<Result<Vec<_>, OffloadError>>()?;
            // The batch in one broker transaction, then marked relayed in one UPDATE: a
            // crash between the two leaves the rows pending, pushed again and ignored.
            self.broker.push_batch(&envelopes).await?;
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::Status,
                    Expr::value(Status::Relayed.as_str()),
                )
                .col_expr(outbox::Column::RelayedAt, Expr::value(outbox::now()))
                .filter(outbox::Column::Id.is_in(ids))
                .exec(&self.db)
                .await?;
            relayed += envelopes.len();
            if last {
                return Ok(relayed);
            }
        }
    }

    /// Relays until `shutdown` completes: a sweep at once, then a pass whenever a
    /// transaction that wrote the outbox commits (after the [`linger`](Relay::linger)),
    /// and every `interval` in any case. A failed pass is logged and retried at the next
    /// wake-up or interval.
    pub async fn run(&self, interval: Duration, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            if let Err(err) = self.relay_pending().await {
                tracing::warn!(target: "signals_offload", %err, "relay pass failed; retrying");
            }
            let woken = tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => true,
                () = tokio::time::sleep(interval) => false,
            };
            if woken && !self.linger.is_zero() {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(self.linger) => {}
                }
            }
            // The commits of the linger (or since the last pass) left a wake-up each; the
            // pass about to start reads their rows, so consume it (a commit after this
            // point leaves one for the next pass). Consumed before the pass's SELECT, never
            // after: a wake-up is only dropped for a row already committed.
            let _ = self.wake.notified().now_or_never();
        }
    }
}
