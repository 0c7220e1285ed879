//! The write path and the relay on real SQLite files: the outbox rows commit and roll back
//! with the model write; a committed row reaches a worker once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use serde::{Deserialize, Serialize};
use signals_offload::{
    Broker, DeliveryId, Job, Offload, OffloadError, Relay, Shutdown, SqliteBroker, outbox,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Welcome {
    email: String,
}

type Seen = Arc<Mutex<Vec<(DeliveryId, u32, String)>>>;

fn offload(seen: Seen) -> Offload {
    let mut offload = Offload::new();
    offload
        .register::<Welcome, _, _, _>("mail", "send_welcome", move |job: Job<Welcome>| {
            let seen = seen.clone();
            async move {
                seen.lock().map_err(|_| "poisoned")?.push((
                    job.delivery_id,
                    job.attempt,
                    job.payload.email,
                ));
                Ok::<(), &'static str>(())
            }
        })
        .expect("registered once");
    offload
}

async fn app_db(dir: &tempfile::TempDir) -> DatabaseConnection {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let db = Database::connect(url).await.expect("app database");
    db.execute_unprepared("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
        .await
        .expect("users table");
    outbox::create_table(&db).await.expect("outbox table");
    // Idempotent.
    outbox::create_table(&db)
        .await
        .expect("outbox table, again");
    db
}

async fn signup(
    db: &DatabaseConnection,
    offload: &Arc<Offload>,
    email: &str,
    commit: bool,
) -> Result<(), String> {
    let offload = offload.clone();
    let email = email.to_owned();
    signals_sea_orm::transaction(db, move |txn| {
        Box::pin(async move {
            txn.execute_unprepared(&format!("INSERT INTO users (email) VALUES ('{email}')"))
                .await?;
            offload.enqueue(txn, &Welcome { email }).await?;
            if commit {
                Ok(())
            } else {
                Err(OffloadError::UnknownDelivery(0))
            }
        })
    })
    .await
    .map_err(|err| err.to_string())
}

/// The relay's statements on the outbox, counted through SeaORM's metric callback on `db`
/// (set it before cloning `db` for the relay): its `SELECT`s of pending rows (the only
/// outbox reads with an `ORDER BY`) and its `UPDATE`s marking rows relayed.
#[derive(Default)]
struct RelayStatements {
    selects: AtomicUsize,
    updates: AtomicUsize,
}

impl RelayStatements {
    fn on(db: &mut DatabaseConnection) -> Arc<RelayStatements> {
        let counts = Arc::new(RelayStatements::default());
        let seen = counts.clone();
        db.set_metric_callback(move |info| {
            let sql = &info.statement.sql;
            if !sql.contains("signals_offload_outbox") {
                return;
            }
            if sql.starts_with("SELECT") && sql.contains("ORDER BY") {
                seen.selects.fetch_add(1, Ordering::SeqCst);
            } else if sql.starts_with("UPDATE") {
                seen.updates.fetch_add(1, Ordering::SeqCst);
            }
        });
        counts
    }

    fn get(&self) -> (usize, usize) {
        (
            self.selects.load(Ordering::SeqCst),
            self.updates.load(Ordering::SeqCst),
        )
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_leaves_a_pending_row_per_handler() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = app_db(&dir).await;
    let offload = Arc::new(offload(Arc::default()));
    signup(&db, &offload, "ada@example.com", true)
        .await
        .expect("committed");

    let rows = outbox::Entity::find().all(&db).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "pending");
    assert_eq!(
        (rows[0].queue.as_str(), rows[0].handler.as_str()),
        ("mail", "send_welcome")
    );
    let payload: Welcome = serde_json::from_str(&rows[0].payload).expect("json");
    assert_eq!(payload.email, "ada@example.com");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_leaves_no_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = app_db(&dir).await;
    let offload = Arc::new(offload(Arc::default()));
    signup(&db, &offload, "bob@example.com", false)
        .await
        .expect_err("rolled back");

    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM signals_offload_outbox").await,
        0
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_of_an_event_without_handler_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = app_db(&dir).await;
    let offload = Offload::new();
    let err = offload
        .enqueue(&db, &Welcome { email: "x".into() })
        .await
        .expect_err("no handler");
    assert!(matches!(err, OffloadError::NoHandler(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_row_is_relayed_and_run_once_with_delivery_id_and_attempt_1() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = app_db(&dir).await;
        let seen: Seen = Arc::default();
        let offload = Arc::new(offload(seen.clone()));
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker")
                .with_poll_interval(Duration::from_millis(25))
                .with_concurrency(1),
        );

        let shutdown = Shutdown::new();
        let relay = Relay::new(db.clone(), broker.clone(), &offload);
        let relay_task = tokio::spawn({
            let stop = shutdown.signal();
            async move { relay.run(Duration::from_secs(30), stop).await }
        });
        let worker =
            tokio::spawn(broker.run_worker("worker-1".into(), offload.clone(), shutdown.signal()));

        signup(&db, &offload, "ada@example.com", true)
            .await
            .expect("committed");
        let rows = outbox::Entity::find().all(&db).await.expect("rows");
        let id = DeliveryId(rows[0].id);

        // The commit woke the relay (its interval is 30 s): the job runs well before.
        while seen.lock().expect("lock").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Pushing the row again (a relay that crashed before marking it) queues nothing.
        let again = |id: DeliveryId, email: &str| signals_offload::Envelope {
            delivery_id: id,
            queue: "mail".into(),
            handler: "send_welcome".into(),
            max_attempts: 5,
            payload: serde_json::json!({ "email": email }),
        };
        broker
            .push(&again(id, "ada@example.com"))
            .await
            .expect("duplicate push");
        // A marker delivery pushed after it: jobs are fetched in push order (job ids are
        // ULIDs, ordered across milliseconds, hence the pause) and this worker runs one at a
        // time, so once the marker has run a queued duplicate would have run before it.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let marker = DeliveryId(id.0 + 1000);
        broker
            .push(&again(marker, "marker@example.com"))
            .await
            .expect("marker push");
        while !seen.lock().expect("lock").iter().any(|run| run.0 == marker) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        shutdown.request();
        relay_task.await.expect("relay stopped");
        worker
            .await
            .expect("worker joined")
            .expect("worker stopped cleanly");
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![
                (id, 1, "ada@example.com".to_owned()),
                (marker, 1, "marker@example.com".to_owned())
            ]
        );
        let row = outbox::Entity::find_by_id(id.0)
            .one(&db)
            .await
            .expect("query")
            .expect("row");
        assert_eq!(row.status, "relayed");
        assert!(row.relayed_at.is_some());
    })
    .await
    .expect("within 30 s");
}

/// More rows than one relay batch (256): one pass relays them all, batch by batch, each
/// job queued once and run once by a worker, every row marked relayed; a second pass finds
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_relays_every_pending_row_in_batches_and_each_runs_once() {
    tokio::time::timeout(Duration::from_secs(60), async {
        const ROWS: usize = 300;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = app_db(&dir).await;
        let statements = RelayStatements::on(&mut db);
        let seen: Seen = Arc::default();
        let offload = Arc::new(offload(seen.clone()));
        for n in 0..ROWS {
            signup(&db, &offload, &format!("user{n}@example.com"), true)
                .await
                .expect("committed");
        }
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker")
                .with_poll_interval(Duration::from_millis(25)),
        );
        let relay = Relay::new(db.clone(), broker.clone(), &offload);
        assert_eq!(relay.relay_pending().await.expect("relayed"), ROWS);
        // Two batches (256 + 44), each one SELECT and one UPDATE; the short second batch
        // was the last: no third SELECT to find the outbox empty.
        assert_eq!(statements.get(), (2, 2), "(SELECTs, UPDATEs) of the pass");
        assert_eq!(relay.relay_pending().await.expect("second pass"), 0);
        assert_eq!(statements.get(), (3, 2), "an empty pass: one SELECT, no UPDATE");
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM signals_offload_outbox WHERE status = 'relayed' AND relayed_at IS NOT NULL"
            )
            .await,
            ROWS as i64
        );

        let shutdown = Shutdown::new();
        let worker =
            tokio::spawn(broker.run_worker("worker-1".into(), offload.clone(), shutdown.signal()));
        while seen.lock().expect("lock").len() < ROWS {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.request();
        worker
            .await
            .expect("worker joined")
            .expect("worker stopped cleanly");
        let mut runs: Vec<i64> = seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(id, attempt, _)| {
                assert_eq!(*attempt, 1);
                id.0
            })
            .collect();
        runs.sort_unstable();
        let rows: Vec<i64> = outbox::Entity::find()
            .all(&db)
            .await
            .expect("rows")
            .into_iter()
            .map(|row| row.id)
            .collect();
        assert_eq!(runs, rows, "each row ran exactly once");
        // Every job was acknowledged before the worker returned (its acknowledger drained).
        let (done,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM Jobs WHERE status = 'Done'")
                .fetch_one(broker.pool())
                .await
                .expect("jobs");
        assert_eq!(done, ROWS as i64);
    })
    .await
    .expect("within 60 s");
}

/// Waits until `rows` outbox rows are marked relayed.
async fn until_relayed(db: &DatabaseConnection, rows: i64) {
    while count(
        db,
        "SELECT COUNT(*) FROM signals_offload_outbox WHERE status = 'relayed'",
    )
    .await
        < rows
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A relay with a linger, woken by a commit, waits before its pass: the rows committed
/// meanwhile go in that same pass (one SELECT, one UPDATE for three commits), and the
/// wake-ups they left do not cause empty passes after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_during_the_linger_are_relayed_in_one_pass() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = app_db(&dir).await;
        let statements = RelayStatements::on(&mut db);
        let offload = Arc::new(offload(Arc::default()));
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker"),
        );
        // A long linger, so that the three commits surely land inside it; a long
        // interval, so that every pass after the startup sweep is a wake-up's.
        let relay = Relay::new(db.clone(), broker.clone(), &offload).linger(Duration::from_secs(2));
        let shutdown = Shutdown::new();
        let relay_task = tokio::spawn({
            let stop = shutdown.signal();
            async move { relay.run(Duration::from_secs(60), stop).await }
        });
        // The startup sweep: one SELECT, nothing pending.
        while statements.get().0 < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(statements.get(), (1, 0));

        for n in 0..3 {
            signup(&db, &offload, &format!("user{n}@example.com"), true)
                .await
                .expect("committed");
        }
        // Nothing relayed before the linger ends.
        assert_eq!(
            statements.get(),
            (1, 0),
            "the relay lingers before its pass"
        );
        until_relayed(&db, 3).await;
        assert_eq!(statements.get(), (2, 1), "one pass for the three commits");
        // Past another linger: the wake-ups of the second and third commit were consumed
        // by that pass, not left to start an empty one.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(statements.get(), (2, 1), "no empty pass after it");

        shutdown.request();
        relay_task.await.expect("relay stopped");
        let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs")
            .fetch_one(broker.pool())
            .await
            .expect("jobs");
        assert_eq!(queued, 3, "each row pushed once");
    })
    .await
    .expect("within 30 s");
}

/// With no linger a wake-up starts a pass at once, and every committed row is still
/// relayed by the wake-ups alone (the interval is far off): consuming the wake-ups left
/// during a pass loses none that a later commit needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_zero_linger_every_commit_is_relayed_by_its_wake_up() {
    tokio::time::timeout(Duration::from_secs(30), async {
        const ROWS: i64 = 40;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = app_db(&dir).await;
        let offload = Arc::new(offload(Arc::default()));
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker"),
        );
        let relay = Relay::new(db.clone(), broker.clone(), &offload).linger(Duration::ZERO);
        let shutdown = Shutdown::new();
        let relay_task = tokio::spawn({
            let stop = shutdown.signal();
            async move { relay.run(Duration::from_secs(60), stop).await }
        });
        for n in 0..ROWS {
            signup(&db, &offload, &format!("user{n}@example.com"), true)
                .await
                .expect("committed");
            // Now and then a pause, so that some passes find the outbox empty in between.
            if n % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        until_relayed(&db, ROWS).await;
        shutdown.request();
        relay_task.await.expect("relay stopped");
        let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs")
            .fetch_one(broker.pool())
            .await
            .expect("jobs");
        assert_eq!(queued, ROWS, "each row pushed once");
    })
    .await
    .expect("within 30 s");
}
