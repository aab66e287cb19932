//! Row shapes shared by both backends and their conversion to the model.

use archive_common::convert::from_micros;
use uuid::Uuid;

use super::StoreError;
use crate::model::{
    Deletion, Media, ReasonActions, RecordingMode, RecordingState, Segment, StoredCall, StoredFile,
    StoredRecording, TenantSettings,
};

pub(super) const CALL_COLUMNS: &str = "c.call_id, c.tenant_id, c.session_id, c.start_us, \
     c.access_point_number, c.access_point_name, c.caller_number, c.time_before_answer_ms, \
     c.speak_time_ms, c.recording_ms, c.queues, c.agents, c.legal_hold";

pub(super) const RECORDING_COLUMNS: &str = "r.recording_id, r.call_id, r.nr, r.mode, r.start_us, \
     r.finish_us, r.segments, r.owner_agent, r.state, r.deleted_by_user_id, r.deleted_by_name, \
     r.deleted_at_us, r.media_state, r.ingested_at_us, r.media_size_bytes, r.media_duration_us, \
     r.media_sha256, r.media_stored_at_us";

#[derive(sqlx::FromRow)]
pub(super) struct CallRow {
    pub(super) call_id: Uuid,
    tenant_id: String,
    session_id: String,
    start_us: i64,
    access_point_number: String,
    access_point_name: String,
    caller_number: String,
    time_before_answer_ms: i64,
    speak_time_ms: i64,
    recording_ms: i64,
    queues: String,
    agents: String,
    legal_hold: bool,
}

impl CallRow {
    pub(super) fn into_call(self) -> Result<StoredCall, StoreError> {
        Ok(StoredCall {
            call_id: self.call_id,
            tenant: self.tenant_id,
            session_id: self.session_id,
            start: from_micros(self.start_us),
            access_point_number: self.access_point_number,
            access_point_name: self.access_point_name,
            caller_number: self.caller_number,
            time_before_answer_ms: self.time_before_answer_ms,
            speak_time_ms: self.speak_time_ms,
            recording_ms: self.recording_ms,
            queues: from_json(&self.queues)?,
            agents: from_json(&self.agents)?,
            legal_hold: self.legal_hold,
            recordings: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RecordingRow {
    recording_id: Uuid,
    pub(super) call_id: Uuid,
    nr: i64,
    mode: i64,
    start_us: i64,
    finish_us: i64,
    segments: String,
    owner_agent: Option<String>,
    state: i64,
    deleted_by_user_id: Option<String>,
    deleted_by_name: Option<String>,
    deleted_at_us: Option<i64>,
    media_state: i64,
    ingested_at_us: Option<i64>,
    media_size_bytes: Option<i64>,
    media_duration_us: Option<i64>,
    media_sha256: Option<String>,
    media_stored_at_us: Option<i64>,
}

impl RecordingRow {
    pub(super) fn into_recording(self) -> Result<StoredRecording, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("recording {}: {what}", self.recording_id));
        let mode = i16::try_from(self.mode)
            .ok()
            .and_then(RecordingMode::from_code)
            .ok_or_else(|| corrupt("mode"))?;
        let state = i16::try_from(self.state)
            .ok()
            .and_then(RecordingState::from_code)
            .ok_or_else(|| corrupt("state"))?;
        let deletion = match (
            self.deleted_by_user_id,
            self.deleted_by_name,
            self.deleted_at_us,
        ) {
            (Some(user_id), Some(display_name), Some(at)) => Some(Deletion {
                user_id,
                display_name,
                at: from_micros(at),
            }),
            _ => None,
        };
        let media = match self.media_state {
            1 => Media::Pending,
            3 => Media::Unverified,
            2 => match (
                self.media_size_bytes,
                self.media_duration_us,
                self.media_sha256,
                self.media_stored_at_us,
            ) {
                (Some(size), Some(duration_us), Some(sha256), Some(at)) => {
                    Media::Stored(StoredFile {
                        size_bytes: u64::try_from(size).map_err(|_| corrupt("media_size_bytes"))?,
                        duration_us,
                        sha256,
                        stored_at: from_micros(at),
                    })
                }
                _ => return Err(corrupt("stored without its file's facts")),
            },
            _ => return Err(corrupt("media_state")),
        };
        Ok(StoredRecording {
            recording_id: self.recording_id,
            call_id: self.call_id,
            nr: u32::try_from(self.nr).map_err(|_| corrupt("nr"))?,
            mode,
            start: from_micros(self.start_us),
            finish: from_micros(self.finish_us),
            segments: from_json::<Vec<Segment>>(&self.segments)?,
            owner_agent: self.owner_agent,
            state,
            deletion,
            media,
            ingested_at: self.ingested_at_us.map(from_micros),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SettingsRow {
    time_zone: String,
    consult_recording: bool,
    recording_retention_days: i64,
    metadata_retention_days: i64,
    search_audit_disabled: bool,
    reason_codes: String,
    reason_play: bool,
    reason_download: bool,
    reason_delete: bool,
}

impl SettingsRow {
    pub(super) fn into_settings(self) -> Result<TenantSettings, StoreError> {
        Ok(TenantSettings {
            time_zone: self.time_zone,
            consult_recording: self.consult_recording,
            recording_retention_days: self.recording_retention_days.clamp(0, u32::MAX.into())
                as u32,
            metadata_retention_days: self.metadata_retention_days.clamp(0, u32::MAX.into()) as u32,
            search_audit_disabled: self.search_audit_disabled,
            reason_codes: from_json(&self.reason_codes)?,
            reason_actions: ReasonActions {
                play: self.reason_play,
                download: self.reason_download,
                delete: self.reason_delete,
            },
        })
    }
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Attaches each recording to its call, keeping the calls' order.
pub(super) fn assemble(
    calls: Vec<CallRow>,
    recordings: Vec<RecordingRow>,
) -> Result<Vec<StoredCall>, StoreError> {
    let mut calls = calls
        .into_iter()
        .map(CallRow::into_call)
        .collect::<Result<Vec<_>, _>>()?;
    let index: std::collections::HashMap<Uuid, usize> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.call_id, i))
        .collect();
    for row in recordings {
        if let Some(&i) = index.get(&row.call_id) {
            calls[i].recordings.push(row.into_recording()?);
        }
    }
    for call in &mut calls {
        call.recordings.sort_by_key(|r| r.nr);
    }
    Ok(calls)
}
