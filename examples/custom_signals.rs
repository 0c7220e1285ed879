//! Declaring and sending your own signals: `login_succeeded` and `order_placed`.
//!
//! Shows two custom signals as Django declares them:
//!
//! * a `login_succeeded` signal that carries the user and a timestamp:
//!   ```python
//!   login_succeeded = Signal()
//!   login_succeeded.send(sender=type(request.user), user=request.user, timestamp=timezone.now())
//!
//!   @receiver(login_succeeded)
//!   def handle_user_logged_in(sender, user, timestamp, **kwargs):
//!       print(f"User {user} logged in at {timestamp}")
//!   ```
//! * an `order_placed` signal with no sender (`order_placed = Signal()`,
//!   `order_placed.send(sender=None)`): "when an order is placed, send a notification to
//!   the admin".
//!
//! How it differs from Django:
//! * the signal is a struct: its fields are the arguments (`user`, `timestamp`), typed and
//!   borrowed; forgetting one, or passing a string where a timestamp goes, does not compile;
//! * `sender=type(request.user)` becomes a type parameter: `LoginSucceeded<'_, User>` is
//!   sent by `User`, receivers can filter on it (`sender = User`) or take every sender
//!   (`&LoginSucceeded`, the `dyn Model` form);
//! * the order is explicit (`priority`), not "whatever order the imports ran in".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signals_core::models::Model;
use signals_core::prelude::*;

// --- login_succeeded ------------------------------------------------------------------

#[derive(Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
}

impl Model for User {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

/// Another user type (think: a separate admin-site account model).
#[derive(Debug)]
pub struct StaffMember {
    pub id: i64,
    pub badge: String,
}

impl Model for StaffMember {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

/// Django: `login_succeeded = Signal()`, sent with `sender=type(user), user=..., timestamp=...`.
#[derive(Signal)]
#[signal(sender = U, name = "login_succeeded")]
pub struct LoginSucceeded<'a, U: ?Sized + Model = dyn Model> {
    pub user: &'a U,
    pub timestamp: SystemTime,
}

/// Django's `handle_user_logged_in` above, for `User` logins only.
#[receiver(LoginSucceeded, sender = User)]
fn handle_user_logged_in(event: &LoginSucceeded<'_, User>) {
    println!(
        "  User {} logged in at {}",
        event.user.username,
        unix_time(event.timestamp)
    );
}

/// Every sender: the user is a `&dyn Model` here. Priority -1: runs after the others.
#[receiver(LoginSucceeded, priority = -1)]
fn count_logins(event: &LoginSucceeded) {
    println!("  login counted for {:?}", event.user);
}

fn unix_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("{secs} (unix seconds)")
}

/// `login_view`: after a successful login, send the custom signal.
fn login_view<U: Model>(user: &U, now: SystemTime) -> Result<(), Box<dyn std::error::Error>> {
    let delivered = LoginSucceeded {
        user,
        timestamp: now,
    }
    .send()?;
    println!("  -> {} receiver(s) ran", delivered.receivers());
    Ok(())
}

// --- order_placed ----------------------------------------------------------------------

pub struct Order {
    pub id: u64,
    pub items: Vec<(&'static str, u32)>,
    pub total_cents: i64,
}

/// Django: `order_placed = Signal()`, sent with `sender=None`: no sender parameter here.
#[derive(Signal)]
#[signal(name = "order_placed")]
pub struct OrderPlaced<'a> {
    pub order: &'a Order,
    pub customer: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("order #{0} has no items; refusing to notify the admin")]
    EmptyOrder(u64),
}

/// Runs first: nothing else should act on an order that is not valid.
#[receiver(OrderPlaced, priority = 100)]
fn check_order(event: &OrderPlaced<'_>) -> Result<(), NotifyError> {
    if event.order.items.is_empty() {
        return Err(NotifyError::EmptyOrder(event.order.id));
    }
    Ok(())
}

/// "When an order is placed, send a notification to the admin".
#[receiver(OrderPlaced, priority = 10)]
fn notify_admin(event: &OrderPlaced<'_>) {
    let order = event.order;
    println!(
        "  admin notified: order #{} by {}, {} item(s), {}.{:02} EUR",
        order.id,
        event.customer,
        order.items.len(),
        order.total_cents / 100,
        order.total_cents % 100
    );
}

#[receiver(OrderPlaced)]
fn send_order_confirmation(event: &OrderPlaced<'_>) {
    println!(
        "  confirmation sent to {} for order #{}",
        event.customer, event.order.id
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = UNIX_EPOCH + Duration::from_secs(1_744_637_958);

    println!("== login_succeeded.send(sender=User, user=ada, timestamp=now) ==");
    login_view(
        &User {
            id: 1,
            username: "ada".into(),
        },
        now,
    )?;

    println!();
    println!("== the same signal sent by StaffMember: the User-only receiver is skipped ==");
    login_view(
        &StaffMember {
            id: 7,
            badge: "ops-7".into(),
        },
        now,
    )?;

    println!();
    println!("== order_placed.send(sender=None, ...) ==");
    let order = Order {
        id: 1001,
        items: vec![("Pen", 2), ("Notebook", 1)],
        total_cents: 1890,
    };
    let delivered = OrderPlaced {
        order: &order,
        customer: "ada@example.com",
    }
    .send()?;
    println!(
        "  -> {} receiver(s) ran, in priority order",
        delivered.receivers()
    );

    println!();
    println!("== an empty order: the priority-100 check stops the send ==");
    let empty = Order {
        id: 1002,
        items: vec![],
        total_cents: 0,
    };
    if let Err(error) = (OrderPlaced {
        order: &empty,
        customer: "grace@example.com",
    })
    .send()
    {
        let reason = error
            .downcast_ref::<NotifyError>()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!(
            "  send failed at {}: {reason}",
            error.receiver().map_or("?", |r| r.name())
        );
    }

    println!();
    println!("== receivers of order_placed, in the order they run ==");
    for r in OrderPlaced::receivers() {
        println!("  priority {:>3}  {r}", r.priority());
    }
    Ok(())
}
