use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

pub struct Service;

impl Service {
    // No `self`, so the macro cannot tell it is in an `impl` block.
    #[receiver(Tick)]
    fn handler(event: &Tick) {
        let _ = event.n;
    }
}

fn main() {}
