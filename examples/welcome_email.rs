//! Sending a welcome email when a user is created, and a confirmation when the email changes.
//!
//! Shows, with typed payloads, Django's classic welcome-email receiver:
//!
//! ```python
//! @receiver(post_save, sender=User)
//! def send_welcome_email(sender, instance, created, **kwargs):
//!     if created:
//!         print(f"Send welcome email to {instance.email}")
//! ```
//!
//! and "when someone updates their email, send a confirmation message": a `pre_save`
//! receiver compares the stored row with the instance about to be written, and the
//! `post_save` receiver sends the confirmation once the write succeeded.
//!
//! How it differs from Django:
//! * the mailer can fail: the receiver returns `Result<(), MailError>`, and
//!   `models::save` reports the failure as `ModelError::AfterWrite` naming the receiver
//!   (the row stays written, as in Django), instead of an exception that may be swallowed;
//! * `instance.email` is a typed field of the `&User` the receiver gets.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, PostSave, PreSave, Saved};
use signals_core::prelude::*;

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub email: String,
}

impl Model for User {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static USERS: Mutex<BTreeMap<i64, User>> = Mutex::new(BTreeMap::new());
/// Emails "sent": (to, subject).
static OUTBOX: Mutex<Vec<(String, &str)>> = Mutex::new(Vec::new());
/// Email changes seen by `pre_save`, waiting for `post_save`: user id -> old address.
static EMAIL_CHANGES: Mutex<BTreeMap<i64, String>> = Mutex::new(BTreeMap::new());

/// The write that `models::save` wraps: an upsert into the in-memory table.
fn upsert_user(user: &User) -> Result<Saved<()>, Infallible> {
    let previous = USERS.lock().unwrap().insert(user.id, user.clone());
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid email address {0:?}")]
    InvalidAddress(String),
}

fn send_mail(to: &str, subject: &'static str) -> Result<(), MailError> {
    if !to.contains('@') {
        return Err(MailError::InvalidAddress(to.to_owned()));
    }
    OUTBOX.lock().unwrap().push((to.to_owned(), subject));
    Ok(())
}

#[receiver(PostSave, sender = User)]
fn send_welcome_email(event: &PostSave<'_, User>) -> Result<(), MailError> {
    if event.created {
        send_mail(&event.instance.email, "Welcome aboard!")?;
        println!("  welcome email sent to {}", event.instance.email);
    }
    Ok(())
}

/// Before the write: remember the old address if it is about to change.
#[receiver(PreSave, sender = User)]
fn detect_email_change(event: &PreSave<'_, User>) {
    let user = event.instance;
    if let Some(stored) = USERS.lock().unwrap().get(&user.id)
        && stored.email != user.email
    {
        EMAIL_CHANGES
            .lock()
            .unwrap()
            .insert(user.id, stored.email.clone());
    }
}

/// After the write: confirm the new address.
#[receiver(PostSave, sender = User)]
fn send_email_confirmation(event: &PostSave<'_, User>) -> Result<(), MailError> {
    let old = EMAIL_CHANGES.lock().unwrap().remove(&event.instance.id);
    if let Some(old) = old {
        send_mail(&event.instance.email, "Please confirm your new address")?;
        println!(
            "  email changed from {old} to {}: confirmation sent",
            event.instance.email
        );
    }
    Ok(())
}

/// Prints an error and its chain of causes on one line.
fn explain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== a new user: welcome email ==");
    let mut ada = User {
        id: 1,
        email: "ada@example.com".into(),
    };
    models::save(&ada, upsert_user)?;

    println!();
    println!("== the same user saved again, email unchanged: nothing sent ==");
    models::save(&ada, upsert_user)?;
    println!(
        "  outbox still holds {} email(s)",
        OUTBOX.lock().unwrap().len()
    );

    println!();
    println!("== the user changes their email: confirmation ==");
    ada.email = "ada@lovelace.dev".into();
    models::save(&ada, upsert_user)?;

    println!();
    println!("== a user with a broken address: the mailer error is not swallowed ==");
    let broken = User {
        id: 2,
        email: "not-an-address".into(),
    };
    match models::save(&broken, upsert_user) {
        Ok(()) => println!("  saved (unexpected)"),
        Err(error) => {
            println!("  save returned an error: {}", explain(&error));
            let stored = USERS.lock().unwrap().contains_key(&broken.id);
            println!("  the row is still written (as in Django): {stored}");
        }
    }

    println!();
    println!("== outbox ==");
    for (to, subject) in OUTBOX.lock().unwrap().iter() {
        println!("  {to:<20} {subject}");
    }
    Ok(())
}
