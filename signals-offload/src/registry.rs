//! The registry of offloaded handlers and the write path into the outbox.

use std::any::{TypeId, type_name};
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::error::{JobError, OffloadError};
use crate::job::{DeliveryId, Envelope, Job};
use crate::outbox;
use crate::retry::{self, Backoff, Outcome};

/// How many attempts a handler gets unless it says otherwise ([`Offload::register_with`]).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

pub(crate) type Handler = Arc<
    dyn Fn(serde_json::Value, DeliveryId, u32) -> BoxFuture<'static, Result<(), JobError>>
        + Send
        + Sync,
>;

#[derive(Debug, Clone)]
struct Route {
    queue: String,
    handler: String,
    max_attempts: u32,
}

/// The offloaded handlers of an application, and its outbox writer.
///
/// Register each handler once, at startup, in the application (which writes the outbox)
/// and in the workers (which run the jobs): the two must agree on the `(queue, name)`
/// pairs. A worker meeting a job whose handler it does not know dead-letters it.
///
/// ```ignore
/// let mut offload = Offload::new();
/// offload.register::<Welcome, _, _, _>("mail", "send_welcome", |job: Job<Welcome>| async move {
///     mailer.send(&job.payload.email, job.delivery_id).await
/// })?;
/// ```
pub struct Offload {
    handlers: HashMap<(String, String), Handler>,
    routes: HashMap<TypeId, (&'static str, Vec<Route>)>,
    /// The signal (or event type) of each handler, for its job spans.
    signals: HashMap<(String, String), &'static str>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offload")
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Offload {
    fn default() -> Self {
        Offload::new()
    }
}

impl Offload {
    /// An empty registry.
    pub fn new() -> Offload {
        Offload {
            handlers: HashMap::new(),
            routes: HashMap::new(),
            signals: HashMap::new(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Registers `handler` as the offloaded receiver `queue/name` of events of type `T`,
    /// with [`DEFAULT_MAX_ATTEMPTS`] attempts.
    pub fn register<T, F, Fut, E>(
        &mut self,
        queue: &str,
        name: &str,
        handler: F,
    ) -> Result<&mut Self, OffloadError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: Fn(Job<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        self.register_with(queue, name, DEFAULT_MAX_ATTEMPTS, handler)
    }

    /// [`register`](Offload::register) with the number of attempts (at least 1) the job
    /// gets before it is dead-lettered.
    pub fn register_with<T, F, Fut, E>(
        &mut self,
        queue: &str,
        name: &str,
        max_attempts: u32,
        handler: F,
    ) -> Result<&mut Self, OffloadError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: Fn(Job<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let key = (queue.to_owned(), name.to_owned());
        if self.handlers.contains_key(&key) {
            return Err(OffloadError::DuplicateHandler {
                queue: key.0,
                handler: key.1,
            });
        }
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |value, delivery_id, attempt| {
            let payload = match serde_json::from_value::<T>(value) {
                Ok(payload) => payload,
                Err(err) => {
                    return futures_util::future::ready(Err(JobError::BadPayload(err.to_string())))
                        .boxed();
                }
            };
            let run = handler(Job {
                payload,
                delivery_id,
                attempt,
            });
            async move { run.await.map_err(|err| JobError::Failed(err.to_string())) }.boxed()
        });
        self.signals
            .insert(key.clone(), short_name(type_name::<T>()));
        self.handlers.insert(key, erased);
        self.routes
            .entry(TypeId::of::<T>())
            .or_insert_with(|| (type_name::<T>(), Vec::new()))
            .1
            .push(Route {
                queue: queue.to_owned(),
                handler: name.to_owned(),
                max_attempts: max_attempts.max(1),
            });
        Ok(self)
    }

    /// Adds an erased handler (a linked `#[receiver(.., offload = ..)]`); its sends write
    /// their rows themselves, so it needs no route.
    pub(crate) fn register_erased(
        &mut self,
        queue: &str,
        name: &str,
        signal: &'static str,
        handler: Handler,
    ) -> Result<&mut Self, OffloadError> {
        let key = (queue.to_owned(), name.to_owned());
        if self.handlers.contains_key(&key) {
            return Err(OffloadError::DuplicateHandler {
                queue: key.0,
                handler: key.1,
            });
        }
        self.signals.insert(key.clone(), signal);
        self.handlers.insert(key, handler);
        Ok(self)
    }

    /// Whether a handler `queue/name` is registered.
    pub fn has_handler(&self, queue: &str, name: &str) -> bool {
        self.handlers
            .contains_key(&(queue.to_owned(), name.to_owned()))
    }

    /// Writes one outbox row per offloaded handler of `T` for `event`, through `conn`, and
    /// returns their delivery ids.
    ///
    /// Pass the connection the model write used: inside a SeaORM transaction
    /// (`signals_sea_orm::transaction`, [`SignalsTxn::conn`](signals_sea_orm::SignalsTxn::conn),
    /// or `signals_sea_orm::db(event)` in a receiver of a model signal) the rows are part of
    /// that transaction: committed with the model write, gone if it rolls back. The relay
    /// is woken once the `signals_core` transaction commits (or at once when none is
    /// active); it also sweeps on its interval and at startup, so a wake-up lost to a crash
    /// loses no row.
    pub async fn enqueue<T, C>(&self, conn: &C, event: &T) -> Result<Vec<DeliveryId>, OffloadError>
    where
        T: Serialize + 'static,
        C: ConnectionTrait,
    {
        let Some((signal, routes)) = self.routes.get(&TypeId::of::<T>()) else {
            return Err(OffloadError::NoHandler(type_name::<T>()));
        };
        let payload = serde_json::to_string(event)?;
        let now = outbox::now();
        let mut ids = Vec::with_capacity(routes.len());
        for route in routes {
            let row = outbox::ActiveModel {
                signal: Set((*signal).to_owned()),
                queue: Set(route.queue.clone()),
                handler: Set(route.handler.clone()),
                max_attempts: Set(route.max_attempts as i32),
                payload: Set(payload.clone()),
                status: Set(outbox::Status::Pending.as_str().to_owned()),
                created_at: Set(now),
                relayed_at: Set(None),
                ..Default::default()
            }
            .insert(conn)
            .await?;
            tracing::debug!(
                target: "signals_offload",
                delivery_id = row.id,
                queue = %route.queue,
                receiver = %route.handler,
                "job written to the outbox"
            );
            ids.push(DeliveryId(row.id));
        }
        crate::wake::after_commit(self.wake.clone());
        Ok(ids)
    }

    /// Runs the handler an envelope names (what a worker does with a job).
    pub fn dispatch(
        &self,
        envelope: Envelope,
        attempt: u32,
    ) -> BoxFuture<'static, Result<(), JobError>> {
        match self
            .handlers
            .get(&(envelope.queue.clone(), envelope.handler.clone()))
        {
            Some(handler) => handler(envelope.payload, envelope.delivery_id, attempt),
            None => futures_util::future::ready(Err(JobError::UnknownReceiver {
                queue: envelope.queue,
                handler: envelope.handler,
            }))
            .boxed(),
        }
    }

    /// Runs attempt `attempt` (from 1) of `envelope` and says what becomes of the delivery:
    /// done, retried after [`Backoff::delay`], or dead (see [`Outcome`]). This is the
    /// crate's retry policy; a [`Broker`](crate::Broker)'s worker calls it for every job and
    /// stores the outcome. A handler that panics fails the attempt like an error
    /// ([`JobError::Panicked`]); the worker goes on.
    pub fn run_attempt(
        &self,
        envelope: &Envelope,
        attempt: u32,
        backoff: &Backoff,
    ) -> BoxFuture<'static, Outcome> {
        let max_attempts = envelope.max_attempts;
        let backoff = *backoff;
        // One span per job: the same `delivery_id` as the "job written to the outbox" event
        // the send recorded, which links the two across processes.
        let span = tracing::info_span!(
            target: "signals_offload",
            "offload.job",
            signal = self.signal_of(&envelope.queue, &envelope.handler),
            receiver = %envelope.handler,
            queue = %envelope.queue,
            delivery_id = envelope.delivery_id.0,
            attempt,
            max_attempts,
            outcome = tracing::field::Empty,
        );
        let run = span.in_scope(|| {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.dispatch(envelope.clone(), attempt)
            }))
        });
        let job_span = span.clone();
        async move {
            let result = match run {
                Ok(run) => match AssertUnwindSafe(run).catch_unwind().await {
                    Ok(result) => result,
                    Err(panic) => Err(JobError::Panicked(panic_message(panic.as_ref()))),
                },
                Err(panic) => Err(JobError::Panicked(panic_message(panic.as_ref()))),
            };
            let outcome = retry::decide(result, attempt, max_attempts, &backoff);
            let (name, error) = match &outcome {
                Outcome::Done => ("done", None),
                Outcome::Retry { error, .. } => ("retry", Some(error)),
                Outcome::Dead { error, .. } => ("dead", Some(error)),
            };
            job_span.record("outcome", name);
            if let Some(error) = error {
                tracing::warn!(target: "signals_offload", parent: &job_span, %error, "job attempt failed");
            }
            outcome
        }
        .instrument(span)
        .boxed()
    }

    /// The signal a handler's jobs come from (`"-"` if unknown).
    fn signal_of(&self, queue: &str, handler: &str) -> &'static str {
        self.signals
            .get(&(queue.to_owned(), handler.to_owned()))
            .copied()
            .unwrap_or("-")
    }

    /// The notifier the relay waits on.
    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// `Welcome` for `my_app::jobs::Welcome` (what a hand-registered handler's spans name).
fn short_name(path: &'static str) -> &'static str {
    path.rsplit("::").next().unwrap_or(path)
}

/// The message of a panic payload (`panic!` with a literal or a format string).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic payload that is not a string".to_owned()
    }
}
