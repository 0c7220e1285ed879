//! Receivers write in the write's transaction (Django's default): an `async` `PostSave`
//! receiver creates the profile through `signals_sea_orm::db(event)`, so the user and its
//! profile commit or roll back together, on the pool, in `signals_sea_orm::transaction`,
//! `begin`, a nested transaction and a plain SeaORM transaction. On in-memory SQLite
//! (one connection) a receiver writing through the pool would wait 30 s for a connection:
//! every step here is bounded to a few seconds.

use std::sync::Mutex;
use std::time::Duration;

use crate::common::{databases, reset};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, Set,
    TransactionTrait,
};
use signals_core::models::{PostDelete, PostSave};
use signals_core::receiver;

entity!(member, "at_members");

pub mod profile {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "at_profiles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub member_id: i64,
        pub bio: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

/// Django's `create_profile`: in the write's transaction.
#[receiver(PostSave, sender = member::Model)]
async fn create_profile(event: &PostSave<'_, member::Model>) -> Result<(), DbErr> {
    if event.created {
        let db = signals_sea_orm::db(event)?;
        // A read in the same transaction sees the row being saved.
        let me = member::Entity::find_by_id(event.instance.id)
            .one(&db)
            .await?;
        assert!(me.is_some(), "the receiver sees the uncommitted member");
        profile::ActiveModel {
            member_id: Set(event.instance.id),
            bio: Set(format!("{} writes here", event.instance.name)),
            ..Default::default()
        }
        .insert(&db)
        .await?;
    }
    Ok(())
}

/// Deletes cascade by hand, in the same transaction.
#[receiver(PostDelete, sender = member::Model)]
async fn drop_profile(event: &PostDelete<'_, member::Model>) -> Result<(), DbErr> {
    let db = signals_sea_orm::db(event)?;
    profile::Entity::delete_many()
        .filter_by_member(event.instance.id)
        .exec(&db)
        .await?;
    Ok(())
}

static AFTER_COMMIT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs after the commit: the transaction is gone, so the lent handle refuses to write.
#[receiver(PostSave, sender = member::Model, on = Commit)]
async fn after_commit(event: &PostSave<'_, member::Model>) {
    let db = signals_sea_orm::db(event).expect("a handle is lent");
    let refused = profile::Entity::find().count(&db).await;
    AFTER_COMMIT.lock().unwrap().push(match refused {
        Ok(n) => format!("read {n}"),
        Err(err) => format!("refused: {err}"),
    });
}

trait FilterByMember {
    fn filter_by_member(self, id: i64) -> Self;
}

impl FilterByMember for sea_orm::DeleteMany<profile::Entity> {
    fn filter_by_member(self, id: i64) -> Self {
        use sea_orm::{ColumnTrait, QueryFilter};
        self.filter(profile::Column::MemberId.eq(id))
    }
}

fn signup(name: &str) -> member::ActiveModel {
    member::ActiveModel {
        name: Set(name.into()),
        email: Set(format!("{name}@example.com")),
        score: Set(0),
        ..Default::default()
    }
}

async fn counts<C: ConnectionTrait>(db: &C) -> (u64, u64) {
    (
        member::Entity::find().count(db).await.unwrap(),
        profile::Entity::find().count(db).await.unwrap(),
    )
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} took over 10 s (waiting for a connection?)"))
}

async fn scenarios(db: &DatabaseConnection) {
    reset(db, member::Entity).await;
    reset(db, profile::Entity).await;
    AFTER_COMMIT.lock().unwrap().clear();

    // On the pool: the profile is written too.
    bounded("insert on the pool", signup("ada").insert(db))
        .await
        .unwrap();
    assert_eq!(counts(db).await, (1, 1));
    // Outside a signals transaction an `on = Commit` receiver runs during the write, with
    // the pool lent.
    let during = std::mem::take(&mut *AFTER_COMMIT.lock().unwrap());
    assert!(
        matches!(during.as_slice(), [read] if read.starts_with("read ")),
        "{during:?}"
    );

    // signals_sea_orm::transaction, rolled back: both rows gone.
    let rolled_back = bounded(
        "transaction rolled back",
        signals_sea_orm::transaction(db, |txn| {
            Box::pin(async move {
                signup("ghost").insert(txn).await?;
                assert_eq!(counts(txn).await, (2, 2), "both rows, inside");
                Err::<(), DbErr>(DbErr::Custom("card declined".into()))
            })
        }),
    )
    .await;
    assert!(rolled_back.is_err());
    assert_eq!(counts(db).await, (1, 1), "the rollback removed both rows");
    assert!(AFTER_COMMIT.lock().unwrap().is_empty());

    // Committed: both rows; the on = Commit receiver ran after it, with a dead handle.
    bounded(
        "transaction committed",
        signals_sea_orm::transaction(db, |txn| {
            Box::pin(async move {
                signup("bob").insert(txn).await?;
                Ok::<_, DbErr>(())
            })
        }),
    )
    .await
    .unwrap();
    assert_eq!(counts(db).await, (2, 2));
    let after = std::mem::take(&mut *AFTER_COMMIT.lock().unwrap());
    assert_eq!(after.len(), 1);
    assert!(
        after[0].starts_with("refused: ") && after[0].contains("has ended"),
        "{after:?}"
    );

    // A nested transaction (savepoint) rolled back inside a committed one.
    bounded("nested", async {
        let outer = signals_sea_orm::begin(db).await.unwrap();
        outer
            .run(async {
                signup("carol").insert(outer.conn()).await.unwrap();
                let inner = signals_sea_orm::begin(outer.conn()).await.unwrap();
                inner
                    .run(signup("dave").insert(inner.conn()))
                    .await
                    .unwrap();
                assert_eq!(counts(inner.conn()).await, (4, 4));
                inner.rollback().await.unwrap();
            })
            .await;
        outer.commit().await.unwrap();
    })
    .await;
    assert_eq!(counts(db).await, (3, 3), "carol kept, dave rolled back");

    // A delete receiver deletes in the same transaction, rolled back with it.
    let carol = member::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == "carol")
        .unwrap();
    let txn = signals_sea_orm::begin(db).await.unwrap();
    let deleted: member::ActiveModel = carol.clone().into();
    bounded("delete", txn.run(deleted.delete(txn.conn())))
        .await
        .unwrap();
    assert_eq!(counts(txn.conn()).await, (2, 2));
    txn.rollback().await.unwrap();
    assert_eq!(counts(db).await, (3, 3));

    // A plain SeaORM transaction: the hook's connection is the transaction, lent as is.
    let plain = db.begin().await.unwrap();
    bounded("plain SeaORM transaction", signup("erin").insert(&plain))
        .await
        .unwrap();
    assert_eq!(counts(&plain).await, (4, 4));
    plain.rollback().await.unwrap();
    assert_eq!(counts(db).await, (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_write_in_the_writes_transaction() {
    for db in databases().await {
        scenarios(&db).await;
    }
}
