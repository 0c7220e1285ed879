//! The receiver map: who listens to what, printed from the receivers linked into this
//! binary, as a table, as Mermaid and as Graphviz DOT.
//!
//! Django hides the flow: reading `user.save()` tells you nothing about what runs next.
//! Here `signals_core::map::ReceiverMap::current()` lists every receiver (link-time ones and
//! runtime connections alive right now) with its sender, priority, phase, sync/async and
//! `file:line`. A small shop declares its receivers below; `main` prints their map.
//!
//! Run: `cargo run --example receiver_map [-- --format table|mermaid|dot]` (default: all
//! three). Render the DOT with `... --format dot | dot -Tsvg > map.svg`.

use signals_core::map::{MapFormat, ReceiverMap};
use signals_core::models::{Model, PostDelete, PostSave};
use signals_core::prelude::*;

pub struct User {
    pub email: String,
}
impl Model for User {}

pub struct Article;
impl Model for Article {}

pub struct Order {
    pub id: u64,
}

/// Sent when a customer places an order.
#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub order: &'a Order,
}

#[receiver(PostSave, sender = User, priority = 10)]
fn create_profile(_event: &PostSave<'_, User>) {}

/// Async: reachable through `send_async` only.
#[receiver(PostSave, sender = User, on = Commit)]
async fn send_welcome_email(event: &PostSave<'_, User>) {
    let _ = &event.instance.email;
}

/// One function, two signals.
#[receiver(PostSave, PostDelete, sender = Article)]
fn invalidate_article_cache(_event: &dyn signals_core::models::ModelEvent) {}

/// Every model's saves (no sender), last.
#[receiver(PostSave, priority = -10)]
fn audit(_event: &PostSave) {}

#[receiver(OrderPlaced, priority = 10)]
fn reserve_stock(_event: &OrderPlaced<'_>) {}

#[receiver(OrderPlaced)]
fn send_receipt(_event: &OrderPlaced<'_>) {}

fn formats() -> Result<Vec<MapFormat>, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, ..) => Ok(MapFormat::ALL.to_vec()),
        (Some("--format"), Some(format), None) => Ok(vec![format.parse()?]),
        _ => Err("usage: receiver_map [--format table|mermaid|dot]".to_owned()),
    }
}

fn main() -> Result<(), signals_core::ConnectError> {
    let formats = formats().unwrap_or_else(|error| {
        eprintln!("{error}");
        std::process::exit(2);
    });

    // A runtime receiver: listed while its guard lives.
    let metrics = OrderPlaced::connect_with(
        signals_core::ConnectOptions::new().name("metrics::count_order"),
        |event: &OrderPlaced<'_>| {
            let _ = event.order.id;
        },
    )?;

    let map = ReceiverMap::current();
    for (i, format) in formats.iter().enumerate() {
        if formats.len() > 1 {
            if i > 0 {
                println!();
            }
            println!("== {format} ==");
        }
        print!("{}", map.render(*format));
    }
    drop(metrics);
    Ok(())
}
