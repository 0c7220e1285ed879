//! Django's `create_profile` on SeaORM, atomic: the profile is written by a `PostSave`
//! receiver in the same transaction as the user, so both commit or roll back together.
//!
//! ```python
//! @receiver(post_save, sender=User)
//! def create_profile(sender, instance, created, **kwargs):
//!     if created:
//!         Profile.objects.create(user=instance)   # inside the save's transaction
//! ```
//!
//! The receiver writes through `signals_sea_orm::db(event)`: the connection (or
//! transaction) of the write that sent the signal. Writing through the pool instead would
//! leave the transaction (and, on in-memory SQLite, wait for the pool's only connection,
//! which the transaction holds).
//!
//! Run with `cargo run --example atomic_profile`.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DbErr, EntityTrait, PaginatorTrait, Schema, Set,
};
use signals_core::models::PostSave;
use signals_core::prelude::*;

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

mod profile {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "profiles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

#[receiver(PostSave, sender = user::Model)]
async fn create_profile(event: &PostSave<'_, user::Model>) -> Result<(), DbErr> {
    if event.created {
        let db = signals_sea_orm::db(event)?; // the write's transaction
        profile::ActiveModel {
            user_id: Set(event.instance.id),
            ..Default::default()
        }
        .insert(&db)
        .await?;
        println!(
            "profile created for {} (same transaction)",
            event.instance.email
        );
    }
    Ok(())
}

fn signup(email: &str) -> user::ActiveModel {
    user::ActiveModel {
        email: Set(email.into()),
        ..Default::default()
    }
}

async fn counts(db: &impl ConnectionTrait) -> Result<(u64, u64), DbErr> {
    Ok((
        user::Entity::find().count(db).await?,
        profile::Entity::find().count(db).await?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::connect("sqlite::memory:").await?;
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(user::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(profile::Entity))
        .await?;

    // Committed: the user and the profile.
    let ada = signup("ada@example.com");
    signals_sea_orm::transaction(&db, |txn| {
        Box::pin(async move {
            ada.insert(txn).await?;
            Ok::<_, DbErr>(())
        })
    })
    .await?;
    let (users, profiles) = counts(&db).await?;
    println!("committed: {users} user(s), {profiles} profile(s)");

    // Rolled back after the signup (the card was declined): neither row remains.
    let ghost = signup("ghost@example.com");
    let declined = signals_sea_orm::transaction(&db, |txn| {
        Box::pin(async move {
            ghost.insert(txn).await?;
            let (users, profiles) = counts(txn).await?;
            println!("inside the transaction: {users} user(s), {profiles} profile(s)");
            Err::<(), DbErr>(DbErr::Custom("card declined".into()))
        })
    })
    .await;
    let (users, profiles) = counts(&db).await?;
    println!(
        "rolled back ({}): {users} user(s), {profiles} profile(s)",
        declined.unwrap_err()
    );
    Ok(())
}
