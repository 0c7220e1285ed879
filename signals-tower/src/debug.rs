//! A signals debug page (feature `debug-page`): the receiver map and the last sends, for
//! a browser. Django Debug Toolbar's signals panel, for a running axum application.
//!
//! ```no_run
//! use axum::Router;
//! use signals_tower::debug::{DebugPage, MermaidJs, SendLog};
//! use tracing_subscriber::prelude::*;
//!
//! # fn main() -> Result<(), signals_tower::debug::DebugPageError> {
//! // Record the last 100 sends from the `signal.*` spans signals-core emits.
//! let log = SendLog::new(100);
//! tracing_subscriber::registry().with(log.layer()).init();
//!
//! let app: Router = Router::new()
//!     // ... your routes ...
//!     .nest("/_signals", DebugPage::new(log).mermaid_js(MermaidJs::File("mermaid.min.js".into())).router()?); // at /_signals
//! # Ok(()) }
//! ```
//!
//! # What it shows
//!
//! * The receiver map ([`ReceiverMap::current`]): a table (signal, sender, receiver,
//!   priority, phase, kind, `file:line`) and the same map as a Mermaid flowchart
//!   ([`MapFormat::Mermaid`]), rendered in the browser.
//! * The last sends, newest first: signal, sender, mode, how many receivers ran and how
//!   many deliveries it queued, and each receiver with its outcome (`ok`, `error`,
//!   `panic`) and duration; deferred deliveries (`on = Commit`, ...) run after a
//!   transaction are listed as sends of mode `delivery (phase)`.
//!
//! # How sends are observed
//!
//! [`SendLog::layer`] is a [`tracing_subscriber::Layer`] on the spans signals-core already
//! emits (`signal.send`, `signal.receiver`, `signal.delivery`, target
//! `signals_core::dispatch`, level `DEBUG`; see signals-core's `trace` module): nothing in
//! the dispatch path changes, and when the page is not installed nothing is recorded. It
//! ignores every other span. Its lock is held only to push or copy records, never while a
//! receiver runs.
//!
//! # Mermaid's JavaScript
//!
//! The diagram is drawn by Mermaid in the browser. Its bundle (`mermaid.min.js`, 2.7 MB
//! for 11.12.0) is too big to embed in this crate, so the page loads it from where you
//! say ([`MermaidJs`]): a file you ship (served by the router at `mermaid.min.js`; CI
//! installs it with `npm pack mermaid@11.12.0`), or a URL (the default: the pinned
//! release on jsDelivr, which needs the browser to reach the internet). Without it the
//! page still shows the tables and the Mermaid source.
//!
//! The page is for development: it lists code locations and payload-free send history;
//! do not mount it on a public server.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use signals_core::map::{MapFormat, ReceiverMap};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

const TARGET: &str = "signals_core::dispatch";

/// The default Mermaid bundle: release 11.12.0 on jsDelivr.
pub const MERMAID_CDN: &str = "https://cdn.jsdelivr.net/npm/mermaid@11.12.0/dist/mermaid.min.js";

/// One receiver's run within a recorded send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverRun {
    /// The receiver's path.
    pub receiver: String,
    /// Its `file:line`.
    pub location: String,
    /// `sync` or `async`.
    pub kind: String,
    /// `ok`, `error` or `panic` (empty if it never finished).
    pub outcome: String,
    /// How long it ran, in microseconds.
    pub duration_us: u64,
}

/// One recorded send (or deferred delivery).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendRecord {
    /// The signal's name.
    pub signal: String,
    /// The sender's name (`-` for none).
    pub sender: String,
    /// `sync`, `robust`, `async`, `async_robust`, or `delivery (phase)`.
    pub mode: String,
    /// How many receivers ran.
    pub receivers_ran: u64,
    /// How many deferred deliveries it queued.
    pub queued: u64,
    /// The receivers, in the order they finished.
    pub receivers: Vec<ReceiverRun>,
    /// When it started.
    pub at: SystemTime,
    /// How long it took, in microseconds.
    pub duration_us: u64,
}

/// The last sends, recorded by [`SendLog::layer`]; cloning shares the record.
#[derive(Clone, Debug)]
pub struct SendLog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    capacity: usize,
    sends: Mutex<VecDeque<SendRecord>>,
}

impl SendLog {
    /// A log keeping the last `capacity` sends (at least one).
    pub fn new(capacity: usize) -> Self {
        SendLog {
            shared: Arc::new(Shared {
                capacity: capacity.max(1),
                sends: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// The tracing layer that records into this log.
    pub fn layer(&self) -> SendLogLayer {
        SendLogLayer { log: self.clone() }
    }

    /// The recorded sends, newest first.
    pub fn sends(&self) -> Vec<SendRecord> {
        let sends = self.lock();
        sends.iter().rev().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SendRecord>> {
        self.shared
            .sends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, record: SendRecord) {
        let mut sends = self.lock();
        if sends.len() == self.shared.capacity {
            sends.pop_front();
        }
        sends.push_back(record);
    }
}

/// A [`tracing_subscriber::Layer`] recording signals-core's send spans into a
/// [`SendLog`]; see [How sends are observed](self#how-sends-are-observed).
#[derive(Clone, Debug)]
pub struct SendLogLayer {
    log: SendLog,
}

/// What a span extension holds while a send or receiver span is open.
struct Open {
    record: SendRecord,
    started: Instant,
}

#[derive(Default)]
struct Fields {
    signal: Option<String>,
    sender: Option<String>,
    mode: Option<String>,
    receiver: Option<String>,
    location: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    phase: Option<String>,
    receivers: Option<u64>,
    queued: Option<u64>,
    duration_us: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "signal" => &mut self.signal,
            "sender" => &mut self.sender,
            "mode" => &mut self.mode,
            "receiver" => &mut self.receiver,
            "location" => &mut self.location,
            "kind" => &mut self.kind,
            "outcome" => &mut self.outcome,
            "phase" => &mut self.phase,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let slot = match field.name() {
            "receivers" => &mut self.receivers,
            "queued" => &mut self.queued,
            "duration_us" => &mut self.duration_us,
            _ => return,
        };
        *slot = Some(value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `location` is recorded with `%` (Display), which reaches here.
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }
}

impl Fields {
    fn apply_send(self, record: &mut SendRecord) {
        if let Some(v) = self.receivers {
            record.receivers_ran = v;
        }
        if let Some(v) = self.queued {
            record.queued = v;
        }
        if let Some(v) = self.duration_us {
            record.duration_us = v;
        }
        if let Some(outcome) = self.outcome {
            // A delivery's own outcome: it is its one receiver's.
            if let Some(run) = record.receivers.first_mut() {
                run.outcome = outcome;
            }
        }
    }
    fn apply_receiver(self, run: &mut ReceiverRun) {
        if let Some(v) = self.outcome {
            run.outcome = v;
        }
        if let Some(v) = self.duration_us {
            run.duration_us = v;
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for SendLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if metadata.target() != TARGET {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let open = match metadata.name() {
            "signal.send" | "signal.delivery" => {
                let delivery = metadata.name() == "signal.delivery";
                let mut record = SendRecord {
                    signal: fields.signal.take().unwrap_or_default(),
                    sender: fields.sender.take().unwrap_or_else(|| "-".into()),
                    mode: fields.mode.take().unwrap_or_default(),
                    receivers_ran: 0,
                    queued: 0,
                    receivers: Vec::new(),
                    at: SystemTime::now(),
                    duration_us: 0,
                };
                if delivery {
                    record.mode = format!("delivery ({})", fields.phase.take().unwrap_or_default());
                    record.receivers_ran = 1;
                    record.receivers.push(ReceiverRun {
                        receiver: fields.receiver.take().unwrap_or_default(),
                        location: fields.location.take().unwrap_or_default(),
                        kind: fields.kind.take().unwrap_or_default(),
                        ..ReceiverRun::default()
                    });
                }
                Open {
                    record,
                    started: Instant::now(),
                }
            }
            "signal.receiver" => {
                let run = ReceiverRun {
                    receiver: fields.receiver.take().unwrap_or_default(),
                    location: fields.location.take().unwrap_or_default(),
                    kind: fields.kind.take().unwrap_or_default(),
                    ..ReceiverRun::default()
                };
                span.extensions_mut().insert(run);
                return;
            }
            _ => return,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        if let Some(open) = extensions.get_mut::<Open>() {
            fields.apply_send(&mut open.record);
        } else if let Some(run) = extensions.get_mut::<ReceiverRun>() {
            fields.apply_receiver(run);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if span.metadata().target() != TARGET {
            return;
        }
        let run = span.extensions_mut().remove::<ReceiverRun>();
        if let Some(run) = run {
            if let Some(parent) = span.parent()
                && let Some(open) = parent.extensions_mut().get_mut::<Open>()
            {
                open.record.receivers.push(run);
            }
            return;
        }
        let open = span.extensions_mut().remove::<Open>();
        if let Some(Open {
            mut record,
            started,
        }) = open
        {
            if record.duration_us == 0 {
                record.duration_us = started.elapsed().as_micros() as u64;
            }
            self.log.push(record);
        }
    }
}

/// Where the page loads Mermaid's JavaScript from; see
/// [Mermaid's JavaScript](self#mermaids-javascript).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MermaidJs {
    /// A URL the browser fetches (default: [`MERMAID_CDN`]).
    Url(String),
    /// A `mermaid.min.js` file, read when the router is built and served by it.
    File(PathBuf),
}

impl Default for MermaidJs {
    fn default() -> Self {
        MermaidJs::Url(MERMAID_CDN.to_owned())
    }
}

/// Why the debug page's router could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebugPageError {
    /// The Mermaid file could not be read.
    #[error("cannot read Mermaid's JavaScript from {path}")]
    MermaidJs {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The debug page's router builder; see the [module documentation](self).
#[derive(Clone, Debug)]
pub struct DebugPage {
    log: SendLog,
    mermaid: MermaidJs,
}

impl DebugPage {
    /// A page showing the receiver map and the sends `log` recorded.
    pub fn new(log: SendLog) -> Self {
        DebugPage {
            log,
            mermaid: MermaidJs::default(),
        }
    }

    /// Where the page loads Mermaid from.
    pub fn mermaid_js(mut self, mermaid: MermaidJs) -> Self {
        self.mermaid = mermaid;
        self
    }

    /// The router: the page at `/`, and `/mermaid.min.js` for [`MermaidJs::File`]. Mount
    /// it with `Router::nest("/_signals", ...)`: the page is then at `/_signals` (axum 0.8
    /// does not match `/_signals/`) and links the bundle at `/_signals/mermaid.min.js`.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Result<Router<S>, DebugPageError> {
        let (script, bundle) = match self.mermaid {
            MermaidJs::Url(url) => (url, None),
            MermaidJs::File(path) => match std::fs::read(&path) {
                Ok(bytes) => ("mermaid.min.js".to_owned(), Some(bytes)),
                Err(source) => return Err(DebugPageError::MermaidJs { path, source }),
            },
        };
        let log = self.log;
        let local = bundle.is_some();
        let script = Arc::new(script);
        let mut router = Router::new().route(
            "/",
            get(move |OriginalUri(uri): OriginalUri| {
                let (log, script) = (log.clone(), Arc::clone(&script));
                async move {
                    // The bundle is served next to the page, wherever the router is nested.
                    let script = match local {
                        true => format!("{}/{script}", uri.path().trim_end_matches('/')),
                        false => script.to_string(),
                    };
                    Html(render_page(&ReceiverMap::current(), &log.sends(), &script))
                }
            }),
        );
        if let Some(bytes) = bundle {
            let bytes = axum::body::Bytes::from(bytes);
            router = router.route(
                "/mermaid.min.js",
                get(move || {
                    let bytes = bytes.clone();
                    async move {
                        (
                            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                            bytes,
                        )
                            .into_response()
                    }
                }),
            );
        }
        Ok(router)
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's HTML.
fn render_page(map: &ReceiverMap, sends: &[SendRecord], script: &str) -> String {
    let mut html = String::with_capacity(8192);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>signals: debug</title><style>\
         body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}\
         table{border-collapse:collapse;margin-bottom:1.5rem}\
         td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}\
         th{background:#f3f3f3}.error,.panic{color:#b00020;font-weight:bold}\
         code{font-size:.85rem}</style></head><body>\n<h1>Signals</h1>\n",
    );
    let _ = writeln!(html, "<h2>Receiver map ({} receivers)</h2>", map.len());
    html.push_str(
        "<table id=\"receivers\"><tr><th>signal</th><th>sender</th><th>receiver</th>\
         <th>priority</th><th>phase</th><th>kind</th><th>location</th></tr>\n",
    );
    for entry in map.entries() {
        let info = entry.info();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(info.signal()),
            escape(entry.sender_label()),
            escape(info.name()),
            info.priority(),
            entry.phase().as_str(),
            entry.kind_label(),
            escape(&entry.location()),
        );
    }
    html.push_str("</table>\n<h2>Diagram</h2>\n<pre class=\"mermaid\" id=\"diagram\">\n");
    html.push_str(&escape(&map.render(MapFormat::Mermaid)));
    html.push_str("</pre>\n");
    let _ = writeln!(html, "<h2>Last sends ({})</h2>", sends.len());
    html.push_str(
        "<table id=\"sends\"><tr><th>signal</th><th>sender</th><th>mode</th>\
         <th>receivers</th><th>queued</th><th>duration</th><th>receiver runs</th></tr>\n",
    );
    for send in sends {
        let mut runs = String::new();
        for run in &send.receivers {
            let _ = write!(
                runs,
                "<div><code>{}</code> <span class=\"{}\">{}</span> {} µs</div>",
                escape(&run.receiver),
                escape(&run.outcome),
                escape(&run.outcome),
                run.duration_us
            );
        }
        let _ = writeln!(
            html,
            "<tr class=\"send\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} µs</td><td>{}</td></tr>",
            escape(&send.signal),
            escape(&send.sender),
            escape(&send.mode),
            send.receivers_ran,
            send.queued,
            send.duration_us,
            runs
        );
    }
    html.push_str("</table>\n");
    let _ = write!(
        html,
        "<script src=\"{}\"></script>\n<script>if (window.mermaid) {{ mermaid.initialize({{ startOnLoad: true, securityLevel: 'strict' }}); }}</script>\n</body></html>\n",
        escape(script)
    );
    html
}
