//! A startup check: fail loudly when an expected receiver is missing, and when a receiver
//! is registered twice.
//!
//! `#[receiver]`s register at link time, so the two ways to lose or double one are linker
//! matters that no compiler error catches:
//!
//! * **A missing receiver.** A library crate whose receivers nothing references is dropped
//!   by the linker (see [`link!`](macro@crate::link)): its receivers silently never run.
//! * **A duplicate registration.** Two semver-incompatible versions of one crate in the
//!   dependency graph are two crates to the linker, and each registers its own copy of
//!   every receiver: the receiver runs twice per send (same signal type), or the two copies
//!   listen to two distinct signal types that both print as, say, `OrderPlaced` (when the
//!   crate declaring the signal is duplicated too). Two link-time receivers sharing a
//!   `dispatch_uid` for one signal and sender are a duplicate as well: only the first in
//!   dispatch order is connected, the other silently never runs.
//!
//! Run the check once at startup (in `main`, and in a test so CI catches it):
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::check::Startup;
//!
//! #[derive(Signal)]
//! struct Deployed;
//!
//! #[receiver(Deployed)]
//! fn notify_ops(_: &Deployed) {}
//!
//! let report = Startup::new()
//!     // Full paths, as `ReceiverInfo::name` and `registry::receivers()` print them.
//!     .expect(concat!(module_path!(), "::notify_ops"))
//!     // And/or: a send of `Deployed` reaches at least one link-time receiver.
//!     .expect_signal::<Deployed>(1)
//!     .run()?;
//! assert!(report.receivers().iter().any(|r| r.name().ends_with("::notify_ops")));
//!
//! // A receiver that is not linked: the error names it and says how to fix it.
//! let error = signals_core::check::expect_receivers(&["billing::send_invoice"]).unwrap_err();
//! assert_eq!(error.missing()[0].name(), "billing::send_invoice");
//! assert!(error.to_string().contains("signals_core::link!(billing)"));
//! # Ok::<(), signals_core::check::CheckError>(())
//! ```
//!
//! # Matching
//!
//! An expected receiver is named by its **full path** (`my_crate::module::function`),
//! matched exactly. A suffix such as `"send_invoice"` would also match a function of that
//! name in any other crate, which is the crate the check exists to verify. When a name does
//! not match, the error lists the linked receivers with the same function name (a moved
//! module, a typo in the crate name) under "did you mean".
//!
//! Only link-time receivers (`#[receiver]`) count: the check is about what the linker
//! kept, and runtime receivers are usually connected after startup.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;

use crate::link::StaticReceiver;
use crate::signal::Signal;
use crate::vocab::receiver::{ReceiverInfo, ReceiverKind};

/// Checks that every receiver in `names` (full paths) is linked, and that no receiver is
/// registered twice; a shorthand for `Startup::new().expect(..)...run()`.
///
/// ```
/// let error = signals_core::check::expect_receivers(&["audit::log_login"]).unwrap_err();
/// assert!(error.to_string().contains("missing receiver `audit::log_login`"));
/// ```
pub fn expect_receivers(names: &[&str]) -> Result<CheckReport, CheckError> {
    names
        .iter()
        .fold(Startup::new(), |startup, name| startup.expect(name))
        .run()
}

/// Every duplicate registration among the link-time receivers of this process (see the
/// [module documentation](self)), whatever is expected. Empty in a healthy binary.
pub fn duplicates() -> Vec<Duplicate> {
    let raw = raw_statics();
    let running = running_statics();
    find_duplicates(&raw, &running)
}

/// What to check at startup; see the [module documentation](self).
///
/// Build it with [`expect`](Startup::expect) and
/// [`expect_signal`](Startup::expect_signal), then [`run`](Startup::run) it. Duplicate
/// registrations fail the check unless [`allow_duplicates`](Startup::allow_duplicates)
/// is set.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Startup {
    receivers: Vec<String>,
    signals: Vec<SignalExpectation>,
    allow_duplicates: bool,
}

#[derive(Clone, Debug)]
struct SignalExpectation {
    signal: &'static str,
    sender: Option<&'static str>,
    at_least: usize,
    receivers: fn() -> Vec<ReceiverInfo>,
}

impl Startup {
    /// A check that expects nothing yet (it still looks for duplicates).
    pub fn new() -> Self {
        Self::default()
    }

    /// Expects the link-time receiver with this full path (`my_crate::module::function`),
    /// as [`ReceiverInfo::name`] shows it.
    pub fn expect(mut self, receiver: &str) -> Self {
        self.receivers.push(receiver.to_owned());
        self
    }

    /// Expects a send of `S` (this sender, or any sender for the any-sender form) to reach
    /// at least `at_least` link-time receivers.
    pub fn expect_signal<S: Signal>(mut self, at_least: usize) -> Self {
        self.signals.push(SignalExpectation {
            signal: S::NAME,
            sender: S::sender_name(),
            at_least,
            receivers: S::receivers,
        });
        self
    }

    /// Reports duplicate registrations in [`CheckReport::duplicates`] instead of failing.
    pub fn allow_duplicates(mut self) -> Self {
        self.allow_duplicates = true;
        self
    }

    /// Runs the check. The error lists every problem found, not just the first.
    pub fn run(&self) -> Result<CheckReport, CheckError> {
        let raw = raw_statics();
        let running = running_statics();

        let mut missing = Vec::new();
        for name in &self.receivers {
            if raw.iter().any(|r| r.info.name == name.as_str()) {
                continue;
            }
            let function = last_segment(name);
            let mut similar: Vec<ReceiverInfo> = raw
                .iter()
                .filter(|r| last_segment(r.info.name) == function)
                .map(|r| r.info)
                .collect();
            similar.sort_by_key(|r| (r.name, r.signal));
            similar.dedup_by_key(|r| r.name);
            missing.push(Missing::Receiver {
                name: name.clone(),
                similar,
            });
        }
        for expected in &self.signals {
            let found: Vec<ReceiverInfo> = (expected.receivers)()
                .into_iter()
                .filter(|r| r.kind == ReceiverKind::Static)
                .collect();
            if found.len() < expected.at_least {
                missing.push(Missing::TooFewReceivers {
                    signal: expected.signal,
                    sender: expected.sender,
                    at_least: expected.at_least,
                    found,
                });
            }
        }

        let duplicates = find_duplicates(&raw, &running);
        if missing.is_empty() && (duplicates.is_empty() || self.allow_duplicates) {
            Ok(CheckReport {
                receivers: running,
                duplicates,
            })
        } else {
            Err(CheckError {
                missing,
                duplicates: if self.allow_duplicates {
                    Vec::new()
                } else {
                    duplicates
                },
            })
        }
    }
}

/// What a passing check saw.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckReport {
    receivers: Vec<ReceiverInfo>,
    duplicates: Vec<Duplicate>,
}

impl CheckReport {
    /// Every link-time receiver that will run, as [`registry::receivers`] lists them.
    ///
    /// [`registry::receivers`]: crate::registry::receivers
    pub fn receivers(&self) -> &[ReceiverInfo] {
        &self.receivers
    }

    /// The duplicate registrations found; empty unless
    /// [`allow_duplicates`](Startup::allow_duplicates) was set.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }
}

/// Why the startup check failed: every missing receiver and every duplicate registration.
///
/// Its `Display` is a multi-line report meant to be printed as is, with the fix for each
/// problem (usually `signals_core::link!(the_crate)`). `{:?}` prints the same report (so
/// `fn main() -> Result<(), CheckError>` shows it); `{:#?}` is the structural dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub struct CheckError {
    missing: Vec<Missing>,
    duplicates: Vec<Duplicate>,
}

impl CheckError {
    /// The expectations that were not met.
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// The duplicate registrations (empty when they were allowed).
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }
}

impl fmt::Debug for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        f.debug_struct("CheckError")
            .field("missing", &self.missing)
            .field("duplicates", &self.duplicates)
            .finish()
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signals startup check failed:")?;
        let mut counts = Vec::new();
        if !self.missing.is_empty() {
            counts.push(plural(self.missing.len(), "missing receiver"));
        }
        if !self.duplicates.is_empty() {
            counts.push(plural(self.duplicates.len(), "duplicate registration"));
        }
        write!(f, " {}", counts.join(", "))?;
        for missing in &self.missing {
            write!(f, "\n  - {missing}")?;
        }
        for duplicate in &self.duplicates {
            write!(f, "\n  - {duplicate}")?;
        }
        if !self.missing.is_empty() {
            write!(
                f,
                "\n  A library crate whose receivers nothing references is dropped by the \
                 linker: name each receiver crate once in the binary with \
                 `signals_core::link!(crate_name);`."
            )?;
        }
        Ok(())
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// One expectation of the startup check that was not met.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// No link-time receiver has this full path.
    #[non_exhaustive]
    Receiver {
        /// The expected full path.
        name: String,
        /// Linked receivers with the same function name elsewhere ("did you mean").
        similar: Vec<ReceiverInfo>,
    },
    /// A send of this signal reaches fewer link-time receivers than expected.
    #[non_exhaustive]
    TooFewReceivers {
        /// The signal's name.
        signal: &'static str,
        /// The sender it was checked for (`None`: the any-sender form).
        sender: Option<&'static str>,
        /// How many receivers were expected at least.
        at_least: usize,
        /// The link-time receivers a send reaches.
        found: Vec<ReceiverInfo>,
    },
}

impl Missing {
    /// The expected receiver's path, or the signal's name.
    pub fn name(&self) -> &str {
        match self {
            Missing::Receiver { name, .. } => name,
            Missing::TooFewReceivers { signal, .. } => signal,
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Receiver { name, similar } => {
                write!(f, "missing receiver `{name}`: not linked into this binary")?;
                match name.split_once("::") {
                    Some((krate, _)) => write!(
                        f,
                        "; if `{krate}` is a dependency, add `signals_core::link!({krate});` \
                         to the binary"
                    )?,
                    None => write!(
                        f,
                        " (expected a full path, `crate::module::function`); add \
                         `signals_core::link!(its_crate);` to the binary"
                    )?,
                }
                if !similar.is_empty() {
                    write!(f, "; did you mean {}?", list(similar))?;
                }
                Ok(())
            }
            Missing::TooFewReceivers {
                signal,
                sender,
                at_least,
                found,
            } => {
                write!(f, "{signal}")?;
                if let Some(sender) = sender {
                    write!(f, " (sender {sender})")?;
                }
                write!(
                    f,
                    " has {} link-time receivers, expected at least {at_least}",
                    found.len()
                )?;
                if !found.is_empty() {
                    write!(f, " (found {})", list(found))?;
                }
                write!(
                    f,
                    "; add `signals_core::link!(crate_name);` for the crates declaring them"
                )
            }
        }
    }
}

/// A receiver registered more than once (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Duplicate {
    /// Link-time receivers with one full path, for signals of one name and sender: each
    /// linked version of a crate registered its own copy.
    #[non_exhaustive]
    Receiver {
        /// The receiver's full path.
        name: &'static str,
        /// The signal's name.
        signal: &'static str,
        /// The sender it is filtered to, if any.
        sender: Option<&'static str>,
        /// Every registration, sorted by file and line.
        registrations: Vec<ReceiverInfo>,
        /// `true`: all copies listen to one signal type, so each send runs every copy
        /// (unless a shared `dispatch_uid` drops all but one). `false`: the signal type is
        /// itself duplicated (two versions of the crate declaring it), and each copy only
        /// hears the sends of its own version.
        same_signal_type: bool,
    },
    /// Link-time receivers sharing a `dispatch_uid` for one signal and sender: only `kept`
    /// is connected, the others never run.
    #[non_exhaustive]
    DispatchUid {
        /// The shared id.
        dispatch_uid: &'static str,
        /// The signal's name.
        signal: &'static str,
        /// The sender, if the receivers are filtered to one.
        sender: Option<&'static str>,
        /// The receiver that holds the id (first in dispatch order).
        kept: ReceiverInfo,
        /// The receivers dropped because of it.
        dropped: Vec<ReceiverInfo>,
    },
}

impl fmt::Display for Duplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duplicate::Receiver {
                name,
                signal,
                sender,
                registrations,
                same_signal_type,
            } => {
                write!(
                    f,
                    "duplicate receiver `{name}`: registered {} times for {signal}",
                    registrations.len()
                )?;
                if let Some(sender) = sender {
                    write!(f, " (sender {sender})")?;
                }
                let files: Vec<String> = registrations
                    .iter()
                    .map(|r| format!("{}:{}", r.file, r.line))
                    .collect();
                write!(f, ", at {}", files.join(", "))?;
                if *same_signal_type {
                    write!(
                        f,
                        "; two versions of its crate are probably linked and each send runs \
                         every copy"
                    )?;
                } else {
                    write!(
                        f,
                        "; these are distinct signal types of the same name: two versions of \
                         the crates declaring the signal and the receiver are probably linked, \
                         and each copy only hears its own version's sends"
                    )?;
                }
                write!(
                    f,
                    " (`cargo tree --duplicates` shows them; unify the versions)"
                )
            }
            Duplicate::DispatchUid {
                dispatch_uid,
                signal,
                sender,
                kept,
                dropped,
            } => {
                write!(f, "duplicate dispatch_uid \"{dispatch_uid}\" for {signal}")?;
                if let Some(sender) = sender {
                    write!(f, " (sender {sender})")?;
                }
                write!(
                    f,
                    ": {kept} is connected, {} never run{}",
                    list(dropped),
                    if dropped.len() == 1 { "s" } else { "" }
                )
            }
        }
    }
}

fn list(receivers: &[ReceiverInfo]) -> String {
    receivers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// One link-time registration, as the duplicate detection sees it.
#[derive(Clone, Copy, Debug)]
struct Registration {
    /// The any-sender family of the signal (its registry).
    signal_key: TypeId,
    /// The receiver's family (its sender), sync or async.
    tag: TypeId,
    info: ReceiverInfo,
}

/// Every `#[receiver]` submitted to `inventory`, including the ones the registry drops.
fn raw_statics() -> Vec<Registration> {
    inventory::iter::<StaticReceiver>
        .into_iter()
        .map(|r| Registration {
            signal_key: r.signal_key,
            tag: r.call.family(),
            info: r.info(),
        })
        .collect()
}

/// The link-time receivers that run (without the dropped `dispatch_uid` duplicates).
fn running_statics() -> Vec<ReceiverInfo> {
    crate::registry::receivers()
        .into_iter()
        .filter(|r| r.kind == ReceiverKind::Static && r.shadowed_by.is_none())
        .collect()
}

/// Groups registrations: (path or signal, signal or `dispatch_uid`, sender).
type GroupKey<'a> = (&'a str, &'a str, Option<&'a str>);

/// Finds both kinds of duplicates in `raw`; `running` says which registration of a shared
/// `dispatch_uid` the registry kept.
fn find_duplicates(raw: &[Registration], running: &[ReceiverInfo]) -> Vec<Duplicate> {
    let mut found = Vec::new();

    let mut by_path: BTreeMap<GroupKey<'_>, Vec<&Registration>> = BTreeMap::new();
    for r in raw {
        by_path
            .entry((r.info.name, r.info.signal, r.info.sender))
            .or_default()
            .push(r);
    }
    for ((name, signal, sender), group) in by_path {
        if group.len() < 2 {
            continue;
        }
        let same_signal_type = group.iter().all(|r| r.signal_key == group[0].signal_key);
        let mut registrations: Vec<ReceiverInfo> = group.iter().map(|r| r.info).collect();
        registrations.sort_by_key(|r| (r.file, r.line));
        found.push(Duplicate::Receiver {
            name,
            signal,
            sender,
            registrations,
            same_signal_type,
        });
    }

    let mut by_uid: BTreeMap<GroupKey<'_>, Vec<Vec<&Registration>>> = BTreeMap::new();
    for r in raw {
        let Some(uid) = r.info.dispatch_uid else {
            continue;
        };
        let groups = by_uid
            .entry((r.info.signal, uid, r.info.sender))
            .or_default();
        // Same name and sender may still be distinct signal types: group by registry too.
        match groups
            .iter_mut()
            .find(|g| g[0].signal_key == r.signal_key && g[0].tag == r.tag)
        {
            Some(group) => group.push(r),
            None => groups.push(vec![r]),
        }
    }
    for ((signal, dispatch_uid, sender), groups) in by_uid {
        for group in groups {
            if group.len() < 2 {
                continue;
            }
            let mut infos: Vec<ReceiverInfo> = group.iter().map(|r| r.info).collect();
            infos.sort_by_key(|r| (r.name, r.file, r.line));
            let at = infos
                .iter()
                .position(|info| running.contains(info))
                .unwrap_or(0);
            let kept = infos.remove(at);
            found.push(Duplicate::DispatchUid {
                dispatch_uid,
                signal,
                sender,
                kept,
                dropped: infos,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    struct SignalV1;
    struct SignalV2;
    struct Sender;

    fn info(name: &'static str, file: &'static str, uid: Option<&'static str>) -> ReceiverInfo {
        ReceiverInfo {
            name,
            module: "shop",
            file,
            line: 3,
            priority: 0,
            signal: "OrderPlaced",
            sender: None,
            dispatch_uid: uid,
            kind: ReceiverKind::Static,
            is_async: false,
            phase: crate::Phase::Immediate,
            shadowed_by: None,
            when: None,
            offload: None,
        }
    }

    fn registration<K: 'static>(info: ReceiverInfo) -> Registration {
        Registration {
            signal_key: TypeId::of::<K>(),
            tag: TypeId::of::<K>(),
            info,
        }
    }

    #[test]
    fn one_path_for_two_signal_types_of_one_name_is_two_crate_versions() {
        let v1 = info("shop::email", "shop-0.1.0/src/lib.rs", None);
        let v2 = info("shop::email", "shop-0.2.0/src/lib.rs", None);
        let raw = [registration::<SignalV1>(v1), registration::<SignalV2>(v2)];
        let found = find_duplicates(&raw, &[v1, v2]);
        assert_eq!(
            found,
            [Duplicate::Receiver {
                name: "shop::email",
                signal: "OrderPlaced",
                sender: None,
                registrations: vec![v1, v2],
                same_signal_type: false,
            }]
        );
        let message = found[0].to_string();
        assert!(message.contains("distinct signal types"), "{message}");
        assert!(message.contains("shop-0.2.0/src/lib.rs:3"), "{message}");
    }

    #[test]
    fn distinct_paths_and_distinct_senders_are_not_duplicates() {
        let a = info("shop::email", "a.rs", None);
        let b = info("shop::invoice", "a.rs", None);
        let mut c = info("shop::email", "a.rs", None);
        c.sender = Some("Order");
        let raw = [
            registration::<SignalV1>(a),
            registration::<SignalV1>(b),
            registration::<SignalV1>(c),
        ];
        assert_eq!(find_duplicates(&raw, &[a, b, c]), []);
    }

    #[test]
    fn a_shared_dispatch_uid_names_the_kept_and_the_dropped_receiver() {
        let a = info("shop::a", "a.rs", Some("mail"));
        let b = info("shop::b", "a.rs", Some("mail"));
        // Same uid, other sender family: its own registry slot, not a duplicate.
        let c = info("shop::c", "a.rs", Some("mail"));
        let raw = [
            registration::<SignalV1>(b),
            registration::<SignalV1>(a),
            Registration {
                signal_key: TypeId::of::<SignalV1>(),
                tag: TypeId::of::<Sender>(),
                info: c,
            },
        ];
        // The registry kept `b` (say it has the higher priority).
        let found = find_duplicates(&raw, &[b, c]);
        assert_eq!(
            found,
            [Duplicate::DispatchUid {
                dispatch_uid: "mail",
                signal: "OrderPlaced",
                sender: None,
                kept: b,
                dropped: vec![a],
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "duplicate dispatch_uid \"mail\" for OrderPlaced: shop::b (a.rs:3) is connected, \
             shop::a (a.rs:3) never runs"
        );
    }
}
