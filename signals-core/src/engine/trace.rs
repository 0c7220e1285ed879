//! `tracing` spans for sends and receivers.
//!
//! * `signal.send` (target `signals_core::dispatch`, level `DEBUG`): one per send that has
//!   receivers, with `signal`, `sender` (`-` when none), `mode` (`sync`, `robust`, `async`,
//!   `async_robust`) and `receivers` (how many ran, recorded at the end).
//! * `signal.receiver` (same target and level), a child of `signal.send`: one per receiver
//!   that runs, with `receiver` (its path), `location` (`file:line`), `kind`
//!   (`sync`/`async`), `outcome` (`ok`, `error`, `panic`) and `duration_us`, recorded when
//!   it returns.
//!
//! * `signal.send` also records `queued`: how many deferred receivers (`on = Commit`, ...)
//!   a send inside a transaction queued (`transaction::send_owned`).
//! * `signal.delivery` (same target and level): one per deferred delivery run after its
//!   transaction ended, a root span that *follows from* the `signal.send` that queued it,
//!   with `signal`, `receiver`, `location`, `phase`, `kind`, `outcome` and `duration_us`.
//!
//! Every field is declared when the span is created (`tracing` drops fields recorded later
//! that were not declared). Async sends attach spans with `Instrument`, never holding an
//! entered guard across `.await`. When no subscriber is interested, creating the send span
//! is the only check a send pays: receiver spans are not even built.

use std::time::Instant;

use tracing::Span;
use tracing::field::Empty;

use crate::engine::payload::Payload;
use crate::vocab::receiver::ReceiverInfo;

/// The span of one send; `None` (and nothing to record or drop) when `DEBUG` is off for
/// every subscriber. A span that is built but disabled by a filter is `Some`.
#[inline(always)]
pub(crate) fn send_span<S: Payload>(mode: &'static str) -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = send_span_enabled::<S>(mode);
    (!span.is_disabled()).then_some(span)
}

#[inline(never)]
fn send_span_enabled<S: Payload>(mode: &'static str) -> Span {
    tracing::debug_span!(
        target: "signals_core::dispatch",
        "signal.send",
        signal = S::NAME,
        sender = S::sender_name().unwrap_or("-"),
        mode,
        receivers = Empty,
        queued = Empty,
    )
}

/// The span of a send whose caller already opened one (`transaction::send_owned`): the
/// current span, when `DEBUG` is on.
#[inline(always)]
pub(crate) fn current_span() -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = Span::current();
    (!span.is_disabled()).then_some(span)
}

/// Records how many deferred deliveries a send queued on its span, if it has one.
pub(crate) fn record_queued(span: Option<&Span>, queued: usize) {
    if let Some(span) = span {
        span.record("queued", queued);
    }
}

/// The span of one deferred delivery run after its transaction ended (`signal.delivery`,
/// same target and level), following from the send that queued it; `None` when `DEBUG`
/// is off.
pub(crate) fn delivery_span(info: &ReceiverInfo, queued_by: Option<&Span>) -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = tracing::debug_span!(
        target: "signals_core::dispatch",
        parent: None,
        "signal.delivery",
        signal = info.signal,
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        phase = info.phase.as_str(),
        kind = if info.is_async { "async" } else { "sync" },
        outcome = Empty,
        duration_us = Empty,
    );
    if let Some(send) = queued_by {
        span.follows_from(send);
    }
    (!span.is_disabled()).then_some(span)
}

/// The span of one receiver's run, a child of its send's span.
pub(crate) fn receiver_span(parent: &Span, info: &ReceiverInfo) -> Span {
    tracing::debug_span!(
        target: "signals_core::dispatch",
        parent: parent,
        "signal.receiver",
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        kind = if info.is_async { "async" } else { "sync" },
        outcome = Empty,
        duration_us = Empty,
    )
}

/// Records how a receiver ended on its span.
pub(crate) fn finish(span: &Span, outcome: &'static str, started: Instant) {
    span.record("outcome", outcome);
    span.record("duration_us", started.elapsed().as_micros() as u64);
}

/// The outcome name of a receiver result: `None` is a receiver that did not run (its
/// `when` predicate said no).
pub(crate) fn outcome_of<R, E>(result: &Option<Result<R, E>>) -> &'static str {
    match result {
        Some(Ok(_)) => "ok",
        None => "skipped",
        Some(Err(_)) => "error",
    }
}

/// Records how many receivers a send ran on its span, if it has one.
#[inline(always)]
pub(crate) fn record_receivers(span: Option<&Span>, ran: usize) {
    if let Some(span) = span {
        span.record("receivers", ran);
    }
}
