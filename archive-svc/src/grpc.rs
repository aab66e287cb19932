//! The `archive.v1.CallService` gRPC server: the verified caller and the
//! message out of each request, into the [`Archive`], its error into a status.

use std::sync::Arc;

use archive_common::identity::Caller;
use archive_proto::v1::{self as pb, call_service_server::CallService};
use tonic::{Request, Response, Status};

use crate::archive::Archive;

pub struct GrpcServer<T: ?Sized>(pub Arc<T>);

/// The caller `VerifyIdentity` put on `request`, and its message.
fn parts<M>(request: Request<M>) -> Result<(Caller, M), Status> {
    let caller = Caller::of(&request)?.clone();
    Ok((caller, request.into_inner()))
}

#[tonic::async_trait]
impl<T: Archive + ?Sized> CallService for GrpcServer<T> {
    async fn ingest_call(
        &self,
        request: Request<pb::IngestCallRequest>,
    ) -> Result<Response<pb::IngestCallResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.ingest_call(&caller, request).await?))
    }

    async fn batch_ingest_calls(
        &self,
        request: Request<pb::BatchIngestCallsRequest>,
    ) -> Result<Response<pb::BatchIngestCallsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.batch_ingest_calls(&caller, request).await?,
        ))
    }

    async fn search_calls(
        &self,
        request: Request<pb::SearchCallsRequest>,
    ) -> Result<Response<pb::SearchCallsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.search_calls(&caller, request).await?))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::GetCallResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.get_call(&caller, request).await?))
    }

    async fn batch_get_recordings(
        &self,
        request: Request<pb::BatchGetRecordingsRequest>,
    ) -> Result<Response<pb::BatchGetRecordingsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.batch_get_recordings(&caller, request).await?,
        ))
    }

    async fn list_agent_recordings(
        &self,
        request: Request<pb::ListAgentRecordingsRequest>,
    ) -> Result<Response<pb::ListAgentRecordingsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.list_agent_recordings(&caller, request).await?,
        ))
    }

    async fn mark_recordings_deleted(
        &self,
        request: Request<pb::MarkRecordingsDeletedRequest>,
    ) -> Result<Response<pb::MarkRecordingsDeletedResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.mark_recordings_deleted(&caller, request).await?,
        ))
    }

    async fn get_tenant_settings(
        &self,
        request: Request<pb::GetTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.get_tenant_settings(&caller, request).await?,
        ))
    }

    async fn update_tenant_settings(
        &self,
        request: Request<pb::UpdateTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.update_tenant_settings(&caller, request).await?,
        ))
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::SetLegalHoldResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.set_legal_hold(&caller, request).await?,
        ))
    }

    async fn list_pending_media_deletions(
        &self,
        request: Request<pb::ListPendingMediaDeletionsRequest>,
    ) -> Result<Response<pb::ListPendingMediaDeletionsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0
                .list_pending_media_deletions(&caller, request)
                .await?,
        ))
    }

    async fn mark_recording_media_stored(
        &self,
        request: Request<pb::MarkRecordingMediaStoredRequest>,
    ) -> Result<Response<pb::MarkRecordingMediaStoredResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.mark_recording_media_stored(&caller, request).await?,
        ))
    }

    async fn list_pending_recordings(
        &self,
        request: Request<pb::ListPendingRecordingsRequest>,
    ) -> Result<Response<pb::ListPendingRecordingsResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.list_pending_recordings(&caller, request).await?,
        ))
    }

    async fn run_retention_sweep(
        &self,
        request: Request<pb::RunRetentionSweepRequest>,
    ) -> Result<Response<pb::RunRetentionSweepResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.run_retention_sweep(&caller, request).await?,
        ))
    }
}
