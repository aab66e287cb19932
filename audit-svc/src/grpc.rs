//! The tonic face of [`AuditTrail`]: each RPC takes the verified caller off
//! the request and calls the trait; nothing else happens here.

use std::sync::Arc;

use archive_proto::v1::{self as pb, audit_service_server::AuditService};
use futures::{TryStreamExt as _, stream::BoxStream};
use tonic::{Request, Response, Status};

use crate::{AuditTrail, gate::parts};

/// Serves any [`AuditTrail`] as `archive.v1.AuditService`.
pub struct GrpcServer<T: ?Sized>(pub Arc<T>);

#[tonic::async_trait]
impl<T: AuditTrail + ?Sized> AuditService for GrpcServer<T> {
    async fn append_event(
        &self,
        request: Request<pb::AppendEventRequest>,
    ) -> Result<Response<pb::AppendEventResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.append_event(&caller, request).await?))
    }

    async fn append_events(
        &self,
        request: Request<pb::AppendEventsRequest>,
    ) -> Result<Response<pb::AppendEventsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.append_events(&caller, request).await?))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.list_events(&caller, request).await?))
    }

    async fn verify_chain(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.verify_chain(&caller, request).await?))
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.get_checkpoint(&caller, request).await?,
        ))
    }

    type ExportTrailStream = BoxStream<'static, Result<pb::ExportTrailChunk, Status>>;

    async fn export_trail(
        &self,
        request: Request<pb::ExportTrailRequest>,
    ) -> Result<Response<Self::ExportTrailStream>, Status> {
        let (caller, request) = parts(request)?;
        let chunks = self.0.export_trail(&caller, request).await?;
        Ok(Response::new(Box::pin(chunks.map_err(Status::from))))
    }
}
