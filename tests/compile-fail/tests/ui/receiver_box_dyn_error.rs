use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick)]
fn handler(event: &Tick) -> Result<(), Box<dyn std::error::Error>> {
    if event.n == 0 {
        return Err("zero".into());
    }
    Ok(())
}

fn main() {}
