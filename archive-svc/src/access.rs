//! Who may call each RPC of archive-svc. People come through the gateway
//! (which has asked authz-svc); the recording platform only ingests, for
//! the tenants its credential names. archive-svc's own retention and
//! outboxes act inside the process and call no RPC here.

use archive_common::identity::{Allow, Rule};

const USERS: &[Allow] = &[Allow::Users];

pub(crate) const INGEST_CALL: Rule = Rule::new("IngestCall", &[Allow::Platform]);
pub(crate) const BATCH_INGEST_CALLS: Rule = Rule::new("BatchIngestCalls", &[Allow::Platform]);
pub(crate) const SEARCH_CALLS: Rule = Rule::new("SearchCalls", USERS);
pub(crate) const GET_CALL: Rule = Rule::new("GetCall", USERS);
pub(crate) const BATCH_GET_RECORDINGS: Rule = Rule::new("BatchGetRecordings", USERS);
pub(crate) const LIST_AGENT_RECORDINGS: Rule = Rule::new("ListAgentRecordings", USERS);
pub(crate) const MARK_RECORDINGS_DELETED: Rule = Rule::new("MarkRecordingsDeleted", USERS);
pub(crate) const GET_TENANT_SETTINGS: Rule = Rule::new("GetTenantSettings", USERS);
pub(crate) const UPDATE_TENANT_SETTINGS: Rule = Rule::new("UpdateTenantSettings", USERS);
pub(crate) const SET_LEGAL_HOLD: Rule = Rule::new("SetLegalHold", USERS);
pub(crate) const RUN_RETENTION_SWEEP: Rule = Rule::new("RunRetentionSweep", USERS);
/// media-svc reads every tenant's (at start-up, before it serves); a user,
/// their own tenant's.
pub(crate) const LIST_PENDING_MEDIA_DELETIONS: Rule = Rule::new(
    "ListPendingMediaDeletions",
    &[Allow::Users, Allow::Service("media-svc")],
);
/// media-svc reports a file stored (before it answers the upload).
pub(crate) const MARK_RECORDING_MEDIA_STORED: Rule =
    Rule::new("MarkRecordingMediaStored", &[Allow::Service("media-svc")]);
/// The recording platform finds what it still has to upload.
pub(crate) const LIST_PENDING_RECORDINGS: Rule =
    Rule::new("ListPendingRecordings", &[Allow::Platform]);
