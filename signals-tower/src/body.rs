//! The response body wrapper that sends `RequestFinished`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use signals_core::request::{GotRequestException, RequestFinished};

use crate::error::{RequestError, grpc_error};
use crate::layer::{RequestInfo, send_now};

pin_project_lite::pin_project! {
    /// The response body of a [`Signals`](crate::Signals) service: the inner body, which
    /// sends [`RequestFinished`] when it has been sent to its end, fails, or is dropped
    /// before its end (`complete: false`).
    ///
    /// The end is detected without waiting for one more poll: hyper stops polling a body
    /// once [`Body::is_end_stream`] is `true` and drops it, so the wrapper checks it after
    /// every frame (and an empty body counts as sent when it is dropped).
    pub struct SignalsBody<B> {
        #[pin]
        inner: B,
        finish: Option<Finish>,
    }
}

impl<B: fmt::Debug> fmt::Debug for SignalsBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalsBody")
            .field("inner", &self.inner)
            .field("finished", &self.finish.is_none())
            .finish()
    }
}

impl<B: Body> SignalsBody<B> {
    pub(crate) fn new(inner: B, mut finish: Finish) -> Self {
        // An empty body is never polled: it is sent when hyper drops it.
        finish.ended = inner.is_end_stream();
        SignalsBody {
            inner,
            finish: Some(finish),
        }
    }
}

/// What the body needs to send `RequestFinished` (and a gRPC trailers exception).
pub(crate) struct Finish {
    pub(crate) info: RequestInfo,
    pub(crate) status: u16,
    pub(crate) started: Instant,
    pub(crate) grpc: bool,
    pub(crate) ended: bool,
}

impl Finish {
    fn exception(&self, error: &RequestError) {
        send_now(&GotRequestException::new(self.info.meta(), error).status(self.status));
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        send_now(
            &RequestFinished::new(self.info.meta(), Some(self.status))
                .duration(self.started.elapsed())
                .complete(self.ended),
        );
    }
}

/// Sends `RequestFinished` (dropping the state in place: it is not moved out first).
fn finish(slot: &mut Option<Finish>, ended: bool) {
    if let Some(finish) = slot {
        finish.ended = ended;
    }
    *slot = None;
}

impl<B> Body for SignalsBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let poll = this.inner.as_mut().poll_frame(cx);
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(state)) = (frame.trailers_ref(), this.finish.as_ref())
                    && state.grpc
                    && let Some(error) = grpc_error(trailers)
                {
                    state.exception(&error);
                }
                if this.inner.is_end_stream() {
                    finish(this.finish, true);
                }
            }
            Poll::Ready(Some(Err(error))) => {
                if let Some(state) = this.finish.as_ref() {
                    state.exception(&RequestError::Body(error.to_string()));
                }
                finish(this.finish, false);
            }
            Poll::Ready(None) => finish(this.finish, true),
            Poll::Pending => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
