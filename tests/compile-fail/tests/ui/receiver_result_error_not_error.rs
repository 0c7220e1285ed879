use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

/// Not an error: no `std::error::Error` impl, so it does not convert into a `BoxError`.
/// (A `String` message does: `Result<(), String>` is accepted.)
#[derive(Debug)]
pub struct NotAnError;

#[receiver(Tick)]
fn handler(_event: &Tick) -> Result<(), NotAnError> {
    Ok(())
}

fn main() {}
