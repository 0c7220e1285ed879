//! `signals_sea_orm::migration::up` / `down`: PreMigrate and PostMigrate with the plan and
//! the alias, around sea-orm-migration's MigratorTrait.

use crate::common::{Log, databases, serial};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Table;
use sea_orm_migration::prelude::*;
use signals_core::Signal;
use signals_core::management::{PostMigrate, PreMigrate};
use signals_sea_orm::Alias;

macro_rules! create {
    ($name:ident, $table:literal) => {
        struct $name;
        impl MigrationName for $name {
            fn name(&self) -> &str {
                stringify!($name)
            }
        }
        #[async_trait::async_trait]
        impl MigrationTrait for $name {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager
                    .create_table(
                        Table::create()
                            .table($table)
                            .col(ColumnDef::new("id").integer().not_null().primary_key())
                            .to_owned(),
                    )
                    .await
            }
            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager
                    .drop_table(Table::drop().table($table).to_owned())
                    .await
            }
        }
    };
}

create!(M001Shops, "mig_shops");
create!(M002Orders, "mig_orders");

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M001Shops), Box::new(M002Orders)]
    }
    fn migration_table_name() -> DynIden {
        "mig_signals_seaql_migrations".into_iden()
    }
}

fn plan(steps: &[signals_core::management::MigrationStep<'_>]) -> String {
    steps
        .iter()
        .map(|s| format!("{}{}", if s.backwards { "-" } else { "+" }, s.name))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test]
async fn up_and_down_send_pre_and_post_migrate_with_the_plan() {
    let _serial = serial().await;
    let log = Log::default();
    let l = log.clone();
    let _pre = PreMigrate::connect(move |e: &PreMigrate<'_>| {
        l.push(format!("pre {} {} [{}]", e.app, e.using, plan(e.plan)));
    });
    let l = log.clone();
    let _post = PostMigrate::connect(move |e: &PostMigrate<'_>| {
        l.push(format!("post {} {} [{}]", e.app, e.using, plan(e.plan)));
    });
    for db in databases().await {
        let backend = format!("{:?}", db.get_database_backend()).to_lowercase();
        for table in ["mig_orders", "mig_shops", "mig_signals_seaql_migrations"] {
            db.execute(&Table::drop().table(table).if_exists().to_owned())
                .await
                .unwrap();
        }
        signals_sea_orm::migration::up::<Migrator, _>(&db, Some(1))
            .await
            .unwrap();
        let archive = Alias::new("archive", db.clone());
        signals_sea_orm::migration::up::<Migrator, _>(&archive, None)
            .await
            .unwrap();
        // Nothing pending: both signals, empty plan.
        signals_sea_orm::migration::up::<Migrator, _>(&db, None)
            .await
            .unwrap();
        let applied = Migrator::get_applied_migrations(&db).await.unwrap();
        assert_eq!(applied.len(), 2);
        signals_sea_orm::migration::down::<Migrator, _>(&db, None)
            .await
            .unwrap();
        assert!(
            Migrator::get_applied_migrations(&db)
                .await
                .unwrap()
                .is_empty()
        );
        let b = backend.as_str();
        assert_eq!(
            log.take(),
            [
                format!("pre Migrator {b} [+M001Shops]"),
                format!("post Migrator {b} [+M001Shops]"),
                "pre Migrator archive [+M002Orders]".to_owned(),
                "post Migrator archive [+M002Orders]".to_owned(),
                format!("pre Migrator {b} []"),
                format!("post Migrator {b} []"),
                format!("pre Migrator {b} [-M002Orders,-M001Shops]"),
                format!("post Migrator {b} [-M002Orders,-M001Shops]"),
            ]
        );
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not during business hours")]
struct Frozen;

#[tokio::test]
async fn a_pre_migrate_error_aborts_before_any_migration() {
    let _serial = serial().await;
    let _pre = PreMigrate::connect(|_: &PreMigrate<'_>| Err::<(), _>(Frozen));
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let err = signals_sea_orm::migration::up::<Migrator, _>(&db, None)
        .await
        .unwrap_err();
    let signal = signals_sea_orm::signal_error(&err).expect("a receiver's error");
    assert!(signal.downcast_ref::<Frozen>().is_some());
    assert_eq!(
        Migrator::get_applied_migrations(&db).await.unwrap().len(),
        0
    );
}
