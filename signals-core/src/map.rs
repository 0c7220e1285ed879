//! The receiver map: every signal and who receives it, as a table, Mermaid or Graphviz DOT.
//!
//! Django's signals hide the flow of execution: nothing in the sending code says what will
//! run. Here every receiver is known (link-time ones from the moment the program starts,
//! runtime ones while connected), so the whole flow can be printed:
//!
//! ```
//! use signals_core::map::ReceiverMap;
//! use signals_core::models::{Model, PostSave};
//! use signals_core::prelude::*;
//!
//! pub struct User;
//! impl Model for User {}
//!
//! #[receiver(PostSave, sender = User, priority = 10)]
//! fn create_profile(_: &PostSave<'_, User>) {}
//!
//! let map = ReceiverMap::current();
//! println!("{map}"); // the table; also map.to_mermaid() and map.to_dot()
//! assert!(map.to_table().lines().any(|row| row.contains("create_profile")));
//! assert!(map.to_mermaid().starts_with("flowchart LR"));
//! assert!(map.to_dot().starts_with("digraph receivers {"));
//! ```
//!
//! `cargo run --example receiver_map -- --format mermaid` prints the map of a small shop.
//!
//! All three outputs are deterministic: entries keep the order of
//! [`registry::receivers`](crate::registry::receivers) (by signal name, then dispatch
//! order), and node ids are numbered in that order.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::vocab::receiver::{ReceiverInfo, ReceiverKind};

pub use crate::vocab::phase::Phase;

/// One row of the map: a receiver of one signal, and when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEntry {
    info: ReceiverInfo,
    phase: Phase,
}

impl MapEntry {
    /// The receiver: name, signal, sender, priority, `file:line`, kind, sync or async.
    pub fn info(&self) -> &ReceiverInfo {
        &self.info
    }
    /// When it runs.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// The sender type it is filtered to, or `"any"`.
    pub fn sender_label(&self) -> &'static str {
        self.info.sender().unwrap_or("any")
    }
    /// `sync` or `async`, then `link-time` (`#[receiver]`) or `runtime` (`connect`), e.g.
    /// `"async, link-time"`.
    pub fn kind_label(&self) -> &'static str {
        match (self.info.is_async(), self.info.kind()) {
            (false, ReceiverKind::Static) => "sync, link-time",
            (true, ReceiverKind::Static) => "async, link-time",
            (false, ReceiverKind::Dynamic { .. }) => "sync, runtime",
            (true, ReceiverKind::Dynamic { .. }) => "async, runtime",
        }
    }
    /// `file:line` of the declaration, or of the `connect` call.
    pub fn location(&self) -> String {
        format!("{}:{}", self.info.file(), self.info.line())
    }
}

/// The output formats of a [`ReceiverMap`]; parsed from `table`, `mermaid` or `dot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapFormat {
    /// [`ReceiverMap::to_table`].
    Table,
    /// [`ReceiverMap::to_mermaid`].
    Mermaid,
    /// [`ReceiverMap::to_dot`].
    Dot,
}

impl MapFormat {
    /// Every format, in the order `table`, `mermaid`, `dot`.
    pub const ALL: [MapFormat; 3] = [MapFormat::Table, MapFormat::Mermaid, MapFormat::Dot];
}

impl MapFormat {
    /// `table`, `mermaid` or `dot`.
    pub fn as_str(self) -> &'static str {
        match self {
            MapFormat::Table => "table",
            MapFormat::Mermaid => "mermaid",
            MapFormat::Dot => "dot",
        }
    }
}

impl fmt::Display for MapFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MapFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(MapFormat::Table),
            "mermaid" => Ok(MapFormat::Mermaid),
            "dot" => Ok(MapFormat::Dot),
            other => Err(format!(
                "unknown format `{other}`: expected table, mermaid or dot"
            )),
        }
    }
}

/// Every signal and its receivers, in dispatch order. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiverMap {
    entries: Vec<MapEntry>,
}

impl ReceiverMap {
    /// The map of this process: every link-time receiver linked in, and every runtime
    /// receiver connected right now ([`registry::receivers`](crate::registry::receivers)).
    pub fn current() -> Self {
        Self::from_receivers(crate::registry::receivers())
    }

    /// A map of the given receivers (e.g. `registry::receivers()` filtered to some
    /// signals), in the order of `registry::receivers()` whatever order they come in: by
    /// signal name, then by descending priority, link-time before runtime, link-time ties
    /// by path, file and line. Runtime receivers that tie keep the order they were given
    /// in (for `registry::receivers()`, their connection order).
    pub fn from_receivers(mut receivers: Vec<ReceiverInfo>) -> Self {
        receivers.sort_by(|a, b| {
            a.signal()
                .cmp(b.signal())
                .then_with(|| crate::vocab::receiver::dispatch_order(a, b))
        });
        let entries = receivers
            .into_iter()
            .map(|info| MapEntry {
                phase: info.phase(),
                info,
            })
            .collect();
        ReceiverMap { entries }
    }

    /// The rows, in order.
    pub fn entries(&self) -> &[MapEntry] {
        &self.entries
    }

    /// The number of rows (one per receiver and signal).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no receiver is registered at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The map in `format`.
    pub fn render(&self, format: MapFormat) -> String {
        match format {
            MapFormat::Table => self.to_table(),
            MapFormat::Mermaid => self.to_mermaid(),
            MapFormat::Dot => self.to_dot(),
        }
    }

    /// A Markdown table, padded so that it also reads as plain text, one row per receiver
    /// and signal:
    ///
    /// ```text
    /// | signal   | sender    | priority | kind            | receiver            | location      | phase     |
    /// |----------|-----------|---------:|-----------------|---------------------|---------------|-----------|
    /// | PostSave | app::User |       10 | sync, link-time | app::create_profile | src/app.rs:12 | immediate |
    /// ```
    ///
    /// `|` inside a cell is written `\|`, and line breaks as spaces.
    pub fn to_table(&self) -> String {
        const HEADER: [&str; 7] = [
            "signal", "sender", "priority", "kind", "receiver", "location", "phase",
        ];
        let rows: Vec<[String; 7]> = self
            .entries
            .iter()
            .map(|e| {
                [
                    e.info.signal().to_owned(),
                    e.sender_label().to_owned(),
                    e.info.priority().to_string(),
                    e.kind_label().to_owned(),
                    receiver_cell(&e.info),
                    e.location(),
                    e.phase.as_str().to_owned(),
                ]
                .map(|cell| cell.replace('|', "\\|").replace(['\n', '\r'], " "))
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        push_row(&mut out, &widths, &HEADER.map(str::to_owned));
        for (column, &width) in widths.iter().enumerate() {
            out.push('|');
            if column == PRIORITY_COLUMN {
                out.push_str(&"-".repeat(width + 1));
                out.push(':');
            } else {
                out.push_str(&"-".repeat(width + 2));
            }
        }
        out.push_str("|\n");
        for row in &rows {
            push_row(&mut out, &widths, row);
        }
        out
    }

    /// A Mermaid `flowchart LR`: one node per signal (`s0`, `s1`, ...), one per receiver
    /// function (`r0`, ...; a function that receives two signals is one node with two
    /// edges), and one edge per row, labelled with the sender and the priority (and the
    /// phase, when it is not `immediate`). Receiver nodes show the path, `file:line`, and
    /// whether they are sync or async, link-time or runtime.
    ///
    /// Every label is quoted, and `"`, `<`, `>`, `&`, `#`, `|` are written as Mermaid
    /// entity codes, so type names such as `app::Wrapper<app::User>` render as written.
    pub fn to_mermaid(&self) -> String {
        let graph = Graph::of(self);
        let mut out = String::from("flowchart LR\n");
        for (id, name) in graph.signals.iter().enumerate() {
            let _ = writeln!(out, "    s{id}([\"{}\"])", mermaid_escape(name));
        }
        for (id, entry) in graph.receivers.iter().enumerate() {
            let _ = writeln!(
                out,
                "    r{id}[\"{}<br/>{}<br/>{}\"]",
                mermaid_escape(entry.info.name()),
                mermaid_escape(&entry.location()),
                mermaid_escape(entry.kind_label()),
            );
        }
        for edge in &graph.edges {
            let _ = writeln!(
                out,
                "    s{} -->|\"{}\"| r{}",
                edge.signal,
                mermaid_escape(&edge_label(edge.entry)),
                edge.receiver
            );
        }
        out
    }

    /// A Graphviz `digraph receivers`, with the same nodes and edges as
    /// [`to_mermaid`](Self::to_mermaid). Every id and label is a quoted string (`"` and
    /// `\` escaped, one line per label line), so the output is valid whatever the names.
    /// Render it with `dot -Tsvg`.
    pub fn to_dot(&self) -> String {
        let graph = Graph::of(self);
        let mut out = String::from("digraph receivers {\n");
        out.push_str("    rankdir=LR;\n");
        out.push_str("    node [shape=box, fontname=\"monospace\"];\n");
        out.push_str("    edge [fontname=\"monospace\"];\n");
        for (id, name) in graph.signals.iter().enumerate() {
            let _ = writeln!(
                out,
                "    \"s{id}\" [label=\"{}\", shape=ellipse];",
                dot_escape(name)
            );
        }
        for (id, entry) in graph.receivers.iter().enumerate() {
            let _ = writeln!(
                out,
                "    \"r{id}\" [label=\"{}\\n{}\\n{}\"];",
                dot_escape(entry.info.name()),
                dot_escape(&entry.location()),
                dot_escape(entry.kind_label()),
            );
        }
        for edge in &graph.edges {
            let _ = writeln!(
                out,
                "    \"s{}\" -> \"r{}\" [label=\"{}\"];",
                edge.signal,
                edge.receiver,
                dot_escape(&edge_label(edge.entry))
            );
        }
        out.push_str("}\n");
        out
    }
}

impl fmt::Display for ReceiverMap {
    /// The table ([`ReceiverMap::to_table`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_table())
    }
}

/// The right-aligned (numeric) column of the table.
const PRIORITY_COLUMN: usize = 2;

/// One padded table row.
fn push_row(out: &mut String, widths: &[usize], cells: &[String]) {
    for (column, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        if column == PRIORITY_COLUMN {
            let _ = write!(out, "| {cell:>width$} ");
        } else {
            let _ = write!(out, "| {cell:<width$} ");
        }
    }
    out.push_str("|\n");
}

/// Nodes and edges shared by the Mermaid and DOT outputs.
struct Graph<'m> {
    signals: Vec<&'static str>,
    /// The first row of each receiver function.
    receivers: Vec<&'m MapEntry>,
    edges: Vec<Edge<'m>>,
}

struct Edge<'m> {
    signal: usize,
    receiver: usize,
    entry: &'m MapEntry,
}

/// What makes two rows the same receiver function: a `#[receiver]` on two signals
/// shares all of it; every runtime connection is its own receiver.
fn same_receiver(a: &ReceiverInfo, b: &ReceiverInfo) -> bool {
    a.name() == b.name() && a.file() == b.file() && a.line() == b.line() && a.kind() == b.kind()
}

impl<'m> Graph<'m> {
    fn of(map: &'m ReceiverMap) -> Self {
        let mut graph = Graph {
            signals: Vec::new(),
            receivers: Vec::new(),
            edges: Vec::new(),
        };
        for entry in &map.entries {
            let signal = match graph.signals.iter().position(|s| *s == entry.info.signal()) {
                Some(at) => at,
                None => {
                    graph.signals.push(entry.info.signal());
                    graph.signals.len() - 1
                }
            };
            let receiver = match graph
                .receivers
                .iter()
                .position(|r| same_receiver(&r.info, &entry.info))
            {
                Some(at) => at,
                None => {
                    graph.receivers.push(entry);
                    graph.receivers.len() - 1
                }
            };
            graph.edges.push(Edge {
                signal,
                receiver,
                entry,
            });
        }
        graph
    }
}

/// The receiver column: its name, its `when` predicate and whether it never runs.
fn receiver_cell(info: &ReceiverInfo) -> String {
    let mut cell = info.name().to_owned();
    if let Some(when) = info.when() {
        let _ = write!(cell, " (when {when})");
    }
    if let Some(queue) = info.offload() {
        let _ = write!(cell, " (offloaded to queue {queue})");
    }
    if let Some(kept) = info.shadowed_by() {
        let _ = write!(cell, " (never runs: its dispatch_uid is held by {kept})");
    }
    cell
}

/// `app::User, priority 10` (plus `, on commit`-style phase when not immediate, and the
/// `when` predicate).
fn edge_label(entry: &MapEntry) -> String {
    let mut label = format!(
        "{}, priority {}",
        entry.sender_label(),
        entry.info.priority()
    );
    if entry.phase != Phase::Immediate {
        let _ = write!(label, ", {}", entry.phase);
    }
    if let Some(when) = entry.info.when() {
        let _ = write!(label, ", when {when}");
    }
    if let Some(queue) = entry.info.offload() {
        let _ = write!(label, ", offloaded to {queue}");
    }
    if entry.info.shadowed_by().is_some() {
        label.push_str(", never runs: duplicate dispatch_uid");
    }
    label
}

/// Escapes text for a quoted Mermaid label with entity codes (`#quot;`, `#lt;`, ...).
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a quoted DOT string.
fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            mermaid_escape("a::W<b::U> \"x\" #1 & |"),
            "a::W#lt;b::U#gt; #quot;x#quot; #35;1 #amp; #124;"
        );
        assert_eq!(dot_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!("dot".parse::<MapFormat>(), Ok(MapFormat::Dot));
        assert!("svg".parse::<MapFormat>().is_err());
    }

    #[test]
    fn empty_map() {
        let map = ReceiverMap::from_receivers(Vec::new());
        assert!(map.is_empty());
        assert_eq!(map.to_mermaid(), "flowchart LR\n");
        assert_eq!(map.to_table().lines().count(), 2);
        assert!(map.to_dot().ends_with("}\n"));
    }
}
