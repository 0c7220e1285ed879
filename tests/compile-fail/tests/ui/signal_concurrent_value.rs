use signals_core::prelude::*;

#[derive(Signal)]
#[signal(concurrent = true)]
pub struct Warmup<'a> {
    pub key: &'a str,
}

fn main() {}
