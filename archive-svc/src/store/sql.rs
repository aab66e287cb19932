//! The SQL both backends run. sqlx accepts `$N` placeholders on SQLite and
//! PostgreSQL alike and `QueryBuilder` numbers binds for each, so the queries
//! are written once; [`call_store_impl!`] instantiates them for a concrete
//! pool type. What differs per backend (migrations, column types) lives in
//! `sqlite.rs`, `postgres.rs` and `migrations/`.

pub(super) const INSERT_CALL: &str = "INSERT INTO calls (call_id, tenant_id, session_id, start_us, \
     access_point_number, access_point_name, caller_number, time_before_answer_ms, speak_time_ms, \
     recording_ms, recording_count, live_recording_count, queues, agents) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) \
     ON CONFLICT (tenant_id, session_id) DO NOTHING RETURNING call_id";

pub(super) const INSERT_PARTY: &str = "INSERT INTO call_parties (call_id, tenant_id, role, name, start_us) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

pub(super) const INSERT_RECORDING: &str = "INSERT INTO recordings (recording_id, call_id, tenant_id, nr, \
     mode, start_us, finish_us, segments, owner_agent, state) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(super) const SELECT_SETTINGS: &str = "SELECT time_zone, consult_recording, recording_retention_days, \
     metadata_retention_days FROM tenant_settings WHERE tenant_id = $1";

pub(super) const UPSERT_SETTINGS: &str = "INSERT INTO tenant_settings (tenant_id, time_zone, \
     consult_recording, recording_retention_days, metadata_retention_days) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, \
     consult_recording = excluded.consult_recording, \
     recording_retention_days = excluded.recording_retention_days, \
     metadata_retention_days = excluded.metadata_retention_days";

pub(super) const MARK_DELETED: &str = "UPDATE recordings SET state = $1, deleted_by_user_id = $2, \
     deleted_by_name = $3, deleted_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND deleted_at_us IS NULL";

pub(super) const RECOUNT_LIVE: &str = "UPDATE calls SET live_recording_count = \
     (SELECT COUNT(*) FROM recordings r WHERE r.call_id = calls.call_id AND r.deleted_at_us IS NULL) \
     WHERE call_id = $1";

pub(super) const SET_LEGAL_HOLD: &str =
    "UPDATE calls SET legal_hold = $1 WHERE tenant_id = $2 AND call_id = $3";

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(super) fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Implements [`super::CallStore`] for `$store` (a struct with a `pool` field
/// of database `$db`) with the shared SQL above.
macro_rules! call_store_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn load_recordings(
                &self,
                call_ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::store::rows::RecordingRow>, $crate::store::StoreError> {
                if call_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM recordings r WHERE r.call_id IN (",
                    $crate::store::rows::RECORDING_COLUMNS
                ));
                let mut ids = qb.separated(", ");
                for id in call_ids {
                    ids.push_bind(*id);
                }
                qb.push(")");
                Ok(qb.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn calls_with_recordings(
                &self,
                rows: Vec<$crate::store::rows::CallRow>,
            ) -> Result<Vec<$crate::model::StoredCall>, $crate::store::StoreError> {
                let ids: Vec<uuid::Uuid> = rows.iter().map(|c| c.call_id).collect();
                let recordings = self.load_recordings(&ids).await?;
                $crate::store::rows::assemble(rows, recordings)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::CallStore for $store {
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_call(
                &self,
                tenant: &str,
                call: &$crate::model::NewCall,
            ) -> Result<($crate::model::StoredCall, bool), $crate::store::StoreError> {
                use $crate::store::{rows::to_json, sql};
                let start_us = call.start.timestamp_micros();
                let mut tx = self.pool.begin().await?;
                let call_id = uuid::Uuid::new_v4();
                let created: Option<(uuid::Uuid,)> = sqlx::query_as(sql::INSERT_CALL)
                    .bind(call_id)
                    .bind(tenant)
                    .bind(&call.session_id)
                    .bind(start_us)
                    .bind(&call.access_point_number)
                    .bind(&call.access_point_name)
                    .bind(&call.caller_number)
                    .bind(call.time_before_answer_ms)
                    .bind(call.speak_time_ms)
                    .bind(call.recording_ms())
                    .bind(call.recordings.len() as i64)
                    .bind(to_json(&call.queues))
                    .bind(to_json(&call.agents))
                    .fetch_optional(&mut *tx)
                    .await?;
                if created.is_none() {
                    tx.rollback().await?;
                    let existing = self
                        .find_by_session(tenant, &call.session_id)
                        .await?
                        .ok_or_else(|| {
                            $crate::store::StoreError::Corrupt("session conflict without a row".into())
                        })?;
                    return Ok((existing, false));
                }
                let mut parties: Vec<(&str, &str)> = Vec::new();
                parties.extend(call.agents.iter().map(|a| ("agent", a.as_str())));
                parties.extend(call.queues.iter().map(|q| ("queue", q.as_str())));
                for r in &call.recordings {
                    parties.extend(r.linked_agents.iter().map(|a| ("linked", a.as_str())));
                }
                for (role, name) in parties {
                    sqlx::query(sql::INSERT_PARTY)
                        .bind(call_id)
                        .bind(tenant)
                        .bind(role)
                        .bind(name)
                        .bind(start_us)
                        .execute(&mut *tx)
                        .await?;
                }
                for r in &call.recordings {
                    sqlx::query(sql::INSERT_RECORDING)
                        .bind(uuid::Uuid::new_v4())
                        .bind(call_id)
                        .bind(tenant)
                        .bind(i64::from(r.nr))
                        .bind(i64::from(r.mode.code()))
                        .bind(r.start.timestamp_micros())
                        .bind(r.finish.timestamp_micros())
                        .bind(to_json(&r.segments))
                        .bind(r.owner_agent.as_deref())
                        .bind(i64::from($crate::model::RecordingState::Available.code()))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                let stored = self.get_call(tenant, call_id).await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt("inserted call vanished".into())
                })?;
                Ok((stored, true))
            }

            async fn search(
                &self,
                tenant: &str,
                query: &$crate::model::CallQuery,
                after: Option<$crate::model::Cursor>,
                limit: u32,
            ) -> Result<Vec<$crate::model::StoredCall>, $crate::store::StoreError> {
                use $crate::model::Order;
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM calls c WHERE c.tenant_id = ",
                    $crate::store::rows::CALL_COLUMNS
                ));
                qb.push_bind(tenant.to_owned());
                if let Some(from) = query.from {
                    qb.push(" AND c.start_us >= ").push_bind(from.timestamp_micros());
                }
                if let Some(to) = query.to {
                    qb.push(" AND c.start_us < ").push_bind(to.timestamp_micros());
                }
                if let Some(ap) = &query.access_point_number {
                    qb.push(" AND c.access_point_number = ").push_bind(ap.clone());
                }
                if let Some(number) = &query.caller_number {
                    if query.caller_number_partial {
                        qb.push(" AND c.caller_number LIKE ")
                            .push_bind($crate::store::sql::like_contains(number))
                            .push(" ESCAPE '\\'");
                    } else {
                        qb.push(" AND c.caller_number = ").push_bind(number.clone());
                    }
                }
                for (role, name) in [
                    ("agent", &query.agent),
                    ("queue", &query.queue),
                    ("linked", &query.linked_agent),
                ] {
                    if let Some(name) = name {
                        qb.push(
                            " AND EXISTS (SELECT 1 FROM call_parties p WHERE p.call_id = c.call_id AND p.role = ",
                        )
                        .push_bind(role)
                        .push(" AND p.name = ")
                        .push_bind(name.clone())
                        .push(")");
                    }
                }
                if query.has_recording {
                    qb.push(if query.include_deleted {
                        " AND c.recording_count > 0"
                    } else {
                        " AND c.live_recording_count > 0"
                    });
                }
                for (column, op, bound) in [
                    ("c.recording_ms", ">=", query.min_recording_ms),
                    ("c.recording_ms", "<=", query.max_recording_ms),
                    ("c.speak_time_ms", ">=", query.min_speak_ms),
                    ("c.speak_time_ms", "<=", query.max_speak_ms),
                ] {
                    if let Some(bound) = bound {
                        qb.push(format!(" AND {column} {op} ")).push_bind(bound);
                    }
                }
                let (cmp, dir) = match query.order {
                    Order::NewestFirst => ("<", "DESC"),
                    Order::OldestFirst => (">", "ASC"),
                };
                if let Some(cursor) = after {
                    qb.push(format!(" AND (c.start_us, c.call_id) {cmp} ("))
                        .push_bind(cursor.start_us)
                        .push(", ")
                        .push_bind(cursor.call_id)
                        .push(")");
                }
                qb.push(format!(" ORDER BY c.start_us {dir}, c.call_id {dir} LIMIT "))
                    .push_bind(i64::from(limit));
                let rows: Vec<$crate::store::rows::CallRow> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                self.calls_with_recordings(rows).await
            }

            async fn get_call(
                &self,
                tenant: &str,
                call_id: uuid::Uuid,
            ) -> Result<Option<$crate::model::StoredCall>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::CallRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM calls c WHERE c.tenant_id = $1 AND c.call_id = $2",
                    $crate::store::rows::CALL_COLUMNS
                ))
                .bind(tenant)
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(self.calls_with_recordings(row.into_iter().collect()).await?.pop())
            }

            async fn get_recordings(
                &self,
                tenant: &str,
                ids: &[uuid::Uuid],
            ) -> Result<
                Vec<($crate::model::StoredRecording, $crate::model::StoredCall)>,
                $crate::store::StoreError,
            > {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM recordings r WHERE r.tenant_id = ",
                    $crate::store::rows::RECORDING_COLUMNS
                ));
                qb.push_bind(tenant.to_owned()).push(" AND r.recording_id IN (");
                let mut list = qb.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                qb.push(")");
                let recordings: Vec<$crate::store::rows::RecordingRow> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                let mut call_ids: Vec<uuid::Uuid> = recordings.iter().map(|r| r.call_id).collect();
                call_ids.sort_unstable();
                call_ids.dedup();
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM calls c WHERE c.tenant_id = ",
                    $crate::store::rows::CALL_COLUMNS
                ));
                qb.push_bind(tenant.to_owned()).push(" AND c.call_id IN (");
                let mut list = qb.separated(", ");
                for id in &call_ids {
                    list.push_bind(*id);
                }
                qb.push(")");
                let calls: Vec<$crate::store::rows::CallRow> = if call_ids.is_empty() {
                    Vec::new()
                } else {
                    qb.build_query_as().fetch_all(&self.pool).await?
                };
                let calls: std::collections::HashMap<uuid::Uuid, $crate::model::StoredCall> = calls
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

            async fn mark_deleted(
                &self,
                tenant: &str,
                ids: &[uuid::Uuid],
                deletion: &$crate::model::Deletion,
            ) -> Result<Vec<$crate::model::StoredRecording>, $crate::store::StoreError> {
                use $crate::store::sql;
                let mut tx = self.pool.begin().await?;
                for id in ids {
                    sqlx::query(sql::MARK_DELETED)
                        .bind(i64::from($crate::model::RecordingState::Deleted.code()))
                        .bind(&deletion.user_id)
                        .bind(&deletion.display_name)
                        .bind(deletion.at.timestamp_micros())
                        .bind(tenant)
                        .bind(*id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                let found = self.get_recordings(tenant, ids).await?;
                let mut call_ids: Vec<uuid::Uuid> = found.iter().map(|(_, c)| c.call_id).collect();
                call_ids.sort_unstable();
                call_ids.dedup();
                for call_id in call_ids {
                    sqlx::query(sql::RECOUNT_LIVE)
                        .bind(call_id)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(found.into_iter().map(|(r, _)| r).collect())
            }

            async fn set_legal_hold(
                &self,
                tenant: &str,
                call_id: uuid::Uuid,
                hold: bool,
            ) -> Result<Option<$crate::model::StoredCall>, $crate::store::StoreError> {
                sqlx::query($crate::store::sql::SET_LEGAL_HOLD)
                    .bind(hold)
                    .bind(tenant)
                    .bind(call_id)
                    .execute(&self.pool)
                    .await?;
                self.get_call(tenant, call_id).await
            }

            async fn settings(
                &self,
                tenant: &str,
            ) -> Result<$crate::model::TenantSettings, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::SettingsRow> =
                    sqlx::query_as($crate::store::sql::SELECT_SETTINGS)
                        .bind(tenant)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|r| r.into_settings()).unwrap_or_default())
            }

            async fn put_settings(
                &self,
                tenant: &str,
                settings: &$crate::model::TenantSettings,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::sql::UPSERT_SETTINGS)
                    .bind(tenant)
                    .bind(&settings.time_zone)
                    .bind(settings.consult_recording)
                    .bind(i64::from(settings.recording_retention_days))
                    .bind(i64::from(settings.metadata_retention_days))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        impl $store {
            async fn find_by_session(
                &self,
                tenant: &str,
                session_id: &str,
            ) -> Result<Option<$crate::model::StoredCall>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::CallRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM calls c WHERE c.tenant_id = $1 AND c.session_id = $2",
                    $crate::store::rows::CALL_COLUMNS
                ))
                .bind(tenant)
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(self.calls_with_recordings(row.into_iter().collect()).await?.pop())
            }
        }
    };
}

pub(super) use call_store_impl;
