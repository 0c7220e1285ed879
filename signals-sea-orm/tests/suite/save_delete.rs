//! insert / update / save / delete send PreSave, PostSave, PreDelete, PostDelete with the
//! right sender, `created`, `using` and `update_fields`, on SQLite and PostgreSQL.

use crate::common::{Log, databases, reset};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, DatabaseConnection, EntityTrait, Set};
use signals_core::Connection;
use signals_core::models::{Model, PostDelete, PostSave, PreDelete, PreSave};

entity!(member, "sd_members");
entity!(visitor, "sd_visitors");
entity!(guest, "sd_guests");

fn fields(f: Option<&[&str]>) -> String {
    match f {
        None => "all".to_owned(),
        Some(f) => f.join(","),
    }
}

/// Records every model signal of entity `$m` into `log`.
macro_rules! record {
    ($m:ident, $log:expr) => {{
        let log = $log.clone();
        let l = log.clone();
        let pre_save = PreSave::<$m::Model>::connect(move |e: &PreSave<'_, $m::Model>| {
            l.push(format!(
                "PreSave {} pk={:?} fields={} using={}",
                e.instance.model_name(),
                e.instance.pk(),
                fields(e.update_fields),
                e.using
            ))
        });
        let l = log.clone();
        let post_save = PostSave::<$m::Model>::connect(move |e: &PostSave<'_, $m::Model>| {
            l.push(format!(
                "PostSave {} id={} name={} created={} fields={} using={}",
                e.instance.model_name(),
                e.instance.id,
                e.instance.name,
                e.created,
                fields(e.update_fields),
                e.using
            ))
        });
        let l = log.clone();
        let pre_delete = PreDelete::<$m::Model>::connect(move |e: &PreDelete<'_, $m::Model>| {
            l.push(format!(
                "PreDelete id={} name={} using={}",
                e.instance.id, e.instance.name, e.using
            ))
        });
        let l = log.clone();
        let post_delete = PostDelete::<$m::Model>::connect(move |e: &PostDelete<'_, $m::Model>| {
            l.push(format!(
                "PostDelete id={} name={} pk={:?}",
                e.instance.id,
                e.instance.name,
                e.instance.pk()
            ))
        });
        [pre_save, post_save, pre_delete, post_delete]
    }};
}

fn using(db: &DatabaseConnection) -> &'static str {
    signals_sea_orm::alias(sea_orm::ConnectionTrait::get_database_backend(db))
}

#[tokio::test]
async fn insert_update_delete_send_model_signals() {
    let log = Log::default();
    let _guards: [Connection; 4] = record!(member, log);
    for db in databases().await {
        reset(&db, member::Entity).await;
        let u = using(&db);

        let ada = member::ActiveModel {
            id: NotSet,
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(1),
        }
        .insert(&db)
        .await
        .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreSave Member pk=Some(0) fields=all using={u}"),
                format!(
                    "PostSave Member id={} name=ada created=true fields=all using={u}",
                    ada.id
                ),
            ]
        );

        let mut change: member::ActiveModel = ada.clone().into();
        change.score = Set(2);
        change.email = Set("ada@lovelace.dev".into());
        let ada2 = change.update(&db).await.unwrap();
        assert_eq!(ada2.score, 2);
        assert_eq!(
            log.take(),
            [
                format!(
                    "PreSave Member pk=Some({}) fields=email,score using={u}",
                    ada.id
                ),
                format!(
                    "PostSave Member id={} name=ada created=false fields=email,score using={u}",
                    ada.id
                ),
            ]
        );

        ada2.clone().into_active_model_delete(&db).await;
        assert_eq!(
            log.take(),
            [
                format!("PreDelete id={} name=ada using={u}", ada.id),
                format!("PostDelete id={} name=ada pk=Some({})", ada.id, ada.id),
            ]
        );
        assert!(
            member::Entity::find_by_id(ada.id)
                .one(&db)
                .await
                .unwrap()
                .is_none()
        );
    }
}

trait DeleteExt {
    async fn into_active_model_delete(self, db: &DatabaseConnection);
}

impl DeleteExt for member::Model {
    async fn into_active_model_delete(self, db: &DatabaseConnection) {
        let am: member::ActiveModel = self.into();
        let res = am.delete(db).await.unwrap();
        assert_eq!(res.rows_affected, 1);
    }
}

#[tokio::test]
async fn save_inserts_then_updates() {
    let log = Log::default();
    let _guards = record!(visitor, log);
    for db in databases().await {
        reset(&db, visitor::Entity).await;
        let u = using(&db);

        let saved = visitor::ActiveModel {
            name: Set("bob".into()),
            email: Set("bob@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .save(&db)
        .await
        .unwrap();
        let id = *saved.id.as_ref();
        assert_eq!(
            log.take(),
            [
                format!("PreSave Visitor pk=Some(0) fields=all using={u}"),
                format!("PostSave Visitor id={id} name=bob created=true fields=all using={u}"),
            ]
        );

        // The saved active model holds every column Unchanged: set one, save again.
        let mut again = saved;
        again.name = Set("robert".into());
        again.save(&db).await.unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreSave Visitor pk=Some({id}) fields=name using={u}"),
                format!("PostSave Visitor id={id} name=robert created=false fields=name using={u}"),
            ]
        );
    }
}

#[tokio::test]
async fn partial_delete_reads_the_row_and_bulk_delete_sends_nothing() {
    let log = Log::default();
    let _guards = record!(guest, log);
    for db in databases().await {
        reset(&db, guest::Entity).await;
        let mut ids = Vec::new();
        for name in ["carol", "dave"] {
            let m = guest::ActiveModel {
                name: Set(name.into()),
                email: Set(format!("{name}@example.com")),
                score: Set(5),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
            ids.push(m.id);
        }
        log.take();

        // Only the key is known: the row is read so that receivers get a full Model.
        guest::ActiveModel {
            id: Set(ids[0]),
            ..Default::default()
        }
        .delete(&db)
        .await
        .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreDelete id={} name=carol using={}", ids[0], using(&db)),
                format!("PostDelete id={} name=carol pk=Some({})", ids[0], ids[0]),
            ]
        );

        // A key that matches no row: nothing to delete, nothing sent.
        guest::ActiveModel {
            id: Set(ids[0]),
            ..Default::default()
        }
        .delete(&db)
        .await
        .unwrap();
        assert_eq!(log.take(), Vec::<String>::new());

        // SeaORM's own bulk and by-id deletes run no hooks (documented), so no signals.
        let res = guest::Entity::delete_by_id(ids[1]).exec(&db).await.unwrap();
        assert_eq!(res.rows_affected, 1);
        assert_eq!(log.take(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn any_sender_receivers_see_every_entity() {
    // `PostSave` (= PostSave<dyn Model>) receives the saves of every entity, as &dyn Model.
    entity!(audited, "sd_audited");
    let log = Log::default();
    let l = log.clone();
    let _guard = <PostSave>::connect(move |e: &PostSave<'_>| {
        if let Some(row) = e.instance.downcast_ref::<audited::Model>() {
            l.push(format!(
                "audit {} {} {}",
                e.instance.model_name(),
                row.name,
                e.created
            ));
        }
    });
    for db in databases().await {
        reset(&db, audited::Entity).await;
        audited::ActiveModel {
            name: Set("eve".into()),
            email: Set("eve@example.com".into()),
            score: Set(3),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        assert_eq!(log.take(), ["audit Audited eve true"]);
    }
}
