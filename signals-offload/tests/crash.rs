//! Nothing is lost when a process dies, proved with real processes killed with SIGKILL
//! (this binary runs itself as the child; `harness = false`, its own `main`):
//!
//! 1. **The app dies after the commit, before the relay pushed the row**: the outbox row is
//!    committed with the model write, so the relay started by the next run pushes it and a
//!    worker runs the job once.
//! 2. **A worker dies in the middle of a job**: the job stays locked to the dead worker
//!    until another worker's heartbeat finds it silent for two heartbeats; then it runs
//!    again (same delivery id) on that worker. The recovery time is printed.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{self, ChildGuard};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use serde::{Deserialize, Serialize};
use signals_offload::{
    Broker, DeliveryId, Envelope, Job, Offload, Relay, Shutdown, SqliteBroker, outbox,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Welcome {
    email: String,
}

/// One scenario of this binary, run on the parent's runtime.
type Scenario = fn(&tokio::runtime::Runtime);

const CHILD: &str = "SIGNALS_OFFLOAD_CRASH_CHILD";
const DIR: &str = "SIGNALS_OFFLOAD_CRASH_DIR";
/// How long a child may take to print the line the parent waits for.
const LINE_WITHIN: Duration = Duration::from_secs(60);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var(CHILD).as_deref() {
        Ok("app") => runtime.block_on(child_app()),
        Ok("worker") => runtime.block_on(child_worker()),
        Ok(other) => panic!("unknown child mode {other:?}"),
        Err(_) => {
            let tests: [(&str, Scenario); 2] = [
                (
                    "app_killed_after_commit_before_push_is_relayed_at_next_start",
                    app_killed,
                ),
                (
                    "job_of_a_worker_killed_mid_job_runs_again_on_another_worker",
                    worker_killed,
                ),
            ];
            for (name, test) in tests {
                let started = Instant::now();
                test(&runtime);
                println!(
                    "test {name} ... ok ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            println!(
                "\ntest result: ok. {} passed (processes killed with SIGKILL)",
                tests.len()
            );
        }
    }
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var(DIR).expect("the parent names the directory"))
}

/// Spawns this binary as a child in `mode`, on `dir`.
fn spawn(mode: &str, dir: &Path) -> ChildGuard {
    process::spawn(&[(CHILD, mode.as_ref()), (DIR, dir.as_os_str())])
}

fn with_deadline(runtime: &tokio::runtime::Runtime, what: &str, f: impl Future<Output = ()>) {
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .unwrap_or_else(|_| panic!("{what}: not within 60 s"))
    });
}

async fn app_db(dir: &Path) -> DatabaseConnection {
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    let db = Database::connect(url).await.expect("app database");
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT)")
        .await
        .expect("users table");
    outbox::create_table(&db).await.expect("outbox table");
    db
}

type Runs = Arc<Mutex<Vec<(DeliveryId, u32, String)>>>;

/// The handler both processes register: records its run; in a child worker, hangs (the
/// parent kills it mid-job).
fn offload(runs: Runs, hang: bool) -> Offload {
    let mut offload = Offload::new();
    offload
        .register::<Welcome, _, _, _>("mail", "send_welcome", move |job: Job<Welcome>| {
            let runs = runs.clone();
            async move {
                runs.lock().map_err(|_| "poisoned")?.push((
                    job.delivery_id,
                    job.attempt,
                    job.payload.email.clone(),
                ));
                if hang {
                    println!("STARTED {}", job.delivery_id);
                    tokio::time::sleep(Duration::from_secs(600)).await;
                }
                Ok::<(), &'static str>(())
            }
        })
        .expect("registered once");
    offload
}

// --- 1. the app killed after the commit --------------------------------------------------

/// Commits a signup and its outbox row (no relay runs), then waits to be killed.
async fn child_app() {
    let db = app_db(&dir()).await;
    let offload = Arc::new(offload(Arc::default(), false));
    let id = signals_sea_orm::transaction(&db, {
        let offload = offload.clone();
        move |txn| {
            Box::pin(async move {
                txn.execute_unprepared("INSERT INTO users (email) VALUES ('ada@example.com')")
                    .await?;
                let ids = offload
                    .enqueue(
                        txn,
                        &Welcome {
                            email: "ada@example.com".into(),
                        },
                    )
                    .await?;
                Ok::<_, signals_offload::OffloadError>(ids[0])
            })
        }
    })
    .await
    .expect("committed");
    println!("COMMITTED {id}");
    tokio::time::sleep(Duration::from_secs(600)).await;
}

fn app_killed(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn("app", dir.path());
    let id: i64 = child
        .wait_for_line("COMMITTED", LINE_WITHIN)
        .parse()
        .expect("an id");
    child.kill();

    with_deadline(runtime, "relay at the next start", async {
        let db = app_db(dir.path()).await;
        let row = outbox::Entity::find_by_id(id)
            .one(&db)
            .await
            .expect("query")
            .expect("the committed row survived the kill");
        assert_eq!(row.status, "pending", "never pushed");

        // The next start: a relay (its startup sweep) and a worker.
        let runs: Runs = Arc::default();
        let offload = Arc::new(offload(runs.clone(), false));
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker")
                .with_poll_interval(Duration::from_millis(25)),
        );
        let shutdown = Shutdown::new();
        let relay = Relay::new(db.clone(), broker.clone(), &offload);
        let relay_task = tokio::spawn({
            let stop = shutdown.signal();
            // A long interval: the row is relayed by the startup sweep, not a later one.
            async move { relay.run(Duration::from_secs(600), stop).await }
        });
        let worker =
            tokio::spawn(broker.run_worker("w".into(), offload.clone(), shutdown.signal()));
        while runs.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Give a duplicate the time to show up, then stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        shutdown.request();
        relay_task.await.expect("relay");
        worker.await.expect("worker").expect("stopped cleanly");
        assert_eq!(
            *runs.lock().unwrap(),
            [(DeliveryId(id), 1, "ada@example.com".to_owned())],
            "run once"
        );
        let row = outbox::Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, "relayed");
    });
}

// --- 2. a worker killed mid-job -----------------------------------------------------------

const HEARTBEAT: Duration = Duration::from_secs(1);

async fn broker(dir: &Path) -> SqliteBroker {
    SqliteBroker::open(dir.join("broker.db"))
        .await
        .expect("broker")
        .with_poll_interval(Duration::from_millis(25))
        .with_heartbeat(HEARTBEAT)
}

/// Runs a worker whose job hangs, until killed.
async fn child_worker() {
    let broker = broker(&dir()).await;
    let offload = Arc::new(offload(Arc::default(), true));
    broker
        .run_worker(
            "doomed".into(),
            offload,
            futures_util::future::pending().boxed(),
        )
        .await
        .expect("worker");
}

use futures_util::FutureExt;

fn worker_killed(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        broker(dir.path())
            .await
            .push(&Envelope {
                delivery_id: DeliveryId(7),
                queue: "mail".into(),
                handler: "send_welcome".into(),
                max_attempts: 3,
                payload: serde_json::json!({ "email": "bob@example.com" }),
            })
            .await
            .expect("pushed");
    });
    let mut child = spawn("worker", dir.path());
    assert_eq!(child.wait_for_line("STARTED", LINE_WITHIN), "7");
    child.kill();
    let killed = Instant::now();

    with_deadline(runtime, "recovery on another worker", async {
        let runs: Runs = Arc::default();
        let offload = Arc::new(offload(runs.clone(), false));
        let broker = Arc::new(broker(dir.path()).await);
        let shutdown = Shutdown::new();
        let worker =
            tokio::spawn(broker.run_worker("survivor".into(), offload.clone(), shutdown.signal()));
        while runs.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let recovered = killed.elapsed();
        shutdown.request();
        worker.await.expect("worker").expect("stopped cleanly");
        let runs = runs.lock().unwrap().clone();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].0, DeliveryId(7), "the same delivery");
        assert_eq!(runs[0].2, "bob@example.com");
        // Not before the dead worker's two heartbeats lapsed: it was taken for dead, not
        // raced while alive.
        assert!(recovered >= HEARTBEAT, "recovered after {recovered:?}");
        println!(
            "  recovery: the job ran again {:.2} s after the SIGKILL (heartbeat {} s, attempt {})",
            recovered.as_secs_f64(),
            HEARTBEAT.as_secs(),
            runs[0].1
        );
    });
}
