//! Django's `pre_migrate` / `post_migrate` around sea-orm-migration (feature `migration`).
//!
//! [`up`] and [`down`] run `MigratorTrait::up` / `down` (same arguments) and send
//! [`PreMigrate`] before and [`PostMigrate`] after, with the plan: the migrations the call
//! applies, in order (for [`down`], the ones it rolls back, newest first, with
//! `backwards: true`), and `using` the database's alias ([`Alias`] name or
//! backend, as the model signals).
//!
//! ```ignore
//! use signals_core::management::PostMigrate;
//!
//! #[receiver(PostMigrate)]
//! fn seed(event: &PostMigrate<'_>) {
//!     println!("{} migrations on {}", event.plan.len(), event.using);
//! }
//!
//! signals_sea_orm::migration::up::<Migrator, _>(&db, None).await?;
//! ```
//!
//! * `app` is the migrator's type name (`Migrator`), the one name sea-orm-migration has
//!   for a set of migrations.
//! * Both signals are sent even when nothing is pending (empty plan), as Django's.
//! * A `PreMigrate` receiver error aborts the call before any migration runs (a
//!   [`DbErr`] carrying a [`SignalError`], see
//!   [`signal_error`](crate::signal_error)); a `PostMigrate` receiver error comes back the
//!   same way, after the migrations ran. A failed migration sends no `PostMigrate`.
//! * The plan is read first (`get_pending_migrations` / `get_applied_migrations`, which
//!   create the migrations table if missing), then `up` / `down` reads it again: a
//!   concurrent migrator could change it in between; run one migrator at a time, as
//!   sea-orm-migration asks anyway.
//! * Receivers get no connection (`PreMigrate` has no `db` field).

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbErr};
use sea_orm_migration::{IntoSchemaManagerConnection, MigratorTrait};
use signals_core::Signal;
use signals_core::management::{MigrationStep, PostMigrate, PreMigrate};

use crate::alias::using;
use crate::{Alias, SignalError};

/// A connection [`up`] and [`down`] can migrate: SeaORM's `DatabaseConnection` or
/// `DatabaseTransaction`, or an [`Alias`] of one.
pub trait Migratable: ConnectionTrait {
    /// The executor sea-orm-migration runs on.
    fn executor(&self) -> DatabaseExecutor<'_>;
}

impl Migratable for DatabaseConnection {
    fn executor(&self) -> DatabaseExecutor<'_> {
        self.into_database_executor()
    }
}

impl Migratable for DatabaseTransaction {
    fn executor(&self) -> DatabaseExecutor<'_> {
        self.into_database_executor()
    }
}

impl<C: Migratable + Send> Migratable for Alias<C> {
    fn executor(&self) -> DatabaseExecutor<'_> {
        self.inner().executor()
    }
}

fn app<M>() -> &'static str {
    let name = std::any::type_name::<M>();
    let name = name.split('<').next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

async fn migrate<M, C>(db: &C, steps: Option<u32>, backwards: bool) -> Result<(), DbErr>
where
    M: MigratorTrait,
    C: Migratable,
{
    let names: Vec<String> = if backwards {
        let mut applied = M::get_applied_migrations(db).await?;
        applied.reverse();
        applied.iter().map(|m| m.name().to_owned()).collect()
    } else {
        let pending = M::get_pending_migrations(db).await?;
        pending.iter().map(|m| m.name().to_owned()).collect()
    };
    let take = steps.map_or(names.len(), |s| names.len().min(s as usize));
    let plan: Vec<MigrationStep<'_>> = names[..take]
        .iter()
        .map(|name| MigrationStep::new(name, backwards))
        .collect();
    let app = app::<M>();
    let alias = using(db);
    PreMigrate::new(app, &plan)
        .using(alias)
        .send_async()
        .await
        .map_err(|e| SignalError::db_err("PreMigrate", app, false, e))?;
    if backwards {
        M::down(db.executor(), steps).await?;
    } else {
        M::up(db.executor(), steps).await?;
    }
    PostMigrate::new(app, &plan)
        .using(alias)
        .send_async()
        .await
        .map_err(|e| SignalError::db_err("PostMigrate", app, true, e))?;
    Ok(())
}

/// `M::up(db, steps)` between [`PreMigrate`] and [`PostMigrate`] (see the
/// [module](self)).
pub async fn up<M, C>(db: &C, steps: Option<u32>) -> Result<(), DbErr>
where
    M: MigratorTrait,
    C: Migratable,
{
    migrate::<M, C>(db, steps, false).await
}

/// `M::down(db, steps)` between [`PreMigrate`] and [`PostMigrate`], the plan newest
/// first with `backwards: true` (see the [module](self)).
pub async fn down<M, C>(db: &C, steps: Option<u32>) -> Result<(), DbErr>
where
    M: MigratorTrait,
    C: Migratable,
{
    migrate::<M, C>(db, steps, true).await
}
