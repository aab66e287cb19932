//! The request layer against stand-in services: codes, labels, bytes and
//! how a response ended, read back from the rendered registry.

use std::{collections::VecDeque, convert::Infallible};

use bytes::Bytes;
use http::HeaderValue;

use super::*;
use crate::metrics;

/// A body of ready frames.
struct Frames(VecDeque<Frame<Bytes>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// Answers every request with `frames`, maybe marked as sent out of band.
struct Answer {
    frames: Vec<Frame<Bytes>>,
    out_of_band: Option<u64>,
}

impl Service<Request<()>> for Answer {
    type Response = Response<Frames>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Frames>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let frames = self
            .frames
            .iter()
            .map(|f| match f.data_ref() {
                Some(d) => Frame::data(d.clone()),
                None => Frame::trailers(f.trailers_ref().unwrap().clone()),
            })
            .collect();
        let mut response = Response::new(Frames(frames));
        if let Some(n) = self.out_of_band {
            response.extensions_mut().insert(SentOutOfBand(n));
        }
        std::future::ready(Ok(response))
    }
}

fn trailers(code: &'static str) -> Frame<Bytes> {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", HeaderValue::from_static(code));
    Frame::trailers(t)
}

async fn read_all(mut body: Pin<&mut ObservedBody<Frames>>) {
    while poll_fn_frame(body.as_mut()).await.is_some() {}
}

async fn poll_fn_frame(
    mut body: Pin<&mut ObservedBody<Frames>>,
) -> Option<Result<Frame<Bytes>, Infallible>> {
    std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
}

fn value(name_and_labels: &str) -> f64 {
    metrics::render()
        .lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn grpc_codes_come_from_trailers_and_unknown_services_stay_unlabelled() {
    let mut service = Observe::grpc(&["test.v1.Trailers"]).layer(Answer {
        frames: vec![Frame::data(Bytes::from_static(b"12345")), trailers("5")],
        out_of_band: None,
    });
    let request = |path: &str| Request::builder().uri(path).body(()).unwrap();
    let response = service
        .call(request("/test.v1.Trailers/Get"))
        .await
        .unwrap();
    let body = std::pin::pin!(response.into_body());
    read_all(body).await;
    let labels = "{service=\"test.v1.Trailers\",method=\"Get\"";
    assert_eq!(
        value(&format!(
            "archive_grpc_server_handled_total{labels},code=\"NotFound\"}}"
        )),
        1.0
    );
    assert_eq!(
        value(&format!("archive_grpc_server_sent_bytes_total{labels}}}")),
        5.0
    );
    assert_eq!(
        value("archive_grpc_server_in_flight{service=\"test.v1.Trailers\"}"),
        0.0
    );

    let response = service.call(request("/evil.Service/x")).await.unwrap();
    read_all(std::pin::pin!(response.into_body())).await;
    assert!(!metrics::render().contains("evil"));
}

#[tokio::test]
async fn a_body_left_unread_counts_as_aborted_and_out_of_band_bytes_as_sent() {
    let two_frames = vec![
        Frame::data(Bytes::from_static(b"first")),
        Frame::data(Bytes::from_static(b"second")),
    ];
    let mut service = Observe::http("test-aborted").layer(Answer {
        frames: two_frames,
        out_of_band: None,
    });
    let response = service
        .call(Request::builder().uri("/x").body(()).unwrap())
        .await
        .unwrap();
    {
        let mut body = std::pin::pin!(response.into_body());
        assert!(poll_fn_frame(body.as_mut()).await.is_some());
        // The client goes away after the first frame.
    }
    let labels = "server=\"test-aborted\",route=\"unmatched\",method=\"GET\"";
    assert_eq!(
        value(&format!(
            "archive_http_server_handled_total{{{labels},status=\"aborted\"}}"
        )),
        1.0
    );
    assert_eq!(
        value(&format!("archive_http_server_sent_bytes_total{{{labels}}}")),
        5.0
    );

    let mut sendfile = Observe::http("test-sendfile").layer(Answer {
        frames: Vec::new(),
        out_of_band: Some(1_000_000),
    });
    let response = sendfile
        .call(Request::builder().uri("/x").body(()).unwrap())
        .await
        .unwrap();
    drop(response);
    let labels = "server=\"test-sendfile\",route=\"unmatched\",method=\"GET\"";
    assert_eq!(
        value(&format!(
            "archive_http_server_handled_total{{{labels},status=\"200\"}}"
        )),
        1.0
    );
    assert_eq!(
        value(&format!("archive_http_server_sent_bytes_total{{{labels}}}")),
        1_000_000.0
    );
}

#[tokio::test]
async fn a_method_keeps_one_series_and_made_up_methods_none() {
    let request = |path: &str| Request::builder().uri(path).body(()).unwrap();
    let mut ok = Observe::grpc(&["test.v1.Series"]).layer(Answer {
        frames: vec![trailers("0")],
        out_of_band: None,
    });
    for _ in 0..3 {
        let response = ok.call(request("/test.v1.Series/Get")).await.unwrap();
        read_all(std::pin::pin!(response.into_body())).await;
    }
    assert!(super::instruments::rpc_series_cached("/test.v1.Series/Get"));
    assert_eq!(
        value(
            "archive_grpc_server_handled_total{service=\"test.v1.Series\",method=\"Get\",code=\"Ok\"}"
        ),
        3.0
    );

    let mut missing = Observe::grpc(&["test.v1.Missing"]).layer(Answer {
        frames: vec![trailers("12")],
        out_of_band: None,
    });
    for i in 0..3 {
        let path = format!("/test.v1.Missing/MadeUp{i}");
        let response = missing.call(request(&path)).await.unwrap();
        read_all(std::pin::pin!(response.into_body())).await;
        assert!(!super::instruments::rpc_series_cached(&path));
    }
    assert_eq!(
        value(
            "archive_grpc_server_handled_total{service=\"test.v1.Missing\",method=\"unknown\",code=\"Unimplemented\"}"
        ),
        3.0
    );
    assert!(!metrics::render().contains("MadeUp"));
    assert_eq!(
        value("archive_grpc_server_in_flight{service=\"test.v1.Missing\"}"),
        0.0
    );
}
