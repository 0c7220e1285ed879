use signals_core::prelude::*;

#[derive(Signal)]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

/// Not an error type: it does not convert into a `BoxError`.
#[derive(Debug)]
pub struct Rejected(pub String);

#[receiver(UserSignedUp)]
async fn send_welcome(event: &UserSignedUp<'_>) -> Result<(), Rejected> {
    Err(Rejected(event.email.to_owned()))
}

fn main() {}
