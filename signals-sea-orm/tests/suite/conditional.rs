//! Conditional receivers on a SeaORM entity: `when = predicate` with the model signals,
//! here "the email changed" (`event.changed(Column::Email)`), on SQLite and PostgreSQL.

use std::sync::Mutex;

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, Set};
use signals_core::models::PostSave;
use signals_core::receiver;
use signals_sea_orm::Changed;

entity!(member, "cond_members");

static VERIFICATIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn email_changed(event: &PostSave<'_, member::Model>) -> bool {
    event.changed(member::Column::Email)
}

/// Django: `if "email" in update_fields or created:` at the top of the receiver.
#[receiver(PostSave, sender = member::Model, when = email_changed)]
fn send_verification(event: &PostSave<'_, member::Model>) {
    VERIFICATIONS.lock().unwrap().push(format!(
        "verify {} on {}",
        event.instance.email, event.using
    ));
}

#[tokio::test]
async fn a_conditional_receiver_runs_only_for_the_saves_its_predicate_accepts() {
    let _serial = crate::common::serial().await;
    for db in databases().await {
        reset(&db, member::Entity).await;
        let backend = signals_sea_orm::alias(sea_orm::ConnectionTrait::get_database_backend(&db));
        let row = member::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        // The name alone: the predicate says no, the receiver does not run.
        let mut am: member::ActiveModel = row.into();
        am.name = Set("Ada".into());
        let row = am.update(&db).await.unwrap();
        // The email: it runs again.
        let mut am: member::ActiveModel = row.into();
        am.email = Set("ada@new.example.com".into());
        am.update(&db).await.unwrap();
        assert_eq!(
            std::mem::take(&mut *VERIFICATIONS.lock().unwrap()),
            [
                format!("verify ada@example.com on {backend}"),
                format!("verify ada@new.example.com on {backend}"),
            ]
        );
    }
}
