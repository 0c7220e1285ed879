//! The spans a send emits, read through a real `tracing-subscriber` registry with a
//! recording layer: one `signal.send` per send, one `signal.receiver` child per receiver
//! that ran, with every field filled in. Sync and async sends alike.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use signals_core::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Debug, Default)]
struct SpanRecord {
    name: String,
    target: String,
    parent: Option<String>,
    fields: BTreeMap<String, String>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);
impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// Keeps each span's fields as they are recorded, and the closed spans in close order.
#[derive(Clone, Default)]
struct Recorder {
    open: Arc<Mutex<BTreeMap<u64, SpanRecord>>>,
    closed: Arc<Mutex<Vec<SpanRecord>>>,
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut record = SpanRecord {
            name: attrs.metadata().name().to_owned(),
            target: attrs.metadata().target().to_owned(),
            parent: ctx
                .span(id)
                .and_then(|s| s.parent())
                .map(|p| p.name().to_owned()),
            fields: BTreeMap::new(),
        };
        attrs.record(&mut Fields(&mut record.fields));
        self.open.lock().unwrap().insert(id.into_u64(), record);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(record) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut record.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(record) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(record);
        }
    }
}

fn recording<T>(f: impl FnOnce() -> T) -> (T, Vec<SpanRecord>) {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let value = tracing::subscriber::with_default(subscriber, f);
    let closed = recorder.closed.lock().unwrap().clone();
    (value, closed)
}

#[derive(Debug, thiserror::Error)]
#[error("no stock")]
struct NoStock;

#[derive(Signal)]
struct Traced<'a> {
    fail: &'a bool,
}

#[receiver(Traced, priority = 1)]
fn traced_first(_: &Traced<'_>) {}

#[receiver(Traced)]
fn traced_second(event: &Traced<'_>) -> Result<(), NoStock> {
    if *event.fail { Err(NoStock) } else { Ok(()) }
}

#[test]
fn a_sync_send_emits_one_send_span_and_one_child_span_per_receiver() {
    let (_, spans) = recording(|| Traced { fail: &false }.send().unwrap());
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (receivers, send) = spans.split_at(2);
    let send = &send[0];
    assert_eq!(
        (send.name.as_str(), send.target.as_str()),
        ("signal.send", "signals_core::dispatch")
    );
    assert_eq!(send.fields["signal"], "Traced");
    assert_eq!(send.fields["sender"], "-");
    assert_eq!(send.fields["mode"], "sync");
    assert_eq!(send.fields["receivers"], "2");
    let names: Vec<&str> = receivers
        .iter()
        .map(|r| r.fields["receiver"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "tracing_spans::traced_first",
            "tracing_spans::traced_second"
        ]
    );
    for r in receivers {
        assert_eq!(r.name, "signal.receiver");
        assert_eq!(r.parent.as_deref(), Some("signal.send"));
        assert_eq!(r.fields["outcome"], "ok");
        assert_eq!(r.fields["kind"], "sync");
        assert!(
            r.fields["location"].starts_with("tests/tracing_spans.rs:"),
            "{r:?}"
        );
        assert!(r.fields["duration_us"].parse::<u64>().is_ok(), "{r:?}");
    }
}

#[test]
fn a_failing_receiver_is_recorded_as_an_error_outcome() {
    let (result, spans) = recording(|| Traced { fail: &true }.send());
    assert!(result.is_err());
    let second = spans
        .iter()
        .find(|s| {
            s.fields
                .get("receiver")
                .is_some_and(|r| r.ends_with("traced_second"))
        })
        .unwrap();
    assert_eq!(second.fields["outcome"], "error");
    let send = spans.iter().find(|s| s.name == "signal.send").unwrap();
    assert_eq!(
        send.fields["receivers"], "1",
        "one receiver succeeded before the error"
    );
}

#[derive(Signal)]
struct Quiet;

#[test]
fn a_send_nobody_listens_to_emits_no_span() {
    let (_, spans) = recording(|| Quiet.send().unwrap());
    assert!(spans.is_empty(), "{spans:#?}");
}

#[derive(Signal)]
struct AsyncTraced;

#[receiver(AsyncTraced)]
async fn async_traced(_: &AsyncTraced) {
    tokio::task::yield_now().await;
}

#[test]
fn an_async_send_instruments_its_receivers_without_holding_guards() {
    let (_, spans) = recording(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(AsyncTraced.send_async())
            .unwrap()
    });
    let send = spans
        .iter()
        .find(|s| s.name == "signal.send")
        .expect("send span");
    assert_eq!(send.fields["mode"], "async");
    assert_eq!(send.fields["receivers"], "1");
    let receiver = spans
        .iter()
        .find(|s| s.name == "signal.receiver")
        .expect("receiver span");
    assert_eq!(receiver.fields["kind"], "async");
    assert_eq!(receiver.fields["outcome"], "ok");
    assert_eq!(receiver.parent.as_deref(), Some("signal.send"));
}
