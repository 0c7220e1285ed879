//! Worker processes on one PostgreSQL (feature `postgres`; `SIGNALS_PG_URL`, as in
//! `postgres.rs`), real processes: this binary runs itself as the children
//! (`harness = false`, its own `main`).
//!
//! 1. **Scale-out**: two worker processes share 1,200 jobs pushed to one database. Every
//!    job runs, none succeeds twice (each run records its delivery id in a table: the
//!    count equals the distinct count equals N), and both processes took a share.
//! 2. **A worker killed mid-job** (SIGKILL): its job stays locked until another worker's
//!    heartbeat finds it silent for two heartbeats, then runs again there.
//! 3. **A killed worker restarted under its name**: the name is free at once (the server
//!    dropped the dead session's lock), and registering takes back the job it left
//!    locked, without waiting for a heartbeat to lapse.

mod common;

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg::TestDb;
use common::process::{self, ChildGuard};
use futures_util::FutureExt;
use signals_offload::{Broker, DeliveryId, Envelope, Job, Offload, PostgresBroker, Shutdown};

const CHILD: &str = "SIGNALS_OFFLOAD_PG_CHILD";
const DB: &str = "SIGNALS_OFFLOAD_PG_DB";
const WORKER: &str = "SIGNALS_OFFLOAD_PG_WORKER";

/// How many jobs the scale-out pushes.
const JOBS: i64 = 1_200;

type Scenario = fn(&tokio::runtime::Runtime, &TestDb);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var(CHILD).as_deref() {
        Ok("scale") => runtime.block_on(child_scale_worker()),
        Ok("doomed") => runtime.block_on(child_doomed_worker()),
        Ok(other) => panic!("unknown child mode {other:?}"),
        Err(_) => {
            let tests: [(&str, &str, Scenario); 3] = [
                (
                    "two_worker_processes_share_the_jobs_and_none_succeeds_twice",
                    "scale",
                    scale_out,
                ),
                (
                    "job_of_a_worker_killed_mid_job_runs_again_on_another_worker",
                    "killed",
                    worker_killed,
                ),
                (
                    "a_killed_worker_restarted_under_its_name_takes_its_job_back",
                    "restarted",
                    worker_restarted,
                ),
            ];
            let mut ran = 0;
            for (name, tag, test) in tests {
                let started = Instant::now();
                let Some(db) = runtime.block_on(TestDb::create(tag)) else {
                    println!("test {name} ... skipped (no SIGNALS_PG_URL)");
                    continue;
                };
                test(&runtime, &db);
                runtime.block_on(db.drop_db());
                ran += 1;
                println!(
                    "test {name} ... ok ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            println!(
                "\ntest result: ok. {ran} passed; {} skipped (worker processes on PostgreSQL)",
                tests.len() - ran
            );
        }
    }
}

fn with_deadline(
    runtime: &tokio::runtime::Runtime,
    what: &str,
    within: Duration,
    f: impl Future<Output = ()>,
) {
    runtime.block_on(async {
        tokio::time::timeout(within, f)
            .await
            .unwrap_or_else(|_| panic!("{what}: not within {within:?}"))
    });
}

fn envelope(id: i64) -> Envelope {
    Envelope {
        delivery_id: DeliveryId(id),
        queue: "q".into(),
        handler: "h".into(),
        max_attempts: 3,
        payload: serde_json::json!({ "n": id }),
    }
}

fn child_db() -> TestDb {
    TestDb::named(std::env::var(DB).expect("the parent names the database"))
}

fn spawn(mode: &str, db: &TestDb, worker: &str) -> ChildGuard {
    process::spawn(&[(CHILD, mode), (DB, db.name.as_str()), (WORKER, worker)])
}

// --- 1. scale-out -------------------------------------------------------------------------

/// A worker process of the scale-out: each run inserts (delivery id, worker) into
/// `scale_runs`; it stops gracefully when its stdin closes.
async fn child_scale_worker() {
    let name = std::env::var(WORKER).expect("worker name");
    let broker = child_db().broker().await.with_concurrency(8);
    let pool = broker.pool().clone();
    let mut offload = Offload::new();
    {
        let name = name.clone();
        offload
            .register::<serde_json::Value, _, _, _>("q", "h", move |job: Job<serde_json::Value>| {
                let pool = pool.clone();
                let name = name.clone();
                async move {
                    sqlx::query("INSERT INTO scale_runs (delivery_id, worker) VALUES ($1, $2)")
                        .bind(job.delivery_id.0)
                        .bind(&name)
                        .execute(&pool)
                        .await
                        .map_err(|err| err.to_string())?;
                    // A little work, so that both workers have jobs in flight at once.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok::<(), String>(())
                }
            })
            .expect("registered");
    }
    let shutdown = Shutdown::new();
    std::thread::spawn({
        let shutdown = shutdown.clone();
        move || {
            // The parent closes stdin to stop us.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            shutdown.request();
        }
    });
    println!("WORKING {name}");
    broker
        .run_worker(name, Arc::new(offload), shutdown.signal())
        .await
        .expect("worker stopped cleanly");
    println!("STOPPED");
}

async fn count(broker: &PostgresBroker, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(broker.pool())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    n
}

fn scale_out(runtime: &tokio::runtime::Runtime, db: &TestDb) {
    let broker = runtime.block_on(async {
        let broker = db.broker().await;
        sqlx::query("CREATE TABLE scale_runs (delivery_id BIGINT NOT NULL, worker TEXT NOT NULL)")
            .execute(broker.pool())
            .await
            .expect("runs table");
        broker
    });
    let mut workers: Vec<ChildGuard> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let mut child = spawn("scale", db, name);
            assert_eq!(
                child.wait_for_line("WORKING", Duration::from_secs(60)),
                name
            );
            child
        })
        .collect();
    let started = Instant::now();
    with_deadline(runtime, "every job done", Duration::from_secs(180), async {
        for id in 1..=JOBS {
            broker.push(&envelope(id)).await.expect("push");
        }
        while count(
            &broker,
            "SELECT count(*) FROM apalis.jobs WHERE status = 'Done'",
        )
        .await
            < JOBS
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let done_in = started.elapsed();
    // Stop both gracefully (stdin closed), then count: no run can come after.
    let stdins: Vec<_> = workers.iter_mut().map(ChildGuard::take_stdin).collect();
    drop(stdins);
    for mut worker in workers {
        worker.wait_for_line("STOPPED", Duration::from_secs(30));
        let status = worker.wait_exit(Duration::from_secs(30));
        assert!(status.success(), "a worker process failed: {status:?}");
    }
    with_deadline(runtime, "counting", Duration::from_secs(30), async {
        let runs = count(&broker, "SELECT count(*) FROM scale_runs").await;
        let distinct = count(
            &broker,
            "SELECT count(DISTINCT delivery_id) FROM scale_runs",
        )
        .await;
        let in_range = count(
            &broker,
            "SELECT count(DISTINCT delivery_id) FROM scale_runs WHERE delivery_id BETWEEN 1 AND 1200",
        )
        .await;
        assert_eq!(
            (runs, distinct, in_range),
            (JOBS, JOBS, JOBS),
            "runs, distinct ids, ids 1..=N"
        );
        let not_done = count(
            &broker,
            "SELECT count(*) FROM apalis.jobs WHERE status <> 'Done'",
        )
        .await;
        assert_eq!(not_done, 0, "every job is done, none queued again");
        let shares: Vec<(String, i64)> = sqlx::query_as(
            "SELECT worker, count(*) FROM scale_runs GROUP BY worker ORDER BY worker",
        )
        .fetch_all(broker.pool())
        .await
        .expect("shares");
        assert_eq!(shares.len(), 2, "both workers took a share: {shares:?}");
        assert!(shares.iter().all(|(_, n)| *n > 0), "{shares:?}");
        assert_eq!(shares.iter().map(|(_, n)| n).sum::<i64>(), JOBS);
        println!(
            "  {JOBS} jobs, each run once, done {:.1} s after the first push; shares: {}",
            done_in.as_secs_f64(),
            shares
                .iter()
                .map(|(worker, n)| format!("{worker} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    });
}

// --- 2. and 3. a worker killed mid-job ----------------------------------------------------

const HEARTBEAT: Duration = Duration::from_secs(1);

type Runs = Arc<Mutex<Vec<(DeliveryId, u32)>>>;

/// The handler: records its run; in the doomed child, hangs (the parent kills it mid-job).
fn offload(runs: Runs, hang: bool) -> Arc<Offload> {
    let mut offload = Offload::new();
    offload
        .register::<serde_json::Value, _, _, _>("q", "h", move |job: Job<serde_json::Value>| {
            let runs = runs.clone();
            async move {
                runs.lock()
                    .map_err(|_| "poisoned")?
                    .push((job.delivery_id, job.attempt));
                if hang {
                    println!("STARTED {}", job.delivery_id);
                    tokio::time::sleep(Duration::from_secs(600)).await;
                }
                Ok::<(), &'static str>(())
            }
        })
        .expect("registered once");
    Arc::new(offload)
}

/// Runs a worker whose job hangs, until killed.
async fn child_doomed_worker() {
    let name = std::env::var(WORKER).expect("worker name");
    let broker = child_db().broker().await.with_heartbeat(HEARTBEAT);
    broker
        .run_worker(
            name,
            offload(Arc::default(), true),
            futures_util::future::pending().boxed(),
        )
        .await
        .expect("worker");
}

/// Pushes job `id`, lets a doomed child start it, kills the child; returns when it died.
fn start_and_kill(runtime: &tokio::runtime::Runtime, db: &TestDb, id: i64) -> Instant {
    runtime.block_on(async { db.broker().await.push(&envelope(id)).await.expect("pushed") });
    let mut child = spawn("doomed", db, "doomed");
    assert_eq!(
        child.wait_for_line("STARTED", Duration::from_secs(60)),
        id.to_string()
    );
    child.kill();
    Instant::now()
}

/// Runs a worker `name` with `heartbeat` until the job has run again; returns the runs and
/// when the job ran.
async fn run_until_recovered(
    db: &TestDb,
    name: &str,
    heartbeat: Duration,
) -> (Vec<(DeliveryId, u32)>, Instant) {
    let runs: Runs = Arc::default();
    let broker = db.broker().await.with_heartbeat(heartbeat);
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker(
        name.into(),
        offload(runs.clone(), false),
        shutdown.signal(),
    ));
    while runs.lock().expect("lock").is_empty() {
        assert!(
            !worker.is_finished(),
            "the worker stopped: {:?}",
            worker.await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = Instant::now();
    // Give a duplicate the time to show up, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.request();
    worker.await.expect("joined").expect("stopped cleanly");
    let runs = runs.lock().expect("lock").clone();
    (runs, recovered)
}

fn worker_killed(runtime: &tokio::runtime::Runtime, db: &TestDb) {
    let killed = start_and_kill(runtime, db, 7);
    with_deadline(
        runtime,
        "recovery on another worker",
        Duration::from_secs(60),
        async {
            let (runs, recovered) = run_until_recovered(db, "survivor", HEARTBEAT).await;
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].0, DeliveryId(7), "the same delivery");
            let after = recovered - killed;
            // Not before the dead worker's heartbeat lapsed: taken for dead, not raced alive.
            assert!(after >= HEARTBEAT, "recovered after {after:?}");
            println!(
                "  recovery: the job ran again {:.2} s after the SIGKILL (heartbeat {} s)",
                after.as_secs_f64(),
                HEARTBEAT.as_secs()
            );
        },
    );
}

fn worker_restarted(runtime: &tokio::runtime::Runtime, db: &TestDb) {
    let killed = start_and_kill(runtime, db, 8);
    with_deadline(
        runtime,
        "recovery by the restarted worker",
        Duration::from_secs(60),
        async {
            // A heartbeat of 60 s: no orphan recovery by heartbeat within this test's 60 s, so
            // the run comes from the registration taking the name's job back.
            let (runs, recovered) =
                run_until_recovered(db, "doomed", Duration::from_secs(60)).await;
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].0, DeliveryId(8), "the same delivery");
            println!(
                "  restart: the job ran again {:.2} s after the SIGKILL, on the worker of the same name",
                (recovered - killed).as_secs_f64()
            );
        },
    );
}
