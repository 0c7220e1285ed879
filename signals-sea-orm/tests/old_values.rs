//! `behavior!(ActiveModel, old_values)`: `PostSave::old()` is the row before the update,
//! read in `before_save` on the write's connection (one query per update, `FOR UPDATE` on
//! PostgreSQL); an entity without the opt-in reads nothing more.

mod common;

use std::sync::{Arc, Mutex};

use common::{Log, databases, reset};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use signals_core::models::PostSave;

entity!(plain, "ov_plain");

pub mod tracked {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ov_tracked")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub email: String,
        pub score: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel, old_values);
}

/// The SQL statements sqlx runs (its `sqlx::query` events).
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Sql(Option<String>);
        impl tracing::field::Visit for Sql {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "db.statement" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "db.statement" {
                    self.0 = Some(value.to_owned());
                }
            }
        }
        let mut sql = Sql(None);
        event.record(&mut sql);
        self.0.lock().unwrap().push(sql.0.unwrap_or_default());
    }
}

impl Statements {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Inserts a row, then updates its email: the statements of each.
async fn insert_then_update<A>(
    db: &DatabaseConnection,
    sql: &Statements,
    row: A,
) -> (usize, Vec<String>)
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + 'static,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    sql.take();
    let saved = row.insert(db).await.unwrap();
    let inserts = sql.take().len();
    let mut am: A = sea_orm::IntoActiveModel::into_active_model(saved);
    let email = <A::Entity as sea_orm::EntityTrait>::Column::iter()
        .find(|c| sea_orm::IdenStatic::as_str(c) == "email")
        .unwrap();
    am.set(email, "ada@new.example.com".into());
    am.update(db).await.unwrap();
    (inserts, sql.take())
}

use sea_orm::Iterable;

#[tokio::test(flavor = "current_thread")]
async fn post_save_old_is_the_row_before_the_update() {
    use tracing_subscriber::layer::SubscriberExt;
    let sql = Statements::default();
    // Global: sqlx-sqlite runs statements on its worker thread. This binary's only test.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(sql.clone()))
        .expect("the first subscriber");
    let log = Log::default();
    let l = log.clone();
    let _tracked = PostSave::<tracked::Model>::connect(move |e: &PostSave<'_, tracked::Model>| {
        l.push(format!(
            "created={} old={:?} new={}",
            e.created,
            e.old().map(|o| o.email.as_str()),
            e.instance.email
        ));
    });
    let l = log.clone();
    let _plain = PostSave::<plain::Model>::connect(move |e: &PostSave<'_, plain::Model>| {
        l.push(format!("plain old={:?}", e.old().map(|o| o.email.as_str())));
    });
    for db in databases().await {
        let backend = format!("{:?}", db.get_database_backend());
        reset(&db, tracked::Entity).await;
        reset(&db, plain::Entity).await;
        let (plain_inserts, plain_update) = insert_then_update(
            &db,
            &sql,
            plain::ActiveModel {
                name: Set("ada".into()),
                email: Set("ada@example.com".into()),
                score: Set(1),
                ..Default::default()
            },
        )
        .await;
        let (tracked_inserts, tracked_update) = insert_then_update(
            &db,
            &sql,
            tracked::ActiveModel {
                name: Set("ada".into()),
                email: Set("ada@example.com".into()),
                score: Set(1),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            log.take(),
            [
                "plain old=None",
                "plain old=None",
                "created=true old=None new=ada@example.com",
                "created=false old=Some(\"ada@example.com\") new=ada@new.example.com",
            ],
            "{backend}"
        );
        // The insert reads nothing more; the update makes one more statement, the read
        // of the old row (locked on PostgreSQL); the entity without the opt-in none.
        assert!(plain_inserts >= 1, "{backend}: statements are captured");
        assert_eq!(tracked_inserts, plain_inserts, "{backend}: insert");
        assert_eq!(
            tracked_update.len(),
            plain_update.len() + 1,
            "{backend}: {tracked_update:?} vs {plain_update:?}"
        );
        let read = tracked_update
            .iter()
            .find(|s| s.trim_start().starts_with("SELECT"))
            .unwrap_or_else(|| panic!("{backend}: no SELECT in {tracked_update:?}"));
        assert!(read.contains("ov_tracked"), "{read}");
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            assert!(read.trim_end().ends_with("FOR UPDATE"), "{read}");
        }
        assert!(
            !plain_update
                .iter()
                .any(|s| s.trim_start().starts_with("SELECT")),
            "{backend}: {plain_update:?}"
        );
    }
}
