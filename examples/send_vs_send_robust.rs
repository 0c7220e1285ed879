//! `send` vs `send_robust`: what happens when receivers fail.
//!
//! Shows the difference between Django's two send methods:
//!
//! > `send()`: If any receiver raises an exception, the exception will propagate and may
//! > prevent other receivers from being called.
//! > `send_robust()`: catches exceptions raised by receivers and continues calling the
//! > remaining receivers. It returns `(receiver, response_or_exception)` tuples.
//!
//! and answers the common question "can signals fail silently?": here, no.
//!
//! Four receivers of a `user_signed_up` signal whose receivers return a `String`: one
//! succeeds, one returns an error, one panics (a bug), one succeeds.
//!
//! How it differs from Django:
//! * a failing receiver returns `Err(E)` with a typed `thiserror` error; `send` stops there
//!   and returns `SendError::Receiver`, naming the receiver and its `file:line`;
//! * `send_robust` also contains *panics*, and keeps responses and failures apart in a
//!   `Report`, so a receiver that *returns* an error-like value is never mistaken for one
//!   that failed (Django mixes both in one list of tuples);
//! * every failure in `send_robust` is also logged through `tracing` (target
//!   `signals_core::dispatch`), so nothing vanishes even if the report is ignored.

use std::sync::Mutex;

use signals_core::prelude::*;
use signals_core::{ReceiverError, Responses};

/// Django: `user_signed_up = Signal()`; here each receiver answers with a `String`.
#[derive(Signal)]
#[signal(response = String, name = "user_signed_up")]
pub struct UserSignedUp<'a> {
    pub email: &'a str,
}

/// Which receivers actually ran, in order.
static RAN: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error("CRM unavailable (HTTP 503)")]
    Unavailable,
}

#[receiver(UserSignedUp, priority = 40)]
fn create_profile(event: &UserSignedUp<'_>) -> String {
    RAN.lock().unwrap().push("create_profile");
    format!("profile created for {}", event.email)
}

/// Fails with an error value.
#[receiver(UserSignedUp, priority = 30)]
fn sync_to_crm(_event: &UserSignedUp<'_>) -> Result<String, CrmError> {
    RAN.lock().unwrap().push("sync_to_crm");
    Err(CrmError::Unavailable)
}

/// A bug: panics.
#[receiver(UserSignedUp, priority = 20)]
fn send_welcome_email(event: &UserSignedUp<'_>) -> String {
    RAN.lock().unwrap().push("send_welcome_email");
    let domain = event.email.split('@').nth(1);
    panic!(
        "SMTP relay for {:?} not configured",
        domain.unwrap_or_default()
    )
}

#[receiver(UserSignedUp, priority = 10)]
fn track_signup(event: &UserSignedUp<'_>) -> String {
    RAN.lock().unwrap().push("track_signup");
    format!("signup of {} tracked", event.email)
}

fn ran() -> Vec<&'static str> {
    std::mem::take(&mut *RAN.lock().unwrap())
}

fn print_responses(responses: &Responses<String>) {
    for r in responses {
        println!("    ok      {:<40} -> {:?}", r.receiver.name(), r.value);
    }
}

fn main() {
    // The default hook prints a multi-line panic message to stderr; keep it to one line.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        println!("  (panic hook) a receiver panicked: {message}");
    }));

    let event = UserSignedUp {
        email: "ada@example.com",
    };

    println!("== receivers, in the order they run ==");
    for r in UserSignedUp::receivers() {
        println!("  priority {:>2}  {r}", r.priority());
    }

    println!();
    println!("== send(): stops at the first error and returns it ==");
    match event.send() {
        Ok(responses) => print_responses(&responses),
        Err(error) => {
            println!("  send() returned Err: {error}");
            if let Some(receiver) = error.receiver() {
                println!("    failing receiver: {}", receiver.name());
                println!(
                    "    declared at:      {}:{}",
                    receiver.file(),
                    receiver.line()
                );
            }
            let crm = error.downcast_ref::<CrmError>();
            println!(
                "    its error:        {}",
                crm.map(ToString::to_string).unwrap_or_default()
            );
        }
    }
    println!("  receivers that ran: {:?}", ran());
    println!("  (a panic would unwind through send(); only send_robust() catches panics)");

    println!();
    println!("== send_robust(): runs every receiver, returns every outcome ==");
    let report = event.send_robust();
    println!("  receivers that ran: {:?}", ran());
    println!("  all ok? {}", report.is_ok());
    println!("  responses ({}):", report.responses().len());
    print_responses(report.responses());
    println!("  failures ({}):", report.failures().len());
    for failure in report.failures() {
        let kind = match &failure.error {
            ReceiverError::Failed(_) => "error",
            ReceiverError::Panicked { .. } => "panic",
            _ => "other",
        };
        println!(
            "    {kind:<7} {:<40} -> {} (position {})",
            failure.receiver.name(),
            failure.error,
            failure.position
        );
    }

    // Django's shape: one list of (receiver, response_or_exception) in dispatch order.
    // Failures carry their position; the responses fill the remaining slots in order.
    println!("  as Django's [(receiver, response_or_exception)], in dispatch order:");
    let (responses, failures) = report.into_parts();
    let total = responses.len() + failures.len();
    let mut responses = responses.into_iter();
    let mut failures = failures.into_iter().peekable();
    for position in 0..total {
        match failures.next_if(|f| f.position == position) {
            Some(f) => println!("    {position}. ({}, Err({}))", f.receiver.name(), f.error),
            None => {
                let r = responses.next().expect("one outcome per position");
                println!("    {position}. ({}, Ok({:?}))", r.receiver.name(), r.value);
            }
        }
    }
}
