use signals_core::prelude::*;

#[receiver(String)]
fn handler(_event: &String) {}

fn main() {}
