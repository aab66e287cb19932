//! `archive.v1.MediaService` over tonic: each RPC takes the verified caller
//! off the request, calls [`Media`] and maps its error to a status. Nothing
//! else lives here.

use std::sync::Arc;

use archive_common::identity::Caller;
use archive_proto::v1::{self as pb, media_service_server::MediaService};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{Error, media::Media};

/// The verified caller (see `archive_common::identity`) and the message.
fn split<M>(request: Request<M>) -> Result<(Caller, M), Status> {
    let caller = Caller::of(&request)?.clone();
    Ok((caller, request.into_inner()))
}

/// The tonic server of any [`Media`].
#[derive(Debug)]
pub struct GrpcServer<T: ?Sized>(pub Arc<T>);

#[tonic::async_trait]
impl<T: Media + ?Sized> MediaService for GrpcServer<T> {
    async fn upload_recording(
        &self,
        request: Request<Streaming<pb::UploadRecordingRequest>>,
    ) -> Result<Response<pb::UploadRecordingResponse>, Status> {
        let (caller, messages) = split(request)?;
        self.0
            .upload_recording(&caller, messages.map_err(Error::Client).boxed())
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    type ReadRecordingStream = BoxStream<'static, Result<pb::ReadRecordingResponse, Status>>;

    async fn read_recording(
        &self,
        request: Request<pb::ReadRecordingRequest>,
    ) -> Result<Response<Self::ReadRecordingStream>, Status> {
        let (caller, request) = split(request)?;
        self.0
            .read_recording(&caller, request)
            .await
            .map(|chunks| Response::new(chunks.map_err(Status::from).boxed()))
            .map_err(Status::from)
    }

    async fn get_media_info(
        &self,
        request: Request<pb::GetMediaInfoRequest>,
    ) -> Result<Response<pb::GetMediaInfoResponse>, Status> {
        let (caller, request) = split(request)?;
        self.0
            .get_media_info(&caller, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn batch_get_media_info(
        &self,
        request: Request<pb::BatchGetMediaInfoRequest>,
    ) -> Result<Response<pb::BatchGetMediaInfoResponse>, Status> {
        let (caller, request) = split(request)?;
        self.0
            .batch_get_media_info(&caller, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn delete_recording_media(
        &self,
        request: Request<pb::DeleteRecordingMediaRequest>,
    ) -> Result<Response<pb::DeleteRecordingMediaResponse>, Status> {
        let (caller, request) = split(request)?;
        self.0
            .delete_recording_media(&caller, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }
}
