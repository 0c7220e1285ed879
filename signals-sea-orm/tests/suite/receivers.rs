//! Link-time `#[receiver]`s, sync and `async`, on SeaORM entities (the hooks send with
//! `send_async`, so async receivers run too), in a transaction that is rolled back.

use std::sync::Mutex;

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set, TransactionTrait};
use signals_core::models::{PostSave, PreSave};
use signals_core::receiver;

entity!(author, "rc_authors");

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PreSave, sender = author::Model)]
fn normalise_check(event: &PreSave<'_, author::Model>) {
    let email = event.instance.email.clone();
    SEEN.lock().unwrap().push(format!("pre {email}"));
}

#[receiver(PostSave, sender = author::Model)]
async fn welcome(event: &PostSave<'_, author::Model>) {
    tokio::task::yield_now().await;
    SEEN.lock().unwrap().push(format!(
        "welcome {} created={}",
        event.instance.email, event.created
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_time_sync_and_async_receivers_run() {
    for db in databases().await {
        reset(&db, author::Entity).await;
        author::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        assert_eq!(
            std::mem::take(&mut *SEEN.lock().unwrap()),
            [
                "pre ada@example.com",
                "welcome ada@example.com created=true"
            ]
        );

        // Hooks run inside plain SeaORM transactions like any statement: a rolled-back
        // insert still sent PostSave (Django's behaviour). `signals_sea_orm::transaction`
        // is the commit-aware form (tests/phases.rs).
        let txn = db.begin().await.unwrap();
        author::ActiveModel {
            name: Set("ghost".into()),
            email: Set("ghost@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
        txn.rollback().await.unwrap();
        assert_eq!(author::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(
            std::mem::take(&mut *SEEN.lock().unwrap()),
            [
                "pre ghost@example.com",
                "welcome ghost@example.com created=true"
            ]
        );
    }
}
