//! Receivers that wait for the transaction (`on = Commit | Rollback | Completion`), with the
//! ORM-agnostic queue of `signals_core::transaction`. Django runs `post_save` before the
//! commit; here a `Commit` receiver never sees a row that was rolled back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use signals_core::prelude::*;
use signals_core::transaction::{self, Transaction};
use signals_core::{ConnectOptions, Phase, ReceiverError, SendError};

fn log_of(log: &Mutex<Vec<String>>) -> Vec<String> {
    log.lock().unwrap().clone()
}

// --- The four phases -----------------------------------------------------------------------

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

static SIGNUP_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(Signup, priority = 1)]
fn signup_now(e: &Signup<'_>) {
    SIGNUP_LOG.lock().unwrap().push(format!("now {}", e.email));
}
#[receiver(Signup, on = Commit)]
fn signup_commit(e: &Signup<'_>) {
    SIGNUP_LOG
        .lock()
        .unwrap()
        .push(format!("commit {}", e.email));
}
#[receiver(Signup, on = Rollback)]
fn signup_rollback(e: &Signup<'_>) {
    SIGNUP_LOG
        .lock()
        .unwrap()
        .push(format!("rollback {}", e.email));
}
#[receiver(Signup, on = Completion)]
fn signup_completion(e: &Signup<'_>) {
    SIGNUP_LOG
        .lock()
        .unwrap()
        .push(format!("completion {}", e.email));
}

fn signup(email: &str) -> Result<(), SendError> {
    transaction::send_owned::<Signup, _>(email.to_owned(), |email: &String| Signup { email })
        .map(drop)
}

/// One test for the whole table, so the shared log is not raced by parallel tests.
#[test]
fn each_phase_runs_when_its_transaction_outcome_says() {
    // Committed: immediate at once, then commit + completion after the commit, in order.
    let tx = Transaction::begin();
    tx.run(|| signup("a@x")).unwrap();
    assert_eq!(
        log_of(&SIGNUP_LOG),
        ["now a@x"],
        "nothing deferred ran before the commit"
    );
    assert_eq!(tx.queued(), 3);
    assert!(tx.commit().is_empty());
    assert_eq!(
        log_of(&SIGNUP_LOG),
        ["now a@x", "commit a@x", "completion a@x"]
    );

    // Rolled back: the commit receiver never runs.
    SIGNUP_LOG.lock().unwrap().clear();
    let tx = Transaction::begin();
    tx.run(|| signup("b@x")).unwrap();
    assert!(tx.rollback().is_empty());
    // Equal priorities: by path, `signup_completion` before `signup_rollback`.
    assert_eq!(
        log_of(&SIGNUP_LOG),
        ["now b@x", "completion b@x", "rollback b@x"]
    );

    // Dropped without commit or rollback: treated as a rollback for Commit receivers.
    SIGNUP_LOG.lock().unwrap().clear();
    let tx = Transaction::begin();
    tx.run(|| signup("c@x")).unwrap();
    drop(tx);
    assert_eq!(log_of(&SIGNUP_LOG), ["now c@x"]);

    // No transaction open: commit and completion receivers run at once; rollback never.
    SIGNUP_LOG.lock().unwrap().clear();
    signup("d@x").unwrap();
    assert_eq!(
        log_of(&SIGNUP_LOG),
        ["now d@x", "commit d@x", "completion d@x"]
    );
    Signup { email: "e@x" }.send().unwrap();
    assert_eq!(
        log_of(&SIGNUP_LOG)[3..],
        ["now e@x", "commit e@x", "completion e@x"]
    );

    // A borrowed send inside a transaction cannot defer: refused before anything runs.
    SIGNUP_LOG.lock().unwrap().clear();
    let tx = Transaction::begin();
    let error = tx.run(|| Signup { email: "f@x" }.send()).unwrap_err();
    match &error {
        SendError::NotDeferrable {
            signal, receivers, ..
        } => {
            assert_eq!(*signal, "Signup");
            let phases: Vec<Phase> = receivers.iter().map(|r| r.phase()).collect();
            assert_eq!(phases, [Phase::Commit, Phase::Completion, Phase::Rollback]);
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("send_owned"), "{error}");
    assert!(log_of(&SIGNUP_LOG).is_empty());
    // ... and send_robust runs the immediate receivers and reports the others.
    let report = tx.run(|| Signup { email: "g@x" }.send_robust());
    assert_eq!(log_of(&SIGNUP_LOG), ["now g@x"]);
    assert_eq!(report.failures().len(), 3);
    assert!(
        report
            .failures()
            .iter()
            .all(|f| matches!(f.error, ReceiverError::NotDeferred))
    );
    let _ = tx.rollback();
}

// --- Savepoints -------------------------------------------------------------------------

#[derive(Signal)]
pub struct Row<'a> {
    pub id: &'a u32,
}

static COMMITTED_ROWS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[receiver(Row, on = Commit)]
fn row_committed(e: &Row<'_>) {
    COMMITTED_ROWS.lock().unwrap().push(*e.id);
}

fn insert_row(id: u32) {
    transaction::send_owned::<Row, _>(id, |id: &u32| Row { id }).unwrap();
}

#[test]
fn savepoints_join_the_outer_transaction_and_a_rolled_back_one_drops_its_rows() {
    let tx = Transaction::begin();
    tx.run(|| {
        insert_row(1);
        let released = tx.savepoint();
        insert_row(2);
        released.release();
        let undone = tx.savepoint();
        insert_row(3);
        undone.rollback();
        insert_row(4);
    });
    assert!(
        COMMITTED_ROWS.lock().unwrap().is_empty(),
        "a released savepoint does not deliver"
    );
    assert!(tx.commit().is_empty());
    assert_eq!(*COMMITTED_ROWS.lock().unwrap(), [1, 2, 4]);
}

static FREE_SAVEPOINT_ROWS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[derive(Signal)]
pub struct Line<'a> {
    pub id: &'a u32,
}

#[receiver(Line, on = Commit)]
fn line_committed(e: &Line<'_>) {
    FREE_SAVEPOINT_ROWS.lock().unwrap().push(*e.id);
}

fn insert_line(id: u32) {
    transaction::send_owned::<Line, _>(id, |id: &u32| Line { id }).unwrap();
}

/// `transaction::savepoint()` marks the active transaction without holding it (what a
/// nested ORM `transaction(..)` call does); none outside a transaction.
#[test]
fn a_free_savepoint_marks_the_active_transaction() {
    assert!(transaction::savepoint().is_none());
    let tx = Transaction::begin();
    tx.run(|| {
        insert_line(1);
        let undone = transaction::savepoint().expect("a transaction is active");
        insert_line(2);
        undone.rollback();
        let kept = transaction::savepoint().unwrap();
        insert_line(3);
        kept.release();
    });
    assert_eq!(tx.queued(), 2);
    assert!(tx.commit().is_empty());
    assert_eq!(*FREE_SAVEPOINT_ROWS.lock().unwrap(), [1, 3]);
}

// --- Failures never un-commit and never stop the others ------------------------------------

#[derive(Signal)]
pub struct Paid<'a> {
    pub order: &'a u64,
}

#[derive(Debug, thiserror::Error)]
#[error("mailer down")]
struct MailerDown;

static PAID_AFTER: AtomicUsize = AtomicUsize::new(0);

#[receiver(Paid, on = Commit, priority = 3)]
fn paid_fails(_: &Paid<'_>) -> Result<(), MailerDown> {
    Err(MailerDown)
}
#[receiver(Paid, on = Commit, priority = 2)]
fn paid_panics(_: &Paid<'_>) {
    panic!("receipt printer on fire")
}
#[receiver(Paid, on = Commit, priority = 1)]
fn paid_after(_: &Paid<'_>) {
    PAID_AFTER.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_failing_deferred_receiver_is_reported_and_the_rest_still_run() {
    let tx = Transaction::begin();
    tx.run(|| transaction::send_owned::<Paid, _>(9u64, |order: &u64| Paid { order }))
        .unwrap();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failures = tx.commit();
    std::panic::set_hook(hook);
    assert_eq!(failures.len(), 2);
    assert!(failures[0].receiver.name().ends_with("paid_fails"));
    assert!(
        matches!(&failures[1].error, ReceiverError::Panicked { message } if message == "receipt printer on fire")
    );
    assert_eq!(
        PAID_AFTER.load(Ordering::SeqCst),
        1,
        "the third receiver still ran"
    );
}

// --- Async receivers, runtime receivers, task scoping under concurrency --------------------

#[derive(Signal)]
pub struct Written<'a> {
    pub row: &'a u64,
}

static ASYNC_DELIVERED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[receiver(Written, on = Commit)]
async fn written_async(e: &Written<'_>) {
    tokio::task::yield_now().await;
    ASYNC_DELIVERED.lock().unwrap().push(*e.row);
}

/// 8 concurrent tasks × 200 writes, every 7th rolled back: every committed row gets
/// exactly one delivery, no rolled-back row gets any, and no task sees another's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transactions_deliver_exactly_the_committed_rows() {
    let runtime_seen = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&runtime_seen);
    let _runtime = Written::connect_with(
        ConnectOptions::new().on(Phase::Commit),
        move |e: &Written<'_>| {
            seen.lock().unwrap().push(*e.row);
        },
    )
    .unwrap();
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            tokio::spawn(async move {
                let mut committed = Vec::new();
                for i in 0..200u64 {
                    let row = task * 1000 + i;
                    let tx = Transaction::begin();
                    tx.run_async(async {
                        transaction::send_owned_async::<Written, _>(row, |row: &u64| Written {
                            row,
                        })
                        .await
                        .unwrap();
                        tokio::task::yield_now().await; // interleave with other tasks
                    })
                    .await;
                    if i % 7 == 3 {
                        assert!(tx.rollback_async().await.is_empty());
                    } else {
                        assert!(tx.commit_async().await.is_empty());
                        committed.push(row);
                    }
                }
                committed
            })
        })
        .collect();
    let mut expected = Vec::new();
    for task in tasks {
        expected.extend(task.await.unwrap());
    }
    expected.sort_unstable();
    let mut delivered = ASYNC_DELIVERED.lock().unwrap().clone();
    delivered.sort_unstable();
    assert_eq!(delivered.len(), 8 * 200 - 8 * 28 - 8, "{}", delivered.len());
    assert_eq!(
        delivered, expected,
        "link-time async receiver: exactly the committed rows"
    );
    let mut runtime = runtime_seen.lock().unwrap().clone();
    runtime.sort_unstable();
    assert_eq!(
        runtime, expected,
        "runtime sync receiver: exactly the committed rows"
    );
}

/// Its own signal: a `Written` send here would reach the runtime receiver that the
/// concurrent test above connects while it runs (tests run in parallel).
#[derive(Signal)]
pub struct Archived<'a> {
    pub row: &'a u64,
}

#[receiver(Archived, on = Commit)]
async fn archived_async(e: &Archived<'_>) {
    tokio::task::yield_now().await;
    let _ = e.row;
}

#[test]
fn a_sync_commit_reports_async_deliveries_it_cannot_run() {
    let tx = Transaction::begin();
    tx.run(|| transaction::send_owned::<Archived, _>(5u64, |row: &u64| Archived { row }))
        .unwrap();
    let failures = tx.commit();
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0].error, ReceiverError::AsyncInSyncSend));
}
