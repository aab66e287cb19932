//! The archive's domain types, independent of protobuf and SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a recording exists (see the seed: forced, pending, manual; consult legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingMode {
    Forced,
    Pending,
    Manual,
    Consult,
}

impl RecordingMode {
    pub fn code(self) -> i16 {
        match self {
            Self::Forced => 1,
            Self::Pending => 2,
            Self::Manual => 3,
            Self::Consult => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Some(match code {
            1 => Self::Forced,
            2 => Self::Pending,
            3 => Self::Manual,
            4 => Self::Consult,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingState {
    Available,
    Expired,
    Deleted,
}

impl RecordingState {
    pub fn code(self) -> i16 {
        match self {
            Self::Available => 1,
            Self::Expired => 2,
            Self::Deleted => 3,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Some(match code {
            1 => Self::Available,
            2 => Self::Expired,
            3 => Self::Deleted,
            _ => return None,
        })
    }
}

/// Whether a recording's file has arrived at media-svc: the recording
/// platform ingests the call, then uploads each file to media-svc, which
/// reports it stored ([`crate::store::CallStore::mark_media_stored`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// No stored upload reported yet (not happened, or failed): not playable.
    Pending,
    /// media-svc stored the validated file.
    Stored(StoredFile),
    /// Ingested before media states were kept: playable as before until the
    /// media check ([`crate::media_check`]) asked media-svc.
    Unverified,
}

impl Media {
    /// The `media_state` column (the proto's `MediaState` numbers).
    pub fn code(&self) -> i16 {
        match self {
            Self::Pending => 1,
            Self::Stored(_) => 2,
            Self::Unverified => 3,
        }
    }

    /// Whether the file has not arrived (shown "not available yet").
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending)
    }
}

/// What media-svc measured of a stored file, and when archive-svc learnt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub size_bytes: u64,
    pub duration_us: i64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    pub stored_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start: DateTime<Utc>,
    pub finish: DateTime<Utc>,
    pub queue: String,
    pub agent: String,
}

/// Who deleted a recording, kept with the call forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub user_id: String,
    pub display_name: String,
    pub at: DateTime<Utc>,
}

/// A recording as the rules decided it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    pub nr: u32,
    pub mode: RecordingMode,
    pub start: DateTime<Utc>,
    pub finish: DateTime<Utc>,
    pub segments: Vec<Segment>,
    /// Agents whose "My call recordings" list it (only the initiator for agent-to-agent calls).
    pub linked_agents: Vec<String>,
    /// Set for agent-to-agent calls: the initiating agent.
    pub owner_agent: Option<String>,
}

/// A call as the rules decided it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    pub session_id: String,
    pub start: DateTime<Utc>,
    pub access_point_number: String,
    pub access_point_name: String,
    pub caller_number: String,
    pub time_before_answer_ms: i64,
    pub speak_time_ms: i64,
    pub queues: Vec<String>,
    pub agents: Vec<String>,
    pub recordings: Vec<NewRecording>,
}

impl NewCall {
    pub fn recording_ms(&self) -> i64 {
        self.recordings
            .iter()
            .map(|r| (r.finish - r.start).num_milliseconds().max(0))
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecording {
    pub recording_id: Uuid,
    pub call_id: Uuid,
    pub nr: u32,
    pub mode: RecordingMode,
    pub start: DateTime<Utc>,
    pub finish: DateTime<Utc>,
    pub segments: Vec<Segment>,
    pub owner_agent: Option<String>,
    pub state: RecordingState,
    pub deletion: Option<Deletion>,
    pub media: Media,
    /// When it was ingested; `None` for recordings ingested before this was
    /// kept (their start, once the media check found their file missing).
    pub ingested_at: Option<DateTime<Utc>>,
}

impl StoredRecording {
    /// Whether the recording platform still owes its file: available (not
    /// deleted, not expired) and no stored upload reported.
    pub fn awaits_upload(&self) -> bool {
        self.state == RecordingState::Available && self.media.is_pending()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub call_id: Uuid,
    pub tenant: String,
    pub session_id: String,
    pub start: DateTime<Utc>,
    pub access_point_number: String,
    pub access_point_name: String,
    pub caller_number: String,
    pub time_before_answer_ms: i64,
    pub speak_time_ms: i64,
    pub recording_ms: i64,
    pub queues: Vec<String>,
    pub agents: Vec<String>,
    pub legal_hold: bool,
    pub recordings: Vec<StoredRecording>,
}

impl StoredCall {
    /// The row `call` becomes when stored at `now`, with fresh ids; its
    /// recordings wait for their files.
    pub fn planned(tenant: &str, call: &NewCall, now: DateTime<Utc>) -> Self {
        let call_id = Uuid::new_v4();
        // As the store keeps it (microseconds), so the answer to an ingest
        // says what a later read does.
        let ingested_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        Self {
            call_id,
            tenant: tenant.to_owned(),
            session_id: call.session_id.clone(),
            start: call.start,
            access_point_number: call.access_point_number.clone(),
            access_point_name: call.access_point_name.clone(),
            caller_number: call.caller_number.clone(),
            time_before_answer_ms: call.time_before_answer_ms,
            speak_time_ms: call.speak_time_ms,
            recording_ms: call.recording_ms(),
            queues: call.queues.clone(),
            agents: call.agents.clone(),
            legal_hold: false,
            recordings: call
                .recordings
                .iter()
                .map(|r| StoredRecording {
                    recording_id: Uuid::new_v4(),
                    call_id,
                    nr: r.nr,
                    mode: r.mode,
                    start: r.start,
                    finish: r.finish,
                    segments: r.segments.clone(),
                    owner_agent: r.owner_agent.clone(),
                    state: RecordingState::Available,
                    deletion: None,
                    media: Media::Pending,
                    ingested_at: Some(ingested_at),
                })
                .collect(),
        }
    }
}

/// One of a tenant's reasons for sensitive actions, e.g. `QA` "Quality review".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCode {
    pub code: String,
    pub label: String,
}

/// A tenant's archive settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    pub time_zone: String,
    pub consult_recording: bool,
    pub recording_retention_days: u32,
    pub metadata_retention_days: u32,
    /// Searches are not recorded in the audit trail (they are by default).
    pub search_audit_disabled: bool,
    /// The reasons users pick from; empty: free text only.
    pub reason_codes: Vec<ReasonCode>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            time_zone: "Europe/Oslo".into(),
            consult_recording: false,
            recording_retention_days: 365,
            metadata_retention_days: 730,
            search_audit_disabled: false,
            reason_codes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A validated call search filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub access_point_number: Option<String>,
    pub caller_number: Option<String>,
    pub caller_number_partial: bool,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub has_recording: bool,
    pub include_deleted: bool,
    pub min_recording_ms: Option<i64>,
    pub max_recording_ms: Option<i64>,
    pub min_speak_ms: Option<i64>,
    pub max_speak_ms: Option<i64>,
    /// "My call recordings": only calls with a recording linked to this agent.
    pub linked_agent: Option<String>,
    /// The calls the user may see; `None`: every call of the tenant.
    pub scope: Option<CallScope>,
    pub order: Order,
}

/// A search scope: a call is in it when any part says so (an empty one
/// reaches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallScope {
    /// Calls this agent took part in, except agent-to-agent calls whose
    /// recording another agent initiated.
    pub own_agent: Option<String>,
    pub queues: Vec<String>,
    pub access_points: Vec<String>,
}

impl CallQuery {
    /// A stable fingerprint of the filter, bound into page tokens.
    pub fn fingerprint(&self) -> Vec<u8> {
        format!("{self:?}").into_bytes()
    }
}

/// Keyset position in the pending recordings (oldest ingest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCursor {
    pub ingested_us: i64,
    pub recording_id: Uuid,
}

/// Keyset position: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub start_us: i64,
    pub call_id: Uuid,
}
