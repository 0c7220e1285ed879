//! Shared test setup: the databases every test runs on, tables, a recording log.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use sea_orm::sea_query::Table;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Schema};

/// SQLite in memory (bundled, no server), plus PostgreSQL when `SIGNALS_PG_URL` or
/// `DATABASE_URL` names one. Without it the Postgres half is skipped with a notice, unless
/// `SIGNALS_REQUIRE_PG` is set (CI), which makes that a failure.
pub async fn databases() -> Vec<DatabaseConnection> {
    let mut dbs = vec![
        Database::connect("sqlite::memory:")
            .await
            .expect("open SQLite in memory"),
    ];
    let url = std::env::var("SIGNALS_PG_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| u.starts_with("postgres"));
    // Built without the `postgres` feature: no driver, so the PostgreSQL half cannot run.
    let url = url.filter(|_| cfg!(feature = "postgres"));
    match url {
        Some(url) => dbs.push(
            Database::connect(url.as_str())
                .await
                .unwrap_or_else(|e| panic!("connect to PostgreSQL at {url}: {e}")),
        ),
        None if std::env::var_os("SIGNALS_REQUIRE_PG").is_some() => {
            panic!("SIGNALS_REQUIRE_PG is set but neither SIGNALS_PG_URL nor DATABASE_URL is")
        }
        None => {
            // Written past the test harness's capture, once per test binary, so that a
            // passing run still shows that half of it was skipped.
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTICE: PostgreSQL half skipped (set SIGNALS_PG_URL=postgres://... to run it)"
                );
            });
        }
    }
    dbs
}

/// (Re)creates the table of `entity`, empty.
pub async fn reset<E: EntityTrait>(db: &DatabaseConnection, entity: E) {
    drop_table(db, entity).await;
    create_table(db, entity).await;
}

/// Drops the table of `entity`, if it exists.
pub async fn drop_table<E: EntityTrait>(db: &DatabaseConnection, entity: E) {
    db.execute(&Table::drop().table(entity).if_exists().to_owned())
        .await
        .expect("drop table");
}

/// Creates the table of `entity`.
pub async fn create_table<E: EntityTrait>(db: &DatabaseConnection, entity: E) {
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(entity))
        .await
        .expect("create table");
}

/// Held by the tests of one binary that connect receivers to the same signal: receivers
/// are global, so such tests run one at a time (`let _serial = common::serial().await;`).
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A log receivers write to, shared with the test.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }
    /// Everything logged so far, emptying the log.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An entity module `$module` on table `$table`: `id` (auto-increment), `name`, `email`,
/// `score`, with `signals_sea_orm::behavior!`.
#[macro_export]
macro_rules! entity {
    ($module:ident, $table:literal) => {
        pub mod $module {
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

            signals_sea_orm::behavior!(ActiveModel);
        }
    };
}
