//! What audit-svc does, as Rust: one method per RPC of
//! `archive.v1.AuditService`, for a caller whose identity is already
//! verified. The service core implements it (and checks each caller's access
//! itself); [`crate::grpc`] serves it over tonic.

use archive_common::identity::Caller;
use archive_proto::v1 as pb;
use futures::stream::BoxStream;

use crate::Error;

#[async_trait::async_trait]
pub trait AuditTrail: Send + Sync + 'static {
    /// Appends one event; its receipt once it is durable.
    async fn append_event(
        &self,
        caller: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, Error>;
    /// Appends events all or none, by the request's commit deadline if it has one.
    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, Error>;
    /// A page of the caller's tenant's trail, newest first.
    async fn list_events(
        &self,
        caller: &Caller,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error>;
    /// Checks the chain (and its signed checkpoints) over a range.
    async fn verify_chain(
        &self,
        caller: &Caller,
        request: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, Error>;
    /// The latest signed checkpoint, or a new one.
    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, Error>;
    /// The trail over a range as JSON lines, with what proves it.
    async fn export_trail(
        &self,
        caller: &Caller,
        request: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, Error>>, Error>;
}
