//! Offload throughput, measured end to end against raw apalis on the same backend, worker
//! scaling on one PostgreSQL, and the outbox's cost per commit. Results and how to read
//! them: docs/PERFORMANCE.md, "Offload throughput (`signals-offload`)".
//!
//! ```text
//! cargo bench -p signals-offload --bench throughput -- [MODE] [--backend sqlite|postgres|both]
//!     [--jobs N] [--rounds R] [--workers 1,2,4] [--producers 1,4,8] [--handler-us U]
//!     [--linger-ms L]
//! MODE: throughput (default) | scaling | outbox | all
//! ```
//!
//! - **throughput**: `ours`, N sends (each a `signals_sea_orm::transaction` inserting a
//!   `users` row, whose `#[receiver(.., offload = "bench")]` writes its outbox row in that
//!   transaction), the relay (woken by the commits), the broker, one worker, until the N
//!   handlers ran; `raw`, the same job payload pushed N times with apalis' own push
//!   (`queries::push_tasks`, one task per call, each its own statement) and consumed by
//!   apalis' own `Worker` over the storage (`poll_with_interval`, `concurrency`), until the
//!   N handlers ran; `by hand`, what an application without us writes (Django/Celery's
//!   `save(); task.delay()`): per job the same row committed on its own through SeaORM
//!   (`plain_users`, no offloaded receiver), then the job pushed with apalis' own push as
//!   in `raw` (a crash between the two loses the job), consumed by apalis' own `Worker`.
//!   In all three the producers and the consumer run at once; the clock runs from the
//!   first send or push to the N-th handler. Rounds rotate the order. Ours' relay lingers
//!   `--linger-ms` (default: the relay's own default) after each wake-up.
//! - **producers** (`--producers`, a list; default 1): each side's N jobs are made by P
//!   concurrent tokio tasks (job n by task n mod P), as an application commits from many
//!   requests at once. Each ours / by-hand producer takes its own connection from the
//!   application's pool for each transaction, each raw / by-hand producer pushes on a
//!   connection of its own; the pools hold at least P connections beside what the relay
//!   and the workers use (at P = 1 the pools are today's: SeaORM's defaults). The
//!   throughput and scaling modes run once per value; the outbox mode has one producer.
//! - **scaling** (PostgreSQL): `ours` with 1, 2, 4 workers (tokio tasks of this process,
//!   each its own worker name), end to end and draining a queue filled beforehand.
//! - **outbox**: a committed insert with an offloaded receiver (`users`, one outbox row
//!   per commit) vs without (`plain`, the same behaviour and no receiver), interleaved;
//!   the relay is not running.
//!
//! `--backend postgres` (or `both`) needs `SIGNALS_PG_URL=postgres://user@host:port/db`;
//! each run creates a database of its own there and drops it after. Not run in CI (only
//! compiled by `cargo bench --no-run`).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::{BackendExt, BoxDynError, TaskBuilder, WorkerBuilder, WorkerBuilderExt};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, Set};
use serde::{Deserialize, Serialize};
use signals_core::models::PostSave;
use signals_core::receiver;
use signals_offload::{
    Broker, Job, Offload, PostgresBroker, Relay, Shutdown, SqliteBroker, outbox,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The worker settings both sides get: how often an idle worker polls, how many jobs it
/// runs at once (and fetches at a time).
const POLL: Duration = Duration::from_millis(10);
const CONCURRENCY: usize = 8;
/// A run that has not finished by then is a stall: the bench fails.
const RUN_LIMIT: Duration = Duration::from_secs(300);

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

/// The control of the outbox-cost case: the same table and behaviour, no receiver.
mod plain {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "plain_users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

/// The job payload, the same on both sides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub user_id: i64,
    pub email: String,
}

impl From<&PostSave<'_, user::Model>> for Welcome {
    fn from(event: &PostSave<'_, user::Model>) -> Self {
        Welcome {
            user_id: event.instance.id,
            email: event.instance.email.clone(),
        }
    }
}

/// Handlers run (ours and raw count apart).
static OURS_DONE: AtomicU64 = AtomicU64::new(0);
static RAW_DONE: AtomicU64 = AtomicU64::new(0);
/// Whether the SQLite application database runs in WAL mode with `synchronous = NORMAL`
/// (`--app-journal wal`, the default) or in SQLite's defaults (`--app-journal default`:
/// rollback journal, `synchronous = FULL`, an fsync per commit).
static APP_WAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
/// How long the last end-to-end run of ours took to make its sends (ns).
static SENDS_SECS: AtomicU64 = AtomicU64::new(0);
/// Simulated work per handler, in µs (`--handler-us`; 0: none).
static HANDLER_US: AtomicU64 = AtomicU64::new(0);
/// The relay's linger in µs (`--linger-ms`; `u64::MAX`: the relay's default).
static LINGER_US: AtomicU64 = AtomicU64::new(u64::MAX);

fn linger() -> Duration {
    match LINGER_US.load(Ordering::Relaxed) {
        u64::MAX => signals_offload::DEFAULT_LINGER,
        us => Duration::from_micros(us),
    }
}

async fn handler_work() {
    let us = HANDLER_US.load(Ordering::Relaxed);
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

#[receiver(PostSave, sender = user::Model, offload = "bench", retries = 0)]
async fn welcome(job: Job<Welcome>) -> Result<(), std::io::Error> {
    std::hint::black_box(&job.payload);
    handler_work().await;
    OURS_DONE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn raw_welcome(job: Welcome) -> Result<(), BoxDynError> {
    std::hint::black_box(&job);
    handler_work().await;
    RAW_DONE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

struct Args {
    mode: String,
    backends: Vec<Backend>,
    jobs: u64,
    rounds: usize,
    workers: Vec<usize>,
    producers: Vec<usize>,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        mode: "throughput".into(),
        backends: vec![Backend::Sqlite],
        jobs: 2000,
        rounds: 3,
        workers: vec![1, 2, 4],
        producers: vec![1],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            // cargo bench passes `--bench` to every bench binary.
            "--bench" => {}
            "--backend" => {
                args.backends = match value()?.as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    other => {
                        return Err(format!("--backend {other}: sqlite, postgres or both").into());
                    }
                }
            }
            "--app-journal" => APP_WAL.store(
                match value()?.as_str() {
                    "wal" => true,
                    "default" => false,
                    other => return Err(format!("--app-journal {other}: wal or default").into()),
                },
                Ordering::Relaxed,
            ),
            "--jobs" => args.jobs = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            "--handler-us" => HANDLER_US.store(value()?.parse()?, Ordering::Relaxed),
            "--linger-ms" => LINGER_US.store(
                (value()?.parse::<f64>()? * 1000.0).round() as u64,
                Ordering::Relaxed,
            ),
            "--workers" => {
                args.workers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--producers" => {
                args.producers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "throughput" | "scaling" | "outbox" | "all" => args.mode = arg,
            other => {
                return Err(format!("unknown argument `{other}` (see the bench's docs)").into());
            }
        }
    }
    if args.jobs == 0 || args.rounds == 0 {
        return Err("--jobs and --rounds must be at least 1".into());
    }
    if args.producers.is_empty() || args.producers.contains(&0) {
        return Err("--producers: each value at least 1".into());
    }
    Ok(args)
}

/// The PostgreSQL server of `SIGNALS_PG_URL`; an error (not a skip) when it is not set.
fn pg_server() -> Result<PgConnectOptions, BoxError> {
    match std::env::var("SIGNALS_PG_URL") {
        Ok(url) if url.starts_with("postgres") => Ok(PgConnectOptions::from_str(&url)?),
        _ => Err("the PostgreSQL runs need SIGNALS_PG_URL=postgres://user@host:port/db".into()),
    }
}

/// A scratch place for one run: a temporary directory (SQLite) or a database of its own
/// (PostgreSQL), dropped after.
struct Scratch {
    place: Place,
    /// The concurrent producers the pools are sized for.
    producers: usize,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres {
        server: Box<PgConnectOptions>,
        name: String,
    },
}

impl Scratch {
    async fn new(backend: Backend, producers: usize) -> Result<Scratch, BoxError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let place = match backend {
            Backend::Sqlite => Place::Sqlite(tempfile::tempdir()?),
            Backend::Postgres => {
                let server = pg_server()?;
                let name = format!(
                    "signals_offload_bench_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let mut conn = server.connect().await?;
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                Place::Postgres {
                    server: Box::new(server),
                    name,
                }
            }
        };
        Ok(Scratch { place, producers })
    }

    /// The application pool's size: SeaORM's default at one producer (SQLite 1,
    /// PostgreSQL sqlx' 10), else one connection per producer and two for the relay.
    fn app_connections(&self) -> Option<u32> {
        let default = match self.place {
            Place::Sqlite(_) => 1,
            Place::Postgres { .. } => 10,
        };
        let wanted = self.producers as u32 + 2;
        (self.producers > 1 && wanted > default).then_some(wanted)
    }

    /// The application's database: `users`, `plain_users` and the outbox.
    async fn app_db(&self) -> Result<DatabaseConnection, BoxError> {
        let (mut options, id) = match &self.place {
            Place::Sqlite(dir) => {
                let mut options = sea_orm::ConnectOptions::new(format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("app.db").display()
                ));
                if APP_WAL.load(Ordering::Relaxed) {
                    // The broker's own settings (and the raw side's): WAL, no fsync per
                    // commit.
                    options.map_sqlx_sqlite_opts(|opts| {
                        opts.pragma("journal_mode", "WAL")
                            .pragma("synchronous", "NORMAL")
                    });
                }
                (options, "INTEGER PRIMARY KEY AUTOINCREMENT")
            }
            Place::Postgres { server, name } => {
                let host = server.get_host();
                let port = server.get_port();
                let user = server.get_username();
                (
                    sea_orm::ConnectOptions::new(format!("postgres://{user}@{host}:{port}/{name}")),
                    "BIGSERIAL PRIMARY KEY",
                )
            }
        };
        if let Some(connections) = self.app_connections() {
            options.max_connections(connections);
        }
        let db = Database::connect(options).await?;
        for table in ["users", "plain_users"] {
            db.execute_unprepared(&format!(
                "CREATE TABLE {table} (id {id}, email TEXT NOT NULL)"
            ))
            .await?;
        }
        outbox::create_table(&db).await?;
        Ok(db)
    }

    fn pg_options(&self) -> PgConnectOptions {
        match &self.place {
            Place::Postgres { server, name } => (**server).clone().database(name),
            Place::Sqlite(_) => unreachable!("a SQLite scratch has no PostgreSQL options"),
        }
    }

    /// The broker's (or raw apalis') pool: 10 connections, and one more per producer
    /// beyond the first.
    async fn pg_pool(&self) -> Result<sqlx::PgPool, BoxError> {
        Ok(PgPoolOptions::new()
            .max_connections(10 + self.producers as u32 - 1)
            .connect_with(self.pg_options())
            .await?)
    }

    /// The crate's broker on this scratch (SQLite: `broker.db` beside the app database).
    async fn broker(&self) -> Result<Arc<dyn Broker>, BoxError> {
        Ok(match &self.place {
            Place::Sqlite(dir) => Arc::new(
                SqliteBroker::open(dir.path().join("broker.db"))
                    .await?
                    .with_poll_interval(POLL)
                    .with_concurrency(CONCURRENCY),
            ),
            Place::Postgres { .. } => Arc::new(
                PostgresBroker::from_pool(self.pg_pool().await?)
                    .await?
                    .with_poll_interval(POLL)
                    .with_concurrency(CONCURRENCY),
            ),
        })
    }

    async fn drop_it(self) -> Result<(), BoxError> {
        if let Place::Postgres { server, name } = self.place {
            let mut conn = server.connect().await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
        }
        Ok(())
    }
}

/// One signup: a committed transaction inserting a `users` row (its receiver writes the
/// outbox row in it).
async fn signup(db: &DatabaseConnection, n: u64) -> Result<(), BoxError> {
    signals_sea_orm::transaction(db, move |txn| {
        Box::pin(async move {
            user::ActiveModel {
                email: Set(format!("user{n}@example.com")),
                ..Default::default()
            }
            .insert(txn)
            .await
        })
    })
    .await?;
    Ok(())
}

async fn plain_signup(db: &DatabaseConnection, n: u64) -> Result<(), BoxError> {
    signals_sea_orm::transaction(db, move |txn| {
        Box::pin(async move {
            plain::ActiveModel {
                email: Set(format!("user{n}@example.com")),
                ..Default::default()
            }
            .insert(txn)
            .await
        })
    })
    .await?;
    Ok(())
}

/// Waits until `counter` reaches `target`, or fails after [`RUN_LIMIT`].
async fn wait_done(counter: &AtomicU64, target: u64, what: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + RUN_LIMIT;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return Err(format!(
                "{what}: {} of {target} jobs after {RUN_LIMIT:?}: stalled",
                counter.load(Ordering::Relaxed)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    Ok(())
}

/// The jobs producer `p` of `producers` makes: n = p, p + producers, .. below `jobs`.
fn share(jobs: u64, producers: usize, p: usize) -> impl Iterator<Item = u64> {
    (p as u64..jobs).step_by(producers)
}

/// Runs `producers` producers at once, producer `p` as `make(p)`, until all are done;
/// the first error (or panic) fails the run.
async fn produce<F, Fut>(producers: usize, make: F) -> Result<(), BoxError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let tasks: Vec<_> = (0..producers).map(|p| tokio::spawn(make(p))).collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Ours' sends: `jobs` signups by `producers` concurrent producers, each transaction on
/// a connection of the pool.
async fn signups(db: &DatabaseConnection, jobs: u64, producers: usize) -> Result<(), BoxError> {
    produce(producers, |p| {
        let db = db.clone();
        async move {
            for n in share(jobs, producers, p) {
                signup(&db, n).await?;
            }
            Ok(())
        }
    })
    .await
}

/// When to start the workers of a run of ours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// With the sends: end to end.
    Together,
    /// Once every job is in the broker: the workers drain a full queue.
    AfterRelay,
}

/// Ours: `jobs` sends by `producers` producers, the relay, `workers` workers, until every
/// handler ran. Returns the timed seconds.
async fn ours(
    backend: Backend,
    jobs: u64,
    workers: usize,
    producers: usize,
    start: Start,
) -> Result<f64, BoxError> {
    let scratch = Scratch::new(backend, producers).await?;
    let db = scratch.app_db().await?;
    let broker = scratch.broker().await?;
    let offload = Arc::new(Offload::linked());
    offload.install(db.clone());
    OURS_DONE.store(0, Ordering::Relaxed);
    let shutdown = Shutdown::new();
    let spawn_workers = |shutdown: &Shutdown| {
        (0..workers)
            .map(|w| {
                tokio::spawn(broker.run_worker(
                    format!("bench-{w}"),
                    offload.clone(),
                    shutdown.signal(),
                ))
            })
            .collect::<Vec<_>>()
    };
    let relay = Arc::new(Relay::new(db.clone(), broker.clone(), &offload).linger(linger()));
    let (secs, running) = match start {
        Start::Together => {
            let relay_task = tokio::spawn({
                let (relay, stop) = (relay.clone(), shutdown.signal());
                async move { relay.run(Duration::from_millis(100), stop).await }
            });
            let running = spawn_workers(&shutdown);
            let began = Instant::now();
            signups(&db, jobs, producers).await?;
            SENDS_SECS.store(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
            wait_done(&OURS_DONE, jobs, "ours").await?;
            let secs = began.elapsed().as_secs_f64();
            shutdown.request();
            relay_task.await?;
            (secs, running)
        }
        Start::AfterRelay => {
            signups(&db, jobs, producers).await?;
            let relayed = relay.relay_pending().await?;
            assert_eq!(relayed as u64, jobs, "every job relayed before the drain");
            let began = Instant::now();
            let running = spawn_workers(&shutdown);
            wait_done(&OURS_DONE, jobs, "ours (drain)").await?;
            let secs = began.elapsed().as_secs_f64();
            shutdown.request();
            (secs, running)
        }
    };
    for worker in running {
        worker.await??;
    }
    assert_eq!(OURS_DONE.load(Ordering::Relaxed), jobs, "each job ran once");
    drop(db);
    scratch.drop_it().await?;
    Ok(secs)
}

/// What a baseline's producer does per job before its push.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Baseline {
    /// Nothing: the push alone.
    Raw,
    /// Commits the job's `plain_users` row through SeaORM first (`save(); task.delay()`).
    ByHand,
}

/// A baseline producer's work before a push: `ByHand`'s commit (none for `Raw`).
async fn save(app: &Option<DatabaseConnection>, n: u64) -> Result<(), BoxError> {
    if let Some(db) = app {
        plain_signup(db, n).await?;
    }
    Ok(())
}

/// The payload of raw job `n`.
fn payload(n: u64) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Welcome {
        user_id: n as i64 + 1,
        email: format!("user{n}@example.com"),
    })
}

/// The baselines: `jobs` pushes of the same payload with apalis' own push by `producers`
/// producers (each on a connection of its own), consumed by apalis' own `Worker`;
/// `ByHand` commits a `plain_users` row before each push. Returns the timed seconds.
async fn raw(
    backend: Backend,
    jobs: u64,
    producers: usize,
    baseline: Baseline,
) -> Result<f64, BoxError> {
    const QUEUE: &str = "raw_bench";
    let scratch = Scratch::new(backend, producers).await?;
    let app = match baseline {
        Baseline::Raw => None,
        Baseline::ByHand => Some(scratch.app_db().await?),
    };
    RAW_DONE.store(0, Ordering::Relaxed);
    // apalis' `run_until` takes an io error; a stall ends the run with it.
    let stop = move || async move {
        wait_done(&RAW_DONE, jobs, "raw")
            .await
            .map_err(|err| std::io::Error::other(err.to_string()))
    };
    let secs = match &scratch.place {
        Place::Sqlite(dir) => {
            let options = apalis_sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("raw.db"))
                .create_if_missing(true)
                .pragma("journal_mode", "WAL")
                .pragma("synchronous", "NORMAL")
                .busy_timeout(Duration::from_secs(10));
            let pool = apalis_sqlite::SqlitePoolOptions::new()
                .max_connections(4 + producers as u32 - 1)
                .connect_with(options)
                .await?;
            apalis_sqlite::SqliteStorage::migrations()
                .run(&pool)
                .await?;
            let storage = apalis_sqlite::SqliteStorage::<Welcome>::new(&pool)
                .with_config(
                    apalis_sqlite::Config::default()
                        .queue(QUEUE)
                        .batch_size(CONCURRENCY),
                )
                .poll_with_interval(POLL);
            let worker = WorkerBuilder::new("raw-0")
                .backend(storage)
                .concurrency(CONCURRENCY)
                .build(raw_welcome);
            let began = Instant::now();
            let consume = tokio::spawn(worker.run_until(stop()));
            produce(producers, |p| {
                let (pool, app) = (pool.clone(), app.clone());
                async move {
                    let mut conn = pool.acquire().await?;
                    for n in share(jobs, producers, p) {
                        save(&app, n).await?;
                        let task = TaskBuilder::new(payload(n)?).build();
                        apalis_sqlite::queries::push_tasks(&mut *conn, QUEUE, &[task]).await?;
                    }
                    Ok(())
                }
            })
            .await?;
            consume.await??;
            began.elapsed().as_secs_f64()
        }
        Place::Postgres { .. } => {
            let pool = scratch.pg_pool().await?;
            apalis_postgres::PostgresStorage::migrations()
                .run(&pool)
                .await?;
            let storage = apalis_postgres::PostgresStorage::<Welcome>::new(&pool)
                .with_config(
                    apalis_postgres::Config::default()
                        .queue(QUEUE)
                        .batch_size(CONCURRENCY),
                )
                .poll_with_interval(POLL);
            let worker = WorkerBuilder::new("raw-0")
                .backend(storage)
                .concurrency(CONCURRENCY)
                .build(raw_welcome);
            let began = Instant::now();
            let consume = tokio::spawn(worker.run_until(stop()));
            produce(producers, |p| {
                let (pool, app) = (pool.clone(), app.clone());
                async move {
                    let mut conn = pool.acquire().await?;
                    for n in share(jobs, producers, p) {
                        save(&app, n).await?;
                        let task = TaskBuilder::new(payload(n)?).build();
                        apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, vec![task]).await?;
                    }
                    Ok(())
                }
            })
            .await?;
            consume.await??;
            began.elapsed().as_secs_f64()
        }
    };
    assert_eq!(
        RAW_DONE.load(Ordering::Relaxed),
        jobs,
        "each raw job ran once"
    );
    drop(app);
    scratch.drop_it().await?;
    Ok(secs)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

async fn throughput(args: &Args) -> Result<(), BoxError> {
    println!(
        "\n## throughput: {} jobs per run, {} rounds, poll {POLL:?}, concurrency {CONCURRENCY}, handler {} µs, relay linger {:?}",
        args.jobs,
        args.rounds,
        HANDLER_US.load(Ordering::Relaxed),
        linger()
    );
    println!(
        "| backend | producers | round | raw jobs/s | by hand jobs/s | ours jobs/s | ours / raw | ours / by hand | ours: sends alone, commits/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &backend in &args.backends {
        for &producers in &args.producers {
            throughput_at(args, backend, producers).await?;
        }
    }
    Ok(())
}

/// The throughput rows of one backend at `producers` producers.
async fn throughput_at(args: &Args, backend: Backend, producers: usize) -> Result<(), BoxError> {
    let (mut raws, mut hands, mut ourss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_raw, mut to_hand) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        // Rotate which side goes first: raw, by hand, ours; by hand, ours, raw; ..
        let (mut r, mut h, mut o) = (0.0, 0.0, 0.0);
        for side in 0..3 {
            match (round + side) % 3 {
                0 => r = raw(backend, args.jobs, producers, Baseline::Raw).await?,
                1 => h = raw(backend, args.jobs, producers, Baseline::ByHand).await?,
                _ => o = ours(backend, args.jobs, 1, producers, Start::Together).await?,
            }
        }
        let jobs = args.jobs as f64;
        let (r, h, o) = (jobs / r, jobs / h, jobs / o);
        let sends = jobs / (SENDS_SECS.load(Ordering::Relaxed) as f64 / 1e9);
        println!(
            "| {} | {producers} | {} | {r:.0} | {h:.0} | {o:.0} | {:.3} | {:.3} | {sends:.0} |",
            backend.name(),
            round + 1,
            o / r,
            o / h
        );
        raws.push(r);
        hands.push(h);
        ourss.push(o);
        to_raw.push(o / r);
        to_hand.push(o / h);
    }
    println!(
        "| {} | {producers} | **median** | {:.0} | {:.0} | {:.0} | **{:.3}** | **{:.3}** | |",
        backend.name(),
        median(&mut raws),
        median(&mut hands),
        median(&mut ourss),
        median(&mut to_raw),
        median(&mut to_hand)
    );
    Ok(())
}

async fn scaling(args: &Args) -> Result<(), BoxError> {
    println!(
        "\n## scaling on PostgreSQL: {} jobs per run, {} rounds, worker tasks in this process, concurrency {CONCURRENCY} each, handler {} µs",
        args.jobs,
        args.rounds,
        HANDLER_US.load(Ordering::Relaxed)
    );
    println!(
        "| producers | workers | end to end jobs/s (median) | drain jobs/s (median) | runs (e2e; drain) |"
    );
    println!("|---:|---:|---:|---:|---|");
    for (&producers, &workers) in args
        .producers
        .iter()
        .flat_map(|p| args.workers.iter().map(move |w| (p, w)))
    {
        let (mut e2e, mut drain) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            e2e.push(
                args.jobs as f64
                    / ours(
                        Backend::Postgres,
                        args.jobs,
                        workers,
                        producers,
                        Start::Together,
                    )
                    .await?,
            );
            drain.push(
                args.jobs as f64
                    / ours(
                        Backend::Postgres,
                        args.jobs,
                        workers,
                        producers,
                        Start::AfterRelay,
                    )
                    .await?,
            );
        }
        let runs = format!(
            "{}; {}",
            e2e.iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            drain
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "| {producers} | {workers} | {:.0} | {:.0} | {runs} |",
            median(&mut e2e),
            median(&mut drain)
        );
    }
    Ok(())
}

/// The outbox's cost per commit: interleaved committed inserts with and without an
/// offloaded receiver; per round the median of each, then the median over the rounds.
async fn outbox_cost(args: &Args) -> Result<(), BoxError> {
    println!(
        "\n## outbox cost per commit: {} commits of each kind per round, {} rounds, interleaved",
        args.jobs, args.rounds
    );
    println!(
        "| backend | plain commit (µs, median) | with outbox row (µs, median) | extra µs per commit | ratio |"
    );
    println!("|---|---:|---:|---:|---:|");
    for &backend in &args.backends {
        let scratch = Scratch::new(backend, 1).await?;
        let db = scratch.app_db().await?;
        let offload = Arc::new(Offload::linked());
        offload.install(db.clone());
        let (mut plains, mut withs) = (Vec::new(), Vec::new());
        let mut n = 0;
        for _ in 0..args.rounds {
            let (mut plain, mut with) = (Vec::new(), Vec::new());
            for i in 0..args.jobs {
                n += 1;
                let first_plain = i % 2 == 0;
                for kind in [first_plain, !first_plain] {
                    let began = Instant::now();
                    if kind {
                        plain_signup(&db, n).await?;
                        plain.push(began.elapsed().as_secs_f64() * 1e6);
                    } else {
                        signup(&db, n).await?;
                        with.push(began.elapsed().as_secs_f64() * 1e6);
                    }
                }
            }
            plains.push(median(&mut plain));
            withs.push(median(&mut with));
        }
        let rows = outbox::Entity::find_all_count(&db).await?;
        assert_eq!(rows, n, "one outbox row per commit with the receiver");
        let (p, w) = (median(&mut plains), median(&mut withs));
        println!(
            "| {} | {p:.1} | {w:.1} | {:.1} | {:.3} |",
            backend.name(),
            w - p,
            w / p
        );
        drop(db);
        scratch.drop_it().await?;
    }
    Ok(())
}

/// `count` for the outbox entity, without importing the query traits at every call.
trait CountAll {
    async fn find_all_count(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr>;
}

impl CountAll for outbox::Entity {
    async fn find_all_count(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        outbox::Entity::find().count(db).await
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("throughput: {err}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let run = async {
        if args.backends.contains(&Backend::Postgres)
            || matches!(args.mode.as_str(), "scaling" | "all")
        {
            pg_server()?;
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load average at start: {}", load.trim());
        match args.mode.as_str() {
            "throughput" => throughput(&args).await?,
            "scaling" => scaling(&args).await?,
            "outbox" => outbox_cost(&args).await?,
            _ => {
                throughput(&args).await?;
                outbox_cost(&args).await?;
                scaling(&args).await?;
            }
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("\nload average at end: {}", load.trim());
        Ok::<(), BoxError>(())
    };
    if let Err(err) = runtime.block_on(run) {
        eprintln!("throughput: {err}");
        std::process::exit(1);
    }
}
