//! Settings: each tenant's settings and a call's legal hold, the changes an
//! admin makes, each with its event when it changes anything.

use audit_svc::outbox::Change;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    Settings, StoreError,
    outbox::write_events,
    rows::{CallRow, RecordingRow, SettingsRow, to_json},
    sql::SqlCallStore,
    statement::RowsAffected,
};
use crate::{
    audit,
    model::{StoredCall, TenantSettings},
};

const SELECT_SETTINGS: &str = "SELECT time_zone, consult_recording, recording_retention_days, \
     metadata_retention_days, search_audit_disabled, reason_codes, reason_play, reason_download, \
     reason_delete FROM tenant_settings WHERE tenant_id = $1";

/// Takes the settings row's write lock first (a no-op update), so the
/// "before" a settings change records is the one it replaces, on both
/// backends (SQLite has no `FOR UPDATE`, and a read-then-write transaction
/// could not upgrade its lock there).
const LOCK_SETTINGS: &str = "UPDATE tenant_settings SET tenant_id = tenant_id WHERE tenant_id = $1";

const UPSERT_SETTINGS: &str = "INSERT INTO tenant_settings (tenant_id, time_zone, \
     consult_recording, recording_retention_days, metadata_retention_days, search_audit_disabled, \
     reason_codes, reason_play, reason_download, reason_delete) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, \
     consult_recording = excluded.consult_recording, \
     recording_retention_days = excluded.recording_retention_days, \
     metadata_retention_days = excluded.metadata_retention_days, \
     search_audit_disabled = excluded.search_audit_disabled, \
     reason_codes = excluded.reason_codes, reason_play = excluded.reason_play, \
     reason_download = excluded.reason_download, reason_delete = excluded.reason_delete";

/// Changes the flag only when it differs, so a change is one affected row.
const SET_LEGAL_HOLD: &str =
    "UPDATE calls SET legal_hold = $1 WHERE tenant_id = $2 AND call_id = $3 AND legal_hold <> $1";

#[async_trait]
impl<DB> Settings for SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
    for<'r> SettingsRow: FromRow<'r, DB::Row>,
{
    async fn set_legal_hold(
        &self,
        tenant: &str,
        call_id: Uuid,
        hold: bool,
        change: &Change,
    ) -> Result<Option<StoredCall>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(SET_LEGAL_HOLD)
            .bind(hold)
            .bind(tenant)
            .bind(call_id)
            .execute(&mut *tx)
            .await?
            .rows();
        if changed > 0 {
            let event = audit::legal_hold_changed(change, call_id, hold);
            write_events(&mut tx, tenant, &[event], change.at).await?;
        }
        tx.commit().await?;
        self.call_where(tenant, "call_id", call_id).await
    }

    async fn settings(&self, tenant: &str) -> Result<TenantSettings, StoreError> {
        let row: Option<SettingsRow> = sqlx::query_as(SELECT_SETTINGS)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.into_settings())
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn put_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        change: &Change,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_SETTINGS)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let row: Option<SettingsRow> = sqlx::query_as(SELECT_SETTINGS)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
        let before = row
            .map(|r| r.into_settings())
            .transpose()?
            .unwrap_or_default();
        let Some(event) = audit::settings_changed(change, &before, settings) else {
            return Ok(false);
        };
        sqlx::query(UPSERT_SETTINGS)
            .bind(tenant)
            .bind(&settings.time_zone)
            .bind(settings.consult_recording)
            .bind(i64::from(settings.recording_retention_days))
            .bind(i64::from(settings.metadata_retention_days))
            .bind(settings.search_audit_disabled)
            .bind(to_json(&settings.reason_codes))
            .bind(settings.reason_actions.play)
            .bind(settings.reason_actions.download)
            .bind(settings.reason_actions.delete)
            .execute(&mut *tx)
            .await?;
        write_events(&mut tx, tenant, &[event], change.at).await?;
        tx.commit().await?;
        Ok(true)
    }
}
