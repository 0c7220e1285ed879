//! An audit log of every model change, through any-sender receivers.
//!
//! Shows the classic "log or audit every model change without cluttering the model
//! methods" use: two receivers with no sender write one audit line per save and per
//! delete, whatever the model. In Django this is `@receiver(post_save)` with no `sender`,
//! which receives every model's saves.
//!
//! How it differs from Django:
//! * `#[receiver(PostSave)] fn audit(event: &PostSave)` is the any-sender form:
//!   `PostSave` there is `PostSave<'_, dyn Model>`, so the instance is a `&dyn Model`
//!   (`model_name()`, `pk()`, `Debug`); `downcast_ref::<User>()` gets the concrete type back
//!   when a detail matters;
//! * `update_fields` is an `Option<&[&str]>`, `using` a `&str`: typed, not `**kwargs`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, PostDelete, PostSave, SaveOptions, Saved};
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

#[derive(Clone, Debug)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub stock: i32,
}

impl Model for Product {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

#[derive(Clone, Debug)]
pub struct Article {
    pub id: i64,
    pub title: String,
}

impl Model for Article {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

/// One in-memory table per model: (model name, pk) -> Debug dump of the row.
static ROWS: Mutex<BTreeMap<(&str, i64), String>> = Mutex::new(BTreeMap::new());
static AUDIT_TRAIL: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn key(m: &dyn Model) -> (&'static str, i64) {
    (m.model_name(), m.pk().unwrap_or_default())
}

/// The writes that `models::save` and `models::delete` wrap, for any model.
fn upsert<M: Model + std::fmt::Debug>(m: &M) -> Result<Saved<()>, Infallible> {
    let previous = ROWS.lock().unwrap().insert(key(m), format!("{m:?}"));
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

fn remove<M: Model>(m: &M) -> Result<(), Infallible> {
    ROWS.lock().unwrap().remove(&key(m));
    Ok(())
}

fn record(line: String) {
    println!("  audit: {line}");
    AUDIT_TRAIL.lock().unwrap().push(line);
}

/// Every model's saves: no `sender`.
#[receiver(PostSave)]
fn audit(event: &PostSave) {
    let action = if event.created { "created" } else { "updated" };
    let fields = match event.update_fields {
        Some(fields) => format!(" fields {fields:?}"),
        None => String::new(),
    };
    // The concrete type is one downcast away when a detail matters.
    let detail = match event.instance.downcast_ref::<User>() {
        Some(user) => format!(" <{}>", user.email),
        None => String::new(),
    };
    record(format!(
        "{:?}{detail} {action}{fields} on db {:?}",
        event.instance, event.using
    ));
}

#[receiver(PostDelete)]
fn audit_delete(event: &PostDelete) {
    record(format!(
        "{:?} deleted on db {:?}",
        event.instance, event.using
    ));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== three different models, one audit receiver ==");
    let ada = User {
        id: 1,
        email: "ada@example.com".into(),
    };
    models::save(&ada, upsert)?;
    let mut pen = Product {
        id: 10,
        name: "Pen".into(),
        stock: 10,
    };
    models::save(&pen, upsert)?;
    let post = Article {
        id: 100,
        title: "Audit trails".into(),
    };
    models::save(&post, upsert)?;

    println!();
    println!("== pen.save(update_fields=[\"stock\"]) ==");
    pen.stock = 7;
    let options = SaveOptions {
        update_fields: Some(&["stock"]),
        ..SaveOptions::default()
    };
    models::save_with(options, &pen, upsert)?;

    println!();
    println!("== deletes are audited too ==");
    models::delete(&post, remove)?;

    println!();
    println!("== the audit trail ==");
    for (n, line) in AUDIT_TRAIL.lock().unwrap().iter().enumerate() {
        println!("  {:>2}. {line}", n + 1);
    }
    println!();
    println!("== rows left in the in-memory database ==");
    for row in ROWS.lock().unwrap().values() {
        println!("  {row}");
    }
    Ok(())
}
