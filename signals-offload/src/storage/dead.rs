//! The dead letters: the `signals_offload_dead_letters` table, one row per dead delivery,
//! beside apalis' jobs in the broker's database. One SQL text serves SQLite and PostgreSQL
//! (`$n` parameters, `ON CONFLICT`, `RETURNING`); the functions are generic over the sqlx
//! database, and each [`Storage`]'s database is a [`DeadLetterSql`].

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, TryFutureExt};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::{Storage, StoredJob};
use crate::broker::DeadLetter;
use crate::error::BrokerError;
use crate::job::{DeliveryId, Envelope};
use crate::retry::DeadReason;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS signals_offload_dead_letters (
    delivery_id BIGINT PRIMARY KEY NOT NULL,
    queue TEXT NOT NULL,
    handler TEXT NOT NULL,
    max_attempts BIGINT NOT NULL,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    reason TEXT NOT NULL,
    last_error TEXT NOT NULL,
    round BIGINT NOT NULL,
    dead_at BIGINT NOT NULL
)";

/// The columns, in [`Row`] order (a macro, so that the queries stay literal strings).
macro_rules! columns {
    () => {
        "delivery_id, queue, handler, max_attempts, payload, attempts, reason, last_error, round, dead_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO signals_offload_dead_letters (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (delivery_id) DO UPDATE SET queue = excluded.queue, \
     handler = excluded.handler, max_attempts = excluded.max_attempts, \
     payload = excluded.payload, attempts = excluded.attempts, reason = excluded.reason, \
     last_error = excluded.last_error, round = excluded.round, dead_at = excluded.dead_at \
     WHERE excluded.round >= signals_offload_dead_letters.round"
);

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM signals_offload_dead_letters ORDER BY dead_at, delivery_id"
);

const TAKE: &str = concat!(
    "DELETE FROM signals_offload_dead_letters WHERE delivery_id = $1 RETURNING ",
    columns!()
);

/// A dead letter as stored: delivery id, queue, handler, max attempts, payload (JSON),
/// attempts, reason, last error, round (its requeues), dead at (Unix seconds).
pub(crate) type Row = (
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

/// The table's statements, on every sqlx database that binds and decodes its columns
/// (SQLite and PostgreSQL): a [`Storage`]'s `Db` is one.
pub(crate) trait DeadLetterSql: Database {
    fn create(conn: &mut Self::Connection) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Stores `row` (replacing the dead letter of an earlier round: a delivery has one dead
    /// letter at most).
    fn insert(conn: &mut Self::Connection, row: Row) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Deletes and returns the dead letter of `id`.
    fn take(
        conn: &mut Self::Connection,
        id: DeliveryId,
    ) -> BoxFuture<'_, Result<Option<Row>, BrokerError>>;

    /// Every dead letter, oldest first.
    fn list(conn: &mut Self::Connection) -> BoxFuture<'_, Result<Vec<Row>, BrokerError>>;
}

impl<DB> DeadLetterSql for DB
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> Row: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
{
    fn create(conn: &mut DB::Connection) -> BoxFuture<'_, Result<(), BrokerError>> {
        async move {
            sqlx::query::<DB>(CREATE)
                .execute(conn)
                .await
                .map_err(|err| BrokerError::new("cannot create the dead-letter table", err))?;
            Ok(())
        }
        .boxed()
    }

    fn insert(conn: &mut DB::Connection, row: Row) -> BoxFuture<'_, Result<(), BrokerError>> {
        async move {
            sqlx::query::<DB>(INSERT)
                .bind(row.0)
                .bind(row.1)
                .bind(row.2)
                .bind(row.3)
                .bind(row.4)
                .bind(row.5)
                .bind(row.6)
                .bind(row.7)
                .bind(row.8)
                .bind(row.9)
                .execute(conn)
                .await
                .map_err(|err| BrokerError::new("cannot store a dead letter", err))?;
            Ok(())
        }
        .boxed()
    }

    fn take(
        conn: &mut DB::Connection,
        id: DeliveryId,
    ) -> BoxFuture<'_, Result<Option<Row>, BrokerError>> {
        sqlx::query_as::<DB, Row>(TAKE)
            .bind(id.0)
            .fetch_optional(conn)
            .map_err(|err| BrokerError::new("cannot requeue a dead letter", err))
            .boxed()
    }

    fn list(conn: &mut DB::Connection) -> BoxFuture<'_, Result<Vec<Row>, BrokerError>> {
        sqlx::query_as::<DB, Row>(LIST)
            .fetch_all(conn)
            .map_err(|err| BrokerError::new("cannot list dead letters", err))
            .boxed()
    }
}

/// The row of the dead letter of `job`'s delivery: `attempts` attempts in its round,
/// `reason`, `last_error`.
pub(crate) fn row(
    job: &StoredJob,
    attempts: u32,
    reason: DeadReason,
    last_error: &str,
) -> Result<Row, BrokerError> {
    let envelope = &job.envelope;
    let payload = serde_json::to_string(&envelope.payload)
        .map_err(|err| BrokerError::new("a dead letter's payload does not encode", err))?;
    Ok((
        envelope.delivery_id.0,
        envelope.queue.clone(),
        envelope.handler.clone(),
        i64::from(envelope.max_attempts),
        payload,
        i64::from(attempts),
        reason.as_str().to_owned(),
        last_error.to_owned(),
        i64::from(job.round),
        crate::outbox::now(),
    ))
}

/// [`Broker::dead_letters`](crate::Broker::dead_letters).
pub(crate) async fn list<S: Storage>(storage: &S) -> Result<Vec<DeadLetter>, BrokerError> {
    let mut conn = storage
        .pool()
        .acquire()
        .await
        .map_err(|err| BrokerError::new("cannot list dead letters", err))?;
    S::Db::list(&mut conn)
        .await?
        .into_iter()
        .map(decode)
        .collect()
}

/// [`Broker::requeue`](crate::Broker::requeue): moves the dead letter of `delivery_id`
/// back to the queue, in one transaction: its next round's first attempt is queued and the
/// row deleted, or neither.
pub(crate) async fn requeue<S: Storage>(
    storage: &S,
    delivery_id: DeliveryId,
) -> Result<bool, BrokerError> {
    let failed = |err| BrokerError::new("cannot requeue a dead letter", err);
    let mut tx = storage.pool().begin().await.map_err(failed)?;
    // A write first: the transaction holds the row (SQLite: the write lock) from here on.
    let Some(row) = S::Db::take(&mut tx, delivery_id).await? else {
        return Ok(false);
    };
    let letter = decode(row)?;
    let job = StoredJob {
        envelope: letter.envelope,
        attempt: 1,
        round: letter.requeues.saturating_add(1),
        not_before_ms: None,
    };
    S::push_job(&mut tx, &job).await?;
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
