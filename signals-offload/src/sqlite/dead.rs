//! The dead letters of the SQLite broker: the `signals_offload_dead_letters` table, one row
//! per dead delivery, beside apalis' `Jobs` table in the broker file.

use apalis_sqlite::{SqliteConnection, SqlitePool};

use super::{StoredJob, push_job};
use crate::broker::DeadLetter;
use crate::error::BrokerError;
use crate::job::{DeliveryId, Envelope};
use crate::retry::DeadReason;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS signals_offload_dead_letters (
    delivery_id INTEGER PRIMARY KEY NOT NULL,
    queue TEXT NOT NULL,
    handler TEXT NOT NULL,
    max_attempts INTEGER NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    last_error TEXT NOT NULL,
    round INTEGER NOT NULL,
    dead_at INTEGER NOT NULL
)";

/// The columns, in [`Row`] order (a macro, so that the queries stay literal strings).
macro_rules! columns {
    () => {
        "delivery_id, queue, handler, max_attempts, payload, attempts, reason, last_error, round, dead_at"
    };
}

type Row = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
);

pub(super) async fn create_table(pool: &SqlitePool) -> Result<(), BrokerError> {
    sqlx::query(CREATE)
        .execute(pool)
        .await
        .map_err(|err| BrokerError::new("cannot create the dead-letter table", err))?;
    Ok(())
}

/// Stores the dead letter of `envelope` (replacing one of an earlier round: a delivery
/// has one dead letter at most).
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    envelope: &Envelope,
    attempts: u32,
    reason: DeadReason,
    last_error: &str,
    round: u32,
) -> Result<(), BrokerError> {
    let payload = serde_json::to_string(&envelope.payload)
        .map_err(|err| BrokerError::new("a dead letter's payload does not encode", err))?;
    sqlx::query(concat!(
        "INSERT INTO signals_offload_dead_letters (",
        columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (delivery_id) DO UPDATE SET queue = excluded.queue, \
         handler = excluded.handler, max_attempts = excluded.max_attempts, \
         payload = excluded.payload, attempts = excluded.attempts, reason = excluded.reason, \
         last_error = excluded.last_error, round = excluded.round, dead_at = excluded.dead_at \
         WHERE excluded.round >= signals_offload_dead_letters.round"
    ))
    .bind(envelope.delivery_id.0)
    .bind(&envelope.queue)
    .bind(&envelope.handler)
    .bind(i64::from(envelope.max_attempts))
    .bind(payload)
    .bind(i64::from(attempts))
    .bind(reason.as_str())
    .bind(last_error)
    .bind(i64::from(round))
    .bind(crate::outbox::now())
    .execute(&mut *conn)
    .await
    .map_err(|err| BrokerError::new("cannot store a dead letter", err))?;
    Ok(())
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<DeadLetter>, BrokerError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM signals_offload_dead_letters ORDER BY dead_at, delivery_id"
    ))
    .fetch_all(pool)
    .await
    .map_err(|err| BrokerError::new("cannot list dead letters", err))?;
    rows.into_iter().map(decode).collect()
}

/// Moves the dead letter of `delivery_id` back to the queue, in one transaction: its next
/// round's first attempt is queued and the row deleted, or neither.
pub(super) async fn requeue(
    pool: &SqlitePool,
    delivery_id: DeliveryId,
) -> Result<bool, BrokerError> {
    let failed = |err| BrokerError::new("cannot requeue a dead letter", err);
    let mut tx = pool.begin().await.map_err(failed)?;
    // A write first: the transaction holds the write lock from here on.
    let row: Option<Row> = sqlx::query_as(concat!(
        "DELETE FROM signals_offload_dead_letters WHERE delivery_id = ?1 RETURNING ",
        columns!()
    ))
    .bind(delivery_id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(failed)?;
    let Some(row) = row else {
        return Ok(false);
    };
    let letter = decode(row)?;
    let job = StoredJob {
        envelope: letter.envelope,
        attempt: 1,
        round: letter.requeues.saturating_add(1),
        not_before_ms: None,
    };
    push_job(&mut tx, &job).await?;
    tx.commit().await.map_err(failed)?;
    Ok(true)
}

fn decode(row: Row) -> Result<DeadLetter, BrokerError> {
    let (
        delivery_id,
        queue,
        handler,
        max_attempts,
        payload,
        attempts,
        reason,
        last_error,
        round,
        dead_at,
    ) = row;
    let payload = serde_json::from_str(&payload)
        .map_err(|err| BrokerError::new("a dead letter's payload does not decode", err))?;
    let reason = DeadReason::parse(&reason).ok_or_else(|| {
        BrokerError::msg(format!("a dead letter has an unknown reason `{reason}`"))
    })?;
    Ok(DeadLetter {
        envelope: Envelope {
            delivery_id: DeliveryId(delivery_id),
            queue,
            handler,
            max_attempts: u32::try_from(max_attempts).unwrap_or(1).max(1),
            payload,
        },
        attempts: u32::try_from(attempts).unwrap_or(0),
        reason,
        last_error,
        dead_at,
        requeues: u32::try_from(round).unwrap_or(0),
    })
}
