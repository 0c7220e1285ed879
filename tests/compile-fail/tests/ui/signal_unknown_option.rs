use signals_core::prelude::*;

#[derive(Signal)]
#[signal(responce = bool)]
pub struct MayPublish<'a> {
    pub title: &'a str,
}

fn main() {}
