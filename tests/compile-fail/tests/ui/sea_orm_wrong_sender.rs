// A SeaORM entity's model signals all take its `Model` as sender: naming the
// `ActiveModel` (the old PreSave sender) or the `Entity` is a compile error that names
// the `Model`, instead of a receiver that never fires.
mod article {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "articles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    signals_sea_orm::behavior!(ActiveModel);
}

use signals_core::models::{PostSave, PreSave};
use signals_core::prelude::*;

#[receiver(PreSave, sender = article::ActiveModel)]
fn stamp(_event: &PreSave<'_, article::ActiveModel>) {}

#[receiver(PostSave, sender = article::Entity)]
fn index(_event: &PostSave<'_, article::Entity>) {}

fn main() {}
