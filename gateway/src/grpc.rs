//! The tonic face of [`Gateway`]: each RPC takes the actor (the verified
//! user, the client's address, the request id) or just the user off the
//! request and calls the gateway's method of the same name; nothing else
//! happens here.

use archive_common::Principal;
use archive_proto::v1::{self as pb, archive_service_server::ArchiveService};
use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use crate::{flows::Actor, service::Gateway};

impl Gateway {
    /// The actor of `request`; `request_id` is the one its message carries.
    fn actor<T>(&self, request: &Request<T>, request_id: &str) -> Result<Actor, Status> {
        Actor::of(request, &self.proxies, request_id, self.clock.now())
    }
}

/// The verified user and the message of `request`.
fn parts<T>(request: Request<T>) -> Result<(Principal, T), Status> {
    let who = Principal::of(&request)?.clone();
    Ok((who, request.into_inner()))
}

/// The actor (no request id in the message: the header's, if any) and the
/// message of `request`.
fn acting<T>(gateway: &Gateway, request: Request<T>) -> Result<(Actor, T), Status> {
    let actor = gateway.actor(&request, "")?;
    Ok((actor, request.into_inner()))
}

#[tonic::async_trait]
impl ArchiveService for Gateway {
    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        let (who, _) = parts(request)?;
        Ok(Response::new(Gateway::get_session(self, &who).await?))
    }

    async fn search_call_rows(
        &self,
        request: Request<pb::SearchCallRowsRequest>,
    ) -> Result<Response<pb::SearchCallRowsResponse>, Status> {
        let (actor, request) = acting(self, request)?;
        Ok(Response::new(
            Gateway::search_call_rows(self, &actor, request).await?,
        ))
    }

    async fn get_call_row(
        &self,
        request: Request<pb::GetCallRowRequest>,
    ) -> Result<Response<pb::GetCallRowResponse>, Status> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            Gateway::get_call_row(self, &who, request).await?,
        ))
    }

    async fn list_my_call_rows(
        &self,
        request: Request<pb::ListMyCallRowsRequest>,
    ) -> Result<Response<pb::SearchCallRowsResponse>, Status> {
        let (actor, request) = acting(self, request)?;
        Ok(Response::new(
            Gateway::list_my_call_rows(self, &actor, request).await?,
        ))
    }

    async fn start_playback(
        &self,
        request: Request<pb::StartPlaybackRequest>,
    ) -> Result<Response<pb::StartPlaybackResponse>, Status> {
        let actor = self.actor(&request, &request.get_ref().request_id)?;
        let started = Gateway::start_playback(self, &actor, request.into_inner());
        Ok(Response::new(started.await?))
    }

    async fn renew_playback(
        &self,
        request: Request<pb::RenewPlaybackRequest>,
    ) -> Result<Response<pb::StartPlaybackResponse>, Status> {
        let (actor, request) = acting(self, request)?;
        Ok(Response::new(
            Gateway::renew_playback(self, &actor, request).await?,
        ))
    }

    async fn create_export(
        &self,
        request: Request<pb::CreateExportRequest>,
    ) -> Result<Response<pb::CreateExportResponse>, Status> {
        let actor = self.actor(&request, &request.get_ref().request_id)?;
        let created = Gateway::create_export(self, &actor, request.into_inner());
        Ok(Response::new(created.await?))
    }

    async fn delete_recordings(
        &self,
        request: Request<pb::DeleteRecordingsRequest>,
    ) -> Result<Response<pb::DeleteRecordingsResponse>, Status> {
        let actor = self.actor(&request, &request.get_ref().request_id)?;
        let deleted = Gateway::delete_recordings(self, &actor, request.into_inner());
        Ok(Response::new(deleted.await?))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            Gateway::list_audit_events(self, &who, request).await?,
        ))
    }

    async fn get_audit_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            Gateway::get_audit_checkpoint(self, &who, request).await?,
        ))
    }

    type ExportAuditTrailStream = BoxStream<'static, Result<pb::ExportTrailChunk, Status>>;

    async fn export_audit_trail(
        &self,
        request: Request<pb::ExportTrailRequest>,
    ) -> Result<Response<Self::ExportAuditTrailStream>, Status> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            Gateway::export_audit_trail(self, &who, request).await?,
        ))
    }

    async fn verify_audit_trail(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            Gateway::verify_audit_trail(self, &who, request).await?,
        ))
    }
}
