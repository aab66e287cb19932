//! Download: CreateExport authorizes every selected recording and records
//! the export's N+1 events (EXPORT_CREATED and one RECORDING_DOWNLOADED per
//! recording) in one all-or-none append with a commit deadline, then answers
//! a short-lived signed URL of `<export id>.zip`. A retry with the same
//! request id and selection is the same export (same id, events found
//! already recorded); the HTTP
//! endpoint streams the zip from media-svc without buffering it (stored
//! entries, sizes and CRC-32 known from upload, so the exact length and any
//! byte range are known up front; see `zip.rs`). Entries are named
//! `queuename_yyyymmdd-hhmm_accessnum_anum_sessionid_nr.mp3`.

use std::collections::HashSet;

use archive_common::{
    FieldViolation, Principal,
    convert::{from_timestamp, timestamp},
};
use archive_proto::v1 as pb;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tonic::Status;
use uuid::Uuid;

use super::{Actor, Reason, Selected};
use crate::{
    Error,
    upstream::{MEDIA, Upstreams},
    zip::{Entry, Layout, dos_time},
};

/// Most recordings one export may hold.
pub const MAX_EXPORT: usize = 1000;

#[derive(Clone)]
pub struct ExportSettings {
    /// HMAC key of download tokens.
    pub key: Vec<u8>,
    /// The gateway's HTTP base as the browser reaches it.
    pub public_url: String,
    pub ttl: Duration,
}

/// What a download URL carries: who exported which recordings, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportToken {
    pub export_id: Uuid,
    pub tenant: String,
    pub user_id: String,
    pub display_name: String,
    /// Unix seconds.
    pub expires: i64,
    /// The recording ids, 16 bytes each, base64url.
    pub recordings: String,
}

impl ExportToken {
    pub fn sign(&self, key: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("serialises"));
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key");
        mac.update(body.as_bytes());
        format!(
            "{body}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The token if its signature holds and it has not expired.
    pub fn verify(token: &str, key: &[u8], now: DateTime<Utc>) -> Option<Self> {
        let (body, tag) = token.split_once('.')?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key");
        mac.update(body.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(tag).ok()?).ok()?;
        let token: Self = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (token.expires > now.timestamp()).then_some(token)
    }

    pub fn recording_ids(&self) -> Vec<String> {
        URL_SAFE_NO_PAD
            .decode(&self.recordings)
            .unwrap_or_default()
            .chunks_exact(16)
            .map(|b| Uuid::from_slice(b).expect("16 bytes").to_string())
            .collect()
    }

    pub fn principal(&self) -> Principal {
        Principal::new(&self.tenant, &self.user_id, &self.display_name)
    }
}

/// One part of an entry name: letters, digits, `-` and `+` only, so no name
/// can leave its folder (`/`, `..`) or carry control characters.
fn sanitize(part: &str) -> String {
    let clean: String = part
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '+' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

/// `queuename_yyyymmdd-hhmm_accessnum_anum_sessionid_nr.mp3`, in the tenant's time zone.
pub fn entry_name(s: &Selected, tz: Tz) -> String {
    let queue = s
        .recording
        .segments
        .first()
        .map(|seg| seg.queue.clone())
        .filter(|q| !q.is_empty())
        .or_else(|| s.call.queues.first().cloned())
        .unwrap_or_default();
    let start = s
        .recording
        .start_time
        .as_ref()
        .or(s.call.start_time.as_ref())
        .and_then(|t| from_timestamp(t, "").ok())
        .unwrap_or_default()
        .with_timezone(&tz);
    let access = s
        .call
        .access_point
        .as_ref()
        .map(|a| a.number.clone())
        .unwrap_or_default();
    format!(
        "{}_{}_{}_{}_{}_{}.mp3",
        sanitize(&queue),
        start.format("%Y%m%d-%H%M"),
        sanitize(&access),
        sanitize(&s.call.caller_number),
        sanitize(&s.call.session_id),
        s.recording.nr
    )
}

/// Names for every entry; a clash after sanitising gets `-2`, `-3`…
fn unique_names(selected: &[Selected], tz: Tz) -> Vec<String> {
    let mut seen = HashSet::new();
    selected
        .iter()
        .map(|s| {
            let base = entry_name(s, tz);
            let mut name = base.clone();
            let mut n = 1;
            while !seen.insert(name.clone()) {
                n += 1;
                name = format!("{}-{n}.mp3", base.trim_end_matches(".mp3"));
            }
            name
        })
        .collect()
}

/// A prepared archive: its layout and where each entry's bytes come from.
#[derive(Clone)]
pub struct Prepared {
    pub file_name: String,
    pub layout: Layout,
    pub recording_ids: Vec<String>,
    pub entries: Vec<Entry>,
    pub principal: Principal,
    /// The recordings with their calls, in entry order (what authz-svc is
    /// asked about again while the archive is downloaded).
    pub selected: Vec<Selected>,
}

/// Loads the recordings and their media facts and lays out the archive.
async fn prepare(
    upstreams: &Upstreams,
    who: &Principal,
    export_id: Uuid,
    ids: &[String],
) -> Result<Prepared, Error> {
    let selected = upstreams.selected(who, ids).await?;
    for s in &selected {
        match s.state() {
            pb::RecordingState::Deleted | pb::RecordingState::Expired => {
                return Err(Error::Status(Status::failed_precondition(format!(
                    "recording {} has no file any more (deleted or expired)",
                    s.recording.recording_id
                ))));
            }
            _ if crate::rows::awaits_upload(&s.recording) => {
                return Err(Error::Status(Status::failed_precondition(
                    super::playback::not_available(&s.recording.recording_id),
                )));
            }
            _ => {}
        }
    }
    let request = pb::BatchGetMediaInfoRequest {
        recording_ids: ids.to_vec(),
    };
    let caller = Upstreams::caller(who);
    let answer = (upstreams.media).batch_get_media_info(&caller, request);
    let files = upstreams.call(&MEDIA, "BatchGetMediaInfo", answer).await?;
    let tz = upstreams.time_zone(who).await?;
    let names = unique_names(&selected, tz);
    let mut entries = Vec::with_capacity(selected.len());
    for (s, name) in selected.iter().zip(names) {
        let info = (files.media)
            .iter()
            .find(|m| m.recording_id == s.recording.recording_id)
            .ok_or_else(|| {
                Error::Status(Status::failed_precondition(format!(
                    "recording {} has no file",
                    s.recording.recording_id
                )))
            })?;
        let local = s
            .recording
            .start_time
            .as_ref()
            .and_then(|t| from_timestamp(t, "").ok())
            .unwrap_or_default()
            .with_timezone(&tz)
            .naive_local();
        entries.push(Entry {
            name,
            size: info.size_bytes,
            crc32: info.crc32,
            dos_time: dos_time(local),
        });
    }
    let layout = Layout::new(&entries);
    Ok(Prepared {
        file_name: format!("{export_id}.zip"),
        layout,
        recording_ids: ids.to_vec(),
        entries,
        principal: who.clone(),
        selected,
    })
}

pub async fn create(
    upstreams: &Upstreams,
    settings: &ExportSettings,
    actor: &Actor,
    request: pb::CreateExportRequest,
) -> Result<pb::CreateExportResponse, Error> {
    let ids = &request.recording_ids;
    if ids.is_empty() {
        return Err(FieldViolation::new("recording_ids", "select at least one recording").into());
    }
    if ids.len() > MAX_EXPORT {
        return Err(FieldViolation::new(
            "recording_ids",
            format!("one download holds at most {MAX_EXPORT} recordings"),
        )
        .into());
    }
    let who = &actor.principal;
    let given = [&request.reason, &request.reason_code, &request.case_id];
    let (tenant, reason) = Reason::given(upstreams, who, given).await?;
    let mut selection: Vec<&str> = vec!["export"];
    selection.extend(ids.iter().map(String::as_str));
    let export_id = actor.stable_uuid(&selection);
    let prepared = prepare(upstreams, who, export_id, ids).await?;
    let selected = &prepared.selected;
    upstreams
        .authorize(actor, pb::Action::Download, selected, &reason, &tenant)
        .await?;
    let detail = format!(
        "export {export_id}: {} recordings, {} bytes",
        selected.len(),
        prepared.layout.size()
    );
    // The export id already derives from the request id: the events' ids
    // derive from it.
    let mut events = vec![actor.event(
        pb::AuditEventKind::ExportCreated,
        format!("export-created:{export_id}"),
        None,
        &reason,
        detail,
    )];
    for (s, entry) in selected.iter().zip(&prepared.entries) {
        events.push(actor.event(
            pb::AuditEventKind::RecordingDownloaded,
            format!("export-entry:{export_id}:{}", s.recording.recording_id),
            Some(s),
            &reason,
            format!("export {export_id} as {}", entry.name),
        ));
    }
    // All N+1 or none, committed by the deadline or not at all.
    upstreams
        .append_events(who, events, Some(actor.commit_deadline()))
        .await
        .map_err(Error::Status)?;
    crate::metrics::METRICS.export_created(prepared.layout.size(), selected.len());
    let expires = actor.at + settings.ttl;
    let mut packed = Vec::with_capacity(ids.len() * 16);
    for s in selected {
        packed.extend_from_slice(
            Uuid::parse_str(&s.recording.recording_id)
                .expect("archive-svc ids are UUIDs")
                .as_bytes(),
        );
    }
    let token = ExportToken {
        export_id,
        tenant: who.tenant.clone(),
        user_id: who.user_id.clone(),
        display_name: who.display_name.clone(),
        expires: expires.timestamp(),
        recordings: URL_SAFE_NO_PAD.encode(packed),
    }
    .sign(&settings.key);
    Ok(pb::CreateExportResponse {
        export_id: export_id.to_string(),
        file_name: prepared.file_name.clone(),
        download_url: format!(
            "{}/exports/{}?token={token}",
            settings.public_url.trim_end_matches('/'),
            prepared.file_name
        ),
        size_bytes: prepared.layout.size(),
        entry_names: prepared.entries.into_iter().map(|e| e.name).collect(),
        expire_time: Some(timestamp(expires)),
    })
}

/// The archive a download token names, laid out again (stateless: any
/// gateway replica can serve it).
pub async fn reopen(upstreams: &Upstreams, token: &ExportToken) -> Result<Prepared, Error> {
    let who = token.principal();
    prepare(upstreams, &who, token.export_id, &token.recording_ids()).await
}
