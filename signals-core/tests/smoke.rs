use signals_core::prelude::*;
use std::sync::Mutex;

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub trait Model: 'static {
    fn name(&self) -> String;
}
pub struct User(pub u32);
impl Model for User {
    fn name(&self) -> String {
        format!("user {}", self.0)
    }
}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Saved<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
    pub created: bool,
    _p: std::marker::PhantomData<&'a M>,
}

#[derive(Signal)]
#[signal(response = i64)]
pub struct OrderPlaced<'a> {
    pub total: &'a i64,
}

#[receiver(Saved, sender = User, priority = 5)]
fn specific(e: &Saved<'_, User>) {
    LOG.lock()
        .unwrap()
        .push(format!("specific {} {}", e.instance.0, e.created));
}

#[receiver(Saved)]
fn any(e: &Saved) {
    LOG.lock()
        .unwrap()
        .push(format!("any {}", e.instance.name()));
}

#[receiver(OrderPlaced)]
fn double(e: &OrderPlaced<'_>) -> i64 {
    e.total * 2
}

#[derive(Debug, thiserror::Error)]
#[error("nope")]
struct Nope;

#[receiver(OrderPlaced, priority = -1)]
fn fails(_e: &OrderPlaced<'_>) -> Result<i64, Nope> {
    Err(Nope)
}

#[test]
fn smoke() {
    let u = User(3);
    Saved {
        instance: &u,
        created: true,
        _p: Default::default(),
    }
    .send()
    .unwrap();
    assert_eq!(*LOG.lock().unwrap(), ["specific 3 true", "any user 3"]);
    let t = 21;
    let err = OrderPlaced { total: &t }.send().unwrap_err();
    assert!(err.receiver().unwrap().name().ends_with("fails"), "{err}");
    let report = OrderPlaced { total: &t }.send_robust();
    assert_eq!(
        report.responses().values().copied().collect::<Vec<_>>(),
        [42]
    );
    assert_eq!(report.failures().len(), 1);
    let c = OrderPlaced::connect(|e: &OrderPlaced<'_>| *e.total + 1);
    assert_eq!(OrderPlaced::receivers().len(), 3);
    drop(c);
    assert_eq!(OrderPlaced::receivers().len(), 2);
    assert!(Saved::<User>::has_receivers());
}
