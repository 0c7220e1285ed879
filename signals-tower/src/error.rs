//! What a [`GotRequestException`](signals_core::request::GotRequestException) carries.

use std::any::Any;

use http::StatusCode;

/// Why a request counts as failed: the `error` of the
/// [`GotRequestException`](signals_core::request::GotRequestException) the layer sends.
///
/// Receivers downcast it: `event.error.downcast_ref::<signals_tower::RequestError>()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The handler (or a layer inside) answered with a server error (5xx).
    #[error("the response status is {0}")]
    Status(StatusCode),
    /// The handler panicked; `tower_http::catch_panic::CatchPanicLayer` (placed inside
    /// the signals layer) caught the panic and answered 500. The message is known when the
    /// panic layer was built with [`panic_response`]
    /// (`CatchPanicLayer::custom(signals_tower::panic_response)`).
    #[error("the handler panicked: {}", .message.as_deref().unwrap_or("(message unknown)"))]
    Panic {
        /// The panic's message (`&str` and `String` payloads), when known.
        message: Option<String>,
    },
    /// A gRPC call ended with an error status (`grpc-status` other than `0`, in the
    /// trailers or in a trailers-only response's headers).
    #[error("gRPC status {code}: {message}")]
    Grpc {
        /// The `grpc-status` code.
        code: i32,
        /// The `grpc-message`, percent-decoded (empty when absent).
        message: String,
    },
    /// The inner service returned an error instead of a response.
    #[error("the service failed: {0}")]
    Service(String),
    /// The response body failed while it was being sent.
    #[error("the response body failed: {0}")]
    Body(String),
}

/// The panic message a [`panic_response`] stores in the 500 response's extensions, where
/// the signals layer (outside the panic layer) finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaughtPanic {
    /// The panic's message (`&str` and `String` payloads), when known.
    pub message: Option<String>,
}

/// A panic handler for `tower_http`'s `CatchPanicLayer::custom` that answers
/// `500 Internal Server Error` (body `Internal Server Error`) and keeps the panic's message
/// in a [`CaughtPanic`] response extension, so the signals layer placed outside reports it
/// in [`RequestError::Panic`].
///
/// ```
/// use tower_http::catch_panic::CatchPanicLayer;
///
/// let _layers = tower::ServiceBuilder::new()
///     .layer(signals_tower::SignalsLayer::new())                  // outside
///     .layer(CatchPanicLayer::custom(signals_tower::panic_response)); // inside
/// ```
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> http::Response<String> {
    let message = if let Some(s) = panic.downcast_ref::<&'static str>() {
        Some((*s).to_owned())
    } else {
        panic.downcast_ref::<String>().cloned()
    };
    let mut response = http::Response::new("Internal Server Error".to_owned());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.extensions_mut().insert(CaughtPanic { message });
    response
}

/// A gRPC error status in `headers` (trailers, or a trailers-only response's headers).
pub(crate) fn grpc_error(headers: &http::HeaderMap) -> Option<RequestError> {
    let code = headers.get("grpc-status")?;
    let code: i32 = code.to_str().ok()?.trim().parse().ok()?;
    if code == 0 {
        return None;
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some(RequestError::Grpc { code, message })
}

/// Decodes `%XX` escapes (gRPC's `grpc-message` encoding); invalid escapes stay as they
/// are, invalid UTF-8 is replaced.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode("no%20such%20user"), "no such user");
        assert_eq!(percent_decode("caf%C3%A9 100%"), "café 100%");
        assert_eq!(percent_decode("%zz%2"), "%zz%2");
    }
}
