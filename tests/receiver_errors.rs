//! Receivers may return `Result<R, E>` for any `E: Into<BoxError>`: the crate's `BoxError`,
//! `Box<dyn Error + Send + Sync>` written out, and `anyhow::Error` (as well as any
//! `E: Error + Send + Sync + 'static`). For link-time and runtime receivers, sync and async,
//! the send's error still reaches the receiver's own error type, through
//! `SendError::downcast_ref` and through `Error::source`.

use std::error::Error;

use signals_core::prelude::*;
use signals_core::{BoxError, SendError};

/// The receivers' own error, wrapped in each of the three forms.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("job {code} failed")]
struct JobError {
    code: u32,
}

/// Which form a receiver fails with; the others succeed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    Boxed,
    DynBoxed,
    Anyhow,
}

const FORMS: [Form; 3] = [Form::Boxed, Form::DynBoxed, Form::Anyhow];

fn code(form: Form) -> u32 {
    match form {
        Form::Boxed => 1,
        Form::DynBoxed => 2,
        Form::Anyhow => 3,
    }
}

/// Checks that `error` came from the receiver failing with `form`, and reaches its
/// `JobError` both ways.
///
/// `anyhow::Error`'s `Into<BoxError>` boxes anyhow's own wrapper, which displays (and
/// chains sources) as the original error but does not downcast to it: the message is
/// checked instead, and that the wrapper is what `downcast_ref` sees.
fn assert_reaches_job_error(error: &SendError, form: Form, receiver: &str) {
    let expected = JobError { code: code(form) };
    assert!(
        matches!(error, SendError::Receiver { .. }),
        "{form:?}: {error}"
    );
    assert!(
        error.receiver().unwrap().name().ends_with(receiver),
        "{form:?}: failed receiver is {}",
        error.receiver().unwrap().name()
    );
    let source = error.source().expect("the receiver's error is the source");
    assert_eq!(source.to_string(), expected.to_string(), "{form:?}");
    if form == Form::Anyhow {
        assert_eq!(error.downcast_ref::<JobError>(), None);
        assert!(source.source().is_none(), "JobError has no source");
    } else {
        assert_eq!(
            error.downcast_ref::<JobError>(),
            Some(&expected),
            "{form:?}"
        );
        assert_eq!(
            source.downcast_ref::<JobError>(),
            Some(&expected),
            "{form:?}"
        );
    }
}

// --- Link-time, sync -------------------------------------------------------------------

#[derive(Signal)]
struct SyncJob {
    fail: Option<Form>,
}

#[receiver(SyncJob)]
fn sync_boxed(event: &SyncJob) -> Result<(), BoxError> {
    match event.fail {
        Some(Form::Boxed) => Err(Box::new(JobError { code: 1 })),
        _ => Ok(()),
    }
}

#[receiver(SyncJob)]
fn sync_dyn_boxed(event: &SyncJob) -> Result<(), Box<dyn Error + Send + Sync>> {
    match event.fail {
        Some(Form::DynBoxed) => Err(JobError { code: 2 }.into()),
        _ => Ok(()),
    }
}

#[receiver(SyncJob)]
fn sync_anyhow(event: &SyncJob) -> anyhow::Result<()> {
    match event.fail {
        Some(Form::Anyhow) => Err(JobError { code: 3 })?,
        _ => Ok(()),
    }
}

#[test]
fn link_time_sync_receivers_return_each_error_form() {
    assert_eq!(SyncJob { fail: None }.send().unwrap().receivers(), 3);
    for form in FORMS {
        let error = SyncJob { fail: Some(form) }.send().unwrap_err();
        let receiver = match form {
            Form::Boxed => "sync_boxed",
            Form::DynBoxed => "sync_dyn_boxed",
            Form::Anyhow => "sync_anyhow",
        };
        assert_reaches_job_error(&error, form, receiver);
    }
}

// --- Link-time, async ------------------------------------------------------------------

#[derive(Signal)]
struct AsyncJob {
    fail: Option<Form>,
}

#[receiver(AsyncJob)]
async fn async_boxed(event: &AsyncJob) -> Result<(), BoxError> {
    tokio::task::yield_now().await;
    match event.fail {
        Some(Form::Boxed) => Err(Box::new(JobError { code: 1 })),
        _ => Ok(()),
    }
}

#[receiver(AsyncJob)]
async fn async_dyn_boxed(event: &AsyncJob) -> Result<(), Box<dyn Error + Send + Sync>> {
    tokio::task::yield_now().await;
    match event.fail {
        Some(Form::DynBoxed) => Err(Box::new(JobError { code: 2 })),
        _ => Ok(()),
    }
}

#[receiver(AsyncJob)]
async fn async_anyhow(event: &AsyncJob) -> Result<(), anyhow::Error> {
    tokio::task::yield_now().await;
    match event.fail {
        Some(Form::Anyhow) => Err(anyhow::Error::new(JobError { code: 3 })),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn link_time_async_receivers_return_each_error_form() {
    let delivered = AsyncJob { fail: None }.send_async().await.unwrap();
    assert_eq!(delivered.receivers(), 3);
    for form in FORMS {
        let error = AsyncJob { fail: Some(form) }
            .send_async()
            .await
            .unwrap_err();
        let receiver = match form {
            Form::Boxed => "async_boxed",
            Form::DynBoxed => "async_dyn_boxed",
            Form::Anyhow => "async_anyhow",
        };
        assert_reaches_job_error(&error, form, receiver);
    }
}

// --- Runtime, sync ---------------------------------------------------------------------

#[derive(Signal)]
struct RuntimeJob {
    fail: Option<Form>,
}

#[test]
fn runtime_sync_receivers_return_each_error_form() {
    let _boxed = RuntimeJob::connect(|event: &RuntimeJob| -> Result<(), BoxError> {
        match event.fail {
            Some(Form::Boxed) => Err(Box::new(JobError { code: 1 })),
            _ => Ok(()),
        }
    });
    let _dyn_boxed = RuntimeJob::connect(
        |event: &RuntimeJob| -> Result<(), Box<dyn Error + Send + Sync>> {
            match event.fail {
                Some(Form::DynBoxed) => Err(JobError { code: 2 }.into()),
                _ => Ok(()),
            }
        },
    );
    let _anyhow = RuntimeJob::connect(|event: &RuntimeJob| -> anyhow::Result<()> {
        match event.fail {
            Some(Form::Anyhow) => Err(JobError { code: 3 }.into()),
            _ => Ok(()),
        }
    });
    assert_eq!(RuntimeJob { fail: None }.send().unwrap().receivers(), 3);
    for form in FORMS {
        let error = RuntimeJob { fail: Some(form) }.send().unwrap_err();
        // Runtime receivers are named after the test function that connected them.
        assert_reaches_job_error(&error, form, "");
    }
}

// --- Runtime, async --------------------------------------------------------------------

#[derive(Signal)]
struct RuntimeAsyncJob {
    fail: Option<Form>,
}

#[tokio::test(flavor = "current_thread")]
async fn runtime_async_receivers_return_each_error_form() {
    let _boxed = RuntimeAsyncJob::connect_async(|event: &RuntimeAsyncJob| {
        Box::pin(async move {
            tokio::task::yield_now().await;
            match event.fail {
                Some(Form::Boxed) => Err(Box::new(JobError { code: 1 }) as BoxError),
                _ => Ok(()),
            }
        })
    });
    let _dyn_boxed = RuntimeAsyncJob::connect_async(|event: &RuntimeAsyncJob| {
        Box::pin(async move {
            let result: Result<(), Box<dyn Error + Send + Sync>> = match event.fail {
                Some(Form::DynBoxed) => Err(JobError { code: 2 }.into()),
                _ => Ok(()),
            };
            result
        })
    });
    let _anyhow = RuntimeAsyncJob::connect_async(|event: &RuntimeAsyncJob| {
        Box::pin(async move {
            match event.fail {
                Some(Form::Anyhow) => Err(anyhow::anyhow!(JobError { code: 3 })),
                _ => Ok(()),
            }
        })
    });
    let delivered = RuntimeAsyncJob { fail: None }.send_async().await.unwrap();
    assert_eq!(delivered.receivers(), 3);
    for form in FORMS {
        let error = RuntimeAsyncJob { fail: Some(form) }
            .send_async()
            .await
            .unwrap_err();
        assert_reaches_job_error(&error, form, "");
    }
}
