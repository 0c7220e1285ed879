use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

pub struct Service;

impl Service {
    #[receiver(Tick)]
    fn handler(&self, _event: &Tick) {}
}

fn main() {}
