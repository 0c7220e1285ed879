use signals_core::prelude::*;

#[derive(Signal)]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

#[receiver(UserSignedUp)]
async fn send_welcome(event: &UserSignedUp<'_>) -> Result<(), String> {
    Err(event.email.to_owned())
}

fn main() {}
