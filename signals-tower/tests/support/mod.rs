//! What the tests share: a recorder of every request signal (link-time receivers), keyed
//! by path so parallel tests only look at their own requests, and loopback helpers.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use signals_core::prelude::*;
use signals_core::request::{GotRequestException, RequestFinished, RequestStarted};
use signals_tower::RequestError;

/// One recorded signal (or a marker a handler wrote).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Started {
        method: String,
        route: Option<String>,
        query: Option<String>,
    },
    Handler,
    /// What an async receiver wrote (after an `.await`).
    Marker(&'static str),
    Exception {
        error: RequestError,
        status: Option<u16>,
    },
    Finished {
        status: Option<u16>,
        complete: bool,
        timed: bool,
    },
}

static EVENTS: Mutex<Vec<(String, Event)>> = Mutex::new(Vec::new());

pub fn record(path: &str, event: Event) {
    EVENTS.lock().unwrap().push((path.to_owned(), event));
}

/// The events recorded for `path`, in order.
pub fn events(path: &str) -> Vec<Event> {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, e)| e.clone())
        .collect()
}

/// Waits (at most 10 s) until `path` has a `Finished` event, then returns its events.
pub async fn finished(path: &str) -> Vec<Event> {
    let wait = async {
        loop {
            let events = events(path);
            if events.iter().any(|e| matches!(e, Event::Finished { .. })) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no RequestFinished for {path}: {:?}", events(path)))
}

#[receiver(RequestStarted)]
fn on_started(event: &RequestStarted<'_>) {
    record(
        event.request.path,
        Event::Started {
            method: event.request.method.to_owned(),
            route: event.request.route.map(str::to_owned),
            query: event.request.query.map(str::to_owned),
        },
    );
}

#[receiver(GotRequestException)]
fn on_exception(event: &GotRequestException<'_>) {
    let error = event
        .error
        .downcast_ref::<RequestError>()
        .expect("the layer sends a RequestError")
        .clone();
    record(
        event.request.path,
        Event::Exception {
            error,
            status: event.status,
        },
    );
}

#[receiver(RequestFinished)]
fn on_finished(event: &RequestFinished<'_>) {
    record(
        event.request.path,
        Event::Finished {
            status: event.status,
            complete: event.complete,
            timed: event.duration.is_some(),
        },
    );
}

/// Bounds a test's async body in time (30 s).
pub async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("the test finished within 30 s")
}
