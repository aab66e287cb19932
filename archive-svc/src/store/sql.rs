//! The one [`CallStore`] implementation, [`SqlCallStore`], generic over the
//! sqlx database. sqlx accepts `$N` placeholders on SQLite and PostgreSQL
//! alike and [`Statement`] numbers the binds of request-shaped SQL for each,
//! so every query is written once; what differs per backend (column types)
//! lives in `migrations/`. This file holds the loading of calls and
//! recordings the others share and [`CallStore`]'s own methods; each
//! concern's SQL lives in its own file (`ingest`, `search`, and with their
//! part of the trait `deletions`, `media`, `retention`, `settings`). The
//! `where` clauses list what the SQL needs of a database (Rust does not carry
//! a trait's where-clauses to its users, so they are spelt out per impl).

/// Rows per multi-row INSERT: well inside SQLite's and PostgreSQL's bind limits.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

use std::collections::HashMap;

use archive_common::db::Pool as AnyPool;
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use uuid::Uuid;

use super::{
    CallStore, StoreError,
    rows::{CALL_COLUMNS, CallRow, RECORDING_COLUMNS, RecordingRow, SettingsRow, assemble},
    statement::{RowsAffected, Statement},
};
use crate::model::{CallQuery, Cursor, NewCall, StoredCall, StoredRecording};

/// The calls of one tenant-partitioned archive in a database `DB`.
#[derive(Debug, Clone)]
pub(crate) struct SqlCallStore<DB: Database> {
    pub(super) pool: Pool<DB>,
}

impl<DB: Database> SqlCallStore<DB> {
    /// Wraps `pool`, whose schema is current (see [`super::open`]).
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

impl<DB> SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
{
    async fn load_recordings(&self, call_ids: &[Uuid]) -> Result<Vec<RecordingRow>, StoreError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let select = format!("SELECT {RECORDING_COLUMNS} FROM recordings r WHERE r.call_id IN ");
        let mut qb = Statement::<DB>::new(select);
        qb.push_list(call_ids.iter().copied());
        let (sql, args) = qb.into_parts();
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Each recording with its call (without the call's recordings
    /// list), in the recordings' order.
    pub(super) async fn with_calls(
        &self,
        tenant: &str,
        recordings: Vec<RecordingRow>,
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        let mut call_ids: Vec<Uuid> = recordings.iter().map(|r| r.call_id).collect();
        call_ids.sort_unstable();
        call_ids.dedup();
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let select = format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.tenant_id = ");
        let mut qb = Statement::<DB>::new(select);
        qb.push_bind(tenant.to_owned()).push(" AND c.call_id IN ");
        qb.push_list(call_ids.iter().copied());
        let (sql, args) = qb.into_parts();
        let calls: Vec<CallRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        let calls: HashMap<Uuid, StoredCall> = calls
            .into_iter()
            .map(|c| c.into_call().map(|c| (c.call_id, c)))
            .collect::<Result<_, _>>()?;
        recordings
            .into_iter()
            .filter_map(|r| {
                let call = calls.get(&r.call_id)?.clone();
                Some(r.into_recording().map(|r| (r, call)))
            })
            .collect()
    }

    async fn calls_with_recordings(
        &self,
        rows: Vec<CallRow>,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|c| c.call_id).collect();
        let recordings = self.load_recordings(&ids).await?;
        assemble(rows, recordings)
    }

    /// The tenant's call whose `column` (a constant of ours, never input)
    /// is `value`, with its recordings: [`CallStore::get_call`] by call id,
    /// ingest's look-up of a known session by session id.
    pub(super) async fn call_where<T>(
        &self,
        tenant: &str,
        column: &str,
        value: T,
    ) -> Result<Option<StoredCall>, StoreError>
    where
        T: for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let row: Option<CallRow> = sqlx::query_as(&format!(
            "SELECT {CALL_COLUMNS} FROM calls c WHERE c.tenant_id = $1 AND c.{column} = $2"
        ))
        .bind(tenant)
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(self
            .calls_with_recordings(row.into_iter().collect())
            .await?
            .pop())
    }

    /// The tenant's recordings among `ids` with their calls.
    pub(super) async fn recordings_with_calls(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let select = format!("SELECT {RECORDING_COLUMNS} FROM recordings r WHERE r.tenant_id = ");
        let mut qb = Statement::<DB>::new(select);
        qb.push_bind(tenant.to_owned())
            .push(" AND r.recording_id IN ");
        qb.push_list(ids.iter().copied());
        let (sql, args) = qb.into_parts();
        let recordings: Vec<RecordingRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        self.with_calls(tenant, recordings).await
    }
}

#[async_trait]
impl<DB> CallStore for SqlCallStore<DB>
where
    DB: Database,
    AnyPool: From<Pool<DB>>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
    for<'r> SettingsRow: FromRow<'r, DB::Row>,
{
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn outbox(&self) -> SqlOutbox {
        SqlOutbox::new(self.pool.clone().into())
    }

    async fn insert_calls(
        &self,
        tenant: &str,
        calls: &[NewCall],
        change: &Change,
    ) -> Result<Vec<(StoredCall, bool)>, StoreError> {
        self.ingest(tenant, calls, change).await
    }

    async fn search(
        &self,
        tenant: &str,
        query: &CallQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let (sql, args) = Statement::search(tenant, query, after, limit).into_parts();
        let rows: Vec<CallRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        self.calls_with_recordings(rows).await
    }

    async fn get_call(
        &self,
        tenant: &str,
        call_id: Uuid,
    ) -> Result<Option<StoredCall>, StoreError> {
        self.call_where(tenant, "call_id", call_id).await
    }

    async fn get_recordings(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        self.recordings_with_calls(tenant, ids).await
    }
}
