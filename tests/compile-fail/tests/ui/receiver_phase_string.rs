use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

// Django's `transaction.on_commit`: the phase is a name, not a string.
#[receiver(Signup, on = "commit")]
fn send_welcome(_event: &Signup<'_>) {}

fn main() {}
