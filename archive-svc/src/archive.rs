//! What archive-svc does, one method per `archive.v1.CallService` RPC, on
//! the proto messages and the verified [`Caller`], free of any transport:
//! the gRPC server ([`crate::GrpcServer`]) and a caller in this process (the
//! embedded gateway) call the same [`Archive`].

use archive_common::identity::Caller;
use archive_proto::v1 as pb;

use crate::Error;

#[async_trait::async_trait]
pub trait Archive: Send + Sync + 'static {
    async fn ingest_call(
        &self,
        caller: &Caller,
        request: pb::IngestCallRequest,
    ) -> Result<pb::IngestCallResponse, Error>;
    async fn batch_ingest_calls(
        &self,
        caller: &Caller,
        request: pb::BatchIngestCallsRequest,
    ) -> Result<pb::BatchIngestCallsResponse, Error>;
    async fn search_calls(
        &self,
        caller: &Caller,
        request: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, Error>;
    async fn get_call(
        &self,
        caller: &Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, Error>;
    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, Error>;
    async fn list_agent_recordings(
        &self,
        caller: &Caller,
        request: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, Error>;
    async fn mark_recordings_deleted(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, Error>;
    async fn get_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error>;
    async fn update_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error>;
    async fn set_legal_hold(
        &self,
        caller: &Caller,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, Error>;
    async fn list_pending_media_deletions(
        &self,
        caller: &Caller,
        request: pb::ListPendingMediaDeletionsRequest,
    ) -> Result<pb::ListPendingMediaDeletionsResponse, Error>;
    async fn mark_recording_media_stored(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingMediaStoredRequest,
    ) -> Result<pb::MarkRecordingMediaStoredResponse, Error>;
    async fn list_pending_recordings(
        &self,
        caller: &Caller,
        request: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, Error>;
    async fn run_retention_sweep(
        &self,
        caller: &Caller,
        request: pb::RunRetentionSweepRequest,
    ) -> Result<pb::RunRetentionSweepResponse, Error>;
}
