//! Offloaded receivers declared with `#[receiver(.., offload = "queue")]`: the job type
//! they take ([`Job`]), the outbox writer their sends use ([`Offload::install`]) and the
//! registry a worker builds from them ([`Offload::linked`]). The ORM- and broker-agnostic
//! half is `signals_core::offload`.
//!
//! ```ignore
//! #[receiver(PostSave, sender = user::Model, offload = "mail", retries = 4)]
//! async fn send_welcome(job: Job<Welcome>) -> Result<(), MailError> { /* on a worker */ }
//!
//! // In the application, once at startup:
//! let offload = Arc::new(Offload::linked());
//! offload.install(db.clone());               // sends write outbox rows through `db`
//! // In a worker (the same binary or another that links the receivers):
//! broker.run_worker(offload.clone(), shutdown).await?;
//! ```

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;
use signals_core::BoxError;
use signals_core::offload::{OffloadJob, OffloadedReceiver, Outbound, Outbox};
use tokio::sync::Notify;

use crate::error::{JobError, OffloadError};
use crate::job::{DeliveryId, Job};
use crate::outbox;
use crate::registry::Offload;

impl<T: Serialize + DeserializeOwned + Send + 'static> OffloadJob for Job<T> {
    type Payload = T;

    fn encode(payload: &T) -> Result<String, BoxError> {
        Ok(serde_json::to_string(payload)?)
    }

    fn decode(payload: &str, delivery_id: i64, attempt: u32) -> Result<Self, BoxError> {
        Ok(Job {
            payload: serde_json::from_str(payload)?,
            delivery_id: DeliveryId(delivery_id),
            attempt,
        })
    }
}

impl Offload {
    /// A registry of every offloaded receiver linked into this binary
    /// (`#[receiver(.., offload = ..)]`), each under its queue and its function's path.
    pub fn linked() -> Offload {
        let mut offload = Offload::new();
        offload
            .add_linked()
            .expect("two #[receiver]s cannot share a path");
        offload
    }

    /// Adds every linked offloaded receiver to this registry; an error if one of them has
    /// the `(queue, name)` of a handler registered by hand.
    pub fn add_linked(&mut self) -> Result<&mut Self, OffloadError> {
        for receiver in signals_core::offload::offloaded() {
            self.register_erased(
                receiver.queue,
                receiver.name,
                receiver.signal,
                Arc::new(
                    move |payload: serde_json::Value, id: DeliveryId, attempt: u32| {
                        run_linked(receiver, &payload.to_string(), id, attempt)
                    },
                ),
            )?;
        }
        Ok(self)
    }

    /// Installs this registry's outbox writer: from now on, a send reaching an offloaded
    /// receiver writes its job to the outbox table of `db`, or through the connection the
    /// event lends (a model signal sent by a SeaORM write, inside or outside a
    /// transaction), so that the row commits or rolls back with that write. The relay is
    /// woken once the `signals_core` transaction commits (or at once when none is active).
    pub fn install(&self, db: DatabaseConnection) {
        signals_core::offload::install(Arc::new(Writer {
            db,
            wake: self.wake(),
        }));
    }
}

/// Runs a linked receiver: a payload that does not decode is dead-lettered at once.
fn run_linked(
    receiver: &'static OffloadedReceiver,
    payload: &str,
    id: DeliveryId,
    attempt: u32,
) -> BoxFuture<'static, Result<(), JobError>> {
    let run = (receiver.run)(payload, id.0, attempt);
    async move {
        run.await
            .map_err(|error| match error.downcast::<serde_json::Error>() {
                Ok(bad) => JobError::BadPayload(bad.to_string()),
                Err(error) => JobError::Failed(signals_core::error::chain(&*error).to_string()),
            })
    }
    .boxed()
}

/// The outbox writer `Offload::install` installs.
struct Writer {
    db: DatabaseConnection,
    wake: Arc<Notify>,
}

impl Outbox for Writer {
    fn write<'a>(&'a self, job: Outbound<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        async move {
            let receiver = job.receiver;
            let id = match job.db {
                Some(lent) => {
                    insert(&signals_sea_orm::Db::new(lent), receiver, job.payload).await?
                }
                None => insert(&self.db, receiver, job.payload).await?,
            };
            // Inside the send's receiver span: the job's own span (on the worker) carries
            // the same delivery id.
            tracing::debug!(
                target: "signals_offload",
                delivery_id = id.0,
                queue = receiver.queue,
                receiver = receiver.name,
                in_transaction = job.db.is_some(),
                "job written to the outbox"
            );
            crate::wake::after_commit(self.wake.clone());
            Ok(())
        }
        .boxed()
    }
}

/// Writes the outbox row of one job.
async fn insert<C: ConnectionTrait>(
    conn: &C,
    receiver: &OffloadedReceiver,
    payload: String,
) -> Result<DeliveryId, DbErr> {
    let row = outbox::ActiveModel {
        signal: Set(receiver.signal.to_owned()),
        queue: Set(receiver.queue.to_owned()),
        handler: Set(receiver.name.to_owned()),
        max_attempts: Set(receiver.max_attempts as i32),
        payload: Set(payload),
        status: Set(outbox::Status::Pending.as_str().to_owned()),
        created_at: Set(outbox::now()),
        relayed_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(DeliveryId(row.id))
}
