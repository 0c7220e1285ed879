use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick)]
fn handler(event: &Tick) -> String {
    event.n.to_string()
}

fn main() {}
