//! The dead letters of a `SqliteBroker` database: list them, requeue some.
//!
//! ```text
//! cargo run -p signals-offload --example dead_letters -- BROKER_DB [list]
//! cargo run -p signals-offload --example dead_letters -- BROKER_DB requeue DELIVERY_ID...
//! ```
//!
//! `list` prints one dead letter per block (delivery id, route, attempts, reason, last
//! error, payload). `requeue` gives each delivery a fresh round of attempts, for the workers
//! of the broker to run; it exits with 1 if one of the ids has no dead letter. A missing
//! database file is an error (it is not created).

use std::path::Path;
use std::process::ExitCode;

use signals_offload::{Broker, DeliveryId, SqliteBroker};

const USAGE: &str = "usage: dead_letters BROKER_DB [list | requeue DELIVERY_ID...]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("dead_letters: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String]) -> Result<ExitCode, String> {
    let (path, command) = match args {
        [path] => (path, &[][..]),
        [path, command @ ..] => (path, command),
        [] => return Err(USAGE.to_owned()),
    };
    if !Path::new(path).is_file() {
        return Err(format!("no broker database at {path}"));
    }
    let broker = SqliteBroker::open(path)
        .await
        .map_err(|err| err.to_string())?;
    match command {
        [] => list(&broker).await,
        [verb] if verb == "list" => list(&broker).await,
        [verb, ids @ ..] if verb == "requeue" && !ids.is_empty() => requeue(&broker, ids).await,
        _ => Err(USAGE.to_owned()),
    }
}

async fn list(broker: &SqliteBroker) -> Result<ExitCode, String> {
    let letters = broker.dead_letters().await.map_err(|err| err.to_string())?;
    for letter in &letters {
        let envelope = &letter.envelope;
        println!(
            "delivery {}  {}/{}  {}/{} attempts  {}  requeued {} times  dead at {}",
            envelope.delivery_id,
            envelope.queue,
            envelope.handler,
            letter.attempts,
            envelope.max_attempts,
            letter.reason,
            letter.requeues,
            letter.dead_at,
        );
        println!("    last error: {}", letter.last_error);
        println!("    payload: {}", envelope.payload);
    }
    println!("{} dead letter(s)", letters.len());
    Ok(ExitCode::SUCCESS)
}

async fn requeue(broker: &SqliteBroker, ids: &[String]) -> Result<ExitCode, String> {
    let mut code = ExitCode::SUCCESS;
    for id in ids {
        let id: i64 = id
            .parse()
            .map_err(|_| format!("`{id}` is not a delivery id"))?;
        if broker
            .requeue(DeliveryId(id))
            .await
            .map_err(|err| err.to_string())?
        {
            println!("requeued delivery {id}");
        } else {
            println!("no dead letter for delivery {id}");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}
