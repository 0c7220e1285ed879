use signals_core::prelude::*;

#[derive(Signal)]
#[signal(response = bool, response = u32)]
pub struct MayPublish<'a> {
    pub title: &'a str,
}

fn main() {}
