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
    /// The spans it follows from: (name, `mode` field).
    follows: Vec<(String, String)>,
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
            follows: Vec::new(),
        };
        attrs.record(&mut Fields(&mut record.fields));
        self.open.lock().unwrap().insert(id.into_u64(), record);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(record) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut record.fields));
        }
    }
    fn on_follows_from(&self, id: &Id, follows: &Id, _: Context<'_, S>) {
        let mut open = self.open.lock().unwrap();
        let cause = open.get(&follows.into_u64()).map(|f| {
            (
                f.name.clone(),
                f.fields.get("mode").cloned().unwrap_or_default(),
            )
        });
        if let (Some(cause), Some(record)) = (cause, open.get_mut(&id.into_u64())) {
            record.follows.push(cause);
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

// --- Deferred deliveries ---------------------------------------------------------------------

#[derive(Signal)]
struct Ordered<'a> {
    id: &'a u32,
}

#[receiver(Ordered)]
fn ordered_now(_: &Ordered<'_>) {}

#[receiver(Ordered, on = Commit)]
fn ordered_receipt(_: &Ordered<'_>) {}

#[receiver(Ordered, on = Completion)]
fn ordered_audit(event: &Ordered<'_>) -> Result<(), NoStock> {
    if *event.id == 0 { Err(NoStock) } else { Ok(()) }
}

#[test]
fn a_send_in_a_transaction_records_what_it_queued_and_each_delivery_follows_from_it() {
    use signals_core::transaction::{self, Transaction};
    let (failures, spans) = recording(|| {
        let tx = Transaction::begin();
        tx.run(|| {
            transaction::send_owned::<Ordered, _>(0u32, |id: &u32| Ordered { id }).unwrap();
        });
        tx.commit()
    });
    assert_eq!(failures.len(), 1, "the audit failed: {failures:?}");
    let send = spans
        .iter()
        .find(|s| s.name == "signal.send")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(send.fields["mode"], "owned");
    assert_eq!(send.fields["receivers"], "1", "the immediate one ran");
    assert_eq!(send.fields["queued"], "2", "two wait for the commit");
    let immediate = spans
        .iter()
        .find(|s| s.name == "signal.receiver")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(immediate.parent.as_deref(), Some("signal.send"));
    let deliveries: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.name == "signal.delivery")
        .collect();
    assert_eq!(deliveries.len(), 2, "{spans:#?}");
    let seen: Vec<(&str, &str, &str)> = deliveries
        .iter()
        .map(|d| {
            (
                d.fields["receiver"].as_str(),
                d.fields["phase"].as_str(),
                d.fields["outcome"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        // Dispatch order: equal priorities by path.
        [
            ("tracing_spans::ordered_audit", "completion", "error"),
            ("tracing_spans::ordered_receipt", "commit", "ok"),
        ]
    );
    for d in deliveries {
        assert_eq!(d.parent, None, "a delivery is a root span");
        assert_eq!(d.fields["signal"], "Ordered");
        assert!(d.fields.contains_key("duration_us"));
        assert_eq!(
            d.follows,
            [("signal.send".to_owned(), "owned".to_owned())],
            "linked to the send that queued it"
        );
    }
}
