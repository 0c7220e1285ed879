//! Offloaded receivers declared with `#[receiver(.., offload = "mail", retries = 2)]`: the
//! send writes the job to the outbox in the model write's transaction (a rollback leaves
//! nothing), the `when` predicate applies before it, a worker built with
//! `Offload::linked()` runs the function with its `Job`, and the receiver map shows it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use signals_core::map::ReceiverMap;
use signals_core::models::PostSave;
use signals_core::receiver;
use signals_offload::{Broker, Job, Offload, Relay, Shutdown, SqliteBroker, outbox};

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

/// The job: owned and serializable, built from the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub user_id: i64,
    pub email: String,
}

impl From<&PostSave<'_, user::Model>> for Welcome {
    fn from(event: &PostSave<'_, user::Model>) -> Self {
        Welcome {
            user_id: event.instance.id,
            email: event.instance.email.clone(),
        }
    }
}

static RAN: Mutex<Vec<(i64, u32, String)>> = Mutex::new(Vec::new());

fn is_new(event: &PostSave<'_, user::Model>) -> bool {
    event.created
}

#[receiver(PostSave, sender = user::Model, on = Commit, when = is_new, offload = "mail", retries = 2)]
async fn send_welcome(job: Job<Welcome>) -> Result<(), std::io::Error> {
    RAN.lock()
        .unwrap()
        .push((job.delivery_id.0, job.attempt, job.payload.email));
    Ok(())
}

const NAME: &str = "declared::send_welcome";

async fn app_db(dir: &tempfile::TempDir) -> DatabaseConnection {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let db = Database::connect(url).await.expect("app database");
    db.execute_unprepared(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL)",
    )
    .await
    .expect("users table");
    outbox::create_table(&db).await.expect("outbox table");
    db
}

async fn signup(db: &DatabaseConnection, email: &str, commit: bool) -> Result<i64, String> {
    let email = email.to_owned();
    signals_sea_orm::transaction(db, move |txn| {
        Box::pin(async move {
            let user = user::ActiveModel {
                email: Set(email),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            if commit {
                Ok(user.id)
            } else {
                Err(sea_orm::DbErr::Custom("rolled back by the test".into()))
            }
        })
    })
    .await
    .map_err(|err| match err {
        sea_orm::TransactionError::Transaction(db) => signals_core::error::chain(&db).to_string(),
        other => other.to_string(),
    })
}

/// What the job spans and the outbox events recorded: (name, fields as `key=value`).
static TRACED: Mutex<Vec<(String, Vec<String>)>> = Mutex::new(Vec::new());

struct Recorder;

struct Fields(Vec<String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().target() == "signals_offload" {
            let mut fields = Fields(Vec::new());
            attrs.record(&mut fields);
            ctx.span(id).unwrap().extensions_mut().insert(fields);
        }
    }
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        if let Some(fields) = span.extensions_mut().remove::<Fields>() {
            TRACED
                .lock()
                .unwrap()
                .push((span.name().to_owned(), fields.0));
        }
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "signals_offload" {
            let mut fields = Fields(Vec::new());
            event.record(&mut fields);
            // The span the event is in: the send's receiver span, on the app side.
            let scope = ctx
                .event_span(event)
                .map(|s| s.name().to_owned())
                .unwrap_or_default();
            fields.0.push(format!("in_span={scope}"));
            TRACED.lock().unwrap().push(("event".to_owned(), fields.0));
        }
    }
}

/// One test: the outbox writer is process-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offloaded_receiver_is_written_in_the_transaction_and_run_by_a_linked_worker() {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Recorder))
        .expect("the only subscriber");
    tokio::time::timeout(Duration::from_secs(30), async {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = app_db(&dir).await;
        let offload = Arc::new(Offload::linked());
        assert!(offload.has_handler("mail", NAME), "{offload:?}");

        // No outbox installed: the save fails with the reason, nothing is lost silently.
        signals_core::offload::uninstall();
        let err = signup(&db, "early@example.com", true)
            .await
            .expect_err("no outbox");
        assert!(err.contains("no outbox is installed"), "{err}");
        assert!(err.contains(NAME), "{err}");

        offload.install(db.clone());
        // Committed: one pending row, in the same transaction as the user.
        let ada = signup(&db, "ada@example.com", true)
            .await
            .expect("committed");
        let rows = outbox::Entity::find().all(&db).await.expect("rows");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].queue.as_str(), rows[0].handler.as_str()),
            ("mail", NAME)
        );
        assert_eq!(rows[0].max_attempts, 3, "retries = 2: three attempts");
        assert_eq!(rows[0].status, "pending");
        let payload: Welcome = serde_json::from_str(&rows[0].payload).expect("json");
        assert_eq!(
            payload,
            Welcome {
                user_id: ada,
                email: "ada@example.com".into()
            }
        );
        let delivery = rows[0].id;

        // Rolled back: neither the user nor the row.
        signup(&db, "bob@example.com", false)
            .await
            .expect_err("rolled back");
        assert_eq!(
            outbox::Entity::find().all(&db).await.expect("rows").len(),
            1
        );
        assert_eq!(user::Entity::find().all(&db).await.expect("users").len(), 1);

        // An update is not new: `when = is_new` keeps it out of the outbox.
        let mut am: user::ActiveModel = user::Entity::find_by_id(ada)
            .one(&db)
            .await
            .expect("query")
            .expect("ada")
            .into();
        am.email = Set("ada@new.example.com".into());
        am.update(&db).await.expect("updated");
        assert_eq!(
            outbox::Entity::find().all(&db).await.expect("rows").len(),
            1
        );

        // A worker that links the receiver runs it with its job.
        let broker = Arc::new(
            SqliteBroker::open(dir.path().join("broker.db"))
                .await
                .expect("broker")
                .with_poll_interval(Duration::from_millis(25)),
        );
        let shutdown = Shutdown::new();
        let relay = Relay::new(db.clone(), broker.clone(), &offload);
        let relay_task = tokio::spawn({
            let stop = shutdown.signal();
            async move { relay.run(Duration::from_millis(50), stop).await }
        });
        let worker =
            tokio::spawn(broker.run_worker("worker-1".into(), offload.clone(), shutdown.signal()));
        while RAN.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.request();
        relay_task.await.expect("relay stopped");
        worker.await.expect("joined").expect("worker stopped");
        assert_eq!(
            *RAN.lock().unwrap(),
            [(delivery, 1, "ada@example.com".to_owned())]
        );

        // One job span, linked to the send's outbox event by the delivery id.
        let traced = TRACED.lock().unwrap().clone();
        let has = |fields: &[String], f: &str| fields.iter().any(|x| x == f);
        let id = format!("delivery_id={delivery}");
        let written = traced
            .iter()
            .find(|(name, fields)| {
                name == "event"
                    && has(fields, &id)
                    && has(fields, "message=job written to the outbox")
            })
            .unwrap_or_else(|| panic!("the send's event: {traced:#?}"));
        assert!(has(&written.1, "in_span=signal.receiver"), "{written:?}");
        assert!(has(&written.1, "in_transaction=true"), "{written:?}");
        let job = traced
            .iter()
            .find(|(name, fields)| name == "offload.job" && has(fields, &id))
            .unwrap_or_else(|| panic!("the job's span: {traced:#?}"));
        for field in [
            "signal=PostSave",
            &format!("receiver={NAME}"),
            "queue=mail",
            "attempt=1",
            "outcome=done",
        ] {
            assert!(has(&job.1, field), "{field} in {job:?}");
        }

        // Listed and mapped with its queue.
        let info = signals_core::registry::receivers()
            .into_iter()
            .find(|r| r.name() == NAME)
            .expect("listed");
        assert_eq!(info.offload(), Some("mail"));
        assert_eq!(info.when(), Some("is_new"));
        let table = ReceiverMap::current().to_table();
        assert!(
            table.contains("declared::send_welcome (when is_new) (offloaded to queue mail)"),
            "{table}"
        );
        signals_core::offload::uninstall();
    })
    .await
    .expect("within 30 s");
}
