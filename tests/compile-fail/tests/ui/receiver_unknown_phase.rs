use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

#[receiver(Signup, on = AfterCommit)]
fn send_welcome(_event: &Signup<'_>) {}

fn main() {}
