//! Junction rows send M2mChanged, through SeaORM's many-to-many link path
//! (`establish_links`) and through direct junction writes.

use crate::common::{Log, create_table, databases, drop_table};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set, TryIntoModel,
};
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
    let _serial = crate::common::serial().await;
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

/// One line per signal: action, instance (name=key), reverse, model, keys.
fn m2m_line(e: &M2mChanged<'_, impl signals_core::models::Model>) -> String {
    format!(
        "{:?} {}={} reverse={} {}={:?}",
        e.action,
        e.instance.model_name(),
        e.instance.pk().unwrap(),
        e.reverse,
        e.model,
        e.pk_set
    )
}

#[tokio::test]
async fn link_path_pre_add_skips_existing_rows() {
    let _serial = crate::common::serial().await;
    let log = Log::default();
    let l = log.clone();
    let _guard =
        M2mChanged::<post_tag::Model>::connect(move |e: &M2mChanged<'_, post_tag::Model>| {
            l.push(m2m_line(e));
        });
    for db in databases().await {
        let (post, tags) = setup(&db).await;
        let p = *post.id.as_ref();
        post.establish_links(post_tag::Entity, &tags[1..2], false, &db)
            .await
            .unwrap();
        log.take();
        // {2} linked; linking {1, 2, 3} without deleting leftovers: SeaORM's before_save
        // runs for 2 as well, but only 1 and 3 are added, so only they are reported.
        post.establish_links(post_tag::Entity, &tags[0..3], false, &db)
            .await
            .unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreAdd Post={p} reverse=false Tag=Some([1])"),
                format!("PreAdd Post={p} reverse=false Tag=Some([3])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([1])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([3])"),
            ]
        );
        assert_eq!(post_tag::Entity::find().count(&db).await.unwrap(), 3);
    }
}

#[tokio::test]
async fn links_api_sends_like_django() {
    let _serial = crate::common::serial().await;
    use signals_sea_orm::m2m;
    let log = Log::default();
    let l = log.clone();
    let titles = Log::default();
    let t = titles.clone();
    let _guard =
        M2mChanged::<post_tag::Model>::connect(move |e: &M2mChanged<'_, post_tag::Model>| {
            if e.action == M2mAction::PreAdd && e.pk_set.unwrap_or_default().contains(&4) {
                return Err(Banned(4));
            }
            // The instance is the caller's own model, not a stand-in.
            if let Some(post) = e.instance.downcast_ref::<post::Model>() {
                t.push(post.title.clone());
            }
            if let Some(tag) = e.instance.downcast_ref::<tag::Model>() {
                t.push(tag.label.clone());
            }
            l.push(m2m_line(e));
            Ok(())
        });
    for db in databases().await {
        let (post, tags) = setup(&db).await;
        let post: post::Model = post.try_into_model().unwrap();
        let p = post.id;
        let tags: Vec<tag::Model> = tags
            .into_iter()
            .map(|t| t.try_into_model().unwrap())
            .collect();
        let links = m2m::links::<post_tag::ActiveModel, _>(&post).unwrap();

        assert_eq!(links.add(&db, [1, 2, 1]).await.unwrap(), [1, 2]);
        // 2 is linked already: only 3 is added, and only 3 is reported.
        assert_eq!(links.add(&db, [2, 3]).await.unwrap(), [3]);
        assert_eq!(
            log.take(),
            [
                format!("PreAdd Post={p} reverse=false Tag=Some([1, 2])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([1, 2])"),
                format!("PreAdd Post={p} reverse=false Tag=Some([3])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([3])"),
            ]
        );
        assert_eq!(titles.take(), ["hello"; 4]);

        // Nothing new: Django still sends the pair, with an empty set.
        assert_eq!(links.add(&db, [3]).await.unwrap(), Vec::<i64>::new());
        assert_eq!(
            log.take(),
            [
                format!("PreAdd Post={p} reverse=false Tag=Some([])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([])"),
            ]
        );
        titles.take();

        // From the other side: the tag is the instance, reverse = true.
        let orm = m2m::links::<post_tag::ActiveModel, _>(&tags[1]).unwrap();
        let signals = m2m::links::<post_tag::ActiveModel, _>(&tags[2]).unwrap();
        orm.remove(&db, [p]).await.unwrap();
        signals.add(&db, [p]).await.unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreRemove Tag=2 reverse=true Post=Some([{p}])"),
                format!("PostRemove Tag=2 reverse=true Post=Some([{p}])"),
                "PreAdd Tag=3 reverse=true Post=Some([])".to_string(),
                "PostAdd Tag=3 reverse=true Post=Some([])".to_string(),
            ]
        );
        assert_eq!(titles.take(), ["orm", "orm", "signals", "signals"]);
        assert_eq!(links.keys(&db).await.unwrap(), [1, 3]);

        // A vetoing PreAdd receiver: nothing written.
        let banned = m2m::links::<post_tag::ActiveModel, _>(&tags[3]).unwrap();
        let err = banned.add(&db, [p]).await;
        assert!(
            err.is_ok(),
            "the veto looks at the pk_set, which holds the post"
        );
        log.take();
        titles.take();
        banned.remove(&db, [p]).await.unwrap();
        log.take();
        titles.take();
        let err = links.add(&db, [4]).await.unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).unwrap();
        assert!(signal.downcast_ref::<Banned>().is_some());
        assert!(!signal.written());
        assert_eq!(links.keys(&db).await.unwrap(), [1, 3]);

        // Removing reports the keys submitted, linked or not.
        assert_eq!(links.remove(&db, [1, 9]).await.unwrap(), 1);
        // Clearing: no key set.
        assert_eq!(links.clear(&db).await.unwrap(), 1);
        assert_eq!(
            log.take(),
            [
                format!("PreRemove Post={p} reverse=false Tag=Some([1, 9])"),
                format!("PostRemove Post={p} reverse=false Tag=Some([1, 9])"),
                format!("PreClear Post={p} reverse=false Tag=None"),
                format!("PostClear Post={p} reverse=false Tag=None"),
            ]
        );
        assert_eq!(post_tag::Entity::find().count(&db).await.unwrap(), 0);

        // set: removes the stale, adds the new, leaves the kept alone.
        links.add(&db, [1, 2]).await.unwrap();
        log.take();
        links.set(&db, [2, 3]).await.unwrap();
        assert_eq!(
            log.take(),
            [
                format!("PreRemove Post={p} reverse=false Tag=Some([1])"),
                format!("PostRemove Post={p} reverse=false Tag=Some([1])"),
                format!("PreAdd Post={p} reverse=false Tag=Some([3])"),
                format!("PostAdd Post={p} reverse=false Tag=Some([3])"),
            ]
        );
        links.set(&db, [3, 2]).await.unwrap();
        assert_eq!(log.take(), Vec::<String>::new());
        titles.take();
    }
}

pub mod person {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mm_people")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

pub mod follow {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mm_follows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub follower_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub followee_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel, junction(follower_id => "Person", followee_id => "Person"));
}

#[tokio::test]
async fn self_referential_links_report_their_side() {
    use signals_sea_orm::m2m;
    let log = Log::default();
    let l = log.clone();
    let _guard = M2mChanged::<follow::Model>::connect(move |e: &M2mChanged<'_, follow::Model>| {
        l.push(m2m_line(e));
    });
    for db in databases().await {
        drop_table(&db, follow::Entity).await;
        drop_table(&db, person::Entity).await;
        create_table(&db, person::Entity).await;
        create_table(&db, follow::Entity).await;
        let mut people = Vec::new();
        for name in ["ada", "bob", "cy"] {
            let person = person::ActiveModel {
                name: Set(name.into()),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
            people.push(person);
        }
        let (ada, bob, cy) = (&people[0], &people[1], &people[2]);
        // ada follows bob (forward: ada is the follower).
        m2m::links::<follow::ActiveModel, _>(ada)
            .unwrap()
            .add(&db, [bob.id])
            .await
            .unwrap();
        // bob is followed by cy (reverse: bob is the followee).
        m2m::reverse_links::<follow::ActiveModel, _>(bob)
            .unwrap()
            .add(&db, [cy.id])
            .await
            .unwrap();
        assert_eq!(
            log.take(),
            [
                format!(
                    "PreAdd Person={} reverse=false Person=Some([{}])",
                    ada.id, bob.id
                ),
                format!(
                    "PostAdd Person={} reverse=false Person=Some([{}])",
                    ada.id, bob.id
                ),
                format!(
                    "PreAdd Person={} reverse=true Person=Some([{}])",
                    bob.id, cy.id
                ),
                format!(
                    "PostAdd Person={} reverse=true Person=Some([{}])",
                    bob.id, cy.id
                ),
            ]
        );
        let mut rows: Vec<(i64, i64)> = follow::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.follower_id, r.followee_id))
            .collect();
        rows.sort();
        assert_eq!(rows, [(ada.id, bob.id), (cy.id, bob.id)]);
    }
}
