use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

// `retries` without `offload`.
#[receiver(Signup, retries = 3)]
fn welcome(_event: &Signup<'_>) {}

// An offloaded receiver takes its job by value, not the event.
#[receiver(Signup, offload = "mail")]
async fn send_welcome(_event: &Signup<'_>) {}

// A rollback receiver cannot run after the commit.
#[receiver(Signup, on = Rollback, offload = "mail")]
async fn undo(_job: String) {}

// An empty queue name.
#[receiver(Signup, offload = "")]
async fn nowhere(_job: String) {}

fn main() {}
