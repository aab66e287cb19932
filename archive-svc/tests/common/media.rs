//! A stand-in media-svc for archive-svc's tests: it admits only archive-svc's
//! own key, as media-svc does (recording who else called), answers
//! BatchGetMediaInfo from the files a test gave it (by tenant and id), fails
//! the first `fail_first` deletions, records the rest, and takes `delay` over
//! each deletion (a media-svc that hangs).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_common::identity::{Caller, CallerKind};
use archive_common::shutdown::CancellationToken;
use archive_proto::v1::{
    self as pb,
    media_service_server::{MediaService, MediaServiceServer},
};
use tonic::{Request, Response, Status, service::Routes};

#[derive(Clone, Default)]
pub(crate) struct StandInMedia {
    pub(crate) files: Arc<Mutex<HashMap<(String, String), pb::MediaInfo>>>,
    pub(crate) deleted: Arc<Mutex<Vec<(String, String)>>>,
    pub(crate) fail_first: Arc<Mutex<u32>>,
    pub(crate) delay: Arc<Mutex<Duration>>,
    /// Who was refused: `holder as user_id`.
    pub(crate) refused: Arc<Mutex<Vec<String>>>,
}

impl StandInMedia {
    /// Serves it until `stop`; its URL.
    pub(crate) async fn serve(&self, stop: &CancellationToken) -> String {
        super::serve(Routes::new(MediaServiceServer::new(self.clone())), stop).await
    }

    fn admit<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = super::verified(request)?;
        if caller.kind != CallerKind::Service || caller.holder != "archive-svc" {
            self.refused
                .lock()
                .unwrap()
                .push(format!("{} as {}", caller.holder, caller.principal.user_id));
            return Err(Status::permission_denied("only archive-svc asks"));
        }
        Ok(caller)
    }
}

type Stream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pb::ReadRecordingResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl MediaService for StandInMedia {
    type ReadRecordingStream = Stream;

    async fn upload_recording(
        &self,
        _: Request<tonic::Streaming<pb::UploadRecordingRequest>>,
    ) -> Result<Response<pb::UploadRecordingResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn read_recording(
        &self,
        _: Request<pb::ReadRecordingRequest>,
    ) -> Result<Response<Stream>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn get_media_info(
        &self,
        _: Request<pb::GetMediaInfoRequest>,
    ) -> Result<Response<pb::GetMediaInfoResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn batch_get_media_info(
        &self,
        request: Request<pb::BatchGetMediaInfoRequest>,
    ) -> Result<Response<pb::BatchGetMediaInfoResponse>, Status> {
        let tenant = self.admit(&request)?.principal.tenant;
        let files = self.files.lock().unwrap();
        let media = request
            .into_inner()
            .recording_ids
            .into_iter()
            .filter_map(|id| files.get(&(tenant.clone(), id)).cloned())
            .collect();
        Ok(Response::new(pb::BatchGetMediaInfoResponse { media }))
    }
    async fn delete_recording_media(
        &self,
        request: Request<pb::DeleteRecordingMediaRequest>,
    ) -> Result<Response<pb::DeleteRecordingMediaResponse>, Status> {
        let tenant = self.admit(&request)?.principal.tenant;
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        {
            let mut fail = self.fail_first.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(Status::unavailable("media store down"));
            }
        }
        let id = request.into_inner().recording_id;
        self.deleted.lock().unwrap().push((tenant, id));
        Ok(Response::new(pb::DeleteRecordingMediaResponse {
            deleted: true,
        }))
    }
}
