//! Transaction phases through SeaORM: `signals_sea_orm::transaction` / `begin` queue the
//! deliveries of `on = Commit | Rollback | Completion` receivers until the database
//! transaction ends, on SQLite and PostgreSQL. Each test has its own entities, so the
//! link-time receivers of one test never see another test's rows.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::{databases, reset};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait, ModelTrait, PaginatorTrait,
    QueryOrder, Set, TransactionError,
};
use signals_core::ReceiverError;
use signals_core::models::{M2mAction, M2mChanged, PostDelete, PostSave, PreSave};
use signals_core::prelude::*;

entity!(account, "ph_accounts");
entity!(item, "ph_items");
entity!(order, "ph_orders");
entity!(row, "ph_rows");

pub mod link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ph_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel, junction(item_id => "Item", tag_id => "Tag"));
}

fn new_row<A: From<(String, String)>>(name: &str) -> A {
    A::from((name.to_owned(), format!("{name}@example.com")))
}

macro_rules! from_name {
    ($($m:ident),*) => {$(
        impl From<(String, String)> for $m::ActiveModel {
            fn from((name, email): (String, String)) -> Self {
                $m::ActiveModel {
                    name: Set(name),
                    email: Set(email),
                    score: Set(0),
                    ..Default::default()
                }
            }
        }
    )*};
}
from_name!(account, item, order, row);

/// A log that link-time receivers write to.
struct StaticLog(Mutex<Vec<String>>);

impl StaticLog {
    const fn new() -> Self {
        StaticLog(Mutex::new(Vec::new()))
    }
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    /// Everything logged so far, emptying the log.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The rollback reason the tests return from their transaction closures.
#[derive(Debug, thiserror::Error)]
#[error("rolled back on purpose")]
struct Abort;

#[derive(Debug, thiserror::Error)]
enum TestErr {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Abort(#[from] Abort),
}

async fn names<E>(db: &DatabaseConnection, _: E) -> Vec<String>
where
    E: EntityTrait,
    E::Model: HasName,
{
    let mut names: Vec<String> = E::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    names.sort();
    names
}

trait HasName {
    fn name(&self) -> &str;
}
macro_rules! has_name {
    ($($m:ident),*) => {$(
        impl HasName for $m::Model {
            fn name(&self) -> &str { &self.name }
        }
    )*};
}
has_name!(account, item, order, row);

// --- A rollback: on-commit receivers never run ----------------------------------------------

static ACCOUNT_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn account_log() -> Vec<String> {
    std::mem::take(&mut *ACCOUNT_LOG.lock().unwrap())
}

#[receiver(PostSave, sender = account::Model)]
fn account_saved_now(e: &PostSave<'_, account::Model>) {
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("now {}", e.instance.name));
}

#[receiver(PostSave, sender = account::Model, on = Commit)]
fn account_welcome(e: &PostSave<'_, account::Model>) {
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("commit {} created={}", e.instance.name, e.created));
}

#[receiver(PostSave, sender = account::Model, on = Commit)]
async fn account_welcome_async(e: &PostSave<'_, account::Model>) {
    tokio::task::yield_now().await;
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("commit-async {}", e.instance.name));
}

#[receiver(PostSave, sender = account::Model, on = Rollback)]
fn account_rolled_back(e: &PostSave<'_, account::Model>) {
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("rollback {}", e.instance.name));
}

/// A pre-receiver may wait too: `on = Rollback` sees the write that was attempted.
#[receiver(PreSave, sender = account::Model, on = Rollback)]
fn account_attempt_rolled_back(e: &PreSave<'_, account::Model>) {
    let name = e.instance.name.clone();
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("attempt rolled back {name}"));
}

#[receiver(PostDelete, sender = account::Model, on = Completion)]
fn account_deleted(e: &PostDelete<'_, account::Model>) {
    ACCOUNT_LOG
        .lock()
        .unwrap()
        .push(format!("deleted {}", e.instance.name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_commit_receivers_wait_for_the_commit_and_never_run_on_rollback() {
    for db in databases().await {
        reset(&db, account::Entity).await;

        // Rolled back: the immediate receiver ran during the insert, the Commit receivers
        // never ran, the Rollback receivers ran after the rollback.
        let result = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                new_row::<account::ActiveModel>("ghost").insert(txn).await?;
                assert_eq!(ACCOUNT_LOG.lock().unwrap().clone(), ["now ghost"]);
                Err::<(), TestErr>(Abort.into())
            })
        })
        .await;
        assert!(matches!(
            result,
            Err(TransactionError::Transaction(TestErr::Abort(_)))
        ));
        assert_eq!(account::Entity::find().count(&db).await.unwrap(), 0);
        assert_eq!(
            account_log(),
            ["now ghost", "attempt rolled back ghost", "rollback ghost"]
        );

        // Committed: the Commit receivers ran after the commit, not during the insert.
        let ada = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                let ada = new_row::<account::ActiveModel>("ada").insert(txn).await?;
                let mut rename: account::ActiveModel = ada.into();
                rename.score = Set(3);
                let ada = rename.update(txn).await?;
                assert_eq!(ACCOUNT_LOG.lock().unwrap().clone(), ["now ada", "now ada"]);
                Ok::<_, DbErr>(ada)
            })
        })
        .await
        .unwrap();
        assert_eq!(
            account_log(),
            [
                "now ada",
                "now ada",
                "commit ada created=true",
                "commit-async ada",
                "commit ada created=false",
                "commit-async ada",
            ]
        );

        // A delete inside a transaction: Completion waits for the end either way.
        let result = signals_sea_orm::transaction(&db, |txn| {
            let ada = ada.clone();
            Box::pin(async move {
                ada.delete(txn).await?;
                assert!(ACCOUNT_LOG.lock().unwrap().is_empty());
                Err::<(), TestErr>(Abort.into())
            })
        })
        .await;
        assert!(result.is_err());
        assert_eq!(account::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(account_log(), ["deleted ada"]);

        // No transaction open: Commit receivers run at once, Rollback ones never.
        new_row::<account::ActiveModel>("bob")
            .insert(&db)
            .await
            .unwrap();
        assert_eq!(
            account_log(),
            ["now bob", "commit bob created=true", "commit-async bob"]
        );

        // The explicit form: begin, run the writes in its scope, rollback.
        let txn = signals_sea_orm::begin(&db).await.unwrap();
        assert!(txn.is_outermost());
        txn.run(new_row::<account::ActiveModel>("carol").insert(txn.conn()))
            .await
            .unwrap();
        assert_eq!(account_log(), ["now carol"]);
        assert!(txn.rollback().await.unwrap().is_empty());
        assert_eq!(
            account_log(),
            ["attempt rolled back carol", "rollback carol"]
        );

        // Dropped unfinished: rolled back by SeaORM, and so are its deliveries: the
        // Rollback receivers run (detached, on the runtime), the Commit ones never.
        let txn = signals_sea_orm::begin(&db).await.unwrap();
        txn.run(new_row::<account::ActiveModel>("dave").insert(&*txn))
            .await
            .unwrap();
        drop(txn);
        let mut log = account_log();
        for _ in 0..200 {
            if log.len() >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            log.extend(account_log());
        }
        assert_eq!(
            log,
            ["now dave", "attempt rolled back dave", "rollback dave"]
        );
        assert_eq!(names(&db, account::Entity).await, ["ada", "bob"]);
    }
}

// --- Savepoints -----------------------------------------------------------------------------

static ITEM_LOG: StaticLog = StaticLog::new();

#[receiver(PostSave, sender = item::Model, on = Commit)]
fn item_committed(e: &PostSave<'_, item::Model>) {
    ITEM_LOG.push(format!("commit {}", e.instance.name));
}

#[receiver(M2mChanged, sender = link::Model, on = Commit)]
fn item_tagged(e: &M2mChanged<'_, link::Model>) {
    if e.action == M2mAction::PostAdd {
        ITEM_LOG.push(format!(
            "tagged item {:?} with {:?}",
            signals_core::models::Model::pk(e.instance),
            e.pk_set.unwrap_or_default()
        ));
    }
}

async fn insert_item<C: sea_orm::ConnectionTrait>(db: &C, name: &str) -> Result<i64, DbErr> {
    Ok(new_row::<item::ActiveModel>(name).insert(db).await?.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_savepoint_drops_its_deliveries_and_a_released_one_waits_for_the_outer_commit()
 {
    for db in databases().await {
        reset(&db, item::Entity).await;
        reset(&db, link::Entity).await;

        signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                insert_item(txn, "outer-1").await?;

                // Nested, rolled back: its row and its deliveries are gone.
                let nested = signals_sea_orm::transaction(txn, |sp| {
                    Box::pin(async move {
                        insert_item(sp, "undone").await?;
                        Err::<(), TestErr>(Abort.into())
                    })
                })
                .await;
                assert!(nested.is_err());

                // Nested, released: delivered at the outer commit only.
                let kept = signals_sea_orm::transaction(txn, |sp| {
                    Box::pin(async move {
                        let id = insert_item(sp, "released").await?;
                        link::ActiveModel {
                            item_id: Set(id),
                            tag_id: Set(7),
                        }
                        .insert(sp)
                        .await?;
                        Ok::<_, DbErr>(id)
                    })
                })
                .await
                .unwrap();

                // The explicit form nests the same way.
                let sp = signals_sea_orm::begin(txn).await?;
                assert!(!sp.is_outermost());
                insert_item(sp.conn(), "explicit-undone").await?;
                sp.rollback().await?;

                insert_item(txn, "outer-2").await?;
                assert!(
                    ITEM_LOG.take().is_empty(),
                    "a released savepoint does not deliver"
                );
                Ok::<_, DbErr>(kept)
            })
        })
        .await
        .unwrap();

        assert_eq!(
            names(&db, item::Entity).await,
            ["outer-1", "outer-2", "released"]
        );
        let released = item::Entity::find()
            .order_by_asc(item::Column::Name)
            .all(&db)
            .await
            .unwrap()[2]
            .id;
        assert_eq!(
            ITEM_LOG.take(),
            [
                "commit outer-1".to_owned(),
                "commit released".to_owned(),
                format!("tagged item Some({released}) with [7]"),
                "commit outer-2".to_owned(),
            ]
        );

        // A released savepoint inside a rolled-back transaction: nothing.
        let result = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                signals_sea_orm::transaction(txn, |sp| {
                    Box::pin(async move { insert_item(sp, "lost").await })
                })
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
                Err::<(), TestErr>(Abort.into())
            })
        })
        .await;
        assert!(result.is_err());
        assert!(ITEM_LOG.take().is_empty());
        assert_eq!(item::Entity::find().count(&db).await.unwrap(), 3);
    }
}

// --- A failing on-commit receiver: logged, reported, never un-commits -----------------------

#[derive(Debug, thiserror::Error)]
#[error("mailer down for order {0}")]
struct MailerDown(String);

static ORDER_LOG: StaticLog = StaticLog::new();

#[receiver(PostSave, sender = order::Model, on = Commit, priority = 2)]
fn order_mail_fails(e: &PostSave<'_, order::Model>) -> Result<(), MailerDown> {
    Err(MailerDown(e.instance.name.clone()))
}

#[receiver(PostSave, sender = order::Model, on = Commit, priority = 1)]
fn order_invoice(e: &PostSave<'_, order::Model>) {
    ORDER_LOG.push(format!("invoice {}", e.instance.name));
}

#[receiver(PostSave, sender = order::Model, on = Commit)]
async fn order_ship(e: &PostSave<'_, order::Model>) {
    tokio::task::yield_now().await;
    ORDER_LOG.push(format!("ship {}", e.instance.name));
}

/// Collects the `tracing` events of target `signals_core::transaction`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        if event.metadata().target() == "signals_core::transaction" {
            let mut fields = Fields(format!("{}:", event.metadata().level()));
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
    }
}

// current_thread: the capturing subscriber is set for this thread.
#[tokio::test]
async fn a_failing_on_commit_receiver_is_logged_and_reported_and_does_not_affect_the_commit() {
    use tracing_subscriber::layer::SubscriberExt;
    let capture = Capture::default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));

    for db in databases().await {
        reset(&db, order::Entity).await;

        // The closure form: Ok (committed), the failure logged, the others ran.
        let id = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                Ok::<_, DbErr>(new_row::<order::ActiveModel>("o-1").insert(txn).await?.id)
            })
        })
        .await
        .expect("a failing on-commit receiver does not fail the transaction");
        assert!(
            order::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(ORDER_LOG.take(), ["invoice o-1", "ship o-1"]);
        let logged = std::mem::take(&mut *capture.0.lock().unwrap());
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].starts_with("ERROR:"), "{logged:?}");
        assert!(logged[0].contains("order_mail_fails"), "{logged:?}");
        assert!(
            logged[0].contains("mailer down for order o-1"),
            "{logged:?}"
        );

        // The explicit form reports the failures as values.
        let txn = signals_sea_orm::begin(&db).await.unwrap();
        txn.run(new_row::<order::ActiveModel>("o-2").insert(txn.conn()))
            .await
            .unwrap();
        let failures = txn.commit().await.unwrap();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].receiver.name().ends_with("order_mail_fails"));
        match &failures[0].error {
            ReceiverError::Failed(error) => {
                assert_eq!(error.to_string(), "mailer down for order o-2")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ORDER_LOG.take(), ["invoice o-2", "ship o-2"]);
        assert_eq!(names(&db, order::Entity).await, ["o-1", "o-2"]);
        capture.0.lock().unwrap().clear();
    }
}

// --- Nothing is lost: many concurrent writers -----------------------------------------------

static COMMITTED_SYNC: Mutex<Vec<String>> = Mutex::new(Vec::new());
static COMMITTED_ASYNC: Mutex<Vec<String>> = Mutex::new(Vec::new());
static ROLLED_BACK: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PostSave, sender = row::Model, on = Commit)]
fn row_committed(e: &PostSave<'_, row::Model>) {
    COMMITTED_SYNC.lock().unwrap().push(e.instance.name.clone());
}

#[receiver(PostSave, sender = row::Model, on = Commit)]
async fn row_committed_async(e: &PostSave<'_, row::Model>) {
    tokio::task::yield_now().await;
    COMMITTED_ASYNC
        .lock()
        .unwrap()
        .push(e.instance.name.clone());
}

#[receiver(PostSave, sender = row::Model, on = Rollback)]
fn row_rolled_back(e: &PostSave<'_, row::Model>) {
    ROLLED_BACK.lock().unwrap().push(e.instance.name.clone());
}

const TASKS: usize = 8;
const WRITES: usize = 200;

fn sorted(log: &Mutex<Vec<String>>) -> Vec<String> {
    let mut names = std::mem::take(&mut *log.lock().unwrap());
    names.sort();
    names
}

/// 8 tasks × 200 writes, each in its own `signals_sea_orm::transaction`, every 7th rolled
/// back: checked against the rows actually in the database, every committed row got
/// exactly one delivery per on-commit receiver (sync and async), and no rolled-back row
/// got any.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_every_committed_row_gets_exactly_one_delivery() {
    for db in databases().await {
        reset(&db, row::Entity).await;
        let writers: Vec<_> = (0..TASKS)
            .map(|task| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut attempted = Vec::new();
                    for i in 0..WRITES {
                        let name = format!("t{task}-{i:03}");
                        attempted.push(name.clone());
                        let result = signals_sea_orm::transaction(&db, |txn| {
                            Box::pin(async move {
                                new_row::<row::ActiveModel>(&name).insert(txn).await?;
                                tokio::task::yield_now().await; // interleave with the others
                                if i % 7 == 3 {
                                    return Err(TestErr::Abort(Abort));
                                }
                                Ok(())
                            })
                        })
                        .await;
                        match result {
                            Ok(()) => {}
                            Err(TransactionError::Transaction(TestErr::Abort(_))) => {}
                            Err(other) => panic!("write {task}/{i} failed: {other}"),
                        }
                    }
                    attempted
                })
            })
            .collect();
        let mut attempted = BTreeSet::new();
        for writer in writers {
            attempted.extend(writer.await.unwrap());
        }

        let in_db = names(&db, row::Entity).await;
        let rolled_back: Vec<String> = attempted
            .iter()
            .filter(|n| in_db.binary_search(n).is_err())
            .cloned()
            .collect();
        let per_task_rollbacks = (0..WRITES).filter(|i| i % 7 == 3).count();
        assert_eq!(attempted.len(), TASKS * WRITES);
        assert_eq!(rolled_back.len(), TASKS * per_task_rollbacks);
        assert_eq!(in_db.len(), TASKS * (WRITES - per_task_rollbacks));
        assert_eq!(sorted(&COMMITTED_SYNC), in_db, "sync on-commit receiver");
        assert_eq!(sorted(&COMMITTED_ASYNC), in_db, "async on-commit receiver");
        assert_eq!(sorted(&ROLLED_BACK), rolled_back, "on-rollback receiver");
    }
}
