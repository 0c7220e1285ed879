use signals_core::prelude::*;

#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub id: &'a u64,
}

#[derive(Signal)]
pub struct OrderShipped<'a> {
    pub id: &'a u64,
}

#[receiver(OrderPlaced)]
fn handler(_event: &OrderShipped<'_>) {}

fn main() {}
