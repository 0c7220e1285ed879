//! Quickstart: the five-minute tour. `cargo run --example quickstart`
//!
//! Shows the core of Django-style signals in one place: a `User` saved through
//! `models::save` fires `PostSave`, which creates a profile and sends a welcome email
//! (Django's `@receiver(post_save, sender=User)` + `if created:`), an audit receiver sees
//! every model (Django's `sender=None`), a custom `order_placed` signal notifies the admin,
//! and a receiver connected at runtime lives exactly as long as its guard.
//!
//! How it differs from Django:
//! * the payload is a typed struct (`event.created`, `event.instance.email`), not `**kwargs`;
//! * `sender = User` is checked at compile time, and the receiver gets a `&User`;
//! * no `AppConfig.ready()` import: `#[receiver]` registers at link time;
//! * the order is defined (`priority`, higher first), and the whole receiver map can be
//!   listed at startup with `signals_core::registry::receivers()`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, PostSave, Saved};
use signals_core::prelude::*;

// --- models and an in-memory "database" ------------------------------------------------

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

pub struct Order {
    pub id: u64,
    pub total_cents: i64,
}

static USERS: Mutex<BTreeMap<i64, User>> = Mutex::new(BTreeMap::new());
static PROFILES: Mutex<Vec<i64>> = Mutex::new(Vec::new());

/// The write that `models::save` wraps: an upsert into the in-memory table.
fn upsert_user(user: &User) -> Result<Saved<()>, Infallible> {
    let previous = USERS.lock().unwrap().insert(user.id, user.clone());
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

// --- receivers of the built-in PostSave signal -----------------------------------------

/// Django: `@receiver(post_save, sender=User) def create_profile(sender, instance, created, **kwargs)`.
#[receiver(PostSave, sender = User, priority = 10)]
fn create_profile(event: &PostSave<'_, User>) {
    if event.created {
        PROFILES.lock().unwrap().push(event.instance.id);
        println!("  profile created for {}", event.instance.email);
    }
}

/// Django's `if created:` as a condition on the receiver (`when = predicate`): for a
/// save of an existing user it does not run at all (and is not counted as delivered).
fn is_new(event: &PostSave<'_, User>) -> bool {
    event.created
}

#[receiver(PostSave, sender = User, when = is_new)]
fn send_welcome_email(event: &PostSave<'_, User>) {
    println!("  welcome email sent to {}", event.instance.email);
}

/// No `sender`: receives every model's saves, the instance as `&dyn Model`.
#[receiver(PostSave, priority = -10)]
fn audit(event: &PostSave) {
    let what = if event.created { "created" } else { "updated" };
    println!("  audit: {:?} {what}", event.instance);
}

// --- a custom signal --------------------------------------------------------------------

/// Django: `order_placed = Signal()`. Here the fields are the (typed) arguments.
#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub order: &'a Order,
    pub customer: &'a User,
}

#[receiver(OrderPlaced, priority = 10)]
fn reserve_stock(event: &OrderPlaced<'_>) {
    println!(
        "  [priority 10] stock reserved for order #{}",
        event.order.id
    );
}

#[receiver(OrderPlaced)]
fn notify_admin(event: &OrderPlaced<'_>) {
    let cents = event.order.total_cents;
    println!(
        "  [priority  0] admin notified: order #{} by {} ({}.{:02} EUR)",
        event.order.id,
        event.customer.email,
        cents / 100,
        cents % 100
    );
}

#[receiver(OrderPlaced, priority = -5)]
fn send_receipt(event: &OrderPlaced<'_>) {
    println!(
        "  [priority -5] receipt emailed to {}",
        event.customer.email
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. models::save(User) sends PreSave and PostSave ==");
    let mut ada = User {
        id: 1,
        email: "ada@example.com".into(),
    };
    models::save(&ada, upsert_user)?;
    println!("-- saving the same user again (created = false): no second profile");
    ada.email = "ada@lovelace.dev".into();
    models::save(&ada, upsert_user)?;
    println!(
        "profiles in the database: {}",
        PROFILES.lock().unwrap().len()
    );

    println!();
    println!("== 2. a custom signal, receivers run by priority (higher first) ==");
    let order = Order {
        id: 42,
        total_cents: 1250,
    };
    let delivered = OrderPlaced {
        order: &order,
        customer: &ada,
    }
    .send()?;
    println!("delivered to {} receivers", delivered.receivers());

    println!();
    println!("== 3. a runtime receiver lives as long as its guard ==");
    let metrics = OrderPlaced::connect(|event: &OrderPlaced<'_>| {
        println!("  [runtime]     metrics: order #{} counted", event.order.id);
    });
    let second = Order {
        id: 43,
        total_cents: 990,
    };
    let delivered = OrderPlaced {
        order: &second,
        customer: &ada,
    }
    .send()?;
    println!(
        "with the guard alive: delivered to {} receivers",
        delivered.receivers()
    );
    drop(metrics);
    let third = Order {
        id: 44,
        total_cents: 100,
    };
    let delivered = OrderPlaced {
        order: &third,
        customer: &ada,
    }
    .send()?;
    println!(
        "after drop(guard): delivered to {} receivers",
        delivered.receivers()
    );

    println!();
    println!("== 4. who listens to what: signals_core::registry::receivers() ==");
    println!(
        "{:<12} {:<8} {:<32} {:<28} priority",
        "signal", "sender", "receiver", "declared at"
    );
    for r in signals_core::registry::receivers() {
        let sender = r
            .sender()
            .map(|s| s.rsplit("::").next().unwrap_or(s))
            .unwrap_or("(any)");
        let at = format!("{}:{}", r.file(), r.line());
        println!(
            "{:<12} {:<8} {:<32} {:<28} {:>8}",
            r.signal(),
            sender,
            r.name(),
            at,
            r.priority()
        );
    }
    Ok(())
}
