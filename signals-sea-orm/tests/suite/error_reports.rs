//! A PreSave veto's reason is printed: the `SignalError`'s `{:#}` and `{:?}`, the `DbErr`'s
//! `{:?}` (what `unwrap` and `fn main() -> Result<(), DbErr>` print) and
//! `signals_core::error::chain(&db_err)`, while each `{}` stays the error alone.

use std::error::Error as _;

use crate::common::{databases, reset};
use sea_orm::{ActiveModelTrait, DbErr, Set};
use signals_core::error::chain;
use signals_core::models::PreSave;

entity!(vetoed, "er_vetoed");
entity!(mailed, "er_mailed");

#[derive(Debug, thiserror::Error)]
#[error("names must not be empty")]
struct EmptyName;

#[tokio::test]
async fn a_pre_save_veto_shows_its_reason() {
    let _guard = PreSave::<vetoed::Model>::connect(|e: &PreSave<'_, vetoed::Model>| {
        match Some(&e.instance.name) {
            Some(name) if name.is_empty() => Err(EmptyName),
            _ => Ok(()),
        }
    });
    for db in databases().await {
        reset(&db, vetoed::Entity).await;
        let err: DbErr = vetoed::ActiveModel {
            name: Set(String::new()),
            email: Set("nobody@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap_err();

        let signal = signals_sea_orm::signal_error(&err).expect("a receiver error");
        let receiver = signal.send_error().receiver().expect("named").to_string();
        let own = format!("PreSave receiver {receiver} failed: the write of Vetoed was aborted");

        // `{}`: the error alone; the reason is its source, one hop down.
        assert_eq!(signal.to_string(), own);
        assert_eq!(
            signal.source().unwrap().to_string(),
            "names must not be empty"
        );
        // `{:#}`: the whole chain.
        assert_eq!(
            format!("{signal:#}"),
            format!("{own}: names must not be empty")
        );
        // `{:?}`: the report.
        let report = format!("{own}\n\nCaused by:\n    names must not be empty");
        assert_eq!(format!("{signal:?}"), report);
        // `{:#?}`: the structural dump.
        let dump = format!("{signal:#?}");
        assert!(
            dump.starts_with("SignalError {\n    signal: \"PreSave\","),
            "{dump}"
        );
        assert!(dump.contains("source: Receiver {"), "{dump}");

        // The DbErr: `{}` is SeaORM's, followed by the SignalError's message...
        assert_eq!(
            err.to_string(),
            format!("Error converting `signal receiver` into `database write`: {own}")
        );
        // ...its derived Debug holds the SignalError's report, reason included...
        assert_eq!(
            format!("{err:?}"),
            format!(
                "TryIntoErr {{ from: \"signal receiver\", into: \"database write\", source: {report} }}"
            )
        );
        // ...and `chain` prints every cause once (SeaORM's message repeats the next one).
        assert_eq!(
            chain(&err).to_string(),
            format!(
                "Error converting `signal receiver` into `database write`: {own}: names must not be empty"
            )
        );
        assert_eq!(
            format!("{:?}", chain(&err)),
            format!(
                "Error converting `signal receiver` into `database write`: {own}\n\nCaused by:\n    names must not be empty"
            )
        );
        // The `source()` chain ends at the receiver's error, typed.
        let mut last: &dyn std::error::Error = &err;
        while let Some(next) = last.source() {
            last = next;
        }
        assert!(last.downcast_ref::<EmptyName>().is_some(), "{last}");
    }
}

#[derive(Debug, thiserror::Error)]
#[error("mailer down")]
struct MailerDown(#[source] std::io::Error);

#[tokio::test]
async fn a_post_save_failure_shows_its_causes() {
    let _guard = signals_core::models::PostSave::<mailed::Model>::connect(
        |_: &signals_core::models::PostSave<'_, mailed::Model>| {
            Err::<(), _>(MailerDown(std::io::Error::other("connection reset")))
        },
    );
    for db in databases().await {
        reset(&db, mailed::Entity).await;
        let err = mailed::ActiveModel {
            name: Set("ada".into()),
            email: Set("ada@example.com".into()),
            score: Set(0),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap_err();
        let signal = signals_sea_orm::signal_error(&err).expect("a receiver error");
        assert!(signal.written());
        let receiver = signal.send_error().receiver().unwrap().to_string();
        assert_eq!(
            format!("{signal:#}"),
            format!(
                "Mailed was written, then PostSave receiver {receiver} failed: mailer down: connection reset"
            )
        );
    }
}
