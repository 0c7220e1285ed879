use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[derive(Signal)]
pub struct Tock {
    pub n: u64,
}

#[receiver(Tick, priority = 1, Tock)]
fn handler(_event: &Tick) {}

fn main() {}
