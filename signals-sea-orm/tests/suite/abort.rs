//! A pre-receiver's error aborts the write and reaches the caller inside the `DbErr`; a
//! post-receiver's error comes back after the write.

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, PaginatorTrait, Set};
use signals_core::models::{PostSave, PreDelete, PreSave};

entity!(account, "ab_accounts");
entity!(locked, "ab_locked");
entity!(noisy, "ab_noisy");

#[derive(Debug, thiserror::Error)]
#[error("quota exceeded for {0}")]
struct QuotaExceeded(String);

#[derive(Debug, thiserror::Error)]
#[error("deleting is locked")]
struct Locked;

#[derive(Debug, thiserror::Error)]
#[error("mailer down")]
struct MailerDown;

#[tokio::test]
async fn failing_pre_save_aborts_the_insert_and_the_error_reaches_the_caller() {
    let _guard = PreSave::<account::Model>::connect(|e: &PreSave<'_, account::Model>| {
        match Some(&e.instance.name) {
            Some(name) if name == "spammer" => Err(QuotaExceeded(name.clone())),
            _ => Ok(()),
        }
    });
    for db in databases().await {
        reset(&db, account::Entity).await;
        let err: DbErr = account::ActiveModel {
            name: Set("spammer".into()),
            email: Set("spam@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap_err();

        // The row is absent.
        assert_eq!(account::Entity::find().count(&db).await.unwrap(), 0);

        // The receiver's error, typed, through the helper...
        let signal = signals_sea_orm::signal_error(&err).expect("a receiver error");
        assert_eq!(signal.signal(), "PreSave");
        assert_eq!(signal.model(), "Account");
        assert!(!signal.written());
        assert_eq!(
            signal.downcast_ref::<QuotaExceeded>().unwrap().to_string(),
            "quota exceeded for spammer"
        );
        assert!(
            signal.send_error().receiver().is_some(),
            "the failing receiver is named"
        );
        // ...and through the plain `source()` chain: DbErr → SignalError (naming the
        // receiver) → the receiver's error.
        let mut chain = Vec::new();
        let mut cause: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = cause {
            chain.push(e.to_string());
            cause = e.source();
        }
        assert_eq!(
            chain.last().unwrap(),
            "quota exceeded for spammer",
            "{chain:#?}"
        );
        assert!(chain[0].contains("PreSave receiver"), "{chain:#?}");

        // Other writes go through.
        account::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        assert_eq!(account::Entity::find().count(&db).await.unwrap(), 1);

        // A database error is not a signal error.
        let dup = account::Entity::find().one(&db).await.unwrap().unwrap();
        let err = account::ActiveModel {
            id: Set(dup.id),
            name: Set("twin".into()),
            email: Set("twin@example.com".into()),
            score: Set(0),
        }
        .insert(&db)
        .await
        .unwrap_err();
        assert!(signals_sea_orm::signal_error(&err).is_none(), "{err}");
    }
}

#[tokio::test]
async fn failing_pre_delete_aborts_the_delete() {
    let _guard = PreDelete::<locked::Model>::connect(|_: &PreDelete<'_, locked::Model>| {
        Err::<(), _>(Locked)
    });
    for db in databases().await {
        reset(&db, locked::Entity).await;
        let row = locked::ActiveModel {
            name: Set("keep".into()),
            email: Set("keep@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let am: locked::ActiveModel = row.clone().into();
        let err = am.delete(&db).await.unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert_eq!(signal.signal(), "PreDelete");
        assert!(!signal.written());
        assert!(signal.downcast_ref::<Locked>().is_some());
        assert_eq!(
            locked::Entity::find_by_id(row.id).one(&db).await.unwrap(),
            Some(row)
        );
    }
}

#[tokio::test]
async fn failing_post_save_reports_after_the_write() {
    let _guard = PostSave::<noisy::Model>::connect(|_: &PostSave<'_, noisy::Model>| {
        Err::<(), _>(MailerDown)
    });
    for db in databases().await {
        reset(&db, noisy::Entity).await;
        let err = noisy::ActiveModel {
            name: Set("x".into()),
            email: Set("x@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert_eq!(signal.signal(), "PostSave");
        assert!(signal.written(), "the row is written: {signal}");
        assert!(signal.downcast_ref::<MailerDown>().is_some());
        assert_eq!(noisy::Entity::find().count(&db).await.unwrap(), 1);
    }
}
