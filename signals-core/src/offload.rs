//! Offloaded receivers: `#[receiver(.., offload = "queue")]` runs a receiver's work on a
//! worker, through a durable outbox, instead of in the send.
//!
//! This module is the ORM- and broker-agnostic half; `signals-offload` is the other half
//! (the outbox table, the relay, the workers). What the attribute declares:
//!
//! ```ignore
//! #[derive(Serialize, Deserialize)]
//! pub struct Welcome { pub user_id: i64, pub email: String }
//!
//! impl From<&PostSave<'_, user::Model>> for Welcome {
//!     fn from(event: &PostSave<'_, user::Model>) -> Self {
//!         Welcome { user_id: event.instance.id, email: event.instance.email.clone() }
//!     }
//! }
//!
//! #[receiver(PostSave, sender = user::Model, offload = "mail", retries = 4)]
//! async fn send_welcome(job: Job<Welcome>) -> Result<(), MailError> {
//!     mailer::send(&job.payload.email, job.delivery_id).await     // runs on a worker
//! }
//! ```
//!
//! 1. **At the send**, an immediate receiver of the signal, written by the macro, converts
//!    the payload into the job's payload type (`From<&Event>`), encodes it ([`OffloadJob`])
//!    and hands it to the installed [`Outbox`] together with the connection the event
//!    lends (a model signal's `db`): `signals-offload` writes one outbox row in the same
//!    database transaction as the model write. A rollback leaves nothing.
//! 2. **After the commit**, the relay moves the row to the broker; a worker decodes it and
//!    calls the function with a `Job<T>` (payload, delivery id, attempt). The worker finds
//!    the function among the [`offloaded`] receivers linked into its binary.
//!
//! No outbox installed at send time is an error of that receiver (never a silent drop).
//! The receiver map and [`ReceiverInfo::offload`](crate::ReceiverInfo::offload) show an
//! offloaded receiver with its queue.

use std::sync::{Arc, Mutex};

use crate::vocab::connection::Connection;
use crate::vocab::family::{BoxError, BoxFuture};

/// The argument type of an offloaded receiver (`signals_offload::Job<T>`): how its payload
/// is encoded for the outbox and decoded on the worker. Implemented by `signals-offload`.
#[diagnostic::on_unimplemented(
    message = "an offloaded receiver takes its job, not the event: `{Self}` is not a job type",
    label = "expected `signals_offload::Job<T>` here",
    note = "write `fn receiver(job: signals_offload::Job<T>)`, with `T: From<&Event> + Serialize + Deserialize`"
)]
pub trait OffloadJob: Sized + Send + 'static {
    /// What the job carries (built from the event with `From<&Event>`).
    type Payload: Send + 'static;
    /// Encodes a payload for the outbox (JSON in `signals-offload`).
    fn encode(payload: &Self::Payload) -> Result<String, BoxError>;
    /// The job a worker hands the receiver: the payload decoded, its delivery id (the outbox
    /// row id, stable across attempts) and the attempt (1 for the first run).
    fn decode(payload: &str, delivery_id: i64, attempt: u32) -> Result<Self, BoxError>;
}

/// An offloaded receiver, as `#[receiver(.., offload = ..)]` declares it.
#[derive(Debug)]
pub struct OffloadedReceiver {
    /// The queue it runs on.
    pub queue: &'static str,
    /// Its name: the function's path (what the outbox row and the worker agree on).
    pub name: &'static str,
    /// How many times it may run before its job is dead-lettered (`retries + 1`).
    pub max_attempts: u32,
    /// The signal whose sends it is offloaded from.
    pub signal: &'static str,
    /// Runs it on a worker: decodes the payload and calls the function.
    pub run: fn(&str, i64, u32) -> BoxFuture<'static, Result<(), BoxError>>,
}

inventory::collect!(OffloadedReceiver);

/// Every offloaded receiver linked into this binary (what a worker can run).
pub fn offloaded() -> impl Iterator<Item = &'static OffloadedReceiver> {
    inventory::iter::<OffloadedReceiver>.into_iter()
}

/// One job on its way into the outbox.
#[derive(Debug)]
pub struct Outbound<'a> {
    /// The receiver it is for.
    pub receiver: &'static OffloadedReceiver,
    /// The encoded payload ([`OffloadJob::encode`]).
    pub payload: String,
    /// The connection the event lends (a model signal's write), if any: writing through it
    /// puts the row in the write's transaction.
    pub db: Option<&'a dyn Connection>,
}

/// Where offloaded jobs are written: `signals-offload` installs its outbox writer with
/// [`install`].
pub trait Outbox: Send + Sync {
    /// Writes the job durably (an outbox row), before the send returns.
    fn write<'a>(&'a self, job: Outbound<'a>) -> BoxFuture<'a, Result<(), BoxError>>;
}

static OUTBOX: Mutex<Option<Arc<dyn Outbox>>> = Mutex::new(None);

/// Installs the outbox offloaded receivers write to (replacing any earlier one).
pub fn install(outbox: Arc<dyn Outbox>) {
    let previous = crate::engine::local::lock(&OUTBOX).replace(outbox);
    drop(previous);
}

/// Removes the installed outbox: offloaded receivers fail until one is installed again.
pub fn uninstall() {
    let previous = crate::engine::local::lock(&OUTBOX).take();
    drop(previous);
}

/// No outbox was installed when an offloaded receiver's event was sent.
#[derive(Debug, thiserror::Error)]
#[error(
    "offloaded receiver {receiver} (queue {queue:?}): no outbox is installed, so the job \
     cannot be written; install one at startup (signals_offload's `Offload::install`)"
)]
pub struct NoOutbox {
    /// The receiver.
    pub receiver: &'static str,
    /// Its queue.
    pub queue: &'static str,
}

/// The generated receiver's body: writes the encoded payload to the outbox.
#[doc(hidden)]
pub async fn enqueue(
    receiver: &'static OffloadedReceiver,
    payload: Result<String, BoxError>,
    db: Option<&dyn Connection>,
) -> Result<(), BoxError> {
    let payload = payload?;
    // Cloned out: the write runs (and awaits) without the lock.
    let outbox = crate::engine::local::lock(&OUTBOX).clone();
    let Some(outbox) = outbox else {
        return Err(Box::new(NoOutbox {
            receiver: receiver.name,
            queue: receiver.queue,
        }));
    };
    outbox
        .write(Outbound {
            receiver,
            payload,
            db,
        })
        .await
}

/// A payload that lends the write's connection (the model signals' `db` field).
#[doc(hidden)]
pub trait HasDb {
    fn lent_db(&self) -> Option<&dyn Connection>;
}

/// Autoref dispatch for the generated code: `(&Lend(event)).lent()` is the event's `db`
/// when its type has one ([`HasDb`]), `None` otherwise.
#[doc(hidden)]
pub struct Lend<'e, E: ?Sized>(pub &'e E);

#[doc(hidden)]
pub trait LendDb<'e> {
    fn lent(&self) -> Option<&'e dyn Connection>;
}

impl<'e, E: ?Sized + HasDb> LendDb<'e> for Lend<'e, E> {
    fn lent(&self) -> Option<&'e dyn Connection> {
        self.0.lent_db()
    }
}

#[doc(hidden)]
pub trait LendNone<'e> {
    fn lent(&self) -> Option<&'e dyn Connection>;
}

impl<'e, E: ?Sized> LendNone<'e> for &Lend<'e, E> {
    fn lent(&self) -> Option<&'e dyn Connection> {
        None
    }
}
