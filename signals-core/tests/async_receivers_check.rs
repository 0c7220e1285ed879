//! `has_async_receivers_for_any_sender` follows the receivers that exist (link-time and
//! runtime, any sender, any phase), and while it is `false` a sync robust send runs what
//! the async robust send runs. One test per signal, so no test races another's receivers.

use std::sync::Mutex;

use signals_core::prelude::*;
use signals_core::{ConnectOptions, Phase, ReceiverError, Signal};

pub trait Model: Send + Sync + 'static {}
pub struct User;
impl Model for User {}
pub struct Group;
impl Model for Group {}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Touched<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

static LOG: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[receiver(Touched, sender = User, priority = 1)]
fn user_touched(_: &Touched<'_, User>) {
    LOG.lock().unwrap().push("link-time");
}

fn log() -> Vec<&'static str> {
    std::mem::take(&mut *LOG.lock().unwrap())
}

#[test]
fn follows_runtime_async_receivers_of_any_sender_and_phase() {
    // Link-time sync receivers only.
    assert!(!Touched::<User>::has_async_receivers_for_any_sender());
    assert!(!<Touched>::has_async_receivers_for_any_sender());

    // A runtime sync receiver does not change the answer.
    let sync = Touched::<User>::connect(|_: &Touched<'_, User>| LOG.lock().unwrap().push("sync"));
    assert!(!Touched::<User>::has_async_receivers_for_any_sender());
    // ... and the sync robust send runs what the async robust send runs, in order.
    let report = Touched { instance: &User }.send_robust();
    assert!(report.failures().is_empty());
    let sync_run = log();
    let report = futures_executor::block_on(Touched { instance: &User }.send_async_robust());
    assert!(report.failures().is_empty());
    assert_eq!(sync_run, log());
    assert_eq!(sync_run, ["link-time", "sync"]);

    // An async receiver of another sender: the answer is for the signal as a whole.
    let other = Touched::<Group>::connect_async(|_: &Touched<'_, Group>| Box::pin(async {}));
    assert!(Touched::<User>::has_async_receivers_for_any_sender());
    assert!(Touched::<Group>::has_async_receivers_for_any_sender());
    drop(other);
    assert!(!Touched::<User>::has_async_receivers_for_any_sender());

    // A deferred (on = Commit) async receiver counts too.
    let deferred = Touched::<User>::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        |_: &Touched<'_, User>| Box::pin(async {}),
    )
    .unwrap();
    assert!(Touched::<User>::has_async_receivers_for_any_sender());
    // What the answer guards against: a sync send reports the async receiver instead of
    // running it.
    let report = Touched { instance: &User }.send_robust();
    assert!(
        matches!(
            report.failures(),
            [failure] if matches!(failure.error, ReceiverError::AsyncInSyncSend)
        ),
        "{:?}",
        report.failures()
    );
    drop(deferred);
    drop(sync);
    log();
    assert!(!Touched::<User>::has_async_receivers_for_any_sender());
}

#[derive(Signal)]
pub struct Pinged<'a> {
    pub n: &'a u32,
}

#[receiver(Pinged)]
async fn pinged_later(_: &Pinged<'_>) {}

#[test]
fn a_link_time_async_receiver_is_seen() {
    assert!(Pinged::has_async_receivers_for_any_sender());
    assert!(Pinged::has_receivers());
}
