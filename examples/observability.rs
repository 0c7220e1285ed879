//! What a send looks like in the logs: a `tracing-subscriber` installed the usual way, with
//! `RUST_LOG` and span close events, so that every send, every receiver (with its outcome
//! and duration), a failure and a deferred delivery show up.
//!
//! ```text
//! RUST_LOG=signals_core=debug cargo run --example observability
//! ```
//!
//! * `signal.send` spans (target `signals_core::dispatch`, level `DEBUG`): one per send
//!   that reaches a receiver, with the signal, the sender and how many receivers ran;
//! * `signal.receiver` spans inside it: the receiver's path, `file:line`, `outcome`
//!   (`ok`, `error`, `panic`, `skipped`) and `duration_us`;
//! * an `ERROR` event for each receiver that fails in a `send_robust` (with the cause);
//! * `signal.delivery` spans for the receivers that waited for the commit (`on = Commit`).
//!
//! Without `RUST_LOG` the default filter below (`signals_core=debug`) applies; with
//! `RUST_LOG=signals_core=error` only the failure is printed. Successful sends are spans,
//! not events: `with_span_events(FmtSpan::CLOSE)` is what prints them.

use signals_core::prelude::*;
use signals_core::transaction::{self, Transaction};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub id: &'a u64,
}

#[receiver(OrderPlaced, priority = 10)]
fn reserve_stock(_: &OrderPlaced<'_>) {}

#[derive(Debug, thiserror::Error)]
#[error("the CRM is down (HTTP 503)")]
struct CrmDown;

#[receiver(OrderPlaced)]
fn sync_crm(event: &OrderPlaced<'_>) -> Result<(), CrmDown> {
    if *event.id == 2 { Err(CrmDown) } else { Ok(()) }
}

#[receiver(OrderPlaced, on = Commit)]
fn send_receipt(_: &OrderPlaced<'_>) {}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("signals_core=debug")),
        )
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_target(true)
        .without_time()
        .init();

    println!("== a send: one signal.send span, a signal.receiver span per receiver ==");
    OrderPlaced { id: &1 }.send().expect("delivered");

    println!("\n== a robust send where a receiver fails: an ERROR event with the cause ==");
    let report = OrderPlaced { id: &2 }.send_robust();
    println!("failures: {}", report.failures().len());

    println!(
        "\n== a deferred receiver: queued in the transaction, a signal.delivery span at commit =="
    );
    let tx = Transaction::begin();
    tx.run(|| transaction::send_owned::<OrderPlaced, _>(3u64, |id: &u64| OrderPlaced { id }))
        .expect("queued");
    let failures = tx.commit();
    println!("commit: {} failed deliveries", failures.len());
}
