//! Migration signals: `pre_migrate` and `post_migrate`.
//!
//! Shows Django's database signals `pre_migrate` and `post_migrate`. A fake `migrate`
//! command sends them around each app's migrations; the classic `post_migrate` receiver
//! creates default data (here: permission groups) idempotently, since `post_migrate` is
//! sent even when nothing was migrated.
//!
//! How it differs from Django:
//! * the plan is a typed slice of `MigrationStep { name, backwards }`, and `app` is the
//!   application label, not an `AppConfig` object;
//! * a `pre_migrate` receiver returning `Err` stops the command before any migration runs,
//!   with the receiver named in the error.

use std::collections::BTreeSet;
use std::sync::Mutex;

use signals_core::management::{MigrationStep, PostMigrate, PreMigrate};
use signals_core::prelude::*;

static APPLIED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static GROUPS: Mutex<BTreeSet<&str>> = Mutex::new(BTreeSet::new());
static MAINTENANCE: Mutex<bool> = Mutex::new(false);

/// `manage.py migrate APP`: the steps not yet applied, between the two signals.
fn migrate(app: &str, migrations: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    println!("$ migrate {app}");
    let pending: Vec<String> = {
        let applied = APPLIED.lock().unwrap();
        migrations
            .iter()
            .map(|m| format!("{app}.{m}"))
            .filter(|m| !applied.contains(m))
            .collect()
    };
    let plan: Vec<MigrationStep<'_>> = pending
        .iter()
        .map(|m| MigrationStep::new(m, false))
        .collect();
    PreMigrate::new(app, &plan).send()?;
    for step in &plan {
        println!("  applying {} ... OK", step.name);
        APPLIED.lock().unwrap().insert(step.name.to_owned());
    }
    PostMigrate::new(app, &plan).send()?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the site is not in maintenance mode; refusing to migrate {0}")]
    NotInMaintenance(String),
}

#[receiver(PreMigrate)]
fn require_maintenance_mode(event: &PreMigrate<'_>) -> Result<(), MigrateError> {
    if !event.plan.is_empty() && !*MAINTENANCE.lock().unwrap() {
        return Err(MigrateError::NotInMaintenance(event.app.to_owned()));
    }
    println!(
        "  [pre_migrate] {}: {} migration(s) to apply on {:?}",
        event.app,
        event.plan.len(),
        event.using
    );
    Ok(())
}

/// The classic: create default rows after `auth` is migrated. Idempotent.
#[receiver(PostMigrate)]
fn create_default_groups(event: &PostMigrate<'_>) {
    print!(
        "  [post_migrate] {}: {} migration(s) ran",
        event.app,
        event.plan.len()
    );
    if event.app == "auth" {
        let mut groups = GROUPS.lock().unwrap();
        let created: Vec<&str> = ["editors", "moderators"]
            .into_iter()
            .filter(|g| groups.insert(g))
            .collect();
        print!("; default groups created: {created:?}");
    }
    println!();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== migrating outside maintenance mode: pre_migrate refuses ==");
    if let Err(error) = migrate("auth", &["0001_initial"]) {
        let reason = error.source().map(ToString::to_string).unwrap_or_default();
        println!("  migrate failed: {error}: {reason}");
    }

    println!();
    println!("== in maintenance mode ==");
    *MAINTENANCE.lock().unwrap() = true;
    migrate("auth", &["0001_initial", "0002_groups"])?;
    migrate("blog", &["0001_initial"])?;

    println!();
    println!("== migrate again: nothing to apply, post_migrate still sent, no duplicates ==");
    migrate("auth", &["0001_initial", "0002_groups"])?;

    println!();
    println!("applied: {:?}", APPLIED.lock().unwrap());
    println!("groups:  {:?}", GROUPS.lock().unwrap());
    Ok(())
}
