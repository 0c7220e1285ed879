use signals_core::prelude::*;

#[receiver(NoSuchSignal)]
fn handler(_event: &NoSuchSignal) {}

fn main() {}
