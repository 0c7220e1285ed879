//! Conditional receivers: `#[receiver(.., when = predicate)]`. The receiver runs only when
//! its predicate accepts the payload; a rejected payload counts as not delivered to it
//! (not a response, not a failure), the predicate runs once per send, and the receiver
//! map and listings show it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::map::ReceiverMap;
use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;
use signals_core::transaction::{self, Transaction};

pub struct Account {
    pub email: String,
    pub staff: bool,
}
impl Model for Account {}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
static PREDICATE_CALLS: AtomicUsize = AtomicUsize::new(0);

fn log() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap())
}

fn is_new(event: &PostSave<'_, Account>) -> bool {
    PREDICATE_CALLS.fetch_add(1, Ordering::SeqCst);
    event.created
}

#[receiver(PostSave, sender = Account, when = is_new)]
fn welcome(event: &PostSave<'_, Account>) {
    LOG.lock()
        .unwrap()
        .push(format!("welcome {}", event.instance.email));
}

#[receiver(PostSave, sender = Account, when = |e: &PostSave<'_, Account>| e.instance.staff)]
fn notify_staff(event: &PostSave<'_, Account>) -> Result<(), std::io::Error> {
    LOG.lock()
        .unwrap()
        .push(format!("staff {}", event.instance.email));
    Err(std::io::Error::other("staff notifications are down"))
}

fn account(email: &str, staff: bool) -> Account {
    Account {
        email: email.into(),
        staff,
    }
}

/// One test for the shared log and counters (the sync, robust and listing cases).
#[test]
fn a_receiver_runs_only_when_its_predicate_accepts_the_payload() {
    log();
    let ada = account("ada@example.com", false);

    // Created, not staff: welcome runs, notify_staff is skipped (and so cannot fail).
    let before = PREDICATE_CALLS.load(Ordering::SeqCst);
    let delivered = PostSave::new(&ada, true).send().unwrap();
    assert_eq!(delivered.receivers(), 1);
    assert_eq!(log(), ["welcome ada@example.com"]);
    assert_eq!(
        PREDICATE_CALLS.load(Ordering::SeqCst),
        before + 1,
        "once per send"
    );

    // Updated, not staff: both skipped; the send succeeds with nobody delivered.
    let delivered = PostSave::new(&ada, false).send().unwrap();
    assert_eq!(delivered.receivers(), 0);
    assert!(log().is_empty());

    // Updated, staff: notify_staff runs and its error is the send's error.
    let grace = account("grace@example.com", true);
    let error = PostSave::new(&grace, false).send().unwrap_err();
    assert!(
        error.to_string().contains("notify_staff"),
        "the failing receiver is named: {error}"
    );
    assert_eq!(log(), ["staff grace@example.com"]);

    // send_robust: a skipped receiver is neither a response nor a failure, and takes no
    // position; the one that ran and failed is reported at position 0.
    let report = PostSave::new(&grace, false).send_robust();
    assert_eq!(report.responses().receivers(), 0);
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].position, 0);
    assert!(
        report.failures()[0]
            .receiver
            .name()
            .ends_with("notify_staff")
    );
    let report = PostSave::new(&ada, true).send_robust();
    assert!(report.is_ok());
    assert_eq!(report.responses().receivers(), 1);
    log();

    // Listings and the receiver map show the predicate as written.
    let infos = signals_core::registry::receivers();
    let welcome = infos
        .iter()
        .find(|r| r.name().ends_with("::welcome"))
        .unwrap();
    assert_eq!(welcome.when(), Some("is_new"));
    let staff = infos
        .iter()
        .find(|r| r.name().ends_with("::notify_staff"))
        .unwrap();
    assert!(staff.when().unwrap().contains("e.instance.staff"));
    let unconditional = infos
        .iter()
        .find(|r| r.name().ends_with("::audit_async"))
        .unwrap();
    assert_eq!(unconditional.when(), None);
    let table = ReceiverMap::current().to_table();
    assert!(
        table
            .lines()
            .any(|l| l.contains("conditional_receivers::welcome (when is_new)")),
        "{table}"
    );
    let mermaid = ReceiverMap::current().to_mermaid();
    assert!(mermaid.contains("when is_new"), "{mermaid}");
}

// --- async receivers, and deferred ones -----------------------------------------------------

#[derive(Signal)]
pub struct Uploaded<'a> {
    pub name: &'a str,
    pub bytes: usize,
}

static ASYNC_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn is_large(event: &Uploaded<'_>) -> bool {
    event.bytes > 1_000
}

#[receiver(Uploaded, when = is_large)]
async fn make_thumbnail(event: &Uploaded<'_>) {
    ASYNC_LOG
        .lock()
        .unwrap()
        .push(format!("thumbnail {}", event.name));
}

#[receiver(Uploaded)]
async fn audit_async(event: &Uploaded<'_>) {
    ASYNC_LOG
        .lock()
        .unwrap()
        .push(format!("audit {}", event.name));
}

#[tokio::test]
async fn an_async_receiver_is_skipped_the_same_way() {
    let small = Uploaded {
        name: "icon.png",
        bytes: 10,
    };
    let delivered = small.send_async().await.unwrap();
    assert_eq!(delivered.receivers(), 1, "only the audit ran");
    let large = Uploaded {
        name: "photo.jpg",
        bytes: 5_000,
    };
    let delivered = large.send_async().await.unwrap();
    assert_eq!(delivered.receivers(), 2);
    let report = small.send_async_robust().await;
    assert!(report.is_ok());
    assert_eq!(report.responses().receivers(), 1);
    let mut got = std::mem::take(&mut *ASYNC_LOG.lock().unwrap());
    got.sort();
    assert_eq!(
        got,
        [
            "audit icon.png",
            "audit icon.png",
            "audit photo.jpg",
            "thumbnail photo.jpg"
        ]
    );
}

#[derive(Signal)]
pub struct Invoiced<'a> {
    pub total: &'a u64,
}

static INVOICE_LOG: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn is_big(event: &Invoiced<'_>) -> bool {
    *event.total >= 100
}

#[receiver(Invoiced, on = Commit, when = is_big)]
fn review_big_invoice(event: &Invoiced<'_>) {
    INVOICE_LOG.lock().unwrap().push(*event.total);
}

#[test]
fn a_deferred_receiver_applies_its_predicate_at_the_commit() {
    let tx = Transaction::begin();
    tx.run(|| {
        for total in [20u64, 150, 99, 100] {
            transaction::send_owned::<Invoiced, _>(total, |total: &u64| Invoiced { total })
                .unwrap();
        }
    });
    assert_eq!(tx.queued(), 4, "queued whatever the predicate will say");
    assert_eq!(
        *INVOICE_LOG.lock().unwrap(),
        [0u64; 0],
        "nothing before the commit"
    );
    assert!(tx.commit().is_empty(), "no deferred receiver failed");
    assert_eq!(*INVOICE_LOG.lock().unwrap(), [150, 100]);
}
