use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

#[receiver(Signup)]
fn welcome(event: &Signup<'static>) {
    let _ = event.email;
}

fn main() {}
