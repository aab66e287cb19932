//! What media-svc tells archive-svc: a recording's file is stored
//! (`MarkRecordingMediaStored`), so the recording stops showing as "not
//! available yet" and leaves the list of uploads the recording platform owes.
//! Like the audit event, the report is made before the upload is answered:
//! a platform told that its upload failed uploads again, and both the upload
//! (the same bytes) and the report are idempotent. An upload for a recording
//! the archive does not have (never ingested, or purged) has nobody to play
//! it: its file is removed and the upload refused NOT_FOUND. Without an
//! archive URL nothing is reported (a warning at start): the recordings then
//! stay "not available yet".

use std::time::Duration;

use archive_common::{IdentityKey, Principal, telemetry::client::TracedChannel};
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use tonic::{Code, Status};

use crate::{Error, info::MediaInfo};

/// How long to wait for archive-svc (connecting, and answering).
const TIMEOUT: Duration = Duration::from_secs(10);

/// The principal media-svc reports as, in the uploader's tenant.
const REPORTER: &str = "media-svc";

#[derive(Clone)]
pub(crate) struct ArchiveReports {
    client: Option<(CallServiceClient<TracedChannel>, IdentityKey)>,
}

impl std::fmt::Debug for ArchiveReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveReports")
            .field("enabled", &self.client.is_some())
            .finish()
    }
}

/// What archive-svc said about a stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    /// Recorded (or nothing to report to).
    Recorded,
    /// The tenant has no such recording.
    UnknownRecording,
}

impl ArchiveReports {
    /// Reports to archive-svc at `url` (lazily connected), signing as
    /// `system:media-svc` with `identity`; `None`: reports nothing.
    pub(crate) fn new(url: Option<&str>, identity: IdentityKey) -> Result<Self, Error> {
        let client = match url {
            Some(url) => Some((
                CallServiceClient::new(
                    archive_common::telemetry::client::channel(url, TIMEOUT, TIMEOUT)
                        .map_err(|e| Error::Config(format!("archive URL {url:?}: {e}")))?,
                ),
                identity,
            )),
            None => {
                tracing::warn!(
                    "no archive-svc URL: stored uploads are not reported, their recordings stay \"not available yet\""
                );
                None
            }
        };
        Ok(Self { client })
    }

    /// Tells archive-svc that `info`'s file of `tenant` is stored. Errors are
    /// archive-svc's own status (UNAVAILABLE when it cannot be reached), its
    /// message prefixed so the uploader sees which step failed.
    pub(crate) async fn stored(&self, tenant: &str, info: &MediaInfo) -> Result<Reported, Status> {
        let Some((client, identity)) = &self.client else {
            return Ok(Reported::Recorded);
        };
        let request = identity.request(
            pb::MarkRecordingMediaStoredRequest {
                media: Some(info.clone().into()),
            },
            &Principal::system(tenant, REPORTER),
        );
        match client.clone().mark_recording_media_stored(request).await {
            Ok(_) => Ok(Reported::Recorded),
            Err(s) if s.code() == Code::NotFound => Ok(Reported::UnknownRecording),
            // An archive-svc of the release before media states (a rolling
            // upgrade): nothing to report to; the recording is unverified
            // there, playable as before.
            Err(s) if s.code() == Code::Unimplemented => {
                tracing::warn!(recording_id = %info.recording_id, "archive-svc does not take stored-upload reports yet (an older release); not reported");
                Ok(Reported::Recorded)
            }
            Err(s) => Err(Status::new(
                s.code(),
                format!(
                    "the file is stored but archive-svc could not record it (upload again): {}",
                    s.message()
                ),
            )),
        }
    }
}
