//! The traits that make a type a signal.
//!
//! You rarely implement these by hand: `#[derive(Signal)]` does it. They are public so that
//! generic code can be written over signals (`fn emit<S: Signal>(event: &S)`), and so that
//! their provided methods (`send`, `send_robust`, `connect`, ...) are available on every
//! signal type.

use crate::SendError;
use crate::connect::{ConnectError, ConnectOptions, Connection};
use crate::engine::dispatch;
use crate::engine::store::erased::AsyncCallee;
use crate::engine::store::erased::Callee;
use crate::engine::store::registry::Registry;
use crate::vocab::family::BoxError;
use crate::vocab::family::BoxFuture;
use crate::vocab::family::Concurrency;
use crate::vocab::family::EventOf;
use crate::vocab::family::Family;
use crate::vocab::receiver::ReceiverInfo;
use crate::vocab::response::{Collect, IntoResponse, Report};

/// Names the signal `Self` filtered to the sender type `M`.
///
/// `#[receiver(PostSave, sender = User)]` expands to `<PostSave as WithSender<User>>::Signal`,
/// which is `PostSave<'_, User>`. Signals without a sender type parameter do not implement
/// it, so `sender = ...` on them is a compile error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be filtered by sender `{M}`",
    label = "this signal has no sender type parameter, or `{M}` does not satisfy its bounds",
    note = "declare the sender with `#[signal(sender = M)]` on a type parameter `M` whose default is the any-sender form, e.g. `M: ?Sized + Model = dyn Model`"
)]
pub trait WithSender<M: ?Sized> {
    /// The signal with its sender type fixed to `M`.
    type Signal: Signal;
}

/// A signal: a payload type whose values can be sent to receivers.
///
/// Implemented by [`#[derive(Signal)]`](crate::Signal). The payload is sent by reference
/// and never cloned: `event.send()` lends `&event` to each receiver in turn.
///
/// # Senders
///
/// A signal may have a *sender type parameter* (`#[signal(sender = M)]`), as Django's model
/// signals do. `PostSave<'_, User>` is then the signal as sent by `User`, and receivers
/// declared for `PostSave<'_, User>` only see `User` saves. The parameter's default (for
/// example `dyn Model`) is the *any-sender form*: receivers of `PostSave` (that is,
/// `PostSave<'_, dyn Model>`) see every sender's events, with the sender-typed fields
/// viewed through the default type.
///
/// In expression position Rust does not apply a type parameter's default, so the derive
/// gives sender-generic signals inherent `connect`, `connect_with`, `connect_async` and
/// `connect_async_with` that take the sender from the closure's parameter:
/// `PostSave::connect(|e: &PostSave<'_, User>| ..)` listens to `User`,
/// `PostSave::connect(|e: &PostSave<'_>| ..)` to every sender. Generic code over
/// `S: Signal` uses these trait methods, where `S` already names the form.
///
/// # Receiver order
///
/// Receivers run by descending `priority` (default `0`). Among equal priorities, link-time
/// receivers run before runtime ones; link-time receivers are ordered by their full path
/// (`module::function`), then file and line; runtime receivers by connection order. The
/// order does not depend on link order, build profile or platform.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a signal",
    label = "not a signal",
    note = "declare a signal with `#[derive(Signal)]` on a struct whose fields are the payload"
)]
pub trait Signal: Sized {
    /// What each receiver returns; `()` unless declared with `#[signal(response = T)]`.
    type Response: 'static;

    /// The family of this payload (this sender), see [`Family`].
    type Family: Family<Response = Self::Response>;

    /// The family of the any-sender form (`Self::Family` for signals without a sender).
    type AnySender: Family<Response = Self::Response>;

    /// What [`send`](Signal::send) returns on success: [`Delivered`](crate::Delivered) for
    /// `()` responses (nothing is allocated) or [`Responses`](crate::Responses) otherwise.
    type Output: Collect<Self::Response>;

    /// The signal's name, as written in its declaration.
    const NAME: &'static str;

    /// The sender's type name, or `None` for signals without a sender and for the
    /// any-sender form.
    fn sender_name() -> Option<&'static str>;

    #[doc(hidden)]
    fn __registry() -> &'static Registry;

    #[doc(hidden)]
    fn __call(&self, receiver: Callee<'_, Self::Family>) -> Result<Self::Response, BoxError>;

    #[doc(hidden)]
    fn __call_async<'s>(
        &'s self,
        receiver: AsyncCallee<'_, Self::Family>,
    ) -> BoxFuture<'s, Result<Self::Response, BoxError>>;

    /// Lends the payload as its family's event type.
    #[doc(hidden)]
    fn __as_event<R>(&self, f: impl FnOnce(&EventOf<'_, Self::Family>) -> R) -> R;

    /// The payload seen through the any-sender form; `None` when `Self` is that form.
    #[doc(hidden)]
    fn __any_view(&self) -> Option<EventOf<'_, Self::AnySender>>;

    /// How [`send_async`](Signal::send_async) runs async receivers: `Sequential` unless the
    /// signal is declared with `#[signal(concurrent)]`.
    const CONCURRENCY: Concurrency = Concurrency::Sequential;

    /// How many sends of this signal, for one sender, may be nested on one thread (or one
    /// task, for async sends) before the next fails with
    /// [`SendError::Recursion`]: 32 unless declared with `#[signal(max_depth = N)]`.
    /// This stops a receiver that saves the instance again (`PostSave` → save →
    /// `PostSave` → ...) with an error naming the chain, instead of a stack overflow.
    const MAX_DEPTH: usize = 32;

    /// Sends the signal: runs every matching receiver in order and stops at the first
    /// error.
    ///
    /// On success it returns the responses ([`Delivered`](crate::Delivered) when they are
    /// `()`). A receiver error stops the send and comes back as
    /// [`SendError::Receiver`], naming the receiver; the receivers before it have run, the
    /// ones after it have not (Django's `send`). A panicking receiver unwinds through
    /// `send`; use [`send_robust`](Signal::send_robust) to contain panics.
    ///
    /// With no receivers this is one atomic load.
    ///
    /// If an `async` receiver would be reached, nothing runs and
    /// [`SendError::AsyncReceivers`] names them: a sync send never blocks on a future
    /// (which could deadlock inside a runtime) and never skips one silently. Use
    /// [`send_async`](Signal::send_async).
    ///
    /// ```
    /// use signals_core::prelude::*;
    ///
    /// #[derive(Signal)]
    /// #[signal(response = u32)]
    /// struct Measure<'a> { text: &'a str }
    ///
    /// #[receiver(Measure)]
    /// fn length(event: &Measure<'_>) -> u32 { event.text.len() as u32 }
    ///
    /// let responses = Measure { text: "hello" }.send()?;
    /// assert_eq!(responses.values().copied().collect::<Vec<_>>(), [5]);
    /// # Ok::<(), signals_core::SendError>(())
    /// ```
    #[inline]
    fn send(&self) -> Result<Self::Output, SendError> {
        dispatch::send(self)
    }

    /// Sends the signal from async code: sync and async receivers run in the one defined
    /// order, the async ones awaited in turn (or together, see [`Concurrency`]); stops at
    /// the first error like [`send`](Signal::send).
    ///
    /// Sync receivers are called inline (no allocation); each async receiver costs one
    /// boxed future. No runtime is required: any executor can poll it.
    ///
    /// Dropping the returned future mid-dispatch (cancellation) is safe: the receivers
    /// that completed stay completed, the one being awaited is dropped at its current
    /// `.await`, and the rest never start.
    fn send_async(&self) -> impl Future<Output = Result<Self::Output, SendError>> + Send
    where
        Self: Sync,
        Self::Response: Send,
        Self::Output: Send,
        for<'x> EventOf<'x, Self::AnySender>: Send,
    {
        dispatch::send_async(self, Self::CONCURRENCY)
    }

    /// [`send_async`](Signal::send_async) with an explicit [`Concurrency`] for this send.
    fn send_async_in(
        &self,
        concurrency: Concurrency,
    ) -> impl Future<Output = Result<Self::Output, SendError>> + Send
    where
        Self: Sync,
        Self::Response: Send,
        Self::Output: Send,
        for<'x> EventOf<'x, Self::AnySender>: Send,
    {
        dispatch::send_async(self, concurrency)
    }

    /// The async form of [`send_robust`](Signal::send_robust) (Django's `asend_robust`):
    /// every receiver runs, each error and panic (async ones included) is caught, logged
    /// and reported, in dispatch order.
    fn send_async_robust(&self) -> impl Future<Output = Report<Self::Output>> + Send
    where
        Self: Sync,
        Self::Response: Send,
        Self::Output: Send,
        for<'x> EventOf<'x, Self::AnySender>: Send,
    {
        dispatch::send_async_robust(self, Self::CONCURRENCY)
    }

    /// [`send_async_robust`](Signal::send_async_robust) with an explicit [`Concurrency`].
    fn send_async_robust_in(
        &self,
        concurrency: Concurrency,
    ) -> impl Future<Output = Report<Self::Output>> + Send
    where
        Self: Sync,
        Self::Response: Send,
        Self::Output: Send,
        for<'x> EventOf<'x, Self::AnySender>: Send,
    {
        dispatch::send_async_robust(self, concurrency)
    }

    /// Sends the signal to every matching receiver, whatever fails.
    ///
    /// Each receiver's error *and panic* is caught, logged through `tracing` (target
    /// `signals_core::dispatch`, level `ERROR`, with the receiver's name and location) and
    /// recorded in the returned [`Report`], which keeps returned values and failures apart.
    /// Catching costs nothing until a receiver panics. The default panic hook still prints
    /// the panic message; install your own hook to silence it.
    fn send_robust(&self) -> Report<Self::Output> {
        dispatch::send_robust(self)
    }

    /// Like [`send`](Signal::send), but hands each response to `sink` instead of collecting
    /// them, and returns how many receivers ran. Allocates nothing.
    fn send_with<K>(&self, sink: K) -> Result<usize, SendError>
    where
        K: FnMut(&ReceiverInfo, Self::Response),
    {
        dispatch::send_with(self, sink)
    }

    /// Whether sending this payload type (this sender) would reach any receiver: the
    /// any-sender receivers plus the receivers for this sender.
    ///
    /// Use it to skip building an expensive payload. Unlike Django's
    /// `has_listeners()`, there is no call that silently ignores sender-specific receivers:
    /// ask about the signal as a whole with
    /// [`has_receivers_for_any_sender`](Signal::has_receivers_for_any_sender).
    #[inline]
    fn has_receivers() -> bool {
        dispatch::has_receivers::<Self>(false)
    }

    /// Whether the signal has any receiver at all, for any sender.
    #[inline]
    fn has_receivers_for_any_sender() -> bool {
        dispatch::has_receivers::<Self>(true)
    }

    /// Whether any receiver of the signal, for any sender, is `async` (link-time or
    /// runtime, in any phase).
    ///
    /// When it is `false`, [`send_robust`](Signal::send_robust) runs exactly the receivers
    /// [`send_async_robust`](Signal::send_async_robust) would, in the same order, without
    /// building a future: code that would otherwise box an async send for every call (a
    /// request middleware, say) can send synchronously instead. It answers for the signal
    /// as a whole, so an async receiver of another sender also makes it `true`: the
    /// answer errs towards the async send, never away from it. A state check (one atomic
    /// load). A receiver connected after the check, concurrently with the send, is seen
    /// or not as with any send racing a connection; an async one that a sync send then
    /// reaches is reported as [`ReceiverError::AsyncInSyncSend`](crate::ReceiverError::AsyncInSyncSend).
    #[inline]
    fn has_async_receivers_for_any_sender() -> bool {
        dispatch::has_async_receivers::<Self>()
    }

    /// The receivers a send of this payload type reaches, in the order they run.
    fn receivers() -> Vec<ReceiverInfo> {
        dispatch::receivers::<Self>()
    }

    /// Connects a receiver at runtime; it stays connected until the returned
    /// [`Connection`] is dropped (or [`Connection::detach`]ed).
    ///
    /// The handler takes `&Payload` and returns `()`, the response type, or
    /// `Result<Response, E>` for any `E: Into<BoxError>`, like a `#[receiver]` function.
    /// Connecting takes a lock (senders never do) and copies the list of runtime receivers.
    ///
    /// For a signal with a sender parameter, `PostSave::connect(|e: &PostSave<'_, User>| ..)`
    /// connects to `User`'s saves and `PostSave::connect(|e: &PostSave<'_>| ..)` to every
    /// sender's: the derive's inherent forms take the sender from the closure's parameter
    /// type. `PostSave::<User>::connect(..)` and `<PostSave>::connect(..)` name it
    /// explicitly (needed when the closure's parameter is not annotated).
    ///
    /// ```
    /// use signals_core::prelude::*;
    ///
    /// #[derive(Signal)]
    /// struct Tick { n: u64 }
    ///
    /// let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    /// let s = seen.clone();
    /// let connection = Tick::connect(move |t: &Tick| {
    ///     s.fetch_add(t.n, std::sync::atomic::Ordering::Relaxed);
    /// });
    /// Tick { n: 2 }.send()?;
    /// drop(connection); // disconnects
    /// Tick { n: 5 }.send()?;
    /// assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 2);
    /// # Ok::<(), signals_core::SendError>(())
    /// ```
    #[track_caller]
    fn connect<O, H>(handler: H) -> Connection
    where
        H: for<'a, 'b> Fn(&'b EventOf<'a, Self::Family>) -> O + Send + Sync + 'static,
        O: IntoResponse<Self::Response>,
    {
        let options = ConnectOptions::new();
        match crate::connect::connect::<Self, O, H>(
            options,
            handler,
            std::panic::Location::caller(),
        ) {
            Ok(connection) => connection,
            Err(_) => unreachable!("connecting without a dispatch_uid cannot conflict"),
        }
    }

    /// Connects a receiver with options (priority, `dispatch_uid`, name).
    ///
    /// Fails with [`ConnectError::DuplicateDispatchUid`] when a receiver with the same
    /// `dispatch_uid` is already connected for this signal and sender; the existing
    /// receiver is left in place and named in the error.
    #[track_caller]
    fn connect_with<O, H>(options: ConnectOptions, handler: H) -> Result<Connection, ConnectError>
    where
        H: for<'a, 'b> Fn(&'b EventOf<'a, Self::Family>) -> O + Send + Sync + 'static,
        O: IntoResponse<Self::Response>,
    {
        crate::connect::connect::<Self, O, H>(options, handler, std::panic::Location::caller())
    }

    /// Connects an async receiver at runtime. The handler returns a boxed future that may
    /// borrow the payload (clone what it needs from its captures into the future):
    ///
    /// ```
    /// use signals_core::prelude::*;
    ///
    /// #[derive(Signal)]
    /// struct Signup<'a> { email: &'a str }
    ///
    /// let connection = Signup::connect_async(|event: &Signup<'_>| {
    ///     Box::pin(async move {
    ///         println!("sending welcome email to {}", event.email);
    ///     })
    /// });
    /// # drop(connection);
    /// ```
    #[track_caller]
    fn connect_async<O, H>(handler: H) -> Connection
    where
        H: for<'a, 'b> Fn(&'b EventOf<'a, Self::Family>) -> BoxFuture<'b, O>
            + Send
            + Sync
            + 'static,
        O: IntoResponse<Self::Response> + 'static,
    {
        match crate::connect::connect_async::<Self, O, H>(
            ConnectOptions::new(),
            handler,
            std::panic::Location::caller(),
        ) {
            Ok(connection) => connection,
            Err(_) => unreachable!("connecting without a dispatch_uid cannot conflict"),
        }
    }

    /// [`connect_async`](Signal::connect_async) with options.
    #[track_caller]
    fn connect_async_with<O, H>(
        options: ConnectOptions,
        handler: H,
    ) -> Result<Connection, ConnectError>
    where
        H: for<'a, 'b> Fn(&'b EventOf<'a, Self::Family>) -> BoxFuture<'b, O>
            + Send
            + Sync
            + 'static,
        O: IntoResponse<Self::Response> + 'static,
    {
        crate::connect::connect_async::<Self, O, H>(
            options,
            handler,
            std::panic::Location::caller(),
        )
    }

    /// Disconnects the runtime receiver connected for this signal and sender under
    /// `dispatch_uid`. Returns whether one was removed (and then sends
    /// [`ReceiverDisconnected`](crate::meta::ReceiverDisconnected)).
    fn disconnect(dispatch_uid: &str) -> bool {
        crate::connect::disconnect_uid::<Self>(dispatch_uid)
    }
}
