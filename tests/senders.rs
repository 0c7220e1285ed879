//! Sender filtering: receivers for one sender only see that sender's events; any-sender
//! receivers see every sender's events; `has_receivers` answers per sender.
//!
//! Every test uses its own signal (or its own model types), because link-time receivers
//! are global to the test binary and the tests run in parallel.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::models::{self, Model, PostSave, Saved};
use signals_core::prelude::*;
use signals_core::{ConnectOptions, Signal};

pub trait Source: 'static {
    fn label(&self) -> &'static str;
}
pub struct Alpha;
impl Source for Alpha {
    fn label(&self) -> &'static str {
        "alpha"
    }
}
pub struct Beta;
impl Source for Beta {
    fn label(&self) -> &'static str {
        "beta"
    }
}
/// A sender nobody registered a specific receiver for.
pub struct Gamma;
impl Source for Gamma {
    fn label(&self) -> &'static str {
        "gamma"
    }
}

fn take(log: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

// ---------------------------------------------------------------------------------------
// A custom signal with a sender type parameter.

#[derive(Signal)]
#[signal(sender = S)]
pub struct Ping<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
    pub n: u32,
}

static PING_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(Ping, sender = Alpha, priority = 2)]
fn ping_alpha(e: &Ping<'_, Alpha>) {
    // Typed: the sender-specific receiver gets `&Alpha`, not `&dyn Source`.
    let alpha: &Alpha = e.source;
    PING_LOG
        .lock()
        .unwrap()
        .push(format!("alpha-only {} {}", alpha.label(), e.n));
}

#[receiver(Ping, sender = Beta, priority = 1)]
fn ping_beta(e: &Ping<'_, Beta>) {
    PING_LOG
        .lock()
        .unwrap()
        .push(format!("beta-only {} {}", e.source.label(), e.n));
}

#[receiver(Ping)]
fn ping_any(e: &Ping<'_>) {
    PING_LOG
        .lock()
        .unwrap()
        .push(format!("any {} {}", e.source.label(), e.n));
}

#[test]
fn specific_receivers_get_only_their_sender_and_any_sender_receivers_get_all() {
    // One test owns `Ping`; it sends everything in sequence.
    let delivered = Ping {
        source: &Alpha,
        n: 1,
    }
    .send()
    .unwrap();
    assert_eq!(
        delivered.receivers(),
        2,
        "receivers of other senders are not counted"
    );
    assert_eq!(take(&PING_LOG), ["alpha-only alpha 1", "any alpha 1"]);

    let delivered = Ping {
        source: &Beta,
        n: 2,
    }
    .send()
    .unwrap();
    assert_eq!(delivered.receivers(), 2);
    assert_eq!(take(&PING_LOG), ["beta-only beta 2", "any beta 2"]);

    let delivered = Ping {
        source: &Gamma,
        n: 3,
    }
    .send()
    .unwrap();
    assert_eq!(delivered.receivers(), 1);
    assert_eq!(take(&PING_LOG), ["any gamma 3"]);

    // Sending the any-sender form directly (`Ping<dyn Source>`) reaches only the
    // any-sender receivers: the payload carries no concrete sender type to filter on,
    // even though the value behind the `dyn` is an `Alpha`. (Django's `send(sender=None)`
    // also only reaches receivers connected with `sender=None`.)
    let erased: &dyn Source = &Alpha;
    let delivered = Ping {
        source: erased,
        n: 4,
    }
    .send()
    .unwrap();
    assert_eq!(delivered.receivers(), 1);
    assert_eq!(take(&PING_LOG), ["any alpha 4"]);

    // `receivers()` is per sender, too.
    let names =
        |list: Vec<signals_core::ReceiverInfo>| list.iter().map(|r| r.name()).collect::<Vec<_>>();
    assert_eq!(
        names(Ping::<Alpha>::receivers()),
        ["senders::ping_alpha", "senders::ping_any"]
    );
    assert_eq!(
        names(Ping::<Beta>::receivers()),
        ["senders::ping_beta", "senders::ping_any"]
    );
    assert_eq!(names(Ping::<Gamma>::receivers()), ["senders::ping_any"]);
    assert_eq!(names(<Ping>::receivers()), ["senders::ping_any"]);

    let alpha = &Ping::<Alpha>::receivers()[0];
    assert_eq!(alpha.signal(), "Ping");
    assert!(
        alpha.sender().is_some_and(|s| s.ends_with("Alpha")),
        "{:?}",
        alpha.sender()
    );
    assert_eq!(<Ping>::receivers()[0].sender(), None);
    assert!(Ping::<Alpha>::sender_name().is_some_and(|s| s.ends_with("Alpha")));
    assert_eq!(<Ping>::sender_name(), None);
}

// ---------------------------------------------------------------------------------------
// has_receivers per sender vs has_receivers_for_any_sender.

#[derive(Signal)]
#[signal(sender = S)]
pub struct Lonely<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
}

#[receiver(Lonely, sender = Alpha)]
fn lonely_alpha(_: &Lonely<'_, Alpha>) {}

#[test]
fn has_receivers_is_per_sender_and_has_receivers_for_any_sender_covers_all() {
    // Django's trap: `post_save.has_listeners()` (sender=None) returns False while a
    // receiver for `sender=User` exists, so code that guards an expensive payload with it
    // silently skips sender-specific receivers. Here the any-sender form answers the same
    // way (no any-sender receiver), but the question "does anyone listen at all?" has its
    // own method, and the per-sender question is answered exactly.
    assert!(Lonely::<Alpha>::has_receivers());
    assert!(!Lonely::<Beta>::has_receivers());
    assert!(!<Lonely>::has_receivers());
    assert!(<Lonely>::has_receivers_for_any_sender());
    assert!(Lonely::<Beta>::has_receivers_for_any_sender());

    // A runtime receiver for Beta changes only Beta's answer, and only while connected.
    let beta = Lonely::<Beta>::connect(|_: &Lonely<'_, Beta>| {});
    assert!(Lonely::<Beta>::has_receivers());
    assert!(!Lonely::<Gamma>::has_receivers());
    assert!(!<Lonely>::has_receivers());
    assert_eq!(Lonely { source: &Beta }.send().unwrap().receivers(), 1);
    drop(beta);
    assert!(!Lonely::<Beta>::has_receivers());
    assert_eq!(Lonely { source: &Beta }.send().unwrap().receivers(), 0);

    // An any-sender receiver makes every sender's answer true.
    let any = <Lonely>::connect(|_: &Lonely<'_>| {});
    assert!(Lonely::<Beta>::has_receivers());
    assert!(Lonely::<Gamma>::has_receivers());
    assert!(<Lonely>::has_receivers());
    drop(any);
    assert!(!Lonely::<Gamma>::has_receivers());
    assert!(!<Lonely>::has_receivers());
    assert!(
        <Lonely>::has_receivers_for_any_sender(),
        "the link-time Alpha receiver is still there"
    );
}

#[derive(Signal)]
#[signal(sender = S)]
pub struct Silent<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
}

#[test]
fn a_signal_without_receivers_has_none_for_any_question() {
    assert!(!Silent::<Alpha>::has_receivers());
    assert!(!<Silent>::has_receivers());
    assert!(!<Silent>::has_receivers_for_any_sender());
    assert!(<Silent>::receivers().is_empty());
    assert_eq!(Silent { source: &Alpha }.send().unwrap().receivers(), 0);

    let c = Silent::<Gamma>::connect(|_: &Silent<'_, Gamma>| {});
    assert!(<Silent>::has_receivers_for_any_sender());
    assert!(Silent::<Alpha>::has_receivers_for_any_sender());
    assert!(!Silent::<Alpha>::has_receivers());
    assert!(c.disconnect());
    assert!(!<Silent>::has_receivers_for_any_sender());
}

// ---------------------------------------------------------------------------------------
// One function connected for a sender and for any sender runs twice (as in Django).

pub trait Pinged {
    fn n(&self) -> u32;
}
impl<S: ?Sized + Source> Pinged for Twice<'_, S> {
    fn n(&self) -> u32 {
        self.n
    }
}

#[derive(Signal)]
#[signal(sender = S)]
pub struct Twice<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
    pub n: u32,
}

static TWICE_CALLS: AtomicUsize = AtomicUsize::new(0);

// Registered twice: once for Alpha, once for any sender.
#[receiver(Twice, sender = Alpha)]
#[receiver(Twice)]
fn counted(e: &dyn Pinged) {
    TWICE_CALLS.fetch_add(e.n() as usize, Ordering::SeqCst);
}

#[test]
fn a_function_connected_for_a_sender_and_for_any_sender_runs_twice() {
    // Django keys receivers by (receiver, sender), so `connect(f, sender=X)` and
    // `connect(f)` are two entries and `send(X)` calls `f` twice. Same here: the two
    // registrations are two receivers, and there is no dedupe across them.
    assert_eq!(
        Twice {
            source: &Alpha,
            n: 1
        }
        .send()
        .unwrap()
        .receivers(),
        2
    );
    assert_eq!(TWICE_CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(
        Twice {
            source: &Beta,
            n: 10
        }
        .send()
        .unwrap()
        .receivers(),
        1
    );
    assert_eq!(TWICE_CALLS.load(Ordering::SeqCst), 12);
    assert_eq!(Twice::<Alpha>::receivers().len(), 2);

    // The same with runtime connections of one closure.
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (hits.clone(), hits.clone());
    let specific = Twice::<Beta>::connect(move |e: &Twice<'_, Beta>| {
        h1.fetch_add(e.n as usize, Ordering::SeqCst);
    });
    let any = <Twice>::connect(move |e: &Twice<'_>| {
        h2.fetch_add(e.n as usize, Ordering::SeqCst);
    });
    // counted (any) + the two runtime receivers.
    assert_eq!(
        Twice {
            source: &Beta,
            n: 100
        }
        .send()
        .unwrap()
        .receivers(),
        3
    );
    assert_eq!(hits.load(Ordering::SeqCst), 200);
    assert_eq!(TWICE_CALLS.load(Ordering::SeqCst), 112);
    drop((specific, any));
}

// ---------------------------------------------------------------------------------------
// The built-in model signals filter by model type.

pub struct SUser {
    pub id: i64,
}
impl Model for SUser {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}
pub struct SArticle {
    pub id: i64,
}
impl Model for SArticle {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static SAVES: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PostSave, sender = SUser)]
fn user_saved(e: &PostSave<'_, SUser>) {
    SAVES
        .lock()
        .unwrap()
        .push(format!("user {} created={}", e.instance.id, e.created));
}

#[receiver(PostSave)]
fn any_saved(e: &PostSave<'_>) {
    SAVES.lock().unwrap().push(format!(
        "any {}({:?})",
        e.instance.model_name(),
        e.instance.pk()
    ));
}

#[test]
fn post_save_receivers_filter_by_model() {
    // The only test in this file that sends PostSave.
    assert!(PostSave::<SUser>::has_receivers());
    assert!(
        PostSave::<SArticle>::has_receivers(),
        "the any-sender receiver listens to articles"
    );
    assert_eq!(PostSave::<SUser>::receivers().len(), 2);
    assert_eq!(PostSave::<SArticle>::receivers().len(), 1);

    models::save(&SUser { id: 1 }, |_| {
        Ok::<_, std::io::Error>(Saved::Created(()))
    })
    .unwrap();
    // Equal priorities: ordered by path, `senders::any_saved` before `senders::user_saved`.
    assert_eq!(take(&SAVES), ["any SUser(Some(1))", "user 1 created=true"]);

    // A receiver for PostSave<SUser> is not called for PostSave<SArticle>.
    models::save(&SArticle { id: 7 }, |_| {
        Ok::<_, std::io::Error>(Saved::Updated(()))
    })
    .unwrap();
    assert_eq!(take(&SAVES), ["any SArticle(Some(7))"]);

    let delivered = PostSave::new(&SArticle { id: 8 }, true).send().unwrap();
    assert_eq!(delivered.receivers(), 1);
    assert_eq!(take(&SAVES), ["any SArticle(Some(8))"]);

    // The any form sent directly reaches the any-sender receiver only, even for a user.
    let user: &dyn Model = &SUser { id: 2 };
    let delivered = PostSave::new(user, false).send().unwrap();
    assert_eq!(delivered.receivers(), 1);
    assert_eq!(take(&SAVES), ["any SUser(Some(2))"]);

    // A runtime receiver for articles only.
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let c = PostSave::<SArticle>::connect_with(
        ConnectOptions::new().priority(1).name("article receiver"),
        move |e: &PostSave<'_, SArticle>| s.lock().unwrap().push(e.instance.id),
    )
    .unwrap();
    models::save(&SUser { id: 3 }, |_| {
        Ok::<_, std::io::Error>(Saved::Created(()))
    })
    .unwrap();
    models::save(&SArticle { id: 9 }, |_| {
        Ok::<_, std::io::Error>(Saved::Created(()))
    })
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), [9]);
    assert_eq!(
        take(&SAVES),
        [
            "any SUser(Some(3))",
            "user 3 created=true",
            "any SArticle(Some(9))"
        ]
    );
    assert_eq!(
        c.receiver().sender().map(|s| s.ends_with("SArticle")),
        Some(true)
    );
    drop(c);
}
