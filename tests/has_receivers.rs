//! `has_receivers` answers for one sender, whatever mix of link-time and runtime
//! receivers of which senders exists: it is a state check (no snapshot loaded) while few
//! senders have runtime receivers, and falls back to the snapshot past that. One test, so
//! the signal's receivers are not raced by a parallel test.

use signals_core::models::Model;
use signals_core::prelude::*;
use signals_core::{Connection, Signal};

#[derive(Signal)]
#[signal(sender = M)]
pub struct Touched<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

macro_rules! models {
    ($($m:ident),*) => {$(
        pub struct $m;
        impl Model for $m {}
    )*};
}
models!(A, B, C, D, E, F, G);

/// Which senders report receivers, in the order A..G.
fn answers() -> [bool; 7] {
    [
        Touched::<A>::has_receivers(),
        Touched::<B>::has_receivers(),
        Touched::<C>::has_receivers(),
        Touched::<D>::has_receivers(),
        Touched::<E>::has_receivers(),
        Touched::<F>::has_receivers(),
        Touched::<G>::has_receivers(),
    ]
}

/// A link-time receiver of G only.
#[receiver(Touched, sender = G)]
fn g_touched(_: &Touched<'_, G>) {}

#[test]
fn has_receivers_is_exact_per_sender_with_few_or_many_runtime_families() {
    // Link-time only: G.
    assert_eq!(answers(), [false, false, false, false, false, false, true]);

    // Runtime receivers of A and B (two each, one deferred): A, B and G.
    let mut guards: Vec<Connection> = vec![
        Touched::<A>::connect(|_: &Touched<'_, A>| {}),
        Touched::<A>::connect(|_: &Touched<'_, A>| {}),
        Touched::<B>::connect_with(
            signals_core::ConnectOptions::new().on(signals_core::Phase::Commit),
            |_: &Touched<'_, B>| {},
        )
        .unwrap(),
    ];
    assert_eq!(answers(), [true, true, false, false, false, false, true]);

    // Five runtime families (past the state check's capacity): still exact.
    guards.push(Touched::<C>::connect(|_: &Touched<'_, C>| {}));
    guards.push(Touched::<D>::connect(|_: &Touched<'_, D>| {}));
    guards.push(Touched::<E>::connect(|_: &Touched<'_, E>| {}));
    assert_eq!(answers(), [true, true, true, true, true, false, true]);

    // Back to two families: the state check again.
    guards.truncate(3);
    assert_eq!(answers(), [true, true, false, false, false, false, true]);

    // A runtime any-sender receiver listens to every sender.
    let any = <Touched>::connect(|_: &Touched<'_>| {});
    assert_eq!(answers(), [true; 7]);
    assert!(Touched::<F>::has_receivers_for_any_sender());
    drop(any);
    assert_eq!(answers(), [true, true, false, false, false, false, true]);

    // All runtime receivers gone: link-time only again.
    guards.clear();
    assert_eq!(answers(), [false, false, false, false, false, false, true]);
    // And what has_receivers says matches what a send runs.
    assert_eq!(Touched { instance: &G }.send().unwrap().receivers(), 1);
    assert_eq!(Touched { instance: &F }.send().unwrap().receivers(), 0);
}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Inferred<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

#[test]
fn connect_takes_the_sender_from_the_closure_parameter() {
    use std::sync::{Arc, Mutex};
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, any) = (log.clone(), log.clone());
    // No `::<A>` and no `<Inferred>`: the closure's parameter type says the sender.
    let only_a = Inferred::connect(move |_: &Inferred<'_, A>| a.lock().unwrap().push("A"));
    let every = Inferred::connect(move |_: &Inferred<'_>| any.lock().unwrap().push("any"));
    assert_eq!(Inferred::<A>::receivers().len(), 2);
    assert_eq!(
        Inferred::<B>::receivers().len(),
        1,
        "only the any-sender one"
    );
    Inferred { instance: &A }.send().unwrap();
    Inferred { instance: &B }.send().unwrap();
    assert_eq!(*log.lock().unwrap(), ["A", "any", "any"]);
    // The listing names the user's closure and its `connect` call, not the wrapper.
    let info = only_a.receiver();
    assert!(
        info.name()
            .contains("connect_takes_the_sender_from_the_closure_parameter"),
        "{info}"
    );
    assert_eq!(info.file(), file!());
    assert_eq!(info.sender(), Some(std::any::type_name::<A>()));
    drop((only_a, every));
    assert!(!Inferred::<A>::has_receivers());
}
