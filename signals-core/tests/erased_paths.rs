//! Exercises every type-erased receiver path (static and runtime, sync and async, specific
//! and any-sender) so that `cargo +nightly miri test -p signals-core` checks them for
//! undefined behaviour, including while another thread connects and disconnects.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::FutureExt;
use signals_core::prelude::*;

pub trait Named: Send + Sync + 'static {
    fn name(&self) -> &str;
}

pub struct Item(String);
impl Named for Item {
    fn name(&self) -> &str {
        &self.0
    }
}

#[derive(Signal)]
#[signal(sender = M, response = usize)]
pub struct Touched<'a, M: ?Sized + Named = dyn Named> {
    pub instance: &'a M,
    pub weight: usize,
}

#[receiver(Touched, sender = Item)]
fn static_specific(e: &Touched<'_, Item>) -> usize {
    e.instance.0.len() + e.weight
}

#[receiver(Touched)]
async fn static_any_async(e: &Touched<'_>) -> usize {
    e.instance.name().len() * 10
}

#[test]
fn every_erased_path_under_concurrent_connect_churn() {
    let item = Item("abc".to_owned());
    // Runtime receivers: sync specific, async any-sender.
    let extra = Arc::new(AtomicUsize::new(0));
    let e2 = Arc::clone(&extra);
    let sync_dyn = Touched::<Item>::connect(move |e: &Touched<'_, Item>| {
        e2.fetch_add(1, Ordering::SeqCst);
        e.weight
    });
    let async_dyn = <Touched>::connect_async(|e: &Touched<'_>| {
        let n = e.instance.name().len();
        Box::pin(async move { n * 100 })
    });

    let event = Touched {
        instance: &item,
        weight: 1,
    };
    let values: Vec<usize> = event
        .send_async()
        .now_or_never()
        .unwrap()
        .unwrap()
        .into_values();
    assert_eq!(values.iter().copied().sum::<usize>(), 4 + 30 + 1 + 300);

    // Sync sends refuse (async receivers present); churn runtime receivers meanwhile.
    let churn = std::thread::spawn(|| {
        for _ in 0..20 {
            let c = Touched::<Item>::connect(|_: &Touched<'_, Item>| 0usize);
            drop(c);
        }
    });
    for _ in 0..20 {
        let report = Touched {
            instance: &item,
            weight: 2,
        }
        .send_robust();
        assert_eq!(
            report.failures().len(),
            2,
            "the two async receivers are reported"
        );
    }
    churn.join().unwrap();
    assert_eq!(extra.load(Ordering::SeqCst), 21);
    drop(sync_dyn);
    drop(async_dyn);
    let values = event
        .send_async()
        .now_or_never()
        .unwrap()
        .unwrap()
        .into_values();
    // Equal priorities: link-time receivers run by path, `static_any_async` < `static_specific`.
    assert_eq!(values, [30, 4]);
}
