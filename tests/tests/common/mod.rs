//! Helpers shared by the end-to-end tests.

#![allow(dead_code, unused_imports)]

pub(crate) mod child;
pub(crate) mod extra_gateway;
pub(crate) mod keys;
pub(crate) mod recordings;
pub(crate) mod tcp_proxy;

pub(crate) use test_support::http;

use std::{net::SocketAddr, path::Path};

use archive_common::shutdown::CancellationToken;
use archive_proto::v1::{self as pb, archive_service_client::ArchiveServiceClient};
use gateway::{SuiteConfig, suite::Suite};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

/// The whole suite on free ports over the data directory `data`.
pub(crate) async fn start_suite(data: &Path) -> Suite {
    Suite::start(SuiteConfig::ephemeral(data), CancellationToken::new())
        .await
        .unwrap()
}

pub(crate) async fn client(suite: &Suite) -> ArchiveServiceClient<Channel> {
    client_at(suite.endpoints.gateway).await
}

/// A client of the gateway listening at `addr`.
pub(crate) async fn client_at(addr: SocketAddr) -> ArchiveServiceClient<Channel> {
    ArchiveServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// A request carrying a demo user's bearer token.
pub(crate) fn authed<T>(suite: &Suite, user: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let token = suite.token(user, 600).unwrap();
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

/// `user` asks the suite's gateway to play `recording`, giving `reason` (empty: none).
pub(crate) async fn play(
    suite: &Suite,
    user: &str,
    recording: &str,
    reason: &str,
) -> Result<pb::StartPlaybackResponse, tonic::Status> {
    let request = pb::StartPlaybackRequest {
        recording_id: recording.into(),
        reason: reason.into(),
        ..Default::default()
    };
    client(suite)
        .await
        .start_playback(authed(suite, user, request))
        .await
        .map(tonic::Response::into_inner)
}

/// The audit trail of one recording, read by the admin through `gateway`.
pub(crate) async fn audit_events(
    gateway: ArchiveServiceClient<Channel>,
    suite: &Suite,
    recording_id: &str,
) -> Vec<pb::AuditEvent> {
    audit_events_where(
        gateway,
        suite,
        pb::ListEventsRequest {
            recording_id: recording_id.into(),
            ..Default::default()
        },
    )
    .await
}

/// The events matching `filter` (up to 1000, newest first), read by the
/// admin through `gateway`.
pub(crate) async fn audit_events_where(
    mut gateway: ArchiveServiceClient<Channel>,
    suite: &Suite,
    filter: pb::ListEventsRequest,
) -> Vec<pb::AuditEvent> {
    gateway
        .list_audit_events(authed(
            suite,
            "paal",
            pb::ListEventsRequest {
                page_size: 1000,
                ..filter
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events
}

/// The rows `user` sees, through `gateway`, of the calls from
/// `caller_number` (up to 100).
pub(crate) async fn rows_from(
    mut gateway: ArchiveServiceClient<Channel>,
    suite: &Suite,
    user: &str,
    caller_number: &str,
) -> Result<Vec<pb::CallRow>, tonic::Status> {
    let filter = pb::CallFilter {
        caller_number: caller_number.into(),
        ..Default::default()
    };
    let request = pb::SearchCallRowsRequest {
        filter: Some(filter),
        page_size: 100,
        ..Default::default()
    };
    let rows = gateway.search_call_rows(authed(suite, user, request)).await;
    rows.map(|r| r.into_inner().rows)
}

/// `user` deletes `recording` through `gateway`, confirmed, with no reason.
pub(crate) async fn delete(
    mut gateway: ArchiveServiceClient<Channel>,
    suite: &Suite,
    user: &str,
    recording: &str,
) -> pb::DeleteRecordingsResponse {
    let request = pb::DeleteRecordingsRequest {
        recording_ids: vec![recording.into()],
        confirmed: true,
        ..Default::default()
    };
    let response = gateway
        .delete_recordings(authed(suite, user, request))
        .await;
    response.unwrap().into_inner()
}
