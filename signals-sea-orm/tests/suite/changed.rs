//! `event.changed(Column)`: every column on insert, the `Set` columns on update.

use crate::common::{Log, databases, reset};
use sea_orm::{ActiveModelTrait, Set};
use signals_core::models::PostSave;
use signals_sea_orm::Changed;

entity!(account, "ch_accounts");

#[tokio::test]
async fn post_save_says_which_columns_changed() {
    let log = Log::default();
    let l = log.clone();
    let _guard = PostSave::<account::Model>::connect(move |e: &PostSave<'_, account::Model>| {
        use account::Column;
        l.push(format!(
            "created={} email={} name={} score={}",
            e.created,
            e.changed(Column::Email),
            e.changed(Column::Name),
            e.changed(Column::Score)
        ));
    });
    for db in databases().await {
        reset(&db, account::Entity).await;
        let row = account::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let mut am: account::ActiveModel = row.clone().into();
        am.email = Set("ada@new.example.com".into());
        let row = am.update(&db).await.unwrap();
        // set_if_not_equals with the same value: not written, not changed.
        let mut am: account::ActiveModel = row.into();
        am.set_if_not_equals(account::Column::Score, 1.into());
        am.name = Set("Ada".into());
        am.update(&db).await.unwrap();
        assert_eq!(
            log.take(),
            [
                "created=true email=true name=true score=true",
                "created=false email=true name=false score=false",
                "created=false email=false name=true score=false",
            ]
        );
    }
}
