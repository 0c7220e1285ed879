//! Django-style signals for Rust: typed, declarative, ordered and observable.
//!
//! One part of an application *sends* a signal (a user was saved, an order was placed);
//! other parts *receive* it (create a profile, send a welcome email, write an audit log)
//! without the sender knowing them. Unlike Django, payloads are typed structs, receiver
//! signatures are checked at compile time, the order is defined, and errors never vanish.
//!
//! ```
//! use signals_core::prelude::*;
//!
//! pub struct Order { pub id: u64 }
//!
//! /// A custom signal: its fields are the payload, borrowed, never cloned.
//! #[derive(Signal)]
//! pub struct OrderPlaced<'a> {
//!     pub order: &'a Order,
//!     pub total_cents: i64,
//! }
//!
//! /// Registered at link time: no setup call.
//! #[receiver(OrderPlaced, priority = 10)]
//! fn notify_admin(event: &OrderPlaced<'_>) {
//!     println!("order {} placed: {} cents", event.order.id, event.total_cents);
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("stock service unavailable")]
//! struct StockError;
//!
//! #[receiver(OrderPlaced)]
//! fn reserve_stock(_event: &OrderPlaced<'_>) -> Result<(), StockError> {
//!     Ok(())
//! }
//!
//! let order = Order { id: 7 };
//! let delivered = OrderPlaced { order: &order, total_cents: 1250 }.send()?;
//! assert_eq!(delivered.receivers(), 2);
//! # Ok::<(), signals_core::SendError>(())
//! ```
//!
//! # Where to go next
//!
//! * [`Signal`]: sending (`send`, `send_robust`, `send_with`), `has_receivers`, runtime
//!   `connect`, and the receiver order.
//! * Async: `async fn` receivers, [`Signal::send_async`] / [`Signal::send_async_robust`]
//!   (Django's `asend` / `asend_robust`) and [`Concurrency`]. No runtime is required.
//! * [`#[derive(Signal)]`](derive@Signal) and [`#[receiver]`](macro@receiver): declaring.
//! * [`models`] and the other built-in signals, typed after Django's.
//! * [`registry::receivers`], [`check`] and [`link!`]: making sure receivers are linked
//!   in; [`map`]: who listens to what, as a table, Mermaid or Graphviz.
//! * Observability: every send and receiver is a `tracing` span (target
//!   `signals_core::dispatch`); [`meta`] signals report runtime (dis)connections.
//! * Recursion: a receiver that re-sends its own signal stops at
//!   [`Signal::MAX_DEPTH`] with [`SendError::Recursion`] naming the chain.
//! * Errors: `{}` is the error alone, `{:#}` adds its causes, `{:?}` is a report with one
//!   cause per line (what `fn main() -> Result<(), SendError>` prints); see [`error`].
//! * Tests: `testing` (feature `testing`): scoped capture, mute and temporary receivers.
//!
//! # Linking
//!
//! `#[receiver]` registers through [`inventory`](https://docs.rs/inventory). A library
//! crate whose receivers nothing else references is dropped by the linker, and its
//! receivers silently never run (Rust's version of forgetting Django's
//! `AppConfig.ready()` import). Name such crates once in the binary with
//! [`link!`]`(my_receivers)`, and check [`registry::receivers`] at startup.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub, clippy::undocumented_unsafe_blocks)]

extern crate self as signals_core;

// The layers, bottom up (ARCHITECTURE.md): each may import only from the ones above it in
// this list, except the one cycle the domain forces (connect <-> meta: connecting sends
// `ReceiverConnected`, itself a signal).
mod engine;
mod vocab;

mod connect;
mod link;
pub mod meta;
pub mod offload;
pub mod registry;
mod signal;
pub mod transaction;

pub mod check;
pub mod map;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

mod signals;

pub use connect::{ConnectError, ConnectOptions, Connection};
pub use signal::{Signal, WithSender};
pub use signals::{auth, db, management, models, request, settings};
pub use vocab::error::{self, ReceiverError, SendError};
pub use vocab::family::{BoxError, BoxFuture, Concurrency, EventOf, Family};
pub use vocab::phase::Phase;
pub use vocab::receiver::{ReceiverInfo, ReceiverKind};
pub use vocab::response::{Collect, Delivered, Failure, IntoResponse, Report, Response, Responses};

/// Declares a signal: a struct whose fields are the payload.
///
/// ```
/// use signals_core::prelude::*;
/// use signals_core::models::Model;
///
/// /// No sender, response `()`.
/// #[derive(Signal)]
/// pub struct CacheCleared<'a> { pub keys: &'a [&'a str] }
///
/// /// Receivers return a value, collected by `send`.
/// #[derive(Signal)]
/// #[signal(response = bool)]
/// pub struct MayPublish<'a> { pub title: &'a str }
///
/// /// Filterable by sender: `Exported<'_, Invoice>` is sent by invoices; the default
/// /// (`dyn Model`) is the any-sender form that receives every sender's events.
/// #[derive(Signal)]
/// #[signal(sender = M)]
/// pub struct Exported<'a, M: ?Sized + Model = dyn Model> {
///     pub instance: &'a M,
///     pub format: &'a str,
/// }
/// ```
///
/// # Attributes (`#[signal(...)]`)
///
/// * `response = T`: what receivers return (default `()`).
/// * `sender = M`: the type parameter that names the sender. It needs a default, the
///   any-sender form (usually `dyn Trait`). Fields that mention `M` must be `&'a M` (or
///   `PhantomData`); the other fields must be `Copy`, since an any-sender view of the
///   payload is built by copying them.
/// * `name = "..."`: the name shown in listings and logs (default: the type's name).
/// * `concurrent`: a flag (not `concurrent = true`): the async receivers of one
///   `send_async` run concurrently (polled together) instead of one after the other; the
///   order they start in is still the dispatch order. Per send: `send_async_in`.
/// * `max_depth = N`: how deep the signal may be sent again from its own receivers
///   (a `PostSave` receiver that saves again) before the send fails with
///   [`SendError::Recursion`] naming the chain (default 32), instead of overflowing the
///   stack.
/// * `crate = path`: where `signals_core` is, if you renamed the dependency.
///
/// ```
/// use signals_core::prelude::*;
///
/// // Shown as "thumbnail.requested" in logs and the receiver map; async receivers overlap;
/// // a receiver may resend it at most twice.
/// #[derive(Signal)]
/// #[signal(name = "thumbnail.requested", concurrent, max_depth = 2)]
/// pub struct ThumbnailRequested<'a> { pub path: &'a str }
///
/// #[receiver(ThumbnailRequested)]
/// fn resize(event: &ThumbnailRequested<'_>) -> Result<(), SendError> {
///     // Resends itself: the third level is refused.
///     ThumbnailRequested { path: event.path }.send().map(drop)
/// }
///
/// let error = ThumbnailRequested { path: "a.png" }.send().unwrap_err();
/// assert!(matches!(error, SendError::Recursion { limit: 2, .. }), "{error}");
/// assert_eq!(<ThumbnailRequested as Signal>::NAME, "thumbnail.requested");
/// ```
///
/// The struct must have named fields (or be a unit struct); type parameters must be
/// `'static`. All lifetime parameters are treated as one.
pub use signals_macros::Signal;

/// Registers a function as a receiver of one or more signals, at link time.
///
/// ```
/// use signals_core::prelude::*;
/// use signals_core::models::{Model, PostSave, PostDelete};
///
/// pub struct Article { pub title: String }
/// impl Model for Article {}
///
/// #[receiver(PostSave, sender = Article, priority = 10, dispatch_uid = "reindex")]
/// fn reindex(event: &PostSave<'_, Article>) {
///     println!("reindex {}", event.instance.title);
/// }
///
/// /// One function, two signals: the parameter is a trait both payloads implement.
/// #[receiver(PostSave, PostDelete, sender = Article)]
/// fn invalidate(event: &dyn signals_core::models::ModelEvent) {
///     println!("invalidate cache for {}", event.model_name());
/// }
/// ```
///
/// # Arguments (`#[receiver(SIGNAL, ...)]`)
///
/// * One or more signal types, first.
/// * `sender = T`: only events sent by `T` (the signal must have a sender parameter).
///   Without it, the receiver gets every sender's events (the any-sender form).
/// * `priority = N`: higher runs first (default `0`); ties are broken by the receiver's
///   path, so the order is the same in every build.
/// * `dispatch_uid = "..."`: a unique id per signal and sender; a runtime
///   `connect_with` using the same id is refused, and of two link-time receivers with the
///   same id only the first (in order) is registered, with a warning.
/// * `on = Commit`: run when the transaction ends (`on = Commit | Rollback | Completion |
///   Immediate`, default `Immediate`): a bare phase name, not `"commit"` or `Phase::Commit`.
/// * `when = predicate`: a conditional receiver. `predicate` is a function
///   `fn(&Payload) -> bool` (a path) or a closure, type-checked against the receiver's
///   payload; the receiver runs only when it returns `true`. A payload it rejects counts
///   as not delivered to this receiver (not in `Delivered::receivers()`, not a failure of
///   `send_robust`, `skipped` on the receiver's span), and costs the predicate call and
///   nothing else: nothing is allocated. The receiver map and listings show the predicate
///   as written. For an `on = Commit` (deferred) receiver the predicate runs at the commit,
///   on the payload as sent.
/// * `offload = "queue"`: an offloaded receiver (the `signals-offload` crate): its work runs
///   on a worker, at least once, through a transactional outbox. The function takes its job
///   by value, `job: signals_offload::Job<T>`, where `T: From<&Payload> + Serialize +
///   Deserialize` is built from the event at the send; what runs in the send is the outbox
///   write, through the connection a model signal lends, so the job commits or rolls back
///   with the write. `on = Commit` may be written (it is implied); `Rollback` and
///   `Completion` cannot be offloaded. See [`offload`] for the flow.
/// * `retries = N` (with `offload`): how many times a failed job runs again before it is
///   dead-lettered (default 4: five attempts).
/// * `crate = path`: where `signals_core` is, if you renamed the dependency.
///
/// ```ignore
/// #[derive(Serialize, Deserialize)]
/// pub struct Welcome { pub email: String }
/// impl From<&PostSave<'_, user::Model>> for Welcome {
///     fn from(event: &PostSave<'_, user::Model>) -> Self {
///         Welcome { email: event.instance.email.clone() }
///     }
/// }
///
/// #[receiver(PostSave, sender = user::Model, when = is_new, offload = "mail", retries = 5)]
/// async fn send_welcome(job: signals_offload::Job<Welcome>) -> Result<(), MailError> {
///     mailer::send(&job.payload.email, job.delivery_id).await // on a worker, after the commit
/// }
/// ```
///
/// ```
/// use signals_core::prelude::*;
/// use signals_core::models::{Model, PostSave};
///
/// pub struct User { pub email: String }
/// impl Model for User {}
///
/// fn is_new(event: &PostSave<'_, User>) -> bool {
///     event.created
/// }
///
/// // Django: `if created:` at the top of the receiver.
/// #[receiver(PostSave, sender = User, when = is_new)]
/// fn welcome(event: &PostSave<'_, User>) {
///     println!("welcome, {}", event.instance.email);
/// }
///
/// // A closure works too.
/// #[receiver(PostSave, sender = User, when = |e: &PostSave<'_, User>| !e.created)]
/// fn audit_update(_: &PostSave<'_, User>) {}
///
/// let user = User { email: "ada@example.com".into() };
/// let created = PostSave::new(&user, true).send()?;
/// assert_eq!(created.receivers(), 1); // welcome ran, audit_update was skipped
/// let updated = PostSave::new(&user, false).send()?;
/// assert_eq!(updated.receivers(), 1); // the other way round
/// # Ok::<(), signals_core::SendError>(())
/// ```
///
/// # Async receivers and transaction phases
///
/// An `async fn` is a receiver too: `send_async` (and `send_async_robust`) await it in
/// dispatch order, with the sync receivers; a plain `send` refuses a signal that has one
/// (`SendError::AsyncReceivers`) rather than block on it. `on = Commit` waits for the
/// outermost transaction of [`transaction`] (or `signals_sea_orm::transaction`) to commit;
/// payloads sent inside one must be owned, so use [`transaction::send_owned`].
///
/// ```
/// use signals_core::prelude::*;
/// use signals_core::transaction::{self, Transaction};
///
/// #[derive(Signal)]
/// pub struct Signup<'a> { pub email: &'a str }
///
/// #[receiver(Signup)]
/// async fn check_spam(event: &Signup<'_>) -> Result<(), std::io::Error> {
///     println!("checking {}", event.email); // .await an HTTP call here
///     Ok(())
/// }
///
/// #[derive(Signal)]
/// pub struct Paid<'a> { pub order: &'a u64 }
///
/// #[receiver(Paid, on = Commit)] // Django's transaction.on_commit
/// fn send_receipt(event: &Paid<'_>) {
///     println!("receipt for order #{}", event.order);
/// }
///
/// # futures_util::FutureExt::now_or_never(async {
/// Signup { email: "ada@example.com" }.send_async().await?;
/// # Ok::<(), SendError>(()) }).unwrap()?;
/// let tx = Transaction::begin();
/// tx.run(|| transaction::send_owned::<Paid, _>(42u64, |order: &u64| Paid { order }))?;
/// assert_eq!(tx.queued(), 1); // send_receipt waits for the commit...
/// assert!(tx.commit().is_empty()); // ... and runs now
/// # Ok::<(), SendError>(())
/// ```
///
/// `crate = path` (for a renamed dependency: `signals = { package = "signals-core" }`):
/// `#[receiver(Signup, crate = signals)]`.
///
/// The function takes one parameter, `&Payload` (or a `&dyn Trait` the payload coerces
/// to), and returns `()`, the signal's response type, or `Result<Response, E>` with any
/// `E: Into<BoxError>`: an error type (`E: std::error::Error + Send + Sync + 'static`),
/// [`BoxError`] (`Box<dyn Error + Send + Sync>`; a `Box<dyn Error>` without `Send + Sync`
/// is refused) or `anyhow::Error`. It cannot be generic, a method, an associated function
/// (put it outside the `impl` block, or call the method from a free function), `unsafe`,
/// `extern` or `const`. It stays an ordinary function you can call directly.
///
/// # Coming from Django
///
/// * `sender = User`, the type, not `sender = "User"`; leave `sender` out (rather than
///   writing `sender = dyn Model`) to receive every sender.
/// * `#[receiver(PostSave, PostDelete)]`, not a list in brackets.
/// * One parameter, the payload: `fn f(event: &PostSave<'_, User>)` and then
///   `event.instance`, `event.created`, rather than `instance: &User, created: bool`.
///   The payload is lent for the send only: `&PostSave<'_, User>`, not `<'static, ..>`.
/// * A parameter naming the sender (`&PostSave<'_, User>`) needs `sender = User` too.
pub use signals_macros::receiver;

/// Forces the linker to keep crates whose `#[receiver]`s nothing else references.
///
/// Without it, a receiver-only crate listed in `Cargo.toml` but never named in code is
/// dropped at link time and its receivers never run. Put this once in the binary (or
/// test) that should run them:
///
/// ```ignore
/// signals_core::link!(billing_receivers, audit_receivers);
/// ```
///
/// It expands to `use krate as _;` for each crate, which works at module level and inside
/// functions.
#[macro_export]
macro_rules! link {
    ($($krate:ident),+ $(,)?) => {
        $(
            #[allow(unused_imports)]
            use $krate as _;
        )+
    };
}

/// What a first program needs: `use signals_core::prelude::*;`.
///
/// The [`Signal`] trait and derive, the [`#[receiver]`](macro@receiver) attribute, and
/// the types a program names when it handles the outcome of a send: [`SendError`] (the
/// error of `send`, and of a `main` that sends with `?`), [`Delivered`] (what `send`
/// returns for a signal without responses), [`Report`] (the outcome of `send_robust`) and
/// [`BoxError`] (an error type any receiver may return). Everything else is at the crate
/// root or in its module ([`models`], [`transaction`], ...).
///
/// ```
/// use signals_core::prelude::*;
///
/// #[derive(Signal)]
/// pub struct UserSignedUp<'a> {
///     pub email: &'a str,
/// }
///
/// #[receiver(UserSignedUp, priority = 10)]
/// fn check_email(event: &UserSignedUp<'_>) -> Result<(), BoxError> {
///     if !event.email.contains('@') {
///         return Err(format!("{:?} is not an email address", event.email).into());
///     }
///     Ok(())
/// }
///
/// #[receiver(UserSignedUp)]
/// fn welcome(_event: &UserSignedUp<'_>) {}
///
/// fn sign_up(email: &str) -> Result<Delivered, SendError> {
///     UserSignedUp { email }.send()
/// }
///
/// fn sign_up_robust(email: &str) -> Report<Delivered> {
///     UserSignedUp { email }.send_robust()
/// }
///
/// fn main() -> Result<(), SendError> {
///     assert_eq!(sign_up("ada@example.com")?.receivers(), 2);
///     // `send` stops at the first failure: `welcome` does not run.
///     assert!(matches!(sign_up("ada"), Err(SendError::Receiver { .. })));
///     // `send_robust` runs every receiver and reports the failure.
///     let report = sign_up_robust("ada");
///     assert_eq!(report.responses().receivers(), 1);
///     assert_eq!(report.failures().len(), 1);
///     Ok(())
/// }
/// ```
pub mod prelude {
    pub use crate::{BoxError, Delivered, Report, SendError, Signal, receiver};
}

/// Items used by the generated code. Not public API: no semver guarantee.
#[doc(hidden)]
pub mod __private {
    pub use crate::engine::store::erased::{AsyncCallee, Callee};
    pub use crate::engine::store::registry::Registry;
    pub use crate::link::{StaticMeta, StaticReceiver};
    pub use crate::signal::{Signal, WithSender};
    pub use crate::vocab::family::{BoxError, BoxFuture, Concurrency, EventOf, Family};
    pub use crate::vocab::phase::Phase;
    pub use crate::vocab::response::IntoResponse;
    pub use crate::vocab::when::{skipped, skipped_async};
    /// `#[receiver(.., offload = ..)]`'s generated code.
    pub mod offload {
        pub use crate::offload::{
            HasDb, Lend, LendDb, LendNone, OffloadJob, OffloadedReceiver, enqueue,
        };
    }
    pub use crate::{ConnectError, ConnectOptions, Connection, Delivered, Responses};
    pub use core::marker::PhantomData;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result;
    pub use core::unreachable;
    pub use inventory;
    pub use std::any::type_name;
    pub use std::boxed::Box;
}
