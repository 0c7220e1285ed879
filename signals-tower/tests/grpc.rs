//! The layer on a real tonic server on loopback, called by a real tonic client: a gRPC
//! error status counts as an exception, in the trailers (a stream that fails after a
//! message) and in a trailers-only response.

mod support;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut};
use futures_util::{Stream, StreamExt};
use http::uri::PathAndQuery;
use signals_tower::{RequestError, SignalsLayer};
use support::{Event, bounded, finished};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{NamedService, ServerStreamingService, UnaryService};
use tonic::{Code, Status};

/// Raw bytes as messages: no protobuf code generation needed.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

type Messages = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Status>> + Send>>;

/// `Stream`: one message, then (for `fail`) an error status in the trailers.
struct StreamCall {
    fail: bool,
}

impl ServerStreamingService<Vec<u8>> for StreamCall {
    type Response = Vec<u8>;
    type ResponseStream = Messages;
    type Future = std::future::Ready<Result<tonic::Response<Messages>, Status>>;
    fn call(&mut self, _: tonic::Request<Vec<u8>>) -> Self::Future {
        let mut items = vec![Ok(b"one".to_vec())];
        if self.fail {
            items.push(Err(Status::internal("stream broke")));
        }
        std::future::ready(Ok(tonic::Response::new(Box::pin(
            futures_util::stream::iter(items),
        ))))
    }
}

/// `NotFound`: a trailers-only error response.
struct NotFound;

impl UnaryService<Vec<u8>> for NotFound {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<tonic::Response<Vec<u8>>, Status>>;
    fn call(&mut self, _: tonic::Request<Vec<u8>>) -> Self::Future {
        std::future::ready(Err(Status::not_found("no such user")))
    }
}

#[derive(Clone)]
struct TestService;

impl NamedService for TestService {
    const NAME: &'static str = "test.Test";
}

impl tower::Service<http::Request<tonic::body::Body>> for TestService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Raw);
            Ok(match request.uri().path() {
                "/test.Test/Ok" => {
                    grpc.server_streaming(StreamCall { fail: false }, request)
                        .await
                }
                "/test.Test/Fail" => {
                    grpc.server_streaming(StreamCall { fail: true }, request)
                        .await
                }
                _ => grpc.unary(NotFound, request).await,
            })
        })
    }
}

async fn serve() -> tonic::client::Grpc<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(SignalsLayer::new())
            .add_service(TestService)
            .serve_with_incoming(incoming)
            .await
            .unwrap()
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

/// Calls the streaming method at `path`: the messages, then the status it ended with.
async fn call_stream(path: &'static str) -> (Vec<Vec<u8>>, Option<Status>) {
    let mut client = serve().await;
    client.ready().await.unwrap();
    let response = client
        .server_streaming(
            tonic::Request::new(Vec::new()),
            PathAndQuery::from_static(path),
            Raw,
        )
        .await
        .unwrap();
    let mut stream = response.into_inner();
    let mut messages = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(message) => messages.push(message),
            Err(status) => return (messages, Some(status)),
        }
    }
    (messages, None)
}

#[tokio::test]
async fn an_error_status_in_the_trailers_is_an_exception() {
    bounded(async {
        let (messages, status) = call_stream("/test.Test/Fail").await;
        assert_eq!(messages, [b"one".to_vec()]);
        assert_eq!(status.map(|s| s.code()), Some(Code::Internal));
        let events = finished("/test.Test/Fail").await;
        assert_eq!(
            &events[1..],
            [
                Event::Exception {
                    error: RequestError::Grpc {
                        code: Code::Internal as i32,
                        message: "stream broke".into()
                    },
                    status: Some(200)
                },
                Event::Finished {
                    status: Some(200),
                    complete: true,
                    timed: true
                },
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn an_ok_stream_is_no_exception() {
    bounded(async {
        let (messages, status) = call_stream("/test.Test/Ok").await;
        assert_eq!(
            (messages, status.map(|s| s.code())),
            (vec![b"one".to_vec()], None)
        );
        let events = finished("/test.Test/Ok").await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[1],
            Event::Finished {
                status: Some(200),
                complete: true,
                timed: true
            }
        );
    })
    .await;
}

#[tokio::test]
async fn a_trailers_only_error_response_is_an_exception() {
    bounded(async {
        let mut client = serve().await;
        client.ready().await.unwrap();
        let status = client
            .unary(
                tonic::Request::new(Vec::new()),
                PathAndQuery::from_static("/test.Test/Missing"),
                Raw,
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        let events = finished("/test.Test/Missing").await;
        assert_eq!(
            events[1],
            Event::Exception {
                error: RequestError::Grpc {
                    code: Code::NotFound as i32,
                    message: "no such user".into()
                },
                status: Some(200)
            }
        );
    })
    .await;
}
