use signals_core::prelude::*;

pub struct User;

#[derive(Signal)]
pub struct CacheCleared {
    pub keys: usize,
}

#[receiver(CacheCleared, sender = User)]
fn handler(_event: &CacheCleared) {}

fn main() {}
