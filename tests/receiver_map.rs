//! The receiver map (`signals_core::map`): the table, Mermaid and DOT outputs of a known set
//! of receivers declared here, including a generic sender and names that need escaping.
//!
//! Receivers are global to this test binary, so each test builds its map from the receivers
//! declared in this file (`file!()`), and only one test connects a runtime receiver.

use signals_core::map::{MapFormat, Phase, ReceiverMap};
use signals_core::models::{ModelEvent, PostDelete, PostSave};
use signals_core::prelude::*;
use signals_core::{ReceiverInfo, ReceiverKind};

pub mod app {
    use signals_core::models::Model;

    pub struct User;
    impl Model for User {}

    /// A generic sender: its type name has `<` and `>`.
    pub struct Wrapper<T>(pub T);
    impl<T: Send + Sync + 'static> Model for Wrapper<T> {}
}

/// A custom signal, received by an async receiver.
#[derive(Signal)]
pub struct MapOrderPlaced {
    pub id: u64,
}

/// A signal whose name needs escaping in every format.
#[derive(Signal)]
#[signal(name = "legacy::Event<\"v1\">")]
pub struct Legacy;

const CREATE_PROFILE: u32 = line!() + 2;
#[receiver(PostSave, sender = app::User, priority = 10)]
fn create_profile(_: &PostSave<'_, app::User>) {}

const WRAPPED: u32 = line!() + 2;
#[receiver(PostSave, sender = app::Wrapper<app::User>)]
fn wrapped_saved(_: &PostSave<'_, app::Wrapper<app::User>>) {}

/// One function, two signals: one node, two edges.
const INVALIDATE: u32 = line!() + 2;
#[receiver(PostSave, PostDelete, sender = app::User)]
fn invalidate(_: &dyn ModelEvent) {}

const AUDIT: u32 = line!() + 2;
#[receiver(PostSave, priority = -10)]
fn audit(_: &PostSave) {}

const EMAIL_RECEIPT: u32 = line!() + 2;
#[receiver(MapOrderPlaced)]
async fn email_receipt(_: &MapOrderPlaced) {}

const LEGACY_HANDLER: u32 = line!() + 2;
#[receiver(Legacy, priority = 3)]
fn legacy_handler(_: &Legacy) {}

const FILE: &str = file!();

/// The link-time receivers declared in this file.
fn declared_here() -> Vec<ReceiverInfo> {
    signals_core::registry::receivers()
        .into_iter()
        .filter(|r| r.file() == FILE && r.kind() == ReceiverKind::Static)
        .collect()
}

fn map() -> ReceiverMap {
    ReceiverMap::from_receivers(declared_here())
}

/// The cells of each table row, header and rule excluded.
fn table_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(2)
        .map(|line| {
            let inner = line
                .strip_prefix('|')
                .and_then(|l| l.strip_suffix('|'))
                .expect("row framed by |");
            inner.split('|').map(|c| c.trim().to_owned()).collect()
        })
        .collect()
}

fn row(cells: [&str; 6], line: u32) -> Vec<String> {
    let [signal, sender, priority, kind, receiver, phase] = cells;
    let location = format!("{FILE}:{line}");
    [signal, sender, priority, kind, receiver, &location, phase]
        .map(str::to_owned)
        .to_vec()
}

const USER: &str = "receiver_map::app::User";
const WRAPPED_USER: &str = "receiver_map::app::Wrapper<receiver_map::app::User>";

#[test]
fn table_lists_every_receiver_in_dispatch_order() {
    let map = map();
    assert_eq!(map.len(), 7);
    assert!(map.entries().iter().all(|e| e.phase() == Phase::Immediate));

    let table = map.to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split('|').map(str::trim).collect::<Vec<_>>(),
        [
            "", "signal", "sender", "priority", "kind", "receiver", "location", "phase", ""
        ]
    );
    // A Markdown rule, with the priority column right-aligned.
    assert!(lines[1].starts_with("|--") && lines[1].ends_with("-|"));
    assert_eq!(lines[1].matches(":|").count(), 1);
    // Aligned: every line is as wide as the header, and the columns line up.
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
    let bars = |l: &str| -> Vec<usize> { l.match_indices('|').map(|(i, _)| i).collect() };
    assert!(lines.iter().all(|l| bars(l) == bars(lines[0])), "{table}");

    let sl = "sync, link-time";
    assert_eq!(
        table_rows(&table),
        [
            row(
                [
                    "MapOrderPlaced",
                    "any",
                    "0",
                    "async, link-time",
                    "receiver_map::email_receipt",
                    "immediate",
                ],
                EMAIL_RECEIPT
            ),
            row(
                [
                    "PostDelete",
                    USER,
                    "0",
                    sl,
                    "receiver_map::invalidate",
                    "immediate"
                ],
                INVALIDATE
            ),
            row(
                [
                    "PostSave",
                    USER,
                    "10",
                    sl,
                    "receiver_map::create_profile",
                    "immediate"
                ],
                CREATE_PROFILE
            ),
            row(
                [
                    "PostSave",
                    USER,
                    "0",
                    sl,
                    "receiver_map::invalidate",
                    "immediate"
                ],
                INVALIDATE
            ),
            row(
                [
                    "PostSave",
                    WRAPPED_USER,
                    "0",
                    sl,
                    "receiver_map::wrapped_saved",
                    "immediate"
                ],
                WRAPPED
            ),
            row(
                [
                    "PostSave",
                    "any",
                    "-10",
                    sl,
                    "receiver_map::audit",
                    "immediate"
                ],
                AUDIT
            ),
            row(
                [
                    "legacy::Event<\"v1\">",
                    "any",
                    "3",
                    sl,
                    "receiver_map::legacy_handler",
                    "immediate",
                ],
                LEGACY_HANDLER
            ),
        ]
    );
    // Display is the table; render picks a format.
    assert_eq!(map.to_string(), table);
    assert_eq!(map.render(MapFormat::Table), table);
    assert_eq!(map.render(MapFormat::Mermaid), map.to_mermaid());
    assert_eq!(map.render(MapFormat::Dot), map.to_dot());
}

#[test]
fn from_receivers_sorts_like_the_registry() {
    let mut shuffled = declared_here();
    shuffled.reverse();
    assert_eq!(ReceiverMap::from_receivers(shuffled), map());
}

#[test]
fn mermaid_has_every_node_and_edge_escaped() {
    let mermaid = map().to_mermaid();
    let at = |line: u32| format!("tests/receiver_map.rs:{line}");
    let expected = format!(
        r##"flowchart LR
    s0(["MapOrderPlaced"])
    s1(["PostDelete"])
    s2(["PostSave"])
    s3(["legacy::Event#lt;#quot;v1#quot;#gt;"])
    r0["receiver_map::email_receipt<br/>{}<br/>async, link-time"]
    r1["receiver_map::invalidate<br/>{}<br/>sync, link-time"]
    r2["receiver_map::create_profile<br/>{}<br/>sync, link-time"]
    r3["receiver_map::wrapped_saved<br/>{}<br/>sync, link-time"]
    r4["receiver_map::audit<br/>{}<br/>sync, link-time"]
    r5["receiver_map::legacy_handler<br/>{}<br/>sync, link-time"]
    s0 -->|"any, priority 0"| r0
    s1 -->|"receiver_map::app::User, priority 0"| r1
    s2 -->|"receiver_map::app::User, priority 10"| r2
    s2 -->|"receiver_map::app::User, priority 0"| r1
    s2 -->|"receiver_map::app::Wrapper#lt;receiver_map::app::User#gt;, priority 0"| r3
    s2 -->|"any, priority -10"| r4
    s3 -->|"any, priority 3"| r5
"##,
        at(EMAIL_RECEIPT),
        at(INVALIDATE),
        at(CREATE_PROFILE),
        at(WRAPPED),
        at(AUDIT),
        at(LEGACY_HANDLER),
    );
    assert_eq!(mermaid, expected);

    // Whatever the names, the only raw `<`/`>` are our `<br/>` line breaks, and every
    // label is one quoted string.
    for line in mermaid.lines().skip(1) {
        let without_breaks = line.replace("<br/>", "");
        assert!(
            !without_breaks.contains(['<', '>']) || line.contains("-->"),
            "{line}"
        );
        assert_eq!(line.matches('"').count(), 2, "{line}");
    }
}

/// Checks the DOT text the way `dot` would reject it: quoted strings closed, braces
/// balanced, every statement terminated, every edge between declared nodes.
fn check_dot(dot: &str) -> (Vec<String>, Vec<(String, String)>) {
    assert!(dot.starts_with("digraph receivers {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    // Outside quoted strings: balanced braces.
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for c in dot.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced: {dot}");
            }
            _ => {}
        }
    }
    assert!(!in_string && depth == 0, "{dot}");

    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in dot.lines().skip(1).map(str::trim) {
        if line == "}" || line.starts_with("rankdir") || line.starts_with("node [") {
            continue;
        }
        if line.starts_with("edge [") {
            continue;
        }
        assert!(line.ends_with("];"), "unterminated: {line}");
        assert!(line.contains("[label=\""), "unlabelled: {line}");
        let id = |s: &str| -> String {
            let s = s.strip_prefix('"').expect("quoted id");
            s[..s.find('"').expect("closed id")].to_owned()
        };
        match line.split_once(" -> ") {
            Some((from, to)) => edges.push((id(from), id(to))),
            None => nodes.push(id(line)),
        }
    }
    for (from, to) in &edges {
        assert!(nodes.contains(from) && nodes.contains(to), "{from} -> {to}");
    }
    (nodes, edges)
}

#[test]
fn dot_is_a_valid_digraph() {
    let dot = map().to_dot();
    let (nodes, edges) = check_dot(&dot);
    assert_eq!(
        nodes,
        ["s0", "s1", "s2", "s3", "r0", "r1", "r2", "r3", "r4", "r5"]
    );
    assert_eq!(edges.len(), 7);
    assert!(dot.contains(r#"    "s3" [label="legacy::Event<\"v1\">", shape=ellipse];"#));
    assert!(dot.contains(&format!(
        r#"    "r0" [label="receiver_map::email_receipt\n{FILE}:{EMAIL_RECEIPT}\nasync, link-time"];"#
    )));
    assert!(dot.contains(&format!(
        r#"    "s2" -> "r3" [label="{WRAPPED_USER}, priority 0"];"#
    )));
    assert!(dot.contains(r#"    "s2" -> "r1" [label="receiver_map::app::User, priority 0"];"#));

    // Graphviz must accept it. `.ci/run` installs `dot` and sets SIGNALS_REQUIRE_DOT, under
    // which a missing `dot` fails the test; a fresh checkout without Graphviz checks the
    // text above only.
    let spawned = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn();
    if let Err(error) = &spawned
        && std::env::var_os("SIGNALS_REQUIRE_DOT").is_some()
    {
        panic!(
            "SIGNALS_REQUIRE_DOT is set but `dot` cannot run (apt-get install graphviz): {error}"
        );
    }
    if let Ok(mut child) = spawned {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(dot.as_bytes())
            .expect("write");
        assert!(
            child.wait().expect("dot runs").success(),
            "dot rejected:\n{dot}"
        );
    }
}

#[test]
fn runtime_receivers_are_listed_while_connected() {
    let line = line!() + 1;
    let guard = MapOrderPlaced::connect_with(
        signals_core::ConnectOptions::new()
            .name("metrics<\"live\">")
            .priority(5),
        |_: &MapOrderPlaced| {},
    )
    .expect("connects");
    let live = |map: &ReceiverMap| {
        map.entries()
            .iter()
            .find(|e| e.info().name() == "metrics<\"live\">")
            .copied()
    };

    let map = ReceiverMap::current();
    let entry = live(&map).expect("listed while connected");
    assert_eq!(entry.kind_label(), "sync, runtime");
    assert_eq!(entry.sender_label(), "any");
    assert_eq!(entry.location(), format!("{FILE}:{line}"));
    // Runs before the priority-0 link-time receiver of the same signal.
    let signal_rows: Vec<&str> = map
        .entries()
        .iter()
        .filter(|e| e.info().signal() == "MapOrderPlaced")
        .map(|e| e.info().name())
        .collect();
    assert_eq!(
        signal_rows,
        ["metrics<\"live\">", "receiver_map::email_receipt"]
    );
    // The link-time receivers of this file are in the current map too.
    assert!(map.entries().len() >= 8);

    let mermaid = map.to_mermaid();
    assert!(
        mermaid.contains("[\"metrics#lt;#quot;live#quot;#gt;<br/>"),
        "{mermaid}"
    );
    assert!(mermaid.contains("sync, runtime\"]"), "{mermaid}");
    let dot = map.to_dot();
    check_dot(&dot);
    assert!(dot.contains("[label=\"metrics<\\\"live\\\">\\n"), "{dot}");

    drop(guard);
    assert!(live(&ReceiverMap::current()).is_none());
}

#[test]
fn formats_parse_by_name() {
    for format in MapFormat::ALL {
        assert_eq!(format.to_string().parse::<MapFormat>(), Ok(format));
    }
    assert_eq!(
        "svg".parse::<MapFormat>(),
        Err("unknown format `svg`: expected table, mermaid or dot".to_owned())
    );
}
