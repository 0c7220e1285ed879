use signals_core::prelude::*;
use std::rc::Rc;

#[derive(Signal)]
pub struct Tick;

fn main() {
    let counter = Rc::new(0);
    // Runtime receivers are shared across threads: a closure capturing an `Rc` is refused.
    let _connection = Tick::connect_async(move |_: &Tick| {
        let counter = Rc::clone(&counter);
        Box::pin(async move {
            let _ = counter;
        })
    });
}
