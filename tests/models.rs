//! The built-in model signals and the `models::save` / `models::delete` wrappers, the
//! auth signals' credential masking, and the `Model` trait's defaults.
//!
//! Link-time receivers are global to the test binary and the tests run in parallel, so
//! each test has its own model types and sender-specific receivers; the any-sender
//! receivers filter by type.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use signals_core::auth::{Credentials, UserLoginFailed};
use signals_core::models::{
    self, M2mAction, M2mChanged, Model, ModelError, ModelEvent, PostDelete, PostSave, PreDelete,
    PreSave, SaveOptions, Saved,
};
use signals_core::prelude::*;
use signals_core::{ReceiverKind, Signal};

fn take(log: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

type Io = std::io::Error;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("vetoed: {0}")]
pub struct Veto(&'static str);

// ---------------------------------------------------------------------------------------
// save: PreSave, the write, PostSave.

pub struct Post {
    pub id: i64,
}
impl Model for Post {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static POST_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PreSave, sender = Post)]
fn post_pre_save(e: &PreSave<'_, Post>) {
    POST_LOG.lock().unwrap().push(format!(
        "pre id={} using={} raw={} fields={:?}",
        e.instance.id, e.using, e.raw, e.update_fields
    ));
}

#[receiver(PostSave, sender = Post)]
fn post_post_save(e: &PostSave<'_, Post>) {
    POST_LOG.lock().unwrap().push(format!(
        "post id={} created={} using={} raw={} fields={:?}",
        e.instance.id, e.created, e.using, e.raw, e.update_fields
    ));
}

#[test]
fn save_sends_pre_save_then_post_save_around_the_write() {
    let post = Post { id: 1 };
    let rows = models::save(&post, |p| {
        POST_LOG
            .lock()
            .unwrap()
            .push(format!("persist id={}", p.id));
        Ok::<_, Io>(Saved::Created(1u64))
    })
    .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(
        take(&POST_LOG),
        [
            "pre id=1 using=default raw=false fields=None",
            "persist id=1",
            "post id=1 created=true using=default raw=false fields=None",
        ]
    );

    // Saved::Updated sets created = false, and its value is returned.
    let value = models::save(&post, |_| Ok::<_, Io>(Saved::Updated("updated"))).unwrap();
    assert_eq!(value, "updated");
    assert_eq!(
        take(&POST_LOG),
        [
            "pre id=1 using=default raw=false fields=None",
            "post id=1 created=false using=default raw=false fields=None",
        ]
    );

    // save_with passes using, raw and update_fields to both signals.
    let fields: &[&str] = &["title", "body"];
    let options = SaveOptions {
        using: "replica",
        raw: true,
        update_fields: Some(fields),
    };
    models::save_with(options, &Post { id: 2 }, |_| {
        Ok::<_, Io>(Saved::Updated(()))
    })
    .unwrap();
    assert_eq!(
        take(&POST_LOG),
        [
            r#"pre id=2 using=replica raw=true fields=Some(["title", "body"])"#,
            r#"post id=2 created=false using=replica raw=true fields=Some(["title", "body"])"#,
        ]
    );
    assert_eq!(SaveOptions::default().using, models::DEFAULT_DB);
    assert_eq!(models::DEFAULT_DB, "default");
}

// ---------------------------------------------------------------------------------------
// A PreSave error aborts the write.

pub struct Vetoed;
impl Model for Vetoed {}

static VETOED_POST: AtomicBool = AtomicBool::new(false);

#[receiver(PreSave, sender = Vetoed)]
fn veto(_: &PreSave<'_, Vetoed>) -> Result<(), Veto> {
    Err(Veto("read-only"))
}

#[receiver(PostSave, sender = Vetoed)]
fn vetoed_post_save(_: &PostSave<'_, Vetoed>) {
    VETOED_POST.store(true, Ordering::SeqCst);
}

#[test]
fn a_pre_save_error_aborts_the_write() {
    let persisted = AtomicBool::new(false);
    let result = models::save(&Vetoed, |_| {
        persisted.store(true, Ordering::SeqCst);
        Ok::<_, Io>(Saved::Created(()))
    });
    let error = result.unwrap_err();
    assert!(
        !persisted.load(Ordering::SeqCst),
        "persist must not run after a PreSave error"
    );
    assert!(
        !VETOED_POST.load(Ordering::SeqCst),
        "no PostSave after an aborted save"
    );
    match &error {
        ModelError::Aborted { signal, source } => {
            assert_eq!(*signal, "PreSave");
            assert_eq!(source.receiver().unwrap().name(), "models::veto");
            assert_eq!(source.downcast_ref::<Veto>(), Some(&Veto("read-only")));
        }
        other => panic!("expected Aborted, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the write was aborted by a PreSave receiver"
    );
    // The chain: ModelError -> SendError -> Veto.
    let send_error = std::error::Error::source(&error).unwrap();
    assert_eq!(
        std::error::Error::source(send_error).unwrap().to_string(),
        "vetoed: read-only"
    );
}

// ---------------------------------------------------------------------------------------
// A PostSave error comes after the write.

pub struct Fragile;
impl Model for Fragile {}

#[receiver(PostSave, sender = Fragile)]
fn fragile_post_save(e: &PostSave<'_, Fragile>) -> Result<(), Veto> {
    if e.created {
        Err(Veto("post failed"))
    } else {
        Ok(())
    }
}

#[test]
fn a_post_save_error_is_reported_after_the_write() {
    let persisted = AtomicBool::new(false);
    let error = models::save(&Fragile, |_| {
        persisted.store(true, Ordering::SeqCst);
        Ok::<_, Io>(Saved::Created(()))
    })
    .unwrap_err();
    // As in Django, the write is not undone.
    assert!(persisted.load(Ordering::SeqCst));
    match &error {
        ModelError::AfterWrite { signal, source } => {
            assert_eq!(*signal, "PostSave");
            assert_eq!(
                source.receiver().unwrap().name(),
                "models::fragile_post_save"
            );
            assert_eq!(source.downcast_ref::<Veto>(), Some(&Veto("post failed")));
        }
        other => panic!("expected AfterWrite, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the write succeeded but a PostSave receiver failed"
    );
    // An update does not trip the receiver.
    assert!(models::save(&Fragile, |_| Ok::<_, Io>(Saved::Updated(()))).is_ok());
}

// ---------------------------------------------------------------------------------------
// A failed write sends no PostSave.

pub struct Unwritable;
impl Model for Unwritable {}

static UNWRITABLE_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PreSave, sender = Unwritable)]
fn unwritable_pre(_: &PreSave<'_, Unwritable>) {
    UNWRITABLE_LOG.lock().unwrap().push("pre".into());
}

#[receiver(PostSave, sender = Unwritable)]
fn unwritable_post(_: &PostSave<'_, Unwritable>) {
    UNWRITABLE_LOG.lock().unwrap().push("post".into());
}

#[test]
fn a_failed_write_sends_no_post_save() {
    let error =
        models::save(&Unwritable, |_| Err::<Saved<()>, _>(Io::other("disk full"))).unwrap_err();
    match error {
        ModelError::Write(io) => assert_eq!(io.to_string(), "disk full"),
        other => panic!("expected Write, got {other:?}"),
    }
    assert_eq!(take(&UNWRITABLE_LOG), ["pre"]);
}

// ---------------------------------------------------------------------------------------
// delete: PreDelete, the removal, PostDelete.

pub struct Doomed {
    pub id: i64,
    pub protected: bool,
}
impl Model for Doomed {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static DOOMED_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PreDelete, sender = Doomed)]
fn doomed_pre_delete(e: &PreDelete<'_, Doomed>) -> Result<(), Veto> {
    DOOMED_LOG
        .lock()
        .unwrap()
        .push(format!("pre-delete {} using={}", e.instance.id, e.using));
    if e.instance.protected {
        Err(Veto("protected"))
    } else {
        Ok(())
    }
}

#[receiver(PostDelete, sender = Doomed)]
fn doomed_post_delete(e: &PostDelete<'_, Doomed>) {
    // The instance still holds its primary key.
    DOOMED_LOG.lock().unwrap().push(format!(
        "post-delete pk={:?} using={} origin={}",
        e.instance.pk(),
        e.using,
        e.origin.is_some()
    ));
}

#[test]
fn delete_sends_pre_delete_then_post_delete_and_a_pre_delete_error_aborts() {
    let removed = models::delete(
        &Doomed {
            id: 3,
            protected: false,
        },
        |d| {
            DOOMED_LOG.lock().unwrap().push(format!("remove {}", d.id));
            Ok::<_, Io>(1usize)
        },
    )
    .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        take(&DOOMED_LOG),
        [
            "pre-delete 3 using=default",
            "remove 3",
            "post-delete pk=Some(3) using=default origin=false"
        ]
    );

    models::delete_using(
        "archive",
        &Doomed {
            id: 4,
            protected: false,
        },
        |_| Ok::<_, Io>(()),
    )
    .unwrap();
    assert_eq!(
        take(&DOOMED_LOG),
        [
            "pre-delete 4 using=archive",
            "post-delete pk=Some(4) using=archive origin=false"
        ]
    );

    let removed = AtomicBool::new(false);
    let error = models::delete(
        &Doomed {
            id: 5,
            protected: true,
        },
        |_| {
            removed.store(true, Ordering::SeqCst);
            Ok::<_, Io>(())
        },
    )
    .unwrap_err();
    assert!(!removed.load(Ordering::SeqCst));
    assert!(
        matches!(&error, ModelError::Aborted { signal: "PreDelete", source } if source.downcast_ref::<Veto>() == Some(&Veto("protected")))
    );
    assert_eq!(take(&DOOMED_LOG), ["pre-delete 5 using=default"]);

    // Sent by hand, with a cascade origin.
    let parent = Doomed {
        id: 1,
        protected: false,
    };
    PostDelete::new(&Doomed {
        id: 6,
        protected: false,
    })
    .origin(&parent)
    .send()
    .unwrap();
    assert_eq!(
        take(&DOOMED_LOG),
        ["post-delete pk=Some(6) using=default origin=true"]
    );
}

// ---------------------------------------------------------------------------------------
// One receiver for several model signals.

pub struct Tracked {
    pub id: i64,
}
impl Model for Tracked {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}

static TRACKED_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[receiver(PostSave, PostDelete, sender = Tracked)]
fn invalidate(e: &dyn ModelEvent) {
    TRACKED_LOG.lock().unwrap().push(format!(
        "{} {} pk={:?} using={}",
        e.signal(),
        e.model_name(),
        e.instance().pk(),
        e.using()
    ));
}

#[test]
fn one_receiver_can_take_several_model_signals() {
    let t = Tracked { id: 11 };
    models::save(&t, |_| Ok::<_, Io>(Saved::Created(()))).unwrap();
    models::delete_using("archive", &t, |_| Ok::<_, Io>(())).unwrap();
    // Not registered for PreSave / PreDelete.
    assert_eq!(
        take(&TRACKED_LOG),
        [
            "PostSave Tracked pk=Some(11) using=default",
            "PostDelete Tracked pk=Some(11) using=archive"
        ]
    );

    let save_receivers = PostSave::<Tracked>::receivers();
    let delete_receivers = PostDelete::<Tracked>::receivers();
    // `any_post_save` (an any-sender receiver further down) also receives Tracked saves.
    let names: Vec<&str> = save_receivers.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["models::any_post_save", "models::invalidate"]);
    assert_eq!(delete_receivers.len(), 1);
    assert_eq!(delete_receivers[0].name(), "models::invalidate");
    assert_eq!(
        (save_receivers[1].signal(), delete_receivers[0].signal()),
        ("PostSave", "PostDelete")
    );
    assert!(
        save_receivers[1]
            .sender()
            .is_some_and(|s| s.ends_with("Tracked"))
    );
    assert!(!PreSave::<Tracked>::has_receivers());
}

// ---------------------------------------------------------------------------------------
// m2m_changed.

pub struct Pizza {
    pub id: i64,
}
impl Model for Pizza {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
}
/// The through model: the sender of M2mChanged.
pub struct PizzaToppings;
impl Model for PizzaToppings {}

static M2M_LOG: Mutex<Vec<(M2mAction, String)>> = Mutex::new(Vec::new());

#[receiver(M2mChanged, sender = PizzaToppings)]
fn toppings_changed(e: &M2mChanged<'_, PizzaToppings>) {
    M2M_LOG.lock().unwrap().push((
        e.action,
        format!(
            "{:?} model={} pks={:?} reverse={} using={} raw={}",
            e.instance, e.model, e.pk_set, e.reverse, e.using, e.raw
        ),
    ));
}

#[test]
fn m2m_changed_carries_a_typed_action() {
    let pizza = Pizza { id: 9 };
    let added: &[i64] = &[1, 2];
    for action in [M2mAction::PreAdd, M2mAction::PostAdd] {
        M2mChanged::<PizzaToppings>::new(&pizza, action, "Topping", Some(added))
            .send()
            .unwrap();
    }
    M2mChanged::<PizzaToppings>::new(&pizza, M2mAction::PreClear, "Topping", None)
        .reverse(true)
        .using("other")
        .send()
        .unwrap();
    // Another through model does not reach the receiver.
    struct OtherThrough;
    impl Model for OtherThrough {}
    assert_eq!(
        M2mChanged::<OtherThrough>::new(&pizza, M2mAction::PostRemove, "Topping", None)
            .send()
            .unwrap()
            .receivers(),
        0
    );

    let log = std::mem::take(&mut *M2M_LOG.lock().unwrap());
    let actions: Vec<M2mAction> = log.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        actions,
        [M2mAction::PreAdd, M2mAction::PostAdd, M2mAction::PreClear]
    );
    assert_eq!(
        log[0].1,
        "Pizza(pk=9) model=Topping pks=Some([1, 2]) reverse=false using=default raw=false"
    );
    assert_eq!(
        log[2].1,
        "Pizza(pk=9) model=Topping pks=None reverse=true using=other raw=false"
    );

    // Django's six action strings are six distinct values.
    let all: HashSet<M2mAction> = [
        M2mAction::PreAdd,
        M2mAction::PostAdd,
        M2mAction::PreRemove,
        M2mAction::PostRemove,
        M2mAction::PreClear,
        M2mAction::PostClear,
    ]
    .into_iter()
    .collect();
    assert_eq!(all.len(), 6);
}

// ---------------------------------------------------------------------------------------
// Credentials are masked before any receiver sees them.

static LOGIN_FAILURES: Mutex<Vec<Vec<(String, String)>>> = Mutex::new(Vec::new());

// The only UserLoginFailed receiver in this binary, and the only test that sends it.
#[receiver(UserLoginFailed)]
fn login_failed(e: &UserLoginFailed<'_>) {
    let pairs = e
        .credentials
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    LOGIN_FAILURES.lock().unwrap().push(pairs);
}

#[test]
fn user_login_failed_receivers_see_masked_credentials() {
    let credentials = Credentials::new([
        ("username", "ada"),
        ("password", "hunter2"),
        ("API_Key", "k-123"),
        ("otp_token", "424242"),
        ("session_cookie", "c00kie"),
        ("email", "ada@example.com"),
    ]);
    UserLoginFailed::new(&credentials).send().unwrap();

    let seen = std::mem::take(&mut *LOGIN_FAILURES.lock().unwrap());
    assert_eq!(seen.len(), 1);
    let mask = Credentials::MASK.to_owned();
    let expected: Vec<(String, String)> = [
        ("username", "ada".to_owned()),
        ("password", mask.clone()),
        ("API_Key", mask.clone()),
        ("otp_token", mask.clone()),
        ("session_cookie", mask.clone()),
        ("email", "ada@example.com".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(seen[0], expected);

    // The secret is gone from the value itself, not just hidden by the receiver.
    let debug = format!("{credentials:?}");
    for secret in ["hunter2", "k-123", "424242", "c00kie"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert_eq!(credentials.get("password"), Some(Credentials::MASK));
    assert_eq!(credentials.get("username"), Some("ada"));
}

// ---------------------------------------------------------------------------------------
// The Model trait.

pub struct Invoice;
impl Model for Invoice {}

pub struct Wrapper<T>(pub T);
impl<T: Send + Sync + 'static> Model for Wrapper<T> {}

pub struct Renamed;
impl Model for Renamed {
    fn model_name(&self) -> &'static str {
        "custom_name"
    }
    fn pk(&self) -> Option<i64> {
        Some(42)
    }
}

mod nested {
    pub struct Deep;
    impl signals_core::models::Model for Deep {}
}

static DOWNCASTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// An any-sender receiver: it sees every model, as `&dyn Model`, and downcasts.
#[receiver(PostSave)]
fn any_post_save(e: &PostSave<'_>) {
    // Only this test's types (other tests in this binary save too).
    let instance: &dyn Model = e.instance;
    if let Some(invoice) = instance.downcast_ref::<Invoice>() {
        let _: &Invoice = invoice;
        assert!(instance.downcast_ref::<Renamed>().is_none());
        DOWNCASTS
            .lock()
            .unwrap()
            .push(format!("invoice created={}", e.created));
    } else if let Some(renamed) = instance.downcast_ref::<Renamed>() {
        DOWNCASTS
            .lock()
            .unwrap()
            .push(format!("renamed pk={:?}", renamed.pk()));
    }
}

#[test]
fn model_defaults_and_downcasting() {
    assert_eq!(Invoice.model_name(), "Invoice");
    assert_eq!(Wrapper(1u8).model_name(), "Wrapper");
    assert_eq!(nested::Deep.model_name(), "Deep");
    assert_eq!(Renamed.model_name(), "custom_name");
    assert_eq!(Invoice.pk(), None);

    let dynamic: &dyn Model = &Renamed;
    assert_eq!(dynamic.model_name(), "custom_name");
    assert_eq!(format!("{dynamic:?}"), "custom_name(pk=42)");
    assert_eq!(format!("{:?}", &Invoice as &dyn Model), "Invoice");
    assert!(dynamic.downcast_ref::<Renamed>().is_some());
    assert!(dynamic.downcast_ref::<Invoice>().is_none());

    models::save(&Invoice, |_| Ok::<_, Io>(Saved::Created(()))).unwrap();
    models::save(&Renamed, |_| Ok::<_, Io>(Saved::Updated(()))).unwrap();
    assert_eq!(
        take(&DOWNCASTS),
        ["invoice created=true", "renamed pk=Some(42)"]
    );

    let any = PostSave::<Invoice>::receivers();
    assert!(
        any.iter()
            .any(|r| r.name() == "models::any_post_save" && r.sender().is_none())
    );
    assert!(any.iter().all(|r| r.kind() == ReceiverKind::Static));
    assert_eq!(
        <PostSave>::receivers().len(),
        1,
        "only the any-sender receiver"
    );
}
