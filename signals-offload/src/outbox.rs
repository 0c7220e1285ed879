//! The outbox table, `signals_offload_outbox`: one row per (event, offloaded handler),
//! written in the transaction of the model write, relayed to the broker after the commit.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, Schema};

/// The state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Written, not yet pushed to the broker.
    Pending,
    /// Pushed to the broker (with the row id as idempotency key).
    Relayed,
}

impl Status {
    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Relayed => "relayed",
        }
    }
}

/// An outbox row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signals_offload_outbox")]
pub struct Model {
    /// The delivery id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The Rust type name of the event (for operators; routing uses queue and handler).
    pub signal: String,
    /// The handler's queue.
    pub queue: String,
    /// The handler's name.
    pub handler: String,
    /// Attempts the job gets.
    pub max_attempts: i32,
    /// The event as JSON text.
    pub payload: String,
    /// [`Status::as_str`].
    #[sea_orm(indexed)]
    pub status: String,
    /// Unix seconds when written.
    pub created_at: i64,
    /// Unix seconds when pushed to the broker.
    pub relayed_at: Option<i64>,
}

/// The outbox has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Creates the outbox table (and its status index) if it does not exist.
pub async fn create_table<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let schema = Schema::new(backend);
    let mut table = schema.create_table_from_entity(Entity);
    table.if_not_exists();
    db.execute(&table).await?;
    for mut index in schema.create_index_from_entity(Entity) {
        index.if_not_exists();
        db.execute(&index).await?;
    }
    Ok(())
}

/// Unix seconds now (0 if the clock is before 1970).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
