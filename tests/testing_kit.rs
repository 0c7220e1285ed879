//! `signals_core::testing`: capture, mute and temporary receivers scoped to one test, so
//! that many tests can run in parallel (threads or tasks) on the same signals.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::models::{self, Model, PostSave, Saved};
use signals_core::prelude::*;
use signals_core::testing::{self, Scope};
use signals_core::{assert_not_sent, assert_sent};

#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub id: &'a u64,
}

static CHARGED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static EMAILED: AtomicUsize = AtomicUsize::new(0);

#[receiver(OrderPlaced, priority = 10)]
fn charge_card(event: &OrderPlaced<'_>) {
    CHARGED.lock().unwrap().push(*event.id);
}

#[receiver(OrderPlaced)]
fn email_receipt(_: &OrderPlaced<'_>) {
    EMAILED.fetch_add(1, Ordering::SeqCst);
}

fn place_order(id: u64) {
    OrderPlaced { id: &id }.send().unwrap();
}

fn charged(id: u64) -> bool {
    CHARGED.lock().unwrap().contains(&id)
}

#[test]
fn capture_records_each_send_with_a_projection_and_receivers_still_run() {
    let scope = Scope::new();
    let ids = scope.capture_with::<OrderPlaced, _>(|e: &OrderPlaced<'_>| *e.id);
    scope.run(|| {
        place_order(1001);
        place_order(1002);
    });
    assert_sent!(ids, times = 2);
    assert_eq!(ids.values(), [1001, 1002]);
    assert!(charged(1001) && charged(1002), "capturing does not mute");
    // Sends outside the scope are not captured.
    place_order(1003);
    assert_eq!(ids.len(), 2);
}

#[test]
fn assert_macros_fail_with_what_was_sent() {
    let (_, sent) = testing::capture::<OrderPlaced, _>(|| place_order(2001));
    let message = std::panic::catch_unwind(|| assert_not_sent!(sent)).unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("expected OrderPlaced not to be sent, but it was sent 1 time(s)"),
        "{message}"
    );
    let message = std::panic::catch_unwind(|| assert_sent!(sent, times = 3)).unwrap_err();
    assert!(
        message
            .downcast_ref::<String>()
            .unwrap()
            .contains("sent 3 time(s), but it was sent 1")
    );
}

#[test]
fn muting_one_receiver_by_name_leaves_the_others() {
    let before = EMAILED.load(Ordering::SeqCst);
    Scope::new().mute("charge_card").run(|| place_order(3001));
    assert!(!charged(3001), "muted");
    assert!(
        EMAILED.load(Ordering::SeqCst) > before,
        "the other receiver ran"
    );
    Scope::new()
        .mute("testing_kit::charge_card")
        .run(|| place_order(3002));
    assert!(!charged(3002), "full paths work too");
    Scope::new().mute("card").run(|| place_order(3003));
    assert!(charged(3003), "a name matches whole path segments only");
}

#[test]
fn a_temporary_receiver_only_sees_its_own_scope_and_survives_mute_all() {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let scope = Scope::new().mute_all();
    let _probe = scope
        .connect::<OrderPlaced, _, _>(move |e: &OrderPlaced<'_>| s.lock().unwrap().push(*e.id));
    scope.run(|| place_order(4001));
    place_order(4002); // outside the scope: the probe does not run, the real receivers do
    let other_thread = std::thread::spawn(|| place_order(4003));
    other_thread.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), [4001]);
    assert!(!charged(4001), "mute_all muted the link-time receivers");
    assert!(charged(4002) && charged(4003));

    static PROBED: AtomicUsize = AtomicUsize::new(0);
    let inside = testing::connected::<OrderPlaced, _, _, _>(
        |_: &OrderPlaced<'_>| {
            PROBED.fetch_add(1, Ordering::SeqCst);
        },
        || {
            place_order(4004);
            PROBED.load(Ordering::SeqCst)
        },
    );
    place_order(4005);
    assert_eq!(
        (inside, PROBED.load(Ordering::SeqCst)),
        (1, 1),
        "connected only while `f` ran"
    );
}

struct Customer;
impl Model for Customer {}
struct Invoice;
impl Model for Invoice {}

#[test]
fn capturing_the_any_sender_form_sees_every_sender() {
    let scope = Scope::new().mute_all();
    let all = scope.capture::<PostSave>();
    let customers = scope.capture::<PostSave<'_, Customer>>();
    scope.run(|| {
        models::save(&Customer, |_| Ok::<_, std::io::Error>(Saved::Created(()))).unwrap();
        models::save(&Invoice, |_| Ok::<_, std::io::Error>(Saved::Created(()))).unwrap();
    });
    assert_eq!(customers.len(), 1);
    let senders: Vec<_> = all
        .sent()
        .iter()
        .map(|s| s.sender.unwrap().rsplit("::").next().unwrap().to_owned())
        .collect();
    assert_eq!(senders, ["Customer", "Invoice"]);
}

/// Many tests at once: each thread captures and mutes in its own scope and sees exactly
/// its own sends, while the others keep sending (with receivers running) in parallel.
#[test]
fn parallel_scopes_see_only_their_own_sends() {
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            std::thread::spawn(move || {
                let base = 100_000 + t * 1000;
                let scope = if t % 2 == 0 {
                    Scope::new().mute_all()
                } else {
                    Scope::new()
                };
                let ids = scope.capture_with::<OrderPlaced, _>(|e: &OrderPlaced<'_>| *e.id);
                scope.run(|| (0..50).for_each(|i| place_order(base + i)));
                (t, base, ids.values())
            })
        })
        .collect();
    for handle in threads {
        let (t, base, ids) = handle.join().unwrap();
        assert_eq!(
            ids,
            (0..50).map(|i| base + i).collect::<Vec<_>>(),
            "thread {t}"
        );
        assert_eq!(
            charged(base),
            t % 2 == 1,
            "thread {t}: muted only in its own scope"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scopes_follow_their_task_across_threads() {
    #[derive(Signal)]
    struct Ping<'a> {
        task: &'a u64,
    }
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            tokio::spawn(async move {
                let scope = Scope::new();
                let pings = scope.capture_with::<Ping, _>(|e: &Ping<'_>| *e.task);
                scope
                    .run_async(async move {
                        for _ in 0..20 {
                            Ping { task: &task }.send_async().await.unwrap();
                            tokio::task::yield_now().await; // may resume on another worker
                        }
                    })
                    .await;
                (task, pings.values())
            })
        })
        .collect();
    for handle in tasks {
        let (task, pings) = handle.await.unwrap();
        assert_eq!(pings, vec![task; 20]);
    }
}
