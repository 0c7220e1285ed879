use signals_core::prelude::*;
use signals_core::Phase;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

#[receiver(Signup, on = Phase::Commit)]
fn send_welcome(_event: &Signup<'_>) {}

fn main() {
    let _ = Phase::Commit;
}
