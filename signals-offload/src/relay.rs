//! The relay: pushes committed outbox rows to the broker and marks them relayed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::broker::Broker;
use crate::error::OffloadError;
use crate::job::{DeliveryId, Envelope};
use crate::outbox::{self, Status};
use crate::registry::Offload;

/// How many rows one relay pass reads at a time.
const BATCH: u64 = 256;

/// Moves committed outbox rows to a [`Broker`].
///
/// A row is pushed with its id as the idempotency key, then marked relayed (a batch of
/// rows at a time: one broker transaction, one `UPDATE`). A crash
/// between the two leaves it pending: the next pass (at the next start, say) pushes it
/// again and the broker ignores the duplicate, so a delivery is neither lost nor queued
/// twice.
pub struct Relay<C> {
    db: C,
    broker: Arc<dyn Broker>,
    wake: Arc<tokio::sync::Notify>,
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
        }
    }

    /// One pass: pushes every pending row, oldest first, a batch of up to 256 rows at a time
    /// ([`Broker::push_batch`]: one broker transaction), and marks each batch relayed in
    /// one `UPDATE`. Returns
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
        }
    }

    /// Relays until `shutdown` completes: a sweep at once, then a pass whenever a
    /// transaction that wrote the outbox commits, and every `interval` in any case. A
    /// failed pass is logged and retried at the next wake-up or interval.
    pub async fn run(&self, interval: Duration, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            if let Err(err) = self.relay_pending().await {
                tracing::warn!(target: "signals_offload", %err, "relay pass failed; retrying");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
