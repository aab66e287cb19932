//! The core of the media service ([`Media`]): upload, read, metadata and
//! delete of recording bytes, each behind its access rule. The tenant always
//! comes from the verified identity, so another tenant's recording is simply
//! not found.

use archive_common::{
    FieldViolation, Principal,
    identity::{Allow, Caller, Rule},
};
use archive_proto::v1::{
    BatchGetMediaInfoRequest, BatchGetMediaInfoResponse, DeleteRecordingMediaRequest,
    DeleteRecordingMediaResponse, GetMediaInfoRequest, GetMediaInfoResponse, ReadRecordingRequest,
    ReadRecordingResponse, UploadRecordingRequest, UploadRecordingResponse,
};
use audit_svc::gate::Gate;
use futures::{StreamExt, TryStreamExt};

use crate::{
    Error,
    archive::{ArchiveReports, Reported},
    audit::MediaAudit,
    chunks::rechunk,
    keys::{RecordingId, RecordingKeys},
    media::{Media, MessageStream},
    storage::MediaStore,
    tombstones::Unservable,
};

/// Most ids one `BatchGetMediaInfo` may ask for.
pub const MAX_BATCH: usize = 1000;
/// Largest chunk of a `ReadRecording` response.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Metadata reads one batch runs at once.
const BATCH_CONCURRENCY: usize = 16;

/// Who may call each RPC: the recording platform uploads (for the tenants
/// its credential names); people read through the gateway (zip downloads,
/// the Recording tab); only archive-svc — its deletion outbox and retention,
/// after the user's deletion was decided and recorded — deletes.
const UPLOAD_RECORDING: Rule = Rule::new("UploadRecording", &[Allow::Platform]);
const READ_RECORDING: Rule = Rule::new("ReadRecording", &[Allow::Users]);
const GET_MEDIA_INFO: Rule = Rule::new("GetMediaInfo", &[Allow::Users]);
/// archive-svc's media check asks about recordings from before media states.
const BATCH_GET_MEDIA_INFO: Rule = Rule::new(
    "BatchGetMediaInfo",
    &[Allow::Users, Allow::Service("archive-svc")],
);
const DELETE_RECORDING_MEDIA: Rule =
    Rule::new("DeleteRecordingMedia", &[Allow::Service("archive-svc")]);

#[derive(Debug, Clone)]
pub(crate) struct MediaCore {
    store: MediaStore,
    audit: MediaAudit,
    gate: Gate,
    archive: ArchiveReports,
}

impl MediaCore {
    pub(crate) fn new(
        store: MediaStore,
        audit: MediaAudit,
        gate: Gate,
        archive: ArchiveReports,
    ) -> Self {
        Self {
            store,
            audit,
            gate,
            archive,
        }
    }

    /// The caller's principal, if `rule` admits the caller (a refusal is
    /// recorded as ACCESS_DENIED).
    async fn admit<'c>(&self, caller: &'c Caller, rule: &Rule) -> Result<&'c Principal, Error> {
        self.gate
            .check(caller, rule)
            .await
            .map_err(|refusal| Error::Passed(refusal.into()))
    }

    /// The keys of recording `id` of the caller's tenant, if `rule` admits the caller.
    async fn keys_of(
        &self,
        caller: &Caller,
        rule: &Rule,
        id: &str,
    ) -> Result<RecordingKeys, Error> {
        let tenant = &self.admit(caller, rule).await?.tenant;
        let id = RecordingId::parse(id, "recording_id")?;
        Ok(RecordingKeys::new(tenant, id))
    }

    /// NOT_FOUND for a recording being deleted, UNAVAILABLE while the
    /// deletions queued at archive-svc are not known yet (see `tombstones`).
    fn servable(&self, keys: &RecordingKeys) -> Result<(), Error> {
        self.store
            .tombstones()
            .check(keys)
            .map_err(|u| u.error(keys))
    }
}

#[async_trait::async_trait]
impl Media for MediaCore {
    async fn upload_recording(
        &self,
        caller: &Caller,
        mut messages: MessageStream<UploadRecordingRequest>,
    ) -> Result<UploadRecordingResponse, Error> {
        let who = self.admit(caller, &UPLOAD_RECORDING).await?;
        let tenant = who.tenant.clone();
        let first = messages
            .next()
            .await
            .transpose()?
            .ok_or_else(|| FieldViolation::missing("recording_id"))?;
        let id = RecordingId::parse(&first.recording_id, "recording_id")?;
        // A recording being deleted does not come back (its deletion may
        // not be known yet while unsettled: it is applied after this then).
        let keys = RecordingKeys::new(&tenant, id);
        if self.store.tombstones().check(&keys) == Err(Unservable::Deleted) {
            return Err(Error::Deleted(id.to_string()));
        }
        let mut upload = self.store.begin_upload(keys).await?;
        let received = async {
            upload.write(&first.chunk).await?;
            while let Some(message) = messages.next().await.transpose()? {
                upload.write(&message.chunk).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = received {
            upload.abort().await;
            return Err(e);
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
        self.audit
            .stored(who, &uploaded.info)
            .await
            .map_err(Error::Passed)?;
        // And once the archive knows the file arrived (the recording turns
        // playable). A file of a recording the archive does not have would
        // be unreachable forever: it goes again.
        let reported = self.archive.stored(&tenant, &uploaded.info).await;
        if reported.map_err(Error::Passed)? == Reported::UnknownRecording {
            let keys = RecordingKeys::new(&tenant, id);
            let deleted = self.store.delete(&keys).await?;
            self.audit
                .file_deleted(who, &first.recording_id, deleted)
                .await
                .map_err(Error::Passed)?;
            tracing::warn!(tenant, recording_id = %id, "upload of a recording the archive does not have: file removed");
            return Err(Error::NotInArchive(id.to_string()));
        }
        Ok(UploadRecordingResponse {
            media: Some(uploaded.info.into()),
            created: uploaded.created,
        })
    }

    async fn read_recording(
        &self,
        caller: &Caller,
        request: ReadRecordingRequest,
    ) -> Result<MessageStream<ReadRecordingResponse>, Error> {
        let keys = self
            .keys_of(caller, &READ_RECORDING, &request.recording_id)
            .await?;
        let ReadRecordingRequest { offset, length, .. } = request;
        // Asked again before every chunk: a deletion stops the read (the
        // gateway's zip download of an earlier export, say) where it is.
        let revocation = self.store.watch(&keys).map_err(|u| u.error(&keys))?;
        let size = self.store.require_info(&keys).await?.size_bytes;
        if offset >= size {
            return Err(Error::OutOfRange(format!(
                "offset {offset} is at or past the end of the recording ({size} bytes)"
            )));
        }
        // Like a file read, a length running past the end stops at the end.
        let end = match length {
            0 => size,
            n => offset.saturating_add(n).min(size),
        };
        let bytes = self.store.read(&keys, offset..end).await?;
        Ok(revocation
            .guard(rechunk(bytes, READ_CHUNK_BYTES))
            .map_ok(|chunk| ReadRecordingResponse {
                chunk: chunk.to_vec(),
            })
            .boxed())
    }

    async fn get_media_info(
        &self,
        caller: &Caller,
        request: GetMediaInfoRequest,
    ) -> Result<GetMediaInfoResponse, Error> {
        let keys = self
            .keys_of(caller, &GET_MEDIA_INFO, &request.recording_id)
            .await?;
        self.servable(&keys)?;
        let info = self.store.require_info(&keys).await?;
        Ok(GetMediaInfoResponse {
            media: Some(info.into()),
        })
    }

    async fn batch_get_media_info(
        &self,
        caller: &Caller,
        request: BatchGetMediaInfoRequest,
    ) -> Result<BatchGetMediaInfoResponse, Error> {
        let tenant = &self.admit(caller, &BATCH_GET_MEDIA_INFO).await?.tenant;
        let ids = &request.recording_ids;
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
                keys.push(RecordingKeys::new(tenant, id));
            }
        }
        let found: Vec<_> = futures::stream::iter(keys.into_iter().map(|k| {
            let store = self.store.clone();
            async move {
                // One being deleted is left out, as one without a file is.
                match store.tombstones().check(&k) {
                    Ok(()) => store.info(&k).await,
                    Err(Unservable::Deleted) => Ok(None),
                    Err(u) => Err(u.error(&k)),
                }
            }
        }))
        .buffered(BATCH_CONCURRENCY)
        .try_collect()
        .await?;
        Ok(BatchGetMediaInfoResponse {
            media: found.into_iter().flatten().map(Into::into).collect(),
        })
    }

    async fn delete_recording_media(
        &self,
        caller: &Caller,
        request: DeleteRecordingMediaRequest,
    ) -> Result<DeleteRecordingMediaResponse, Error> {
        let keys = self
            .keys_of(caller, &DELETE_RECORDING_MEDIA, &request.recording_id)
            .await?;
        let deleted = self.store.delete(&keys).await?;
        tracing::info!(key = %keys.audio, deleted, "recording media deleted");
        // Answered only once recorded: the caller's retry finds the file gone
        // and records the same event id, so the trail says it once.
        self.audit
            .file_deleted(&caller.principal, &request.recording_id, deleted)
            .await
            .map_err(Error::Passed)?;
        Ok(DeleteRecordingMediaResponse { deleted })
    }
}
