use signals_core::prelude::*;

#[derive(Signal)]
pub struct Signup<'a> {
    pub email: &'a str,
}

fn is_staff(event: &Signup<'_>) -> bool {
    event.email.ends_with("@example.com")
}

// The predicate is code, not its name in a string.
#[receiver(Signup, when = "is_staff")]
fn notify_staff(_event: &Signup<'_>) {}

fn main() {
    let _ = is_staff;
}
