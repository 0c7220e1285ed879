//! Cancellation loses nothing: a caller that gives up on `signals_sea_orm::transaction`
//! (or `SignalsTxn::commit`) after the database commit succeeded still gets every
//! `on = Commit` delivery, each exactly once; one that gives up before leaves a rollback
//! (no rows, no deliveries). On SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, PaginatorTrait, Set};
use signals_core::models::PostSave;
use signals_core::{ConnectOptions, Phase};

entity!(ticket, "cx_tickets");

fn new_ticket(n: usize) -> ticket::ActiveModel {
    ticket::ActiveModel {
        name: Set(format!("t{n}")),
        email: Set(format!("t{n}@example.com")),
        score: Set(0),
        ..Default::default()
    }
}

/// Counts the deliveries per row id, and wakes the test when the first one starts.
#[derive(Clone, Default)]
struct Deliveries {
    per_row: Arc<Mutex<BTreeMap<i64, usize>>>,
    started: Arc<tokio::sync::Notify>,
}

impl Deliveries {
    async fn wait_for(&self, rows: usize) -> BTreeMap<i64, usize> {
        for _ in 0..1000 {
            if self.per_row.lock().unwrap().values().sum::<usize>() >= rows {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Long enough for a duplicate delivery to show up.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.per_row.lock().unwrap().clone()
    }
}

/// One test for both databases: the receiver is runtime-connected for its duration only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_after_its_commit_still_delivers_every_row_once() {
    let deliveries = Deliveries::default();
    let d = deliveries.clone();
    let _receiver = PostSave::<ticket::Model>::connect_async_with(
        ConnectOptions::new().on(Phase::Commit).name("slow_welcome"),
        move |e: &PostSave<'_, ticket::Model>| {
            let (d, id) = (d.clone(), e.instance.id);
            Box::pin(async move {
                d.started.notify_one();
                tokio::time::sleep(Duration::from_millis(5)).await;
                *d.per_row.lock().unwrap().entry(id).or_default() += 1;
            })
        },
    )
    .unwrap();

    for db in databases().await {
        reset(&db, ticket::Entity).await;
        deliveries.per_row.lock().unwrap().clear();
        // The previous database's deliveries left a permit in `started` (`notify_one`
        // with no waiter stores one): take it, or the `select!` below gives up on the
        // write before it even began.
        let _ = tokio::time::timeout(Duration::from_millis(1), deliveries.started.notified()).await;

        // Given up while the deliveries run (after the commit): all 20 still arrive.
        let write = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                for n in 0..20 {
                    new_ticket(n).insert(txn).await?;
                }
                Ok::<_, DbErr>(())
            })
        });
        tokio::select! {
            _ = write => panic!("20 deliveries of 5 ms each cannot have finished"),
            _ = deliveries.started.notified() => {}
        }
        let per_row = deliveries.wait_for(20).await;
        assert_eq!(ticket::Entity::find().count(&db).await.unwrap(), 20);
        assert_eq!(
            per_row.len(),
            20,
            "every committed row delivered: {per_row:?}"
        );
        assert!(
            per_row.values().all(|&n| n == 1),
            "exactly once: {per_row:?}"
        );

        // The same through `begin` + `commit`, with a timeout around the commit.
        deliveries.per_row.lock().unwrap().clear();
        let txn = signals_sea_orm::begin(&db).await.unwrap();
        txn.run(async {
            for n in 20..30 {
                new_ticket(n).insert(txn.conn()).await.unwrap();
            }
        })
        .await;
        let timed_out = tokio::time::timeout(Duration::from_millis(15), txn.commit()).await;
        assert!(
            timed_out.is_err(),
            "10 deliveries of 5 ms each take longer than 15 ms"
        );
        let per_row = deliveries.wait_for(10).await;
        assert_eq!(ticket::Entity::find().count(&db).await.unwrap(), 30);
        assert_eq!(per_row.len(), 10, "{per_row:?}");
        assert!(
            per_row.values().all(|&n| n == 1),
            "exactly once: {per_row:?}"
        );

        // Given up before the commit (inside the writes): rolled back, nothing delivered.
        deliveries.per_row.lock().unwrap().clear();
        let write = signals_sea_orm::transaction(&db, |txn| {
            Box::pin(async move {
                new_ticket(99).insert(txn).await?;
                std::future::pending::<()>().await;
                Ok::<_, DbErr>(())
            })
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(50), write).await;
        assert!(timed_out.is_err());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            ticket::Entity::find().count(&db).await.unwrap(),
            30,
            "rolled back"
        );
        assert!(deliveries.per_row.lock().unwrap().is_empty());
    }
}
