//! SeaORM's bulk statements skip hooks (no signals); the `bulk` helpers send bulk signals.

mod common;

use common::{Log, databases, reset};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, Set,
};
use signals_core::Signal;
use signals_core::models::{PostDelete, PostSave, PreSave};
use signals_sea_orm::bulk::{self, PostBulkDelete, PostBulkInsert, PostBulkUpdate};

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
        if e.instances.iter().all(|m| m.model_name() == "Item") {
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
