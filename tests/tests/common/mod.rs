//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

pub(crate) mod extra_gateway;
pub(crate) mod http;
pub(crate) mod recordings;

use std::net::SocketAddr;

use archive_proto::v1::archive_service_client::ArchiveServiceClient;
use gateway::suite::Suite;
use tonic::{Request, metadata::MetadataValue, transport::Channel};

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
