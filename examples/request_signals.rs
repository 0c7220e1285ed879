//! Request signals: `request_started`, `request_finished`, `got_request_exception`.
//!
//! Shows Django's request signals: `request_started` when an HTTP request begins,
//! `request_finished` when it ends, `got_request_exception` when its handler fails. A tiny
//! fake server sends them around each handler, the way a middleware of any Rust web
//! framework would (`signals-tower` does it for tower services).
//!
//! How it differs from Django:
//! * the payload is a typed `RequestMeta` (method, path, client address) and the status is
//!   an `Option<u16>`, borrowed from the framework's own request type, not an `environ`;
//! * `got_request_exception` carries the handler's error as a `&dyn Error`, so receivers
//!   can log its whole `source()` chain;
//! * the signals do not depend on any framework: they live in `signals_core::request`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::prelude::*;
use signals_core::request::{GotRequestException, RequestFinished, RequestMeta, RequestStarted};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static ACCESS_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("article {0} not found")]
    NotFound(u64),
    #[error("database unavailable")]
    Database(#[source] std::io::Error),
}

// --- the "framework" --------------------------------------------------------------------

fn handle(method: &str, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let request = RequestMeta::new(method, path).remote_addr("198.51.100.4");
    println!("{method} {path}");
    RequestStarted::new(request).send()?;
    let status = match view(path) {
        Ok(body) => {
            println!("  handler: 200 {body:?}");
            200
        }
        Err(error) => {
            GotRequestException::new(request, &error).send()?;
            match error {
                HandlerError::NotFound(_) => 404,
                HandlerError::Database(_) => 500,
            }
        }
    };
    RequestFinished::new(request, Some(status)).send()?;
    Ok(())
}

fn view(path: &str) -> Result<&'static str, HandlerError> {
    match path {
        "/articles/1" => Ok("Signals in Rust"),
        "/articles/2" => Err(HandlerError::NotFound(2)),
        _ => Err(HandlerError::Database(std::io::Error::other(
            "connection reset by peer",
        ))),
    }
}

// --- receivers -------------------------------------------------------------------------

/// Django itself resets per-request state (e.g. `reset_queries`) on `request_started`.
#[receiver(RequestStarted)]
fn open_request(event: &RequestStarted<'_>) {
    let n = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    println!(
        "  [request_started] {} {} ({n} in flight)",
        event.request.method, event.request.path
    );
}

#[receiver(GotRequestException)]
fn report_exception(event: &GotRequestException<'_>) {
    let mut chain = event.error.to_string();
    let mut source = event.error.source();
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    println!(
        "  [got_request_exception] {} {}: {chain}",
        event.request.method, event.request.path
    );
}

/// Django closes old database connections on `request_finished`; here: an access log.
#[receiver(RequestFinished)]
fn close_request(event: &RequestFinished<'_>) {
    let n = IN_FLIGHT.fetch_sub(1, Ordering::SeqCst) - 1;
    let status = event.status.map_or("-".to_owned(), |s| s.to_string());
    let line = format!(
        "{} {} {} {status}",
        event.request.remote_addr.unwrap_or("-"),
        event.request.method,
        event.request.path
    );
    println!("  [request_finished] {line} ({n} in flight)");
    ACCESS_LOG.lock().unwrap().push(line);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    handle("GET", "/articles/1")?;
    handle("GET", "/articles/2")?;
    handle("POST", "/articles")?;

    println!();
    println!("access log:");
    for line in ACCESS_LOG.lock().unwrap().iter() {
        println!("  {line}");
    }
    Ok(())
}
