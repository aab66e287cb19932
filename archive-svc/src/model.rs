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
    /// The row `call` becomes when stored now, with fresh ids.
    pub fn planned(tenant: &str, call: &NewCall) -> Self {
        let call_id = Uuid::new_v4();
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
    pub order: Order,
}

impl CallQuery {
    /// A stable fingerprint of the filter, bound into page tokens.
    pub fn fingerprint(&self) -> Vec<u8> {
        format!("{self:?}").into_bytes()
    }
}

/// Keyset position: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub start_us: i64,
    pub call_id: Uuid,
}
