//! Where calls live: the [`CallStore`] trait and its SQLite and PostgreSQL
//! implementations. Both run the same SQL (see `sql.rs`); the conformance
//! suite in `tests/store_conformance.rs` holds them to the same behaviour.

mod postgres;
mod rows;
mod sql;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::{postgres::PostgresCallStore, sqlite::SqliteCallStore};
use crate::model::{
    CallQuery, Cursor, Deletion, NewCall, StoredCall, StoredRecording, TenantSettings,
};

/// A recording file waiting to be deleted from media-svc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDeletion {
    pub recording_id: Uuid,
    pub tenant: String,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Persistence of one tenant-partitioned call archive. Every method takes the
/// tenant; nothing crosses tenants.
#[async_trait]
pub trait CallStore: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores each call unless the tenant already has its session id, all in
    /// one transaction; returns, in order, the stored call and whether this
    /// request created it (a known session is returned unchanged).
    async fn insert_calls(
        &self,
        tenant: &str,
        calls: &[NewCall],
    ) -> Result<Vec<(StoredCall, bool)>, StoreError>;

    /// [`CallStore::insert_calls`] for one call.
    async fn insert_call(
        &self,
        tenant: &str,
        call: &NewCall,
    ) -> Result<(StoredCall, bool), StoreError> {
        let mut results = self
            .insert_calls(tenant, std::slice::from_ref(call))
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

    /// Sets the deletion marker of the tenant's recordings among `ids` that do
    /// not have one yet (an existing marker is never overwritten) and queues
    /// their files for deletion, in one transaction; returns all of them as
    /// stored afterwards.
    async fn mark_deleted(
        &self,
        tenant: &str,
        ids: &[Uuid],
        deletion: &Deletion,
    ) -> Result<Vec<StoredRecording>, StoreError>;

    async fn set_legal_hold(
        &self,
        tenant: &str,
        call_id: Uuid,
        hold: bool,
    ) -> Result<Option<StoredCall>, StoreError>;

    /// Marks the tenant's available recordings that started before `cutoff`
    /// expired (calls on legal hold excepted) and queues their files for
    /// deletion; returns how many expired.
    async fn expire_recordings(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Deletes the tenant's calls that started before `cutoff` (legal hold
    /// excepted) with their recordings' metadata; queues any file still
    /// there for deletion; returns how many calls went.
    async fn purge_calls(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Every tenant that has calls.
    async fn tenants(&self) -> Result<Vec<String>, StoreError>;

    /// Up to `limit` queued file deletions due at `now`.
    async fn due_media_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
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

    /// The tenant's settings, or the defaults when none were stored.
    async fn settings(&self, tenant: &str) -> Result<TenantSettings, StoreError>;

    async fn put_settings(&self, tenant: &str, settings: &TenantSettings)
    -> Result<(), StoreError>;
}

/// Opens the store named by `url` and applies its migrations.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn CallStore>, StoreError> {
    Ok(match archive_common::db::connect(url).await? {
        archive_common::db::Pool::Sqlite(pool) => {
            std::sync::Arc::new(SqliteCallStore::new(pool).await?)
        }
        archive_common::db::Pool::Postgres(pool) => {
            std::sync::Arc::new(PostgresCallStore::new(pool).await?)
        }
    })
}
