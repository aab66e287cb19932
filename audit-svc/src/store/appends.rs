//! What each backend does its own way — the append transaction — and the
//! pieces their appends share: the insert's columns, and the chain heads and
//! stored events they read, as [`batch::plan`] takes them.

use std::{collections::HashMap, time::Duration};

use archive_common::Clock;
use async_trait::async_trait;
use sqlx::{Database, Transaction};

use super::{Attempt, Group, batch, batch::GroupOutcome, reads::COLUMNS};
use crate::Error;

/// A backend's append transaction (see [`super::Store::try_append`]).
#[async_trait]
pub trait Append: Send + Sync {
    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error>;
    /// How many append transactions are worth running at once.
    fn writers(&self) -> usize;
}

/// The end of an append transaction: rolled back if a group's deadline has
/// passed by `clock` (answering those groups), else committed after `stall`
/// (a test hook: a process frozen just before COMMIT).
pub(super) async fn finish<DB: Database>(
    tx: Transaction<'_, DB>,
    groups: &[&Group],
    clock: &dyn Clock,
    outcomes: Vec<GroupOutcome>,
    stall: Option<Duration>,
) -> Result<Attempt, Error> {
    let expired = batch::expired(groups, clock.now());
    if !expired.is_empty() {
        // Not committing is all that matters; a failed rollback ends the
        // connection's transaction as surely.
        if let Err(e) = tx.rollback().await {
            tracing::warn!(error = %e, "rollback of an expired append failed");
        }
        return Ok(Attempt::Expired(expired));
    }
    if let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    tx.commit().await?;
    Ok(Attempt::Committed(outcomes))
}

pub(super) fn insert_prefix() -> String {
    format!("INSERT INTO audit_events ({COLUMNS}) ")
}

/// Heads as the backends read them into [`batch::plan`].
pub(super) fn heads_map(rows: Vec<(String, i64, String)>) -> HashMap<String, (u64, String)> {
    rows.into_iter()
        .map(|(tenant, sequence, hash)| (tenant, (sequence as u64, hash)))
        .collect()
}

/// A stored event found by its event id.
#[derive(sqlx::FromRow)]
pub(super) struct StoredRow {
    pub(super) tenant: String,
    pub(super) event_id: String,
    pub(super) sequence: i64,
    pub(super) hash: String,
    kind: i32,
    actor_id: String,
    recording_id: String,
}

pub(super) fn known_map(rows: Vec<StoredRow>) -> HashMap<batch::IdKey, batch::Stored> {
    rows.into_iter()
        .map(|r| {
            (
                (r.tenant, r.event_id),
                batch::Stored {
                    sequence: r.sequence as u64,
                    hash: r.hash,
                    kind: r.kind,
                    actor_id: r.actor_id,
                    recording_id: r.recording_id,
                },
            )
        })
        .collect()
}
