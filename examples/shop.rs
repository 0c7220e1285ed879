//! A small shop on a real database: SeaORM 2 on embedded SQLite (in memory, no server),
//! wired to signals with one line per entity (`signals_sea_orm::behavior!`).
//!
//! Built from the seeds' scenarios, Django's classic signal uses, each a receiver below:
//!
//! | scenario (seed) | receiver | when |
//! |---|---|---|
//! | a user signs up → create their profile (000, 001, 004) | `create_profile` | `PostSave(created)`, on commit |
//! | ... and send a welcome email (003) | `send_welcome_email`, async | on commit only |
//! | a product is saved with low stock → warn (003) | `notify_low_stock` | during the save |
//! | an order is placed → notify the admin (000) | `notify_admin`, `send_receipt` | custom `OrderPlaced` |
//! | an article changes → clear its cache (001, 004) | `invalidate_article_cache` | `PostSave` and `PostDelete` |
//! | an article is deleted → log it (003) | `log_article_deletion` | `PreDelete` |
//! | audit every model's changes (003, 004) | `audit_save`, `audit_delete` (no sender) | on commit |
//!
//! What Django gets wrong and this fixes: `post_save` runs before the transaction commits,
//! so a signup that is rolled back still gets its welcome email (`../shared/reference`,
//! django-signals.md §5). Here `send_welcome_email` is declared `on = Commit`, and the
//! writes run in `signals_sea_orm::transaction`: the email waits for the commit, and the
//! rolled-back signup below sends none. At the end, the receiver map lists every receiver
//! with its sender, phase and source line: the flow that Django hides.
//!
//! Run: `cargo run --example shop`

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    ModelTrait, PaginatorTrait, Schema, Set, TransactionError,
};
use signals_core::map::{MapFormat, ReceiverMap};
use signals_core::models::{ModelEvent, PostDelete, PostSave, PreDelete};
use signals_core::prelude::*;
use signals_core::transaction;

// --- The models: one line each turns SeaORM's hooks into signals ----------------------------

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod profile {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "profiles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub display_name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub stock: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub product_id: i64,
        pub quantity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod article {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "articles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

/// The shop's database, for receivers that write (after the commit, on their own
/// connection turn).
static DB: OnceLock<DatabaseConnection> = OnceLock::new();

fn db() -> &'static DatabaseConnection {
    DB.get().expect("the database is open")
}

// --- Users: profile and welcome email, after the commit -------------------------------------

/// Seeds 000/001/004: "when a user registers, create a profile automatically". On commit,
/// so a rolled-back signup leaves no orphan profile (and the profile's own save, made
/// outside the user's transaction, is audited like any other).
#[receiver(PostSave, sender = user::Model, on = Commit, priority = 10)]
async fn create_profile(event: &PostSave<'_, user::Model>) -> Result<(), DbErr> {
    if !event.created {
        return Ok(());
    }
    let user = event.instance;
    println!(
        "  [on commit] user #{} committed: creating the profile of {}",
        user.id, user.email
    );
    let name = user.email.split('@').next().unwrap_or_default().to_owned();
    profile::ActiveModel {
        user_id: Set(user.id),
        display_name: Set(name),
        ..Default::default()
    }
    .insert(db()) // no transaction open here: its own signals run at once (the audit line)
    .await?;
    Ok(())
}

static OUTBOX: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Seed 003's `send_welcome_email`, but only once the user really exists: `on = Commit`.
/// Async, with a simulated SMTP round trip.
#[receiver(PostSave, sender = user::Model, on = Commit)]
async fn send_welcome_email(event: &PostSave<'_, user::Model>) -> Result<(), DbErr> {
    if !event.created {
        return Ok(());
    }
    let user = event.instance;
    tokio::time::sleep(Duration::from_millis(20)).await; // the mail server
    // The row is committed: another connection sees it.
    let visible = user::Entity::find_by_id(user.id).one(db()).await?.is_some();
    println!(
        "  [on commit, async] welcome email sent to {} after commit (user #{} visible: {visible})",
        user.email, user.id
    );
    OUTBOX.lock().unwrap().push(user.email.clone());
    Ok(())
}

/// What Django cannot say: this signup never happened.
#[receiver(PostSave, sender = user::Model, on = Rollback)]
fn signup_rolled_back(event: &PostSave<'_, user::Model>) {
    println!(
        "  [on rollback] signup of {} rolled back: no profile, no email",
        event.instance.email
    );
}

// --- Products: low-stock warning ------------------------------------------------------------

const LOW_STOCK: i32 = 5;

/// Seed 003's `notify_low_stock`, during the save.
#[receiver(PostSave, sender = product::Model)]
fn notify_low_stock(event: &PostSave<'_, product::Model>) {
    let product = event.instance;
    if product.stock < LOW_STOCK {
        println!(
            "  [post_save] Warning: low stock for {} ({} left)",
            product.name, product.stock
        );
    }
}

// --- Orders: a custom signal ----------------------------------------------------------------

/// Sent by `place_order` when a customer places an order (seed 000: "when an order is
/// placed, send a notification to the admin").
#[derive(Signal)]
pub struct OrderPlaced<'a> {
    pub order: &'a order::Model,
    pub customer: &'a str,
    pub product: &'a str,
}

#[receiver(OrderPlaced)]
fn notify_admin(event: &OrderPlaced<'_>) {
    println!(
        "  [OrderPlaced] admin notified: order #{} by {}: {} x {}",
        event.order.id, event.customer, event.order.quantity, event.product
    );
}

/// The receipt only goes out for an order that was committed.
#[receiver(OrderPlaced, on = Commit)]
async fn send_receipt(event: &OrderPlaced<'_>) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    println!(
        "  [OrderPlaced, on commit] receipt for order #{} sent to {}",
        event.order.id, event.customer
    );
}

// --- Articles: cache invalidation and a deletion log ----------------------------------------

static CACHE: Mutex<BTreeMap<i64, String>> = Mutex::new(BTreeMap::new());
static DELETION_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One receiver, two signals (seeds 001/004: "clear caches after updates").
#[receiver(PostSave, PostDelete, sender = article::Model)]
fn invalidate_article_cache(event: &dyn ModelEvent) {
    let pk = event.instance().pk().unwrap_or_default();
    let cleared = CACHE.lock().unwrap().remove(&pk).is_some();
    println!(
        "  [{}] cache for article #{pk} {}",
        event.signal(),
        if cleared { "invalidated" } else { "was empty" }
    );
}

/// Seed 003's `log_article_deletion`.
#[receiver(PreDelete, sender = article::Model)]
fn log_article_deletion(event: &PreDelete<'_, article::Model>) {
    println!(
        "  [pre_delete] Article {:?} is about to be deleted",
        event.instance.title
    );
    DELETION_LOG
        .lock()
        .unwrap()
        .push(event.instance.title.clone());
}

// --- Audit: every model, no sender ----------------------------------------------------------

static AUDIT: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn audit(line: String) {
    println!("  [audit] {line}");
    AUDIT.lock().unwrap().push(line);
}

/// Every model's saves (no `sender`: `&PostSave` is `PostSave<'_, dyn Model>`), logged once
/// committed, so the audit trail never lists a write that was rolled back.
#[receiver(PostSave, on = Commit, priority = -10)]
fn audit_save(event: &PostSave) {
    audit(format!(
        "{} #{} {}",
        event.instance.model_name(),
        event.instance.pk().unwrap_or_default(),
        if event.created { "created" } else { "updated" }
    ));
}

#[receiver(PostDelete, on = Commit, priority = -10)]
fn audit_delete(event: &PostDelete) {
    audit(format!(
        "{} #{} deleted",
        event.instance.model_name(),
        event.instance.pk().unwrap_or_default()
    ));
}

// --- The application ------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
enum ShopError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("card declined for {0}")]
    CardDeclined(String),
    #[error("only {available} {product} left")]
    OutOfStock { product: String, available: i32 },
}

/// Signs a user up in one transaction; `card_ok = false` fails the payment check after the
/// insert, which rolls the whole signup back.
async fn sign_up(email: &str, card_ok: bool) -> Result<user::Model, TransactionError<ShopError>> {
    println!("-> sign up {email}");
    let email = email.to_owned();
    signals_sea_orm::transaction(db(), |txn| {
        Box::pin(async move {
            let user = user::ActiveModel {
                email: Set(email.clone()),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            println!(
                "  INSERT user #{} ({email}): the email waits for the commit",
                user.id
            );
            if !card_ok {
                println!("  payment check failed: ROLLBACK");
                return Err(ShopError::CardDeclined(email));
            }
            println!("  COMMIT");
            Ok(user)
        })
    })
    .await
}

/// Places an order: the order row, the stock update and `OrderPlaced`, in one transaction.
async fn place_order(
    customer: &user::Model,
    product_id: i64,
    quantity: i32,
) -> Result<order::Model, TransactionError<ShopError>> {
    let customer = customer.clone();
    signals_sea_orm::transaction(db(), |txn| {
        Box::pin(async move {
            let product = product::Entity::find_by_id(product_id)
                .one(txn)
                .await?
                .ok_or(DbErr::RecordNotFound(format!("product #{product_id}")))?;
            println!("-> {} orders {quantity} x {}", customer.email, product.name);
            if product.stock < quantity {
                return Err(ShopError::OutOfStock {
                    product: product.name,
                    available: product.stock,
                });
            }
            let order = order::ActiveModel {
                user_id: Set(customer.id),
                product_id: Set(product.id),
                quantity: Set(quantity),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            let name = product.name.clone();
            let stock = product.stock - quantity;
            let mut update: product::ActiveModel = product.into();
            update.stock = Set(stock);
            update.update(txn).await?;
            // A custom signal with an owned payload, so that `on = Commit` receivers
            // (the receipt) get it after the commit.
            transaction::send_owned_async::<OrderPlaced, _>(
                (order.clone(), customer.email.clone(), name),
                |(order, customer, product): &(order::Model, String, String)| OrderPlaced {
                    order,
                    customer,
                    product,
                },
            )
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(order)
        })
    })
    .await
}

async fn add_product(name: &str, stock: i32) -> Result<product::Model, DbErr> {
    println!("-> add product {name} (stock {stock})");
    product::ActiveModel {
        name: Set(name.into()),
        stock: Set(stock),
        ..Default::default()
    }
    .insert(db())
    .await
}

/// The article page, served from the cache when possible.
async fn view_article(id: i64) -> Result<(), DbErr> {
    if CACHE.lock().unwrap().contains_key(&id) {
        println!("  GET /articles/{id}: cache hit");
        return Ok(());
    }
    let html = match article::Entity::find_by_id(id).one(db()).await? {
        Some(a) => format!("<h1>{}</h1><p>{}</p>", a.title, a.body),
        None => "<h1>404</h1>".into(),
    };
    CACHE.lock().unwrap().insert(id, html);
    println!("  GET /articles/{id}: cache miss, rendered and cached");
    Ok(())
}

async fn create_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(user::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(profile::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(product::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(order::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(article::Entity))
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Database::connect("sqlite::memory:").await?;
    create_tables(&conn).await?;
    DB.set(conn).expect("opened once");
    println!("== a shop on SQLite (in memory), SeaORM hooks -> signals ==");

    println!("\n== 1. users: profile and welcome email after the commit ==");
    let ada = sign_up("ada@example.com", true).await?;
    match sign_up("mallory@example.com", false).await {
        Err(TransactionError::Transaction(ShopError::CardDeclined(email))) => {
            println!("  sign-up of {email} failed: card declined")
        }
        other => panic!("expected a declined card, got {other:?}"),
    }

    println!("\n== 2. products: low-stock warning ==");
    let pen = add_product("Pen", 10).await?;
    add_product("Notebook", 3).await?;

    println!("\n== 3. orders: OrderPlaced ==");
    place_order(&ada, pen.id, 2).await?;
    place_order(&ada, pen.id, 5).await?;
    if let Err(TransactionError::Transaction(error)) = place_order(&ada, pen.id, 9).await {
        println!("  order refused: {error}");
    }

    println!("\n== 4. articles: cache invalidation and deletion log ==");
    println!("-> publish an article");
    let post = article::ActiveModel {
        title: Set("Signals in Rust".into()),
        body: Set("Typed payloads, receivers that wait for the commit.".into()),
        ..Default::default()
    }
    .insert(db())
    .await?;
    view_article(post.id).await?;
    view_article(post.id).await?;
    println!("-> edit the article");
    let mut edit: article::ActiveModel = post.into();
    edit.title = Set("Signals in Rust, revised".into());
    let post = edit.update(db()).await?;
    view_article(post.id).await?;
    println!("-> delete the article");
    post.delete(db()).await?;

    println!("\n== summary ==");
    let users = user::Entity::find().count(db()).await?;
    let profiles = profile::Entity::find().count(db()).await?;
    let outbox = OUTBOX.lock().unwrap().clone();
    println!("users in the database: {users}, profiles: {profiles}");
    println!("welcome emails sent: {outbox:?}");
    if !outbox.iter().any(|e| e.starts_with("mallory")) {
        println!("the rolled-back signup (mallory@example.com) sent no email");
    }
    println!(
        "deletion log: {:?}",
        DELETION_LOG.lock().unwrap().as_slice()
    );
    println!("audit trail: {} entries", AUDIT.lock().unwrap().len());

    println!("\n== receiver map (signals_core::map::ReceiverMap::current()) ==");
    print!("{}", ReceiverMap::current().render(MapFormat::Table));
    Ok(())
}
