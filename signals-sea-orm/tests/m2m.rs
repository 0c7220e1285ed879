//! Junction rows send M2mChanged, through SeaORM's many-to-many link path
//! (`establish_links`) and through direct junction writes.

mod common;

use common::{Log, create_table, databases, drop_table};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use signals_core::Signal;
use signals_core::models::{M2mAction, M2mChanged};

pub mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mm_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl Related<super::tag::Entity> for Entity {
        fn to() -> RelationDef {
            super::post_tag::Relation::Tag.def()
        }
        fn via() -> Option<RelationDef> {
            Some(super::post_tag::Relation::Post.def().rev())
        }
    }

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mm_tags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub label: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod post_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mm_post_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub post_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::post::Entity",
            from = "Column::PostId",
            to = "super::post::Column::Id"
        )]
        Post,
        #[sea_orm(
            belongs_to = "super::tag::Entity",
            from = "Column::TagId",
            to = "super::tag::Column::Id"
        )]
        Tag,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl Related<super::tag::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Tag.def()
        }
    }

    signals_sea_orm::behavior!(ActiveModel, junction(post_id => "Post", tag_id => "Tag"));
}

#[derive(Debug, thiserror::Error)]
#[error("tag {0} is banned")]
struct Banned(i64);

async fn setup(db: &DatabaseConnection) -> (post::ActiveModel, Vec<tag::ActiveModel>) {
    drop_table(db, post_tag::Entity).await;
    drop_table(db, post::Entity).await;
    drop_table(db, tag::Entity).await;
    create_table(db, post::Entity).await;
    create_table(db, tag::Entity).await;
    create_table(db, post_tag::Entity).await;
    let post: post::ActiveModel = post::ActiveModel {
        title: Set("hello".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .into();
    let mut tags = Vec::new();
    for label in ["rust", "orm", "signals", "banned"] {
        let tag: tag::ActiveModel = tag::ActiveModel {
            label: Set(label.into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap()
        .into();
        tags.push(tag);
    }
    (post, tags)
}

#[tokio::test]
async fn junction_writes_send_m2m_changed() {
    let log = Log::default();
    let l = log.clone();
    let _guard =
        M2mChanged::<post_tag::Model>::connect(move |e: &M2mChanged<'_, post_tag::Model>| {
            let pks = e.pk_set.unwrap_or_default();
            if e.action == M2mAction::PreAdd && e.model == "Tag" && pks.contains(&4) {
                return Err(Banned(4));
            }
            l.push(format!(
                "{:?} {}={} {}={:?}",
                e.action,
                e.instance.model_name(),
                e.instance.pk().unwrap(),
                e.model,
                pks
            ));
            Ok(())
        });
    for db in databases().await {
        let (post, tags) = setup(&db).await;
        let p = *post.id.as_ref();
        let t: Vec<i64> = tags.iter().map(|t| *t.id.as_ref()).collect();
        assert_eq!(t, [1, 2, 3, 4]);

        // SeaORM's link path: adds two junction rows.
        post.establish_links(post_tag::Entity, &tags[0..2], false, &db)
            .await
            .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreAdd Post={p} Tag=[1]"),
                format!("PreAdd Post={p} Tag=[2]"),
                format!("PostAdd Post={p} Tag=[1]"),
                format!("PostAdd Post={p} Tag=[2]"),
            ]
        );

        // Replace the set {1, 2} by {2, 3}: 1 is removed, 3 added, 2 untouched.
        post.establish_links(post_tag::Entity, &tags[1..3], true, &db)
            .await
            .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreRemove Post={p} Tag=[1]"),
                format!("PostRemove Post={p} Tag=[1]"),
                format!("PreAdd Post={p} Tag=[3]"),
                format!("PostAdd Post={p} Tag=[3]"),
            ]
        );

        // A failing PreAdd receiver aborts the link: no junction row for tag 4.
        let err = post
            .establish_links(post_tag::Entity, &tags[3..4], false, &db)
            .await
            .unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert_eq!(signal.signal(), "M2mChanged");
        assert!(signal.downcast_ref::<Banned>().is_some());
        assert_eq!(post_tag::Entity::find().count(&db).await.unwrap(), 2);
        assert_eq!(log.take(), Vec::<String>::new());

        // Direct junction writes send the same signals.
        post_tag::ActiveModel {
            post_id: Set(p),
            tag_id: Set(1),
        }
        .insert(&db)
        .await
        .unwrap();
        post_tag::ActiveModel {
            post_id: Set(p),
            tag_id: Set(3),
        }
        .delete(&db)
        .await
        .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreAdd Post={p} Tag=[1]"),
                format!("PostAdd Post={p} Tag=[1]"),
                format!("PreRemove Post={p} Tag=[3]"),
                format!("PostRemove Post={p} Tag=[3]"),
            ]
        );
        assert_eq!(post_tag::Entity::find().count(&db).await.unwrap(), 2);
    }
}
