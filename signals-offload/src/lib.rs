//! Durable offload of signal receivers: a receiver's work runs on a worker, at least once,
//! and is never lost to a crash, Celery-style, with a transactional outbox.
//!
//! # Design
//!
//! ```text
//!  business transaction            after commit / at startup         worker process(es)
//! ┌──────────────────────┐        ┌───────────────────────┐        ┌──────────────────┐
//! │ INSERT user          │ commit │ Relay                 │  push  │ Broker (apalis)  │
//! │ INSERT outbox rows ──┼───────►│ pending rows ─────────┼───────►│ job ─► handler   │
//! │ (one per handler)    │        │ mark relayed          │ id key │ retry, dead      │
//! └──────────────────────┘        └───────────────────────┘        └──────────────────┘
//! ```
//!
//! The anchor is Spring Modulith's Event Publication Registry: publications are stored in
//! the business transaction, completed once handed on, resubmitted at restart.
//!
//! 1. **Outbox.** [`Offload::enqueue`] writes one row of the `signals_offload_outbox` table
//!    ([`outbox`]) per (event, offloaded handler), through the connection the model write
//!    used: inside `signals_sea_orm::transaction` the rows commit or roll back with the
//!    model. A rollback leaves nothing; outside a transaction the rows are written at once.
//! 2. **Relay.** [`Relay`] pushes pending rows to the [`Broker`] with the row id as
//!    idempotency key and marks them relayed. It is woken after the commit (an
//!    `on = Commit` receiver of the crate's own signal, through the `signals_core`
//!    transaction queue), sweeps on an interval, and sweeps at startup: a row committed by
//!    a process killed before it pushed is relayed at the next start. Woken, it lingers a
//!    moment first ([`Relay::linger`], [`DEFAULT_LINGER`]) so that the commits arriving
//!    meanwhile share one pass (one `SELECT`, one broker transaction, one `UPDATE`).
//! 3. **Broker.** A small trait of this crate ([`Broker`]), so that apalis' API stays
//!    behind it. [`SqliteBroker`] (apalis-sqlite, its own SQLite file) is the embedded
//!    default; `PostgresBroker` (feature `postgres`, apalis-postgres) is for workers on
//!    many machines (see [Choosing a broker](#choosing-a-broker)). Both are an apalis
//!    storage's schema and queries under the crate's own worker loop (apalis' `Worker`
//!    froze its open transactions while shutting down, and could miss its poll timer).
//! 4. **Worker.** [`Broker::run_worker`] runs jobs with the handlers registered in an
//!    [`Offload`]; a handler gets a [`Job`]: the payload, the stable [`DeliveryId`] (the
//!    outbox row id) and the attempt number. Delivery is at least once: use the delivery
//!    id to make effects idempotent.
//! 5. **Retries and dead letters.** The crate enforces attempts itself, the same on every
//!    broker ([`Offload::run_attempt`] returns the [`Outcome`]; the job queue's own retry
//!    is not used): a failed or panicking attempt is stored again as a new job due after
//!    [`Backoff::delay`], with the next attempt number; after the last allowed attempt
//!    (`max_attempts`, [`Offload::register_with`]) the delivery becomes a [`DeadLetter`]
//!    with its last error. A job naming a receiver this worker does not
//!    have, or whose payload does not decode, is dead at once ([`DeadReason::Permanent`]),
//!    never dropped nor retried. [`Broker::dead_letters`] lists them,
//!    [`Broker::requeue`] gives one a fresh round of attempts; the `dead_letters`
//!    example is a small CLI over both.
//! 6. **Shutdown.** A worker stops when its shutdown future completes ([`Shutdown`]): it
//!    fetches nothing more, lets the jobs in flight finish (each stores its outcome), and
//!    returns. A worker fetches only as many jobs as it has free slots
//!    ([`SqliteBroker::with_concurrency`]), so no fetched job waits in it.
//!
//! # Choosing a broker
//!
//! | | [`SqliteBroker`] (default) | `PostgresBroker` (feature `postgres`) |
//! |---|---|---|
//! | jobs live in | a SQLite file of their own | the `apalis` schema of a PostgreSQL database |
//! | workers | the processes of one machine that open the file | any number of processes on any machines |
//! | writes | one writer at a time (WAL) | row locks: fetches, acks and pushes in parallel |
//! | needs | nothing | a PostgreSQL server (the application's own will do) |
//!
//! Pick SQLite for one machine: an app with its workers in the same process or beside
//! it, tests, small deployments. Pick PostgreSQL to scale out, when workers run on more
//! than one machine, or when one machine's workers outgrow SQLite's single writer. The
//! outbox stays in the application's database (SeaORM) either way; only where the jobs
//! wait changes, and the handlers, retries and dead letters behave the same.
//!
//! **How PostgreSQL workers share the jobs.** A worker fetches only as many jobs as it has
//! free slots, with one statement that selects due jobs `FOR UPDATE SKIP LOCKED` and marks
//! them locked by that worker: two workers fetching at once never get the same job (each
//! skips the rows the other has locked instead of waiting for them), so adding a worker
//! adds throughput without coordination. A job's outcome is stored only while the job is
//! still locked by its worker; a worker that died (no heartbeat for two heartbeats,
//! [`SqliteBroker::with_heartbeat`] and its twin) has its locked jobs queued again for the
//! others, so under normal operation a job runs once, and after a crash at least once.
//!
//! # Observability
//!
//! Every attempt runs in an `offload.job` span (target `signals_offload`, level `INFO`)
//! with `signal`, `receiver`, `queue`, `delivery_id`, `attempt`, `max_attempts` and, once
//! it ends, `outcome` (`done`, `retry`, `dead`); a failed attempt adds a `WARN` event with
//! the error. The send that queued the job recorded a `DEBUG` event "job written to the
//! outbox" with the same `delivery_id` inside its `signal.receiver` span: the delivery id
//! is the trace context that links the two, across processes and restarts (it is the
//! outbox row id, stable over every attempt).
//!
//! # Past one database
//!
//! What one database gives, measured (`benches/throughput.rs`, figures and commands in
//! docs/PERFORMANCE.md, on a shared 2-vCPU machine, server included): the outbox adds one
//! insert to the committing transaction, **+57 µs per commit on SQLite, +168 µs on
//! PostgreSQL** (×1.4 of a one-row insert); end to end a single producer reaches ~400-550
//! jobs/s under load (~700-1300 on a quieter machine), where on PostgreSQL it is the limit (the relay and the worker keep up with its
//! commits); PostgreSQL workers draining a full queue give ~1300 jobs/s with one, ~1950
//! with two, ~2500 with four. So on one machine the commits bound the pipeline, not
//! the relay or the workers. Past one database:
//!
//! - **The outbox follows the data.** Its rows are written in the business transaction, so
//!   they live in the database that transaction commits to: an application sharded over
//!   several databases has an outbox table in each, and its cost stays one insert per
//!   commit on that shard. The outbox needs no partitioning of its own before its database
//!   needs it; a large backlog is kept small by the relay (rows are marked relayed; delete
//!   old relayed rows on a schedule).
//! - **The relay shards by outbox.** Run one [`Relay`] per database with an outbox (each
//!   pass moves up to 256 rows in one broker transaction and one `UPDATE`). Two relays on
//!   one outbox are safe (the broker ignores a delivery pushed twice) but do the work
//!   twice; splitting one outbox between relays (rows by id range or queue, claimed with
//!   `FOR UPDATE SKIP LOCKED`) is not implemented, and the figures above do not call for
//!   it: the relay was never the bottleneck.
//! - **The broker decides where workers scale.** [`SqliteBroker`] has one writer: every
//!   push, fetch and acknowledgement takes turns, so it suits the workers of one machine.
//!   `PostgresBroker` lets workers on any machines share the jobs (row locks, no
//!   coordination; throughput grew with each worker above). Several application databases
//!   can push to one broker database, given from its own pool
//!   (`PostgresBroker::from_pool`), so that job traffic stays off the business tables; one
//!   broker per shard is the other choice when one broker database saturates (delivery
//!   ids are outbox row ids, unique within one outbox: give each shard's outbox its own id
//!   range, or its own broker, so that their deliveries do not collide).
//!
//! # Example
//!
//! ```ignore
//! let mut offload = Offload::new();
//! offload.register::<Welcome, _, _, _>("mail", "send_welcome", |job: Job<Welcome>| async move {
//!     send_mail(&job.payload.email).await
//! })?;
//! let offload = Arc::new(offload);
//! outbox::create_table(&db).await?;
//!
//! signals_sea_orm::transaction(&db, |txn| Box::pin({
//!     let offload = offload.clone();
//!     async move {
//!         let user = signup.insert(txn).await?;
//!         offload.enqueue(txn, &Welcome { email: user.email.clone() }).await?;
//!         Ok::<_, OffloadError>(user)
//!     }
//! })).await?;
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod broker;
mod declared;
mod error;
mod job;
pub mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
mod registry;
mod relay;
mod retry;
mod shutdown;
mod sqlite;
mod storage;
mod wake;

pub use broker::{Broker, DeadLetter};
pub use error::{BrokerError, JobError, OffloadError};
pub use job::{DeliveryId, Envelope, Job};
#[cfg(feature = "postgres")]
pub use postgres::PostgresBroker;
pub use registry::{DEFAULT_MAX_ATTEMPTS, Offload};
pub use relay::{DEFAULT_LINGER, Relay};
pub use retry::{Backoff, DeadReason, Outcome};
pub use shutdown::Shutdown;
pub use sqlite::SqliteBroker;
pub use storage::{DEFAULT_CONCURRENCY, DEFAULT_HEARTBEAT, DEFAULT_POLL_INTERVAL, QUEUE};
pub use wake::OutboxWritten;
