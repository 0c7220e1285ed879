//! One sender per entity: `PreSave` takes the entity's `Model` like every other model
//! signal. Its `instance` is the row as it will be written (a partial update's unset
//! columns read from the database), and the active model is its `draft`.

use std::sync::Mutex;

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, Set};
use signals_core::models::PreSave;
use signals_core::receiver;

entity!(item, "sd_items");

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PreSave, sender = item::Model)]
fn pre_save(event: &PreSave<'_, item::Model>) {
    let draft = signals_sea_orm::active_model::<item::ActiveModel>(event).expect("draft");
    SEEN.lock().unwrap().push(format!(
        "id={} name={} score={} draft name set={} id set={}",
        event.instance.id,
        event.instance.name,
        event.instance.score,
        draft.name.is_set(),
        !draft.id.is_not_set(),
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_save_sends_the_row_to_be_written_with_the_active_model() {
    for db in databases().await {
        reset(&db, item::Entity).await;
        SEEN.lock().unwrap().clear();
        let saved = item::ActiveModel {
            name: Set("lamp".into()),
            email: Set("lamp@example.com".into()),
            score: Set(1),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        // A partial update: only the key and the score are known to the active model.
        item::ActiveModel {
            id: Set(saved.id),
            score: Set(7),
            ..Default::default()
        }
        .update(&db)
        .await
        .unwrap();
        assert_eq!(
            std::mem::take(&mut *SEEN.lock().unwrap()),
            [
                "id=0 name=lamp score=1 draft name set=true id set=false".to_owned(),
                format!(
                    "id={} name=lamp score=7 draft name set=false id set=true",
                    saved.id
                ),
            ]
        );
    }
}
