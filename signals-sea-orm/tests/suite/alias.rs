//! `using` is the alias the connection was named with (`signals_sea_orm::Alias`), so two
//! databases of one backend are told apart, in every model signal: saves, deletes, bulk,
//! inside `signals_sea_orm::transaction` and plain SeaORM transactions. Unnamed
//! connections report the backend.

use std::sync::Mutex;

use crate::common::{databases, reset};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DbErr, IntoActiveModel, Set, TransactionSession,
    TransactionTrait,
};
use signals_core::models::{PostDelete, PostSave, PreDelete, PreSave};
use signals_core::receiver;
use signals_sea_orm::Alias;
use signals_sea_orm::bulk::{self, PostBulkInsert};

entity!(note, "al_notes");

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen(line: String) {
    SEEN.lock().unwrap().push(line);
}

fn take() -> Vec<String> {
    std::mem::take(&mut *SEEN.lock().unwrap())
}

#[receiver(PreSave, sender = note::Model)]
fn pre_save(event: &PreSave<'_, note::Model>) {
    seen(format!("PreSave {}", event.using));
}

#[receiver(PostSave, sender = note::Model)]
fn post_save(event: &PostSave<'_, note::Model>) {
    seen(format!("PostSave {}", event.using));
}

#[receiver(PreDelete, sender = note::Model)]
fn pre_delete(event: &PreDelete<'_, note::Model>) {
    seen(format!("PreDelete {}", event.using));
}

#[receiver(PostDelete, sender = note::Model)]
fn post_delete(event: &PostDelete<'_, note::Model>) {
    seen(format!("PostDelete {}", event.using));
}

#[receiver(PostBulkInsert, sender = note::Model)]
fn bulk_insert(event: &PostBulkInsert<'_, note::Model>) {
    seen(format!("PostBulkInsert {}", event.using));
}

fn draft(name: &str) -> note::ActiveModel {
    note::ActiveModel {
        name: Set(name.into()),
        email: Set(format!("{name}@example.com")),
        score: Set(0),
        ..Default::default()
    }
}

/// Everything a write on `db` sends, each line with the alias seen.
async fn writes<C>(db: &C) -> Vec<String>
where
    C: TransactionTrait + sea_orm::ConnectionTrait,
    C::Transaction: 'static,
{
    let saved = draft("a").insert(db).await.unwrap();
    let mut active = saved.into_active_model();
    active.score = Set(1);
    let updated = active.update(db).await.unwrap();
    updated.into_active_model().delete(db).await.unwrap();
    bulk::insert_many(db, [draft("b"), draft("c")])
        .await
        .unwrap();
    signals_sea_orm::transaction(db, |txn| {
        Box::pin(async move {
            draft("d").insert(txn).await?;
            Ok::<_, DbErr>(())
        })
    })
    .await
    .unwrap();
    let plain = db.begin().await.unwrap();
    draft("e").insert(&plain).await.unwrap();
    plain.commit().await.unwrap();
    take()
}

fn expected(using: &str) -> Vec<String> {
    [
        "PreSave",
        "PostSave",
        "PreSave",
        "PostSave",
        "PreDelete",
        "PostDelete",
        "PostBulkInsert",
        "PreSave",
        "PostSave",
        "PreSave",
        "PostSave",
    ]
    .iter()
    .map(|signal| format!("{signal} {using}"))
    .collect()
}

async fn second(db: &DatabaseConnection) -> DatabaseConnection {
    // Another database of the same backend: a second in-memory SQLite database, or a
    // second connection to the PostgreSQL server.
    let url = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => "sqlite::memory:".to_owned(),
        _ => std::env::var("SIGNALS_PG_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .unwrap(),
    };
    sea_orm::Database::connect(url.as_str()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn using_is_the_alias_of_the_connection() {
    for db in databases().await {
        let other = second(&db).await;
        reset(&db, note::Entity).await;
        reset(&other, note::Entity).await;
        let backend = signals_sea_orm::alias(db.get_database_backend());
        take();

        assert_eq!(writes(&db).await, expected(backend), "unnamed: the backend");
        let primary = Alias::new("primary", db.clone());
        let archive = Alias::new("archive", other);
        assert_eq!(writes(&primary).await, expected("primary"));
        assert_eq!(writes(&archive).await, expected("archive"));
        assert_eq!(primary.name(), "primary");
        // The alias is the connection's, not the last one used on the thread.
        assert_eq!(writes(&db).await, expected(backend));
    }
}
