//! What receivers return, and what a send gives back.

use std::fmt;

use crate::vocab::error::ReceiverError;
use crate::vocab::family::BoxError;
use crate::vocab::receiver::ReceiverInfo;

/// What a receiver may return for a signal whose response type is `R`:
/// `R` itself (so `()` for most signals), or `Result<R, E>` for any
/// `E: Into<BoxError>`: an error type (`E: std::error::Error + Send + Sync + 'static`),
/// [`BoxError`] itself (`Box<dyn Error + Send + Sync>`), `anyhow::Error`, or a `String` /
/// `&'static str` message.
///
/// The error is converted with `Into<BoxError>`, so
/// [`SendError::downcast_ref`](crate::vocab::error::SendError::downcast_ref) and
/// `std::error::Error::source` reach the receiver's own error: the `E` returned, or the
/// error inside a returned `BoxError`. An `anyhow::Error` converts to anyhow's own wrapper,
/// which displays and chains sources like the error it was made from but does not downcast
/// to its type; return `Err(e.reallocate_into_boxed_dyn_error_without_backtrace())` (a
/// `BoxError`) where callers downcast.
#[diagnostic::on_unimplemented(
    message = "a receiver of this signal cannot return `{Self}`",
    label = "the signal's response type is `{R}`",
    note = "a receiver returns the response type `{R}`, or `Result<{R}, E>` where `E: Into<BoxError>`: any `E: std::error::Error + Send + Sync + 'static`, `Box<dyn Error + Send + Sync>` or `anyhow::Error`",
    note = "a boxed error must be `Send + Sync` (receivers run on any thread): `Box<dyn Error>` does not convert, `Box<dyn Error + Send + Sync>` does"
)]
pub trait IntoResponse<R> {
    /// Converts the receiver's return value into the dispatcher's form.
    fn into_response(self) -> Result<R, BoxError>;
}

impl<R> IntoResponse<R> for R {
    #[inline(always)]
    fn into_response(self) -> Result<R, BoxError> {
        Ok(self)
    }
}

// `do_not_recommend`: a `Result` whose error does not convert is reported as "a receiver
// of this signal cannot return `Result<..>`" with the notes above, not as a missing
// `From` impl deep inside `Into`.
#[diagnostic::do_not_recommend]
impl<R, E> IntoResponse<R> for Result<R, E>
where
    E: Into<BoxError>,
{
    #[inline(always)]
    fn into_response(self) -> Result<R, BoxError> {
        self.map_err(Into::into)
    }
}

/// Accumulates the responses of one send; see [`Signal::Output`](crate::Signal::Output).
pub trait Collect<R>: Default {
    /// Records the response of `receiver`.
    fn collect(&mut self, receiver: &ReceiverInfo, response: R);
}

/// The result of sending a signal whose responses are `()`: how many receivers ran.
/// Collecting it allocates nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    receivers: usize,
}

impl Delivered {
    /// How many receivers ran (and succeeded).
    pub fn receivers(&self) -> usize {
        self.receivers
    }
}

impl Collect<()> for Delivered {
    #[inline(always)]
    fn collect(&mut self, _: &ReceiverInfo, _: ()) {
        self.receivers += 1;
    }
}

/// One receiver's response.
#[derive(Clone, Debug, PartialEq)]
pub struct Response<R> {
    /// The receiver that returned it.
    pub receiver: ReceiverInfo,
    /// What it returned.
    pub value: R,
}

/// The responses of one send, in dispatch order (Django's list of `(receiver, response)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Responses<R> {
    items: Vec<Response<R>>,
}

impl<R> Default for Responses<R> {
    fn default() -> Self {
        Responses { items: Vec::new() }
    }
}

impl<R> Responses<R> {
    /// Number of responses (receivers that ran).
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether no receiver ran.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// The responses with their receivers, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Response<R>> {
        self.items.iter()
    }
    /// Just the values, in order.
    pub fn values(&self) -> impl Iterator<Item = &R> {
        self.items.iter().map(|r| &r.value)
    }
    /// Consumes the responses into their values, in order.
    pub fn into_values(self) -> Vec<R> {
        self.items.into_iter().map(|r| r.value).collect()
    }
}

impl<R> Collect<R> for Responses<R> {
    fn collect(&mut self, receiver: &ReceiverInfo, response: R) {
        self.items.push(Response {
            receiver: *receiver,
            value: response,
        });
    }
}

impl<R> IntoIterator for Responses<R> {
    type Item = Response<R>;
    type IntoIter = std::vec::IntoIter<Response<R>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, R> IntoIterator for &'a Responses<R> {
    type Item = &'a Response<R>;
    type IntoIter = std::slice::Iter<'a, Response<R>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// A receiver that failed during [`send_robust`](crate::Signal::send_robust).
///
/// `{}` prints `receiver path (file:line) failed: its error`; `{:#}` adds the error's
/// causes (see [`error`](crate::error)).
#[derive(Debug)]
pub struct Failure {
    /// The receiver.
    pub receiver: ReceiverInfo,
    /// Its position among the receivers that ran (0-based, in dispatch order).
    pub position: usize,
    /// What went wrong: a returned error or a panic.
    pub error: ReceiverError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "receiver {} failed: ", self.receiver)?;
        // `{:#}` passes on: the error's causes follow.
        fmt::Display::fmt(&self.error, f)
    }
}

/// Every outcome of a [`send_robust`](crate::Signal::send_robust): the responses of the
/// receivers that succeeded, and the failures, each with its receiver and position.
///
/// A returned value can never be mistaken for a failure (Django's `send_robust` cannot
/// tell a receiver that *returned* an exception from one that raised it).
#[derive(Debug)]
#[must_use = "a robust send reports failures here; they are logged, but check them if they matter"]
pub struct Report<O> {
    output: O,
    /// `None` when nothing failed: a send where every receiver succeeds allocates, builds
    /// and drops nothing here.
    trouble: Option<Box<Trouble>>,
}

/// What went wrong in a robust send (boxed: the rare case).
#[derive(Debug, Default)]
struct Trouble {
    failures: Vec<Failure>,
    stopped: Option<crate::vocab::error::SendError>,
}

/// The failures of a robust send as they are recorded: nothing is allocated before the
/// first one.
#[derive(Debug, Default)]
pub(crate) struct Failures(Option<Box<Trouble>>);

impl Failures {
    /// Records a failure.
    #[cold]
    pub(crate) fn push(&mut self, failure: Failure) {
        self.0
            .get_or_insert_with(Box::default)
            .failures
            .push(failure);
    }
}

impl<O> Report<O> {
    pub(crate) fn new(output: O, failures: Failures) -> Self {
        Report {
            output,
            trouble: failures.0,
        }
    }
    pub(crate) fn stopped(output: O, error: crate::vocab::error::SendError) -> Self {
        Report {
            output,
            trouble: Some(Box::new(Trouble {
                failures: Vec::new(),
                stopped: Some(error),
            })),
        }
    }
    /// Why no receiver ran at all, if the send was refused as a whole (the recursion
    /// limit: [`SendError::Recursion`](crate::vocab::error::SendError::Recursion)).
    pub fn stopped_by(&self) -> Option<&crate::vocab::error::SendError> {
        self.trouble.as_ref()?.stopped.as_ref()
    }
    /// The responses of the receivers that succeeded.
    pub fn responses(&self) -> &O {
        &self.output
    }
    /// The receivers that failed, in dispatch order.
    pub fn failures(&self) -> &[Failure] {
        self.trouble.as_ref().map_or(&[], |t| &t.failures)
    }
    /// Whether the send ran and every receiver succeeded.
    pub fn is_ok(&self) -> bool {
        self.trouble
            .as_ref()
            .is_none_or(|t| t.failures.is_empty() && t.stopped.is_none())
    }
    /// Splits the report into responses and failures.
    pub fn into_parts(self) -> (O, Vec<Failure>) {
        let failures = self.trouble.map(|t| t.failures).unwrap_or_default();
        (self.output, failures)
    }
}
