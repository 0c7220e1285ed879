use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick, weak = false)]
fn handler(_event: &Tick) {}

fn main() {}
