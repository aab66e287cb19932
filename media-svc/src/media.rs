//! The media service's contract, one method per RPC of
//! `archive.v1.MediaService`, free of the transport: the caller comes in
//! verified, the messages are the proto's, and failures are the crate's
//! [`Error`]. The core (`service`) implements it; the tonic server
//! (`grpc`) and, in the gateway's own process, direct callers use it.

use archive_common::identity::Caller;
use archive_proto::v1 as pb;
use futures::stream::BoxStream;

use crate::Error;

/// A stream of messages or of the bytes of a recording, failing as [`Error`].
pub type MessageStream<T> = BoxStream<'static, Result<T, Error>>;

#[async_trait::async_trait]
pub trait Media: Send + Sync + 'static {
    /// Stores a recording's file: the first message names it, every message
    /// carries the next piece of its bytes.
    async fn upload_recording(
        &self,
        caller: &Caller,
        messages: MessageStream<pb::UploadRecordingRequest>,
    ) -> Result<pb::UploadRecordingResponse, Error>;

    async fn read_recording(
        &self,
        caller: &Caller,
        request: pb::ReadRecordingRequest,
    ) -> Result<MessageStream<pb::ReadRecordingResponse>, Error>;

    async fn get_media_info(
        &self,
        caller: &Caller,
        request: pb::GetMediaInfoRequest,
    ) -> Result<pb::GetMediaInfoResponse, Error>;

    async fn batch_get_media_info(
        &self,
        caller: &Caller,
        request: pb::BatchGetMediaInfoRequest,
    ) -> Result<pb::BatchGetMediaInfoResponse, Error>;

    async fn delete_recording_media(
        &self,
        caller: &Caller,
        request: pb::DeleteRecordingMediaRequest,
    ) -> Result<pb::DeleteRecordingMediaResponse, Error>;
}
