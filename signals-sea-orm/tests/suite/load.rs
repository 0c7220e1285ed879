//! `.with_signals()` loads send PostInit per row; plain SeaORM loads send nothing.

use crate::common::{Log, databases, reset};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use signals_core::models::PostInit;
use signals_sea_orm::SelectExt;

entity!(member, "ld_members");

#[derive(Debug, thiserror::Error)]
#[error("row {0} is poisoned")]
struct Poisoned(i64);

#[tokio::test]
async fn loads_with_signals_send_post_init_per_row() {
    let log = Log::default();
    let l = log.clone();
    let _guard = PostInit::<member::Model>::connect(move |e: &PostInit<'_, member::Model>| {
        if e.instance.name == "poison" {
            return Err(Poisoned(e.instance.id));
        }
        // The query's connection is lent.
        let db = signals_sea_orm::db(e).expect("lent connection");
        l.push(format!(
            "PostInit {} via {:?}",
            e.instance.name,
            db.get_database_backend()
        ));
        Ok(())
    });
    for db in databases().await {
        reset(&db, member::Entity).await;
        let backend = db.get_database_backend();
        for (name, score) in [("ada", 3), ("bob", 1), ("cy", 2)] {
            member::ActiveModel {
                name: Set(name.into()),
                email: Set(format!("{name}@example.com")),
                score: Set(score),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        // Plain SeaORM: nothing.
        member::Entity::find().all(&db).await.unwrap();
        assert_eq!(log.take(), Vec::<String>::new());

        let rows = member::Entity::find()
            .order_by_asc(member::Column::Score)
            .with_signals()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            log.take(),
            [
                format!("PostInit bob via {backend:?}"),
                format!("PostInit cy via {backend:?}"),
                format!("PostInit ada via {backend:?}"),
            ]
        );
        let ada = member::Entity::find_by_id(rows[2].id)
            .with_signals()
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ada.name, "ada");
        let none = member::Entity::find()
            .filter(member::Column::Name.eq("nobody"))
            .with_signals()
            .one(&db)
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(log.take(), [format!("PostInit ada via {backend:?}")]);

        // A receiver error fails the load.
        member::ActiveModel {
            name: Set("poison".into()),
            email: Set("p@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let err = member::Entity::find()
            .with_signals()
            .all(&db)
            .await
            .unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert_eq!(signal.signal(), "PostInit");
        assert!(signal.downcast_ref::<Poisoned>().is_some());
        log.take();
    }
}
