//! The cost of the signals on a SeaORM write (issue 12.11): `ActiveModel::insert` on
//! in-memory SQLite of an entity with `signals_sea_orm::behavior!` and three `PostSave`
//! receivers, beside its baseline in the same run, the same insert of an entity with
//! SeaORM's empty `impl ActiveModelBehavior for ActiveModel {}`. A third case, the
//! behaviour with no receiver connected, shows the hooks' fixed cost. Each case writes to
//! its own in-memory database (one connection each), so the tables grow alike.
//!
//! ```sh
//! cargo bench -p signals-sea-orm --bench insert                  # ~30 s
//! cargo bench -p signals-sea-orm --bench insert -- --warm-up-time 0.5 --measurement-time 2
//! ```
//!
//! Compare the cases, not absolute times (docs/PERFORMANCE.md).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Schema, Set,
};
use signals_core::models::PostSave;

macro_rules! entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub name: String,
                pub email: String,
                pub score: i32,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

entity!(plain, "bench_plain", impl ActiveModelBehavior for ActiveModel {});
entity!(signalled, "bench_signalled", signals_sea_orm::behavior!(ActiveModel););
entity!(quiet, "bench_quiet", signals_sea_orm::behavior!(ActiveModel););

static HITS: AtomicUsize = AtomicUsize::new(0);

async fn database<E: EntityTrait>(entity: E) -> DatabaseConnection {
    let db = Database::connect("sqlite::memory:").await.expect("SQLite");
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(entity))
        .await
        .expect("create table");
    db
}

macro_rules! row {
    ($module:ident) => {
        $module::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
    };
}

fn insert(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            PostSave::<signalled::Model>::connect(|e: &PostSave<'_, signalled::Model>| {
                black_box(e.instance.id);
                HITS.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let plain_db = rt.block_on(database(plain::Entity));
    let signalled_db = rt.block_on(database(signalled::Entity));
    let quiet_db = rt.block_on(database(quiet::Entity));

    // The three receivers run once per signalled insert, none for the others.
    rt.block_on(async {
        row!(signalled).insert(&signalled_db).await.unwrap();
        row!(quiet).insert(&quiet_db).await.unwrap();
        row!(plain).insert(&plain_db).await.unwrap();
    });
    assert_eq!(HITS.swap(0, Ordering::Relaxed), 3, "3 receivers, 1 insert");

    let mut g = c.benchmark_group("insert");
    g.bench_function("plain", |b| {
        b.iter(|| rt.block_on(async { row!(plain).insert(&plain_db).await.unwrap() }))
    });
    g.bench_function("signals_3_receivers", |b| {
        b.iter(|| rt.block_on(async { row!(signalled).insert(&signalled_db).await.unwrap() }))
    });
    g.bench_function("signals_no_receiver", |b| {
        b.iter(|| rt.block_on(async { row!(quiet).insert(&quiet_db).await.unwrap() }))
    });
    g.finish();
    drop(receivers);
}

criterion_group!(benches, insert);
criterion_main!(benches);
