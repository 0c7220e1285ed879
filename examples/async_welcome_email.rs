//! Async receivers: a welcome email "sent" with a simulated 300 ms delay, concurrently with
//! another slow receiver (a CRM sync). The timestamps show the two overlap.
//!
//! Django 5 runs async receivers concurrently in `asend` but first runs every sync receiver
//! as a group; here sync and async receivers run in one defined order (priority, then
//! path), and `#[signal(concurrent)]` (or `send_async_in(Concurrency::Concurrent)`) lets the
//! async ones overlap. A plain `send()` on this signal would be refused with an error
//! naming the async receivers, instead of blocking or skipping them.
//!
//! Run: `cargo run --example async_welcome_email`

use std::time::{Duration, Instant};

use signals_core::Concurrency;
use signals_core::prelude::*;
use std::sync::OnceLock;

static START: OnceLock<Instant> = OnceLock::new();

fn stamp() -> String {
    format!(
        "[{:>4} ms]",
        START.get().map_or(0, |s| s.elapsed().as_millis())
    )
}

/// Sent when someone signs up.
#[derive(Signal)]
#[signal(concurrent)]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

#[derive(Debug, thiserror::Error)]
#[error("mail server refused the message")]
pub struct MailError;

#[receiver(UserSignedUp, priority = 10)]
fn log_signup(event: &UserSignedUp<'_>) {
    println!(
        "{} log: {} signed up (sync receiver, runs first)",
        stamp(),
        event.email
    );
}

#[receiver(UserSignedUp)]
async fn send_welcome_email(event: &UserSignedUp<'_>) -> Result<(), MailError> {
    println!(
        "{} email: connecting to the mail server for {}",
        stamp(),
        event.email
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("{} email: welcome email sent to {}", stamp(), event.email);
    Ok(())
}

#[receiver(UserSignedUp)]
async fn sync_crm(event: &UserSignedUp<'_>) {
    println!("{} crm: pushing {} to the CRM", stamp(), event.email);
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("{} crm: done", stamp());
}

#[tokio::main]
async fn main() -> Result<(), signals_core::SendError> {
    START.get_or_init(Instant::now);
    println!("== concurrent (declared with #[signal(concurrent)]) ==");
    let t = Instant::now();
    let delivered = UserSignedUp {
        email: "ada@example.com",
    }
    .send_async()
    .await?;
    println!(
        "{} {} receivers in {} ms: the email and the CRM sync overlapped\n",
        stamp(),
        delivered.receivers(),
        t.elapsed().as_millis()
    );

    println!("== sequential (per-send override) ==");
    let t = Instant::now();
    UserSignedUp {
        email: "grace@example.com",
    }
    .send_async_in(Concurrency::Sequential)
    .await?;
    println!(
        "{} took {} ms: one after the other\n",
        stamp(),
        t.elapsed().as_millis()
    );

    println!("== sync send on a signal with async receivers ==");
    match (UserSignedUp {
        email: "linus@example.com",
    })
    .send()
    {
        Ok(_) => println!("unexpected: sent"),
        Err(error) => println!("refused, nothing ran: {error}"),
    }
    Ok(())
}
