//! An installation from before archive-svc kept recordings' media states:
//! the schema of the migrations before `media state`, with rows written in
//! it, as an operator's database is when the upgrade starts.

use std::borrow::Cow;

use archive_common::db::{Pool, connect};
use archive_svc::store::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

/// The migration that adds media states (by name: its number may change).
const MEDIA_STATE: &str = "media state";

fn before_media_states(all: &Migrator) -> Migrator {
    let migrations: Vec<_> = all
        .migrations
        .iter()
        .take_while(|m| m.description != MEDIA_STATE)
        .cloned()
        .collect();
    assert!(
        migrations.len() < all.migrations.len(),
        "no migration named {MEDIA_STATE:?}"
    );
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Migrates the database at `url` to the schema before media states and
/// stores in it one call of `tenant` (session `session`, starting at
/// `start`) with one available recording per id of `recordings`; returns
/// the call's id.
pub(crate) async fn old_installation(
    url: &str,
    tenant: &str,
    session: &str,
    start: DateTime<Utc>,
    recordings: &[Uuid],
) -> Uuid {
    let call_id = Uuid::new_v4();
    let start_us = start.timestamp_micros();
    macro_rules! write_rows {
        ($pool:expr) => {{
            sqlx::query(
                "INSERT INTO calls (call_id, tenant_id, session_id, start_us, access_point_number, \
                 access_point_name, caller_number, time_before_answer_ms, speak_time_ms, \
                 recording_ms, recording_count, live_recording_count, queues, agents) \
                 VALUES ($1, $2, $3, $4, '81511569', 'Main Demo Number', '95214830', 7000, 60000, \
                 $5, $6, $6, '[\"Sales\"]', '[\"Andreas Wallin\"]')",
            )
            .bind(call_id)
            .bind(tenant)
            .bind(session)
            .bind(start_us)
            .bind(30_000 * recordings.len() as i64)
            .bind(recordings.len() as i64)
            .execute($pool)
            .await
            .unwrap();
            for (i, id) in recordings.iter().enumerate() {
                let from = start_us + 7_000_000 + 60_000_000 * i as i64;
                sqlx::query(
                    "INSERT INTO recordings (recording_id, call_id, tenant_id, nr, mode, start_us, \
                     finish_us, segments, owner_agent, state) VALUES ($1, $2, $3, $4, 1, $5, $6, '[]', NULL, 1)",
                )
                .bind(*id)
                .bind(call_id)
                .bind(tenant)
                .bind(i as i64 + 1)
                .bind(from)
                .bind(from + 30_000_000)
                .execute($pool)
                .await
                .unwrap();
            }
        }};
    }
    match connect(url).await.unwrap() {
        Pool::Sqlite(pool) => {
            before_media_states(&SQLITE_MIGRATIONS)
                .run(&pool)
                .await
                .unwrap();
            write_rows!(&pool);
            pool.close().await;
        }
        Pool::Postgres(pool) => {
            before_media_states(&POSTGRES_MIGRATIONS)
                .run(&pool)
                .await
                .unwrap();
            write_rows!(&pool);
            pool.close().await;
        }
    }
    call_id
}
