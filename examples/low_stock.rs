//! Warning when a product is saved with low stock (`pre_save` / `post_save`).
//!
//! Shows, with typed payloads, this Django program: a `post_save` receiver that warns when
//! a product is saved with fewer than five items in stock:
//!
//! ```python
//! @receiver(post_save, sender=Product)
//! def notify_low_stock(sender, instance, **kwargs):
//!     if instance.stock < 5:
//!         print(f"Warning: Low stock for {instance.name}")
//!
//! p1 = Product(name='Pen', stock=10); p1.save()       # No warning
//! p2 = Product(name='Notebook', stock=3); p2.save()   # Warning printed
//! ```
//!
//! and adds the `pre_save` half: a receiver that validates the stock before the write.
//!
//! How it differs from Django:
//! * a `pre_save` receiver that returns `Err` aborts the save: `models::save` returns
//!   `ModelError::Aborted` and the write closure is never called (in Django you would raise
//!   and hope nobody catches it in between);
//! * `instance.stock` is an `i32` field of the `&Product` the receiver gets, checked at
//!   compile time.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;

use signals_core::models::{self, Model, ModelError, PostSave, PreSave, Saved};
use signals_core::prelude::*;

const LOW_STOCK: i32 = 5;

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

static PRODUCTS: Mutex<BTreeMap<i64, Product>> = Mutex::new(BTreeMap::new());

/// The write that `models::save` wraps: an upsert into the in-memory table.
fn upsert_product(p: &Product) -> Result<Saved<()>, Infallible> {
    let previous = PRODUCTS.lock().unwrap().insert(p.id, p.clone());
    println!("  saved {} (stock {})", p.name, p.stock);
    Ok(if previous.is_none() {
        Saved::Created(())
    } else {
        Saved::Updated(())
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error("stock of {name} cannot be negative ({stock})")]
    Negative { name: String, stock: i32 },
}

/// `pre_save`: refuse impossible values before anything is written.
#[receiver(PreSave, sender = Product)]
fn validate_stock(event: &PreSave<'_, Product>) -> Result<(), StockError> {
    let product = event.instance;
    if product.stock < 0 {
        return Err(StockError::Negative {
            name: product.name.clone(),
            stock: product.stock,
        });
    }
    Ok(())
}

/// `post_save`: Django's `notify_low_stock` above, warning below five items.
#[receiver(PostSave, sender = Product)]
fn notify_low_stock(event: &PostSave<'_, Product>) {
    let product = event.instance;
    if product.stock < LOW_STOCK {
        println!(
            "  Warning: Low stock for {} ({} left)",
            product.name, product.stock
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== p1 = Product(name='Pen', stock=10); p1.save()  # no warning ==");
    let mut pen = Product {
        id: 1,
        name: "Pen".into(),
        stock: 10,
    };
    models::save(&pen, upsert_product)?;

    println!();
    println!("== p2 = Product(name='Notebook', stock=3); p2.save()  # warning ==");
    models::save(
        &Product {
            id: 2,
            name: "Notebook".into(),
            stock: 3,
        },
        upsert_product,
    )?;

    println!();
    println!("== pens sell: stock 10 -> 2, saved again ==");
    pen.stock = 2;
    models::save(&pen, upsert_product)?;

    println!();
    println!("== Eraser with stock -4: refused by the pre_save receiver, nothing written ==");
    let eraser = Product {
        id: 3,
        name: "Eraser".into(),
        stock: -4,
    };
    match models::save(&eraser, upsert_product) {
        Ok(()) => println!("  saved (unexpected)"),
        Err(ModelError::Aborted { signal, source }) => {
            let reason = source
                .downcast_ref::<StockError>()
                .map(ToString::to_string)
                .unwrap_or_default();
            println!(
                "  {signal} aborted the save ({}): {reason}",
                source.receiver().map_or("?", |r| r.name())
            );
        }
        Err(other) => return Err(other.into()),
    }

    println!();
    println!("== products in the database ==");
    for p in PRODUCTS.lock().unwrap().values() {
        println!("  #{} {:<9} stock {:>3}", p.id, p.name, p.stock);
    }
    Ok(())
}
