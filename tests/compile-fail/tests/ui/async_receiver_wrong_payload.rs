use signals_core::prelude::*;

#[derive(Signal)]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

#[derive(Signal)]
pub struct UserDeleted<'a> {
    pub email: &'a str,
}

#[receiver(UserSignedUp)]
async fn send_welcome(event: &UserDeleted<'_>) {
    let _ = event.email;
}

fn main() {}
