//! `archive.v1.MediaService`: upload, read, metadata and delete of recording
//! bytes. The tenant always comes from the verified identity, so another
//! tenant's recording is simply not found.

use archive_common::{FieldViolation, Principal};
use archive_proto::v1::{
    self as proto, BatchGetMediaInfoRequest, BatchGetMediaInfoResponse,
    DeleteRecordingMediaRequest, DeleteRecordingMediaResponse, GetMediaInfoRequest,
    GetMediaInfoResponse, ReadRecordingRequest, ReadRecordingResponse, UploadRecordingRequest,
    UploadRecordingResponse,
};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    Error,
    archive::{ArchiveReports, Reported},
    audit::MediaAudit,
    chunks::rechunk,
    keys::{RecordingId, RecordingKeys},
    storage::MediaStore,
};

/// Most ids one `BatchGetMediaInfo` may ask for.
pub const MAX_BATCH: usize = 1000;
/// Largest chunk of a `ReadRecording` response.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Metadata reads one batch runs at once.
const BATCH_CONCURRENCY: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Media {
    store: MediaStore,
    audit: MediaAudit,
    archive: ArchiveReports,
}

impl Media {
    pub(crate) fn new(store: MediaStore, audit: MediaAudit, archive: ArchiveReports) -> Self {
        Self {
            store,
            audit,
            archive,
        }
    }
}

fn keys_of<T>(request: &Request<T>, id: &str, field: &str) -> Result<RecordingKeys, Status> {
    let tenant = &Principal::of(request)?.tenant;
    let id = RecordingId::parse(id, field)?;
    Ok(RecordingKeys::new(tenant, id))
}

#[tonic::async_trait]
impl proto::media_service_server::MediaService for Media {
    async fn upload_recording(
        &self,
        request: Request<Streaming<UploadRecordingRequest>>,
    ) -> Result<Response<UploadRecordingResponse>, Status> {
        let who = Principal::of(&request)?.clone();
        let tenant = who.tenant.clone();
        let mut messages = request.into_inner();
        let first = messages
            .message()
            .await?
            .ok_or_else(|| FieldViolation::missing("recording_id"))?;
        let id = RecordingId::parse(&first.recording_id, "recording_id")?;
        let mut upload = self
            .store
            .begin_upload(RecordingKeys::new(&tenant, id))
            .await?;
        let received = async {
            upload.write(&first.chunk).await?;
            while let Some(message) = messages.message().await.map_err(Error::Client)? {
                upload.write(&message.chunk).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = received {
            upload.abort().await;
            return Err(e.into());
        }
        let uploaded = upload.finish().await?;
        tracing::info!(
            tenant,
            recording_id = %id,
            created = uploaded.created,
            size = uploaded.info.size_bytes,
            "recording uploaded"
        );
        // Answered only once recorded: a caller told otherwise uploads again.
        self.audit.stored(&who, &uploaded.info).await?;
        // And once the archive knows the file arrived (the recording turns
        // playable). A file of a recording the archive does not have would
        // be unreachable forever: it goes again.
        if self.archive.stored(&tenant, &uploaded.info).await? == Reported::UnknownRecording {
            let keys = RecordingKeys::new(&tenant, id);
            let deleted = self.store.delete(&keys).await?;
            self.audit
                .file_deleted(&who, &first.recording_id, deleted)
                .await?;
            tracing::warn!(tenant, recording_id = %id, "upload of a recording the archive does not have: file removed");
            return Err(Status::not_found(format!(
                "recording {id} is not in the archive (ingest its call first: IngestCall names the recordings to upload); the file was not kept"
            )));
        }
        Ok(Response::new(UploadRecordingResponse {
            media: Some(uploaded.info.into()),
            created: uploaded.created,
        }))
    }

    type ReadRecordingStream = BoxStream<'static, Result<ReadRecordingResponse, Status>>;

    async fn read_recording(
        &self,
        request: Request<ReadRecordingRequest>,
    ) -> Result<Response<Self::ReadRecordingStream>, Status> {
        let keys = keys_of(&request, &request.get_ref().recording_id, "recording_id")?;
        let ReadRecordingRequest { offset, length, .. } = request.into_inner();
        let size = self.store.require_info(&keys).await?.size_bytes;
        if offset >= size {
            return Err(Error::OutOfRange(format!(
                "offset {offset} is at or past the end of the recording ({size} bytes)"
            ))
            .into());
        }
        // Like a file read, a length running past the end stops at the end.
        let end = match length {
            0 => size,
            n => offset.saturating_add(n).min(size),
        };
        let bytes = self.store.read(&keys, offset..end).await?;
        let stream = rechunk(bytes, READ_CHUNK_BYTES)
            .map_ok(|chunk| ReadRecordingResponse {
                chunk: chunk.to_vec(),
            })
            .map_err(Status::from)
            .boxed();
        Ok(Response::new(stream))
    }

    async fn get_media_info(
        &self,
        request: Request<GetMediaInfoRequest>,
    ) -> Result<Response<GetMediaInfoResponse>, Status> {
        let keys = keys_of(&request, &request.get_ref().recording_id, "recording_id")?;
        let info = self.store.require_info(&keys).await?;
        Ok(Response::new(GetMediaInfoResponse {
            media: Some(info.into()),
        }))
    }

    async fn batch_get_media_info(
        &self,
        request: Request<BatchGetMediaInfoRequest>,
    ) -> Result<Response<BatchGetMediaInfoResponse>, Status> {
        let tenant = Principal::of(&request)?.tenant.clone();
        let ids = &request.get_ref().recording_ids;
        if ids.len() > MAX_BATCH {
            return Err(FieldViolation::new(
                "recording_ids",
                format!("at most {MAX_BATCH} ids per request"),
            )
            .into());
        }
        let mut keys: Vec<RecordingKeys> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let id = RecordingId::parse(id, &format!("recording_ids[{i}]"))?;
            if !keys.iter().any(|k| k.id() == id) {
                keys.push(RecordingKeys::new(&tenant, id));
            }
        }
        let found: Vec<_> = futures::stream::iter(keys.into_iter().map(|k| {
            let store = self.store.clone();
            async move { store.info(&k).await }
        }))
        .buffered(BATCH_CONCURRENCY)
        .try_collect()
        .await?;
        Ok(Response::new(BatchGetMediaInfoResponse {
            media: found.into_iter().flatten().map(Into::into).collect(),
        }))
    }

    async fn delete_recording_media(
        &self,
        request: Request<DeleteRecordingMediaRequest>,
    ) -> Result<Response<DeleteRecordingMediaResponse>, Status> {
        let keys = keys_of(&request, &request.get_ref().recording_id, "recording_id")?;
        let deleted = self.store.delete(&keys).await?;
        tracing::info!(key = %keys.audio, deleted, "recording media deleted");
        // Answered only once recorded: the caller's retry finds the file gone
        // and records the same event id, so the trail says it once.
        self.audit
            .file_deleted(
                Principal::of(&request)?,
                &request.get_ref().recording_id,
                deleted,
            )
            .await?;
        Ok(Response::new(DeleteRecordingMediaResponse { deleted }))
    }
}
