use signals_core::prelude::*;

pub trait Model: 'static {
    fn model_name(&self) -> &'static str;
}

pub struct Article;
impl Model for Article {
    fn model_name(&self) -> &'static str {
        "article"
    }
}

/// What both payloads expose.
pub trait ModelEvent {
    fn model_name(&self) -> &'static str;
}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Saved<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Deleted<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

impl<M: ?Sized + Model> ModelEvent for Saved<'_, M> {
    fn model_name(&self) -> &'static str {
        self.instance.model_name()
    }
}

impl<M: ?Sized + Model> ModelEvent for Deleted<'_, M> {
    fn model_name(&self) -> &'static str {
        self.instance.model_name()
    }
}

#[receiver(Saved, Deleted, sender = Article)]
fn invalidate(event: &dyn ModelEvent) {
    let _ = event.model_name();
}

#[receiver(Saved, Deleted)]
fn audit(event: &dyn ModelEvent) {
    let _ = event.model_name();
}

fn main() {
    Saved { instance: &Article }.send().unwrap();
    Deleted { instance: &Article }.send().unwrap();
    // Still an ordinary function.
    invalidate(&Saved { instance: &Article });
    audit(&Deleted::<dyn Model> { instance: &Article });
}
