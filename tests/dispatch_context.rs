//! Sharing data between the receivers of one send, and back to the sender.
//!
//! Django 6.1 shares one `contextvars` copy across a dispatch because Python receivers
//! cannot be given new arguments. Here the payload is a typed struct, so the shared state
//! is simply a field: a `&Mutex<T>` (or atomics) that receivers write and the sender reads
//! after the send. It is visible at the call site, typed, scoped to this one send, and
//! works for sync and async receivers alike (the async futures stay `Send`).

use std::sync::Mutex;

use signals_core::prelude::*;

#[derive(Default, Debug, PartialEq)]
struct Checks {
    fraud_score: u32,
    notes: Vec<&'static str>,
}

#[derive(Signal)]
struct Checkout<'a> {
    total_cents: i64,
    context: &'a Mutex<Checks>,
}

#[receiver(Checkout, priority = 2)]
fn score(event: &Checkout<'_>) {
    let mut ctx = event.context.lock().unwrap();
    ctx.fraud_score = if event.total_cents > 100_000 { 80 } else { 10 };
    ctx.notes.push("scored");
}

#[receiver(Checkout, priority = 1)]
async fn review(event: &Checkout<'_>) {
    tokio::task::yield_now().await;
    let mut ctx = event.context.lock().unwrap();
    // Sees what the earlier receiver wrote.
    if ctx.fraud_score > 50 {
        ctx.notes.push("manual review");
    }
}

#[receiver(Checkout)]
fn audit(event: &Checkout<'_>) {
    event.context.lock().unwrap().notes.push("audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_share_a_typed_context_that_the_sender_reads_afterwards() {
    let context = Mutex::new(Checks::default());
    Checkout {
        total_cents: 250_000,
        context: &context,
    }
    .send_async()
    .await
    .unwrap();
    assert_eq!(
        context.into_inner().unwrap(),
        Checks {
            fraud_score: 80,
            notes: vec!["scored", "manual review", "audited"]
        }
    );

    let context = Mutex::new(Checks::default());
    Checkout {
        total_cents: 500,
        context: &context,
    }
    .send_async()
    .await
    .unwrap();
    assert_eq!(context.into_inner().unwrap().notes, ["scored", "audited"]);
}
