use signals_core::prelude::*;
use std::rc::Rc;

#[derive(Signal)]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

// Holding an `Rc` across an `.await` makes the future `!Send`: async receivers must be able
// to run on a multi-thread runtime.
#[receiver(UserSignedUp)]
async fn send_welcome(event: &UserSignedUp<'_>) {
    let shared = Rc::new(event.email.len());
    std::future::ready(()).await;
    drop(shared);
}

fn main() {}
