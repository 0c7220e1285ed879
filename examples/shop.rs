//! A small shop as a web app: axum on loopback, SeaORM 2 on embedded SQLite (in memory, no
//! server), wired to signals with one line per entity (`signals_sea_orm::behavior!`), the
//! request signals from `signals_tower::SignalsLayer`, the auth signals from
//! `signals_axum_login`, and the signals debug page at `/_signals`.
//!
//! `cargo run --example shop` starts the server on an ephemeral loopback port, drives it
//! with a real HTTP client (sign up, a failed login, login, orders, articles, a handler that
//! panics, a client that disconnects mid-stream, logout), prints every signal as it flows,
//! then the receiver map, and exits. `cargo run --example shop -- --serve` keeps it running
//! on http://127.0.0.1:8000 for a browser or curl (`--serve PORT` for another port).
//!
//! Django's classic signal uses, each a receiver below:
//!
//! | scenario | receiver | when |
//! |---|---|---|
//! | a user signs up → create their profile | `create_profile` | `PostSave(created)`, on commit |
//! | ... and send a welcome email | `send_welcome_email`, async | on commit only |
//! | a product is saved with low stock → warn | `notify_low_stock` | during the save |
//! | an order is placed → notify the admin | `notify_admin`, `send_receipt` | custom `OrderPlaced` |
//! | an article changes → clear its cache | `invalidate_article_cache` | `PostSave` and `PostDelete` |
//! | an article is deleted → log it | `log_article_deletion` | `PreDelete` |
//! | audit every model's changes | `audit_save`, `audit_delete` (no sender) | on commit |
//! | every request: start, end, failure | `log_request_*` | `signals_tower::SignalsLayer` |
//! | logins, failed logins, logouts | `log_login`, `log_login_failed`, `log_logout` | `signals_axum_login` |
//!
//! What Django gets wrong and this fixes: `post_save` runs inside the transaction, before
//! it commits, so a signup that is rolled back still gets its welcome email (unless every
//! receiver remembers `transaction.on_commit`). Here `send_welcome_email` is declared
//! `on = Commit`, and the writes run in `signals_sea_orm::transaction`: the email waits for
//! the commit, and the rolled-back signup below sends none. At the end, the receiver map
//! lists every receiver with its sender, phase and source line: the flow that Django hides.
//!
//! Run: `cargo run --example shop` (or `-- --serve`)

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbErr,
    EntityTrait, ModelTrait, PaginatorTrait, QueryFilter, Schema, Set, TransactionError,
};
use signals_axum_login::{AuthSession, AuthSessionExt, SignalCredentials, SignalingBackend};
use signals_core::auth::{Credentials, UserLoggedIn, UserLoggedOut, UserLoginFailed};
use signals_core::map::{MapFormat, ReceiverMap};
use signals_core::models::{ModelEvent, PostDelete, PostSave, PreDelete};
use signals_core::prelude::*;
use signals_core::request::{GotRequestException, RequestFinished, RequestMeta, RequestStarted};
use signals_core::transaction;
use signals_tower::debug::{DebugPage, MermaidJs, SendLog};
use signals_tower::{SignalsLayer, panic_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_sessions::{MemoryStore, SessionManagerLayer};
use tracing_subscriber::prelude::*;

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

/// "When a user registers, create a profile automatically". On commit,
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

/// Django's classic `send_welcome_email`, but only once the user really exists: `on = Commit`.
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

/// "Warn when a product is saved with low stock", during the save.
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

/// Sent by `place_order` when a customer places an order ("when an order is placed, send
/// a notification to the admin").
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

/// One receiver, two signals ("clear caches after updates and deletes").
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

/// "Log an article before it is deleted".
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

// --- Requests: the signals tower layer -----------------------------------------------------

fn route_of(request: &RequestMeta<'_>) -> String {
    match request.route {
        Some(route) => format!("route {route}"),
        None => "no route".to_owned(),
    }
}

/// Django's `request_started`, from `signals_tower::SignalsLayer`.
#[receiver(RequestStarted)]
fn log_request_started(event: &RequestStarted<'_>) {
    let r = event.request;
    println!(
        "  [request_started] {} {} ({})",
        r.method,
        r.path,
        route_of(&r)
    );
}

/// Django's `got_request_exception`: a 5xx, or a panic caught inside the layer.
#[receiver(GotRequestException)]
fn log_request_exception(event: &GotRequestException<'_>) {
    let r = event.request;
    println!(
        "  [got_request_exception] {} {}: {}",
        r.method, r.path, event.error
    );
}

/// Django's `request_finished`: when the body has been sent, or dropped (client gone).
#[receiver(RequestFinished)]
fn log_request_finished(event: &RequestFinished<'_>) {
    let r = event.request;
    let status = event
        .status
        .map_or("no response".to_owned(), |s| s.to_string());
    let how = match event.complete {
        true => "complete",
        false => "incomplete: the client went away",
    };
    println!(
        "  [request_finished] {} {} -> {status}, {how}",
        r.method, r.path
    );
}

// --- Auth: axum-login, decorated -------------------------------------------------------------

/// The users table is the login backend (every password is `open sesame`, for the demo).
impl AuthUser for user::Model {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        self.email.as_bytes()
    }
}

#[derive(Clone, serde::Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

impl SignalCredentials for LoginForm {
    fn signal_credentials(&self) -> Credentials {
        Credentials::new([
            ("email", self.email.as_str()),
            ("password", self.password.as_str()),
        ])
    }
}

#[derive(Clone)]
struct ShopUsers;

impl AuthnBackend for ShopUsers {
    type User = user::Model;
    type Credentials = LoginForm;
    type Error = DbErr;

    async fn authenticate(&self, login: LoginForm) -> Result<Option<user::Model>, DbErr> {
        let found = user::Entity::find()
            .filter(user::Column::Email.eq(login.email))
            .one(db())
            .await?;
        Ok(found.filter(|_| login.password == "open sesame"))
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<user::Model>, DbErr> {
        user::Entity::find_by_id(*id).one(db()).await
    }
}

fn request_of(request: Option<RequestMeta<'_>>) -> String {
    request.map_or("no request".to_owned(), |r| {
        format!("{} {}", r.method, r.path)
    })
}

/// Django's `user_login_failed`: the password is masked before any receiver sees it.
#[receiver(UserLoginFailed)]
fn log_login_failed(event: &UserLoginFailed<'_>) {
    let pairs: Vec<String> = event
        .credentials
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "  [user_login_failed] {} ({})",
        pairs.join(" "),
        request_of(event.request)
    );
}

#[receiver(UserLoggedIn, sender = user::Model)]
fn log_login(event: &UserLoggedIn<'_, user::Model>) {
    println!(
        "  [user_logged_in] {} ({})",
        event.user.email,
        request_of(event.request)
    );
}

#[receiver(UserLoggedOut, sender = user::Model)]
fn log_logout(event: &UserLoggedOut<'_, user::Model>) {
    println!(
        "  [user_logged_out] {} ({})",
        event.user.email,
        request_of(event.request)
    );
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

// --- The web app ----------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct SignupForm {
    email: String,
    card: String,
}

async fn signup_page(Form(form): Form<SignupForm>) -> Response {
    match sign_up(&form.email, form.card == "ok").await {
        Ok(user) => (StatusCode::CREATED, format!("welcome, user #{}", user.id)).into_response(),
        Err(TransactionError::Transaction(ShopError::CardDeclined(email))) => (
            StatusCode::PAYMENT_REQUIRED,
            format!("sign-up of {email} failed: card declined"),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn login_page(
    mut auth: AuthSession<ShopUsers>,
    parts: Parts,
    Form(login): Form<LoginForm>,
) -> Response {
    match auth.authenticate_signaled(login, &parts).await {
        Ok(Some(user)) => match auth.login_signaled(&user, &parts).await {
            Ok(()) => format!("logged in as {}", user.email).into_response(),
            Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
        },
        Ok(None) => (StatusCode::UNAUTHORIZED, "wrong email or password").into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn logout_page(mut auth: AuthSession<ShopUsers>, parts: Parts) -> Response {
    match auth.logout_signaled(&parts).await {
        Ok(_) => "logged out".into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct ProductForm {
    name: String,
    stock: i32,
}

async fn product_page(Form(form): Form<ProductForm>) -> Response {
    match add_product(&form.name, form.stock).await {
        Ok(p) => (StatusCode::CREATED, format!("product #{}", p.id)).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct OrderForm {
    product_id: i64,
    quantity: i32,
}

async fn order_page(auth: AuthSession<ShopUsers>, Form(form): Form<OrderForm>) -> Response {
    let Some(customer) = auth.user else {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    };
    match place_order(&customer, form.product_id, form.quantity).await {
        Ok(order) => (StatusCode::CREATED, format!("order #{}", order.id)).into_response(),
        Err(TransactionError::Transaction(error @ ShopError::OutOfStock { .. })) => {
            (StatusCode::CONFLICT, format!("order refused: {error}")).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct ArticleForm {
    title: String,
    body: String,
}

async fn publish_page(Form(form): Form<ArticleForm>) -> Response {
    let saved = article::ActiveModel {
        title: Set(form.title),
        body: Set(form.body),
        ..Default::default()
    }
    .insert(db())
    .await;
    match saved {
        Ok(a) => (StatusCode::CREATED, format!("article #{}", a.id)).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn article_page(Path(id): Path<i64>) -> Response {
    match view_article(id).await {
        Ok(()) => CACHE
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_default()
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn edit_page(Path(id): Path<i64>, Form(form): Form<ArticleForm>) -> Response {
    let edited = async {
        let post = article::Entity::find_by_id(id)
            .one(db())
            .await?
            .ok_or(DbErr::RecordNotFound(format!("article #{id}")))?;
        let mut edit: article::ActiveModel = post.into();
        edit.title = Set(form.title);
        edit.body = Set(form.body);
        edit.update(db()).await
    };
    match edited.await {
        Ok(a) => format!("article #{} saved", a.id).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn delete_page(Path(id): Path<i64>) -> Response {
    let deleted = async {
        let post = article::Entity::find_by_id(id)
            .one(db())
            .await?
            .ok_or(DbErr::RecordNotFound(format!("article #{id}")))?;
        post.delete(db()).await
    };
    match deleted.await {
        Ok(_) => format!("article #{id} deleted").into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// A handler with a bug: `CatchPanicLayer` answers 500, the layer reports the message.
async fn broken_page() -> String {
    let figures: Vec<i32> = STOCK_FIGURES.lock().unwrap().clone();
    let first = figures
        .first()
        .expect("the stock report has no stock figures yet");
    format!("stock: {first}")
}

/// Never filled in: the report's bug.
static STOCK_FIGURES: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// A long export, one line every 10 ms: a client that leaves midway drops the body.
async fn export_page() -> Body {
    let lines = futures_util::stream::unfold(1u32, |n| async move {
        if n > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (n <= 1000).then(|| {
            (
                Ok::<_, Infallible>(Bytes::from(format!("order,{n}\n"))),
                n + 1,
            )
        })
    });
    Body::from_stream(lines)
}

fn app(log: SendLog) -> Result<Router, Box<dyn std::error::Error>> {
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let auth = AuthManagerLayerBuilder::new(SignalingBackend::new(ShopUsers), sessions).build();
    // Mermaid's bundle for the debug page: a local file when given, else the pinned CDN.
    let mermaid = match std::env::var_os("SIGNALS_MERMAID_JS") {
        Some(path) => MermaidJs::File(path.into()),
        None => MermaidJs::default(),
    };
    let debug = DebugPage::new(log).mermaid_js(mermaid).router()?;
    Ok(Router::new()
        .route("/signup", post(signup_page))
        .route("/login", post(login_page))
        .route("/logout", post(logout_page))
        .route("/products", post(product_page))
        .route("/orders", post(order_page))
        .route("/orders/export", get(export_page))
        .route("/reports/stock", get(broken_page))
        .route("/articles", post(publish_page))
        .route("/articles/{id}", get(article_page).delete(delete_page))
        .route("/articles/{id}/edit", post(edit_page))
        .layer(
            tower::ServiceBuilder::new()
                // Outside the panic layer, so that the panic's 500 passes through it.
                .layer(SignalsLayer::new())
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(auth),
        )
        .nest("/_signals", debug))
}

/// A real HTTP client that keeps the session cookie.
struct Browser {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    cookie: Option<String>,
}

impl Browser {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: &str,
    ) -> Result<(u16, String), Box<dyn std::error::Error>> {
        match form {
            "" => println!("\n{method} {path}"),
            form => println!("\n{method} {path}  {form}"),
        }
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(form.to_owned())))?)
            .await?;
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = set.to_str()?.split(';').next().map(str::to_owned);
        }
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        println!("<- {status} {}", body.lines().next().unwrap_or_default());
        Ok((status, body))
    }
}

/// Reads the export's first lines, then hangs up.
async fn leave_mid_stream(addr: SocketAddr) -> std::io::Result<()> {
    println!("\nGET /orders/export  (the client hangs up after the first lines)");
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket
        .write_all(b"GET /orders/export HTTP/1.1\r\nhost: shop\r\n\r\n")
        .await?;
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&received).contains("order,2") {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    println!("<- 200, first lines received; hanging up");
    drop(socket);
    // The server notices at its next write.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// The scenario, through HTTP.
async fn drive(addr: SocketAddr, log: &SendLog) -> Result<(), Box<dyn std::error::Error>> {
    let mut web = Browser {
        base: format!("http://{addr}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
        cookie: None,
    };

    println!("\n== 1. users: profile and welcome email after the commit ==");
    web.send("POST", "/signup", "email=ada%40example.com&card=ok")
        .await?;
    web.send(
        "POST",
        "/signup",
        "email=mallory%40example.com&card=declined",
    )
    .await?;

    println!("\n== 2. auth: a failed login, a login ==");
    web.send("POST", "/login", "email=ada%40example.com&password=hunter2")
        .await?;
    web.send(
        "POST",
        "/login",
        "email=ada%40example.com&password=open+sesame",
    )
    .await?;

    println!("\n== 3. products: low-stock warning ==");
    web.send("POST", "/products", "name=Pen&stock=10").await?;
    web.send("POST", "/products", "name=Notebook&stock=3")
        .await?;

    println!("\n== 4. orders: OrderPlaced ==");
    web.send("POST", "/orders", "product_id=1&quantity=2")
        .await?;
    web.send("POST", "/orders", "product_id=1&quantity=5")
        .await?;
    web.send("POST", "/orders", "product_id=1&quantity=9")
        .await?;

    println!("\n== 5. articles: cache invalidation and deletion log ==");
    web.send(
        "POST",
        "/articles",
        "title=Signals+in+Rust&body=Typed+payloads",
    )
    .await?;
    web.send("GET", "/articles/1", "").await?;
    web.send("GET", "/articles/1", "").await?;
    web.send(
        "POST",
        "/articles/1/edit",
        "title=Signals+in+Rust%2C+revised&body=Typed+payloads",
    )
    .await?;
    web.send("GET", "/articles/1", "").await?;
    web.send("DELETE", "/articles/1", "").await?;

    println!("\n== 6. failures: a handler that panics, a client that leaves ==");
    web.send("GET", "/reports/stock", "").await?;
    leave_mid_stream(addr).await?;

    println!("\n== 7. logout ==");
    web.send("POST", "/logout", "").await?;

    println!("\n== 8. the signals debug page ==");
    let (status, html) = web.send("GET", "/_signals", "").await?;
    println!(
        "debug page: {status}, {} bytes, {} sends recorded (open it with --serve)",
        html.len(),
        log.sends().len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve_port = {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.iter().position(|a| a == "--serve") {
            Some(i) => Some(args.get(i + 1).map_or(Ok(8000), |p| p.parse::<u16>())?),
            None => None,
        }
    };
    // The debug page's record of the last sends, from signals-core's tracing spans.
    let log = SendLog::new(200);
    tracing_subscriber::registry().with(log.layer()).init();
    // The handler with a bug panics on purpose: keep its report to one line.
    std::panic::set_hook(Box::new(|info| eprintln!("(panic in a handler: {info})")));

    let conn = Database::connect("sqlite::memory:").await?;
    create_tables(&conn).await?;
    DB.set(conn).expect("opened once");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", serve_port.unwrap_or(0))).await?;
    let addr = listener.local_addr()?;
    let server = axum::serve(listener, app(log.clone())?);
    if serve_port.is_some() {
        println!("the shop: http://{addr}  (debug page: http://{addr}/_signals)");
        println!("try: curl -X POST -d 'email=ada%40example.com&card=ok' http://{addr}/signup");
        server.await?;
        return Ok(());
    }
    tokio::spawn(async move { server.await });
    println!("== a shop on axum + SQLite (in memory) at http://{addr}, driven over HTTP ==");
    drive(addr, &log).await?;

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
