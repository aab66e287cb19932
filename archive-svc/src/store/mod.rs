//! Where calls live: the [`CallStore`] trait and its SQLite and PostgreSQL
//! implementations (one generic one, `sql.rs`); the conformance
//! suite in `tests/store_conformance.rs` holds them to the same behaviour.

mod deletions;
mod ingest;
mod media;
mod outbox;
mod retention;
mod rows;
mod search;
mod settings;
mod sql;
mod statement;

use archive_common::db::{Pool, grant_runtime_role, prepare_schema};
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use self::sql::SqlCallStore;
use crate::model::{
    CallQuery, Cursor, NewCall, PendingCursor, StoredCall, StoredFile, StoredRecording,
    TenantSettings,
};

/// A recording file waiting to be deleted from media-svc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDeletion {
    pub recording_id: Uuid,
    pub tenant: String,
    /// `deleted` (by a user), `expired` or `purged` (retention).
    pub cause: String,
    pub requested_at: DateTime<Utc>,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Schema(#[from] archive_common::db::SchemaError),
    #[error("--grant-to needs PostgreSQL: SQLite has no roles")]
    GrantNeedsPostgres,
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Persistence of one tenant-partitioned call archive. Every method takes the
/// tenant; nothing crosses tenants. Every change that the audit trail records
/// writes its events to the store's audit outbox in the change's own
/// transaction ([`CallStore::outbox`] is how the relay drains them). Its
/// methods beyond ingest and reads are grouped by concern in its supertraits.
#[async_trait]
pub trait CallStore: Deletions + MediaStates + Retention + Settings + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The audit outbox the changes write to, for its relay.
    fn outbox(&self) -> SqlOutbox;

    /// Stores each call unless the tenant already has its session id, all in
    /// one transaction with one CALLS_INGESTED event when any call was
    /// created; returns, in order, the stored call and whether this request
    /// created it (a known session is returned unchanged).
    async fn insert_calls(
        &self,
        tenant: &str,
        calls: &[NewCall],
        change: &Change,
    ) -> Result<Vec<(StoredCall, bool)>, StoreError>;

    /// [`CallStore::insert_calls`] for one call.
    async fn insert_call(
        &self,
        tenant: &str,
        call: &NewCall,
        change: &Change,
    ) -> Result<(StoredCall, bool), StoreError> {
        let mut results = self
            .insert_calls(tenant, std::slice::from_ref(call), change)
            .await?;
        results
            .pop()
            .ok_or_else(|| StoreError::Corrupt("insert returned no call".into()))
    }

    /// Up to `limit` calls matching `query`, after `after` in the query's order.
    async fn search(
        &self,
        tenant: &str,
        query: &CallQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredCall>, StoreError>;

    async fn get_call(&self, tenant: &str, call_id: Uuid)
    -> Result<Option<StoredCall>, StoreError>;

    /// The tenant's recordings among `ids` with their calls (without the
    /// calls' recording lists); unknown ids are left out.
    async fn get_recordings(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError>;
}

/// Deletion ([`CallStore`]'s, in `deletions.rs`): users' deletion markers and the
/// queue of recording files to delete from media-svc, which every way a file
/// must go (a marker, retention, a file that arrived too late) fills.
#[async_trait]
pub trait Deletions: Send + Sync {
    /// Sets the deletion marker (`change`'s actor and time) of the tenant's
    /// recordings among `ids` that do not have one yet (an existing marker is
    /// never overwritten), queues their files for deletion and writes one
    /// RECORDING_DELETED per recording it marked, in one transaction; returns
    /// all of them as stored afterwards.
    async fn mark_deleted(
        &self,
        tenant: &str,
        ids: &[Uuid],
        change: &Change,
    ) -> Result<Vec<StoredRecording>, StoreError>;

    /// Up to `limit` queued file deletions due at `now`.
    async fn due_media_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MediaDeletion>, StoreError>;

    /// The queued file deletions of `tenant` (of every tenant when `None`)
    /// whose recording id comes after `after`, by recording id, at most
    /// `limit`: what media-svc must not serve (ListPendingMediaDeletions).
    async fn pending_media_deletions(
        &self,
        tenant: Option<&str>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<MediaDeletion>, StoreError>;

    /// The queued file deletions of the tenant's recordings among `ids`
    /// (what a deletion just queued, to be attempted at once).
    async fn queued_media_deletions(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<MediaDeletion>, StoreError>;

    /// media-svc confirmed the deletion: dequeue it.
    async fn media_deletion_done(&self, recording_id: Uuid) -> Result<(), StoreError>;

    /// The deletion failed: try again at `next_attempt`.
    async fn media_deletion_failed(
        &self,
        recording_id: Uuid,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;
}

/// Media states ([`CallStore`]'s, in `media.rs`): whether each recording's
/// file is stored at media-svc, still owed by the recording platform, or
/// not yet verified (recordings from before media states were kept).
#[async_trait]
pub trait MediaStates: Send + Sync {
    /// Records that media-svc stored the file of the tenant's recording `id`
    /// (`file`: what it measured; the same file reported again changes
    /// nothing). When the recording was deleted or expired meanwhile, its
    /// file is queued for deletion again, in the same transaction. Returns
    /// the recording as stored afterwards and whether a deletion was queued;
    /// `None` when the tenant has no such recording.
    async fn mark_media_stored(
        &self,
        tenant: &str,
        id: Uuid,
        file: &StoredFile,
    ) -> Result<Option<(StoredRecording, bool)>, StoreError>;

    /// Up to `limit` of the tenant's recordings whose file never arrived
    /// ([`StoredRecording::awaits_upload`]), ingested before `before` when
    /// given, after `after`, oldest ingest first, with their calls (without
    /// the calls' recording lists).
    async fn pending_recordings(
        &self,
        tenant: &str,
        before: Option<DateTime<Utc>>,
        after: Option<PendingCursor>,
        limit: u32,
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError>;

    /// Up to `limit` available recordings of every tenant whose media state
    /// is unverified (ingested before media states were kept), after `after`
    /// in id order: (tenant, recording id).
    async fn unverified_recordings(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(String, Uuid)>, StoreError>;

    /// What the media check found for the tenant's unverified recordings:
    /// `found` stored (with what media-svc measured), `missing` pending.
    /// A recording no longer unverified (media-svc's report came first) is
    /// left as it is. Returns how many recordings changed.
    async fn resolve_unverified(
        &self,
        tenant: &str,
        found: &[(Uuid, StoredFile)],
        missing: &[Uuid],
    ) -> Result<u64, StoreError>;
}

/// Retention ([`CallStore`]'s, in `retention.rs`): what the retention
/// sweeper changes, as the system's RETENTION actor.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Marks the tenant's available recordings that started before `cutoff`
    /// expired (calls on legal hold excepted), queues their files for
    /// deletion and writes a RETENTION_EXPIRED event for each (the sweeper's,
    /// at `now`, naming `retention_days`); returns how many expired.
    async fn expire_recordings(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<u64, StoreError>;

    /// Deletes the tenant's calls that started before `cutoff` (legal hold
    /// excepted) with their recordings' metadata; queues any file still
    /// there for deletion; writes a CALL_PURGED event for each call (naming
    /// `metadata_retention_days`); returns how many calls went.
    async fn purge_calls(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        metadata_retention_days: u32,
    ) -> Result<u64, StoreError>;

    /// Every tenant that has calls.
    async fn tenants(&self) -> Result<Vec<String>, StoreError>;
}

/// Settings ([`CallStore`]'s, in `settings.rs`): a tenant's settings and a
/// call's legal hold, an admin's changes of what is kept and how.
#[async_trait]
pub trait Settings: Send + Sync {
    /// The tenant's settings, or the defaults when none were stored.
    async fn settings(&self, tenant: &str) -> Result<TenantSettings, StoreError>;

    /// Stores the tenant's settings with a TENANT_SETTINGS_CHANGED event
    /// (before → after) when they differ from the stored ones; returns
    /// whether they did.
    async fn put_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        change: &Change,
    ) -> Result<bool, StoreError>;

    /// Sets or releases the call's legal hold, with a LEGAL_HOLD_CHANGED event
    /// when the flag changes; `None` when the tenant has no such call.
    async fn set_legal_hold(
        &self,
        tenant: &str,
        call_id: Uuid,
        hold: bool,
        change: &Change,
    ) -> Result<Option<StoredCall>, StoreError>;
}

/// What archive-svc's runtime database role is granted by `archive-svc
/// migrate --grant-to ROLE` (PostgreSQL): rows of its own tables, no DDL.
pub const RUNTIME_GRANTS: &[&str] = &[
    "SELECT, INSERT, UPDATE, DELETE ON calls, call_parties, recordings, tenant_settings, \
     media_deletions, audit_outbox",
    "USAGE ON SEQUENCE audit_outbox_seq_seq",
];

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The service name the schema step reports (`archive-svc migrate`).
const SERVICE: &str = "archive-svc";

/// Opens the store named by `url`: applies its migrations when `migrate`
/// is set (the owner's `migrate` step, the embedded suite, tests), else
/// checks the schema is current and fails naming the command.
pub async fn open(url: &str, migrate: bool) -> Result<std::sync::Arc<dyn CallStore>, StoreError> {
    let pool = archive_common::db::connect(url).await?;
    prepare_schema(&pool, migrations(&pool), migrate, SERVICE).await?;
    Ok(match pool {
        Pool::Sqlite(p) => std::sync::Arc::new(SqlCallStore::new(p)),
        Pool::Postgres(p) => std::sync::Arc::new(SqlCallStore::new(p)),
    })
}

/// The migrations of `pool`'s backend.
fn migrations(pool: &Pool) -> &'static sqlx::migrate::Migrator {
    match pool {
        Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
        Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
    }
}

/// `archive-svc migrate`: applies the migrations as the database owner and,
/// with `grant_to`, grants that role exactly what the service needs
/// ([`RUNTIME_GRANTS`]; PostgreSQL only).
pub async fn migrate(url: &str, grant_to: Option<&str>) -> Result<(), StoreError> {
    let pool = archive_common::db::connect(url).await?;
    if grant_to.is_some() && matches!(pool, Pool::Sqlite(_)) {
        return Err(StoreError::GrantNeedsPostgres);
    }
    prepare_schema(&pool, migrations(&pool), true, SERVICE).await?;
    if let (Pool::Postgres(p), Some(role)) = (&pool, grant_to) {
        grant_runtime_role(p, role, RUNTIME_GRANTS).await?;
    }
    Ok(())
}
