//! SeaORM's bulk statements skip hooks (no signals); the `bulk` helpers send bulk signals.

use crate::common::{Log, databases, reset};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Set,
};
use signals_core::models::{PostDelete, PostSave, PreDelete, PreSave};
use signals_sea_orm::bulk::{
    self, PostBulkDelete, PostBulkInsert, PostBulkUpdate, PreBulkDelete, PreBulkInsert,
    PreBulkUpdate,
};

entity!(item, "bk_items");
entity!(plain, "bk_plain");

fn new_item(name: &str, score: i32) -> item::ActiveModel {
    item::ActiveModel {
        name: Set(name.into()),
        email: Set(format!("{name}@example.com")),
        score: Set(score),
        ..Default::default()
    }
}

#[tokio::test]
async fn bulk_helpers_send_bulk_signals_with_the_rows() {
    let log = Log::default();
    let l = log.clone();
    let _a = PostBulkInsert::<item::Model>::connect(move |e: &PostBulkInsert<'_, item::Model>| {
        let names: Vec<_> = e.models().map(|m| m.name.clone()).collect();
        l.push(format!("inserted {} on {}", names.join(","), e.using));
    });
    let l = log.clone();
    let _b = PostBulkUpdate::<item::Model>::connect(move |e: &PostBulkUpdate<'_, item::Model>| {
        let mut rows: Vec<_> = e
            .models()
            .map(|m| format!("{}={}", m.name, m.score))
            .collect();
        rows.sort();
        l.push(format!("updated {}", rows.join(",")));
    });
    let l = log.clone();
    let _c = PostBulkDelete::<item::Model>::connect(move |e: &PostBulkDelete<'_, item::Model>| {
        let mut rows: Vec<_> = e.models().map(|m| m.name.clone()).collect();
        rows.sort();
        l.push(format!("deleted {}", rows.join(",")));
    });
    // The any-sender form sees the rows as `&dyn Model`.
    let l = log.clone();
    let _d = <PostBulkInsert>::connect(move |e: &PostBulkInsert<'_>| {
        if e.instances
            .iter()
            .all(|m| m.downcast_ref::<item::Model>().is_some())
        {
            l.push(format!("any-sender: {} rows", e.instances.len()));
        }
    });
    // Per-row signals do not fire for bulk writes.
    let l = log.clone();
    let _e = PostSave::<item::Model>::connect(move |_: &PostSave<'_, item::Model>| {
        l.push("per-row PostSave");
    });

    for db in databases().await {
        reset(&db, item::Entity).await;
        let rows = bulk::insert_many(&db, [new_item("a", 1), new_item("b", 2), new_item("c", 3)])
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let using = signals_sea_orm::alias(sea_orm::ConnectionTrait::get_database_backend(&db));
        assert_eq!(
            log.take(),
            [
                format!("inserted a,b,c on {using}"),
                "any-sender: 3 rows".to_owned()
            ]
        );

        let updated = bulk::update_many(
            &db,
            item::Entity::update_many()
                .col_expr(item::Column::Score, Expr::col(item::Column::Score).add(10))
                .filter(item::Column::Score.gte(2)),
        )
        .await
        .unwrap();
        assert_eq!(updated.len(), 2);
        assert_eq!(log.take(), ["updated b=12,c=13"]);

        let deleted = bulk::delete_many(
            &db,
            item::Entity::delete_many().filter(item::Column::Score.gt(10)),
        )
        .await
        .unwrap();
        assert_eq!(deleted.len(), 2);
        assert_eq!(log.take(), ["deleted b,c"]);
        assert_eq!(item::Entity::find().count(&db).await.unwrap(), 1);

        // No row matched: nothing sent.
        bulk::delete_many(
            &db,
            item::Entity::delete_many().filter(item::Column::Score.gt(99)),
        )
        .await
        .unwrap();
        assert_eq!(log.take(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn seaorm_bulk_statements_skip_hooks_and_send_nothing() {
    let log = Log::default();
    let l = log.clone();
    let _a =
        PreSave::<plain::Model>::connect(move |_: &PreSave<'_, plain::Model>| l.push("PreSave"));
    let l = log.clone();
    let _b =
        PostSave::<plain::Model>::connect(move |_: &PostSave<'_, plain::Model>| l.push("PostSave"));
    let l = log.clone();
    let _c = PostDelete::<plain::Model>::connect(move |_: &PostDelete<'_, plain::Model>| {
        l.push("PostDelete")
    });
    for db in databases().await {
        reset(&db, plain::Entity).await;
        let rows = (0..3).map(|i| plain::ActiveModel {
            name: Set(format!("p{i}")),
            email: Set(format!("p{i}@example.com")),
            score: Set(i),
            ..Default::default()
        });
        plain::Entity::insert_many(rows).exec(&db).await.unwrap();
        plain::Entity::insert(plain::ActiveModel {
            name: Set("single".into()),
            email: Set("single@example.com".into()),
            score: Set(9),
            ..Default::default()
        })
        .exec(&db)
        .await
        .unwrap();
        plain::Entity::update_many()
            .col_expr(plain::Column::Score, Expr::value(0))
            .exec(&db)
            .await
            .unwrap();
        plain::Entity::delete_many()
            .filter(plain::Column::Name.ne("p0"))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(plain::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(
            log.take(),
            Vec::<String>::new(),
            "SeaORM bulk calls run no hooks"
        );

        // The same entity's ActiveModel writes do send.
        let p0 = plain::Entity::find().one(&db).await.unwrap().unwrap();
        let am: plain::ActiveModel = p0.into();
        am.delete(&db).await.unwrap();
        assert_eq!(log.take(), ["PostDelete"]);
    }
}

entity!(guarded, "bk_guarded");

fn new_guarded(name: &str, score: i32) -> guarded::ActiveModel {
    guarded::ActiveModel {
        name: Set(name.into()),
        email: Set(format!("{name}@example.com")),
        score: Set(score),
        ..Default::default()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("vetoed: {0}")]
struct Vetoed(String);

#[tokio::test]
async fn pre_bulk_receivers_see_the_write_and_can_veto_it() {
    let log = Log::default();
    let l = log.clone();
    let _a =
        PreBulkInsert::<guarded::Model>::connect(move |e: &PreBulkInsert<'_, guarded::Model>| {
            let names: Vec<String> = e
                .active_models::<guarded::ActiveModel>()
                .map(|am| am.name.as_ref().clone())
                .collect();
            l.push(format!("pre-insert {}", names.join(",")));
            if names.iter().any(|n| n == "evil") {
                return Err(Vetoed("insert".into()));
            }
            Ok(())
        });
    let l = log.clone();
    let _b =
        PreBulkUpdate::<guarded::Model>::connect(move |e: &PreBulkUpdate<'_, guarded::Model>| {
            l.push("pre-update");
            if e.statement.contains("999") {
                return Err(Vetoed("update".into()));
            }
            assert!(e.statement.starts_with("UPDATE"), "{}", e.statement);
            Ok(())
        });
    let l = log.clone();
    let _c =
        PreBulkDelete::<guarded::Model>::connect(move |e: &PreBulkDelete<'_, guarded::Model>| {
            l.push("pre-delete");
            if e.statement.contains("777") {
                return Err(Vetoed("delete".into()));
            }
            assert!(e.statement.starts_with("DELETE"), "{}", e.statement);
            Ok(())
        });
    for db in databases().await {
        reset(&db, guarded::Entity).await;
        bulk::insert_many(&db, [new_guarded("a", 1), new_guarded("b", 2)])
            .await
            .unwrap();
        let err = bulk::insert_many(&db, [new_guarded("c", 3), new_guarded("evil", 4)])
            .await
            .unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert_eq!(signal.signal(), "PreBulkInsert");
        assert!(!signal.written());
        assert!(signal.downcast_ref::<Vetoed>().is_some());
        assert_eq!(guarded::Entity::find().count(&db).await.unwrap(), 2);

        let err = bulk::update_many(
            &db,
            guarded::Entity::update_many().col_expr(guarded::Column::Score, Expr::value(999)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            signals_sea_orm::signal_error(&err).unwrap().signal(),
            "PreBulkUpdate"
        );
        let err = bulk::delete_many(
            &db,
            guarded::Entity::delete_many().filter(guarded::Column::Score.ne(777)),
        )
        .await
        .unwrap_err();
        assert_eq!(
            signals_sea_orm::signal_error(&err).unwrap().signal(),
            "PreBulkDelete"
        );
        let rows = guarded::Entity::find().all(&db).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.score).collect::<Vec<_>>(),
            [1, 2],
            "vetoed update and delete wrote nothing"
        );
        bulk::delete_many(
            &db,
            guarded::Entity::delete_many().filter(guarded::Column::Score.eq(1)),
        )
        .await
        .unwrap();
        assert_eq!(
            log.take(),
            [
                "pre-insert a,b",
                "pre-insert c,evil",
                "pre-update",
                "pre-delete",
                "pre-delete"
            ]
        );
        assert_eq!(guarded::Entity::find().count(&db).await.unwrap(), 1);
    }
}

entity!(row, "bk_rows");

#[tokio::test]
async fn delete_rows_sends_per_row_delete_signals() {
    let log = Log::default();
    let l = log.clone();
    let _a = PreDelete::<row::Model>::connect(move |e: &PreDelete<'_, row::Model>| {
        l.push(format!("PreDelete {}", e.instance.name));
        if e.instance.name == "keep" {
            return Err(Vetoed("keep".into()));
        }
        Ok(())
    });
    let l = log.clone();
    let _b = PostDelete::<row::Model>::connect(move |e: &PostDelete<'_, row::Model>| {
        l.push(format!("PostDelete {}", e.instance.name));
    });
    let l = log.clone();
    let _c = PostBulkDelete::<row::Model>::connect(move |e: &PostBulkDelete<'_, row::Model>| {
        l.push(format!("PostBulkDelete {}", e.instances.len()));
    });
    for db in databases().await {
        reset(&db, row::Entity).await;
        let rows = ["a", "b", "c", "keep"].map(|n| row::ActiveModel {
            name: Set(n.into()),
            email: Set(format!("{n}@example.com")),
            score: Set(if n == "keep" { 9 } else { 1 }),
            ..Default::default()
        });
        row::Entity::insert_many(rows).exec(&db).await.unwrap();

        let select = || row::Entity::find().order_by_asc(row::Column::Id);
        // A PreDelete veto on one row aborts the whole delete.
        let err = bulk::delete_rows(&db, select()).await.unwrap_err();
        assert_eq!(
            signals_sea_orm::signal_error(&err).unwrap().signal(),
            "PreDelete"
        );
        assert_eq!(row::Entity::find().count(&db).await.unwrap(), 4);
        log.take();

        let gone = bulk::delete_rows(&db, select().filter(row::Column::Score.eq(1)))
            .await
            .unwrap();
        assert_eq!(gone.len(), 3);
        let mut lines = log.take();
        lines[5..].sort();
        assert_eq!(
            lines,
            [
                "PreDelete a",
                "PreDelete b",
                "PreDelete c",
                "PostBulkDelete 3",
                "PostDelete a",
                "PostDelete b",
                "PostDelete c",
            ][..]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(row::Entity::find().count(&db).await.unwrap(), 1);
    }
}
