//! Two processes, one job flow: an application that signs users up (each signup writes a
//! welcome job to the outbox in its transaction) and a standalone worker that runs the
//! jobs. Both are this binary: the worker links the same offloaded receiver.
//!
//! ```text
//! cargo run -p signals-offload --example worker -- app    DIR [USERS]   # signups + relay
//! cargo run -p signals-offload --example worker -- worker DIR [SECONDS] # runs the jobs
//! ```
//!
//! `DIR` holds the application's database (`app.db`: users and the outbox) and the
//! broker's (`broker.db`, apalis-sqlite). Start the worker first or last, kill either with
//! Ctrl-C or SIGKILL, start it again: every committed signup's email is sent, at least once
//! (the printed delivery id is what makes a real mailer idempotent). The worker stops after
//! `SECONDS` (default 10) or at Ctrl-C, finishing the job in flight.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, Set};
use serde::{Deserialize, Serialize};
use signals_core::models::PostSave;
use signals_core::receiver;
use signals_offload::{Broker, Job, Offload, Relay, Shutdown, SqliteBroker, outbox};

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

/// The job, built from the save.
#[derive(Serialize, Deserialize)]
pub struct Welcome {
    pub email: String,
}

impl From<&PostSave<'_, user::Model>> for Welcome {
    fn from(event: &PostSave<'_, user::Model>) -> Self {
        Welcome {
            email: event.instance.email.clone(),
        }
    }
}

fn is_new(event: &PostSave<'_, user::Model>) -> bool {
    event.created
}

/// Runs in the worker process.
#[receiver(PostSave, sender = user::Model, when = is_new, offload = "mail", retries = 3)]
async fn send_welcome(job: Job<Welcome>) -> Result<(), std::io::Error> {
    tokio::time::sleep(Duration::from_millis(50)).await; // the mail server
    println!(
        "[worker pid {}] delivery {} attempt {}: welcome email to {}",
        std::process::id(),
        job.delivery_id,
        job.attempt,
        job.payload.email
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, dir, rest @ ..] if mode == "app" => {
            app(Path::new(dir), rest.first().map_or(Ok(3), |n| n.parse())?).await
        }
        [mode, dir, rest @ ..] if mode == "worker" => {
            worker(Path::new(dir), rest.first().map_or(Ok(10), |n| n.parse())?).await
        }
        _ => Err("usage: worker (app DIR [USERS] | worker DIR [SECONDS])".into()),
    }
}

async fn app_db(dir: &Path) -> Result<DatabaseConnection, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    let db = Database::connect(url).await?;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL)",
    )
    .await?;
    outbox::create_table(&db).await?;
    Ok(db)
}

/// Signs `users` users up, each in its own transaction, and relays their jobs.
async fn app(dir: &Path, users: u32) -> Result<(), Box<dyn std::error::Error>> {
    let db = app_db(dir).await?;
    let offload = Arc::new(Offload::linked());
    offload.install(db.clone());
    let broker = Arc::new(SqliteBroker::open(dir.join("broker.db")).await?);
    let shutdown = Shutdown::new();
    let relay = Relay::new(db.clone(), broker, &offload);
    let relay = tokio::spawn({
        let stop = shutdown.signal();
        async move { relay.run(Duration::from_millis(200), stop).await }
    });
    for n in 0..users {
        let email = format!("user{n}-{}@example.com", std::process::id());
        let user = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                user::ActiveModel {
                    email: Set(email),
                    ..Default::default()
                }
                .insert(txn)
                .await
            })
        })
        .await?;
        println!(
            "[app] committed user #{} ({}): its welcome job is in the outbox",
            user.id, user.email
        );
    }
    // The commits woke the relay; give it a moment to push, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.request();
    relay.await?;
    println!("[app] done; jobs left for the next start's sweep if none was pushed");
    Ok(())
}

/// Runs the jobs for `seconds`, or until Ctrl-C.
async fn worker(dir: &Path, seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let offload = Arc::new(Offload::linked());
    let broker = SqliteBroker::open(dir.join("broker.db"))
        .await?
        .with_poll_interval(Duration::from_millis(100));
    let shutdown = Shutdown::new();
    let name = format!("worker-{}", std::process::id());
    println!(
        "[worker pid {}] running the jobs of {}",
        std::process::id(),
        dir.display()
    );
    let run = tokio::spawn(broker.run_worker(name, offload, shutdown.signal()));
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    shutdown.request();
    run.await??;
    println!(
        "[worker pid {}] stopped (jobs in flight finished)",
        std::process::id()
    );
    Ok(())
}
