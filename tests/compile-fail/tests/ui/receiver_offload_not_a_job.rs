use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

// The job type must be `signals_offload::Job<T>`: a `String` is not one.
#[receiver(Signup, offload = "mail")]
async fn send_welcome(email: String) {
    let _ = email;
}

fn main() {}
