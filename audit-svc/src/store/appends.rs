//! What each backend does its own way — the append transaction — and the
//! pieces their appends share: the insert's columns, and the chain heads and
//! stored events they read, as [`batch::plan`] takes them.

use std::collections::HashMap;

use archive_common::Clock;
use async_trait::async_trait;

use super::{Attempt, Group, batch, reads::COLUMNS};
use crate::Error;

/// A backend's append transaction (see [`super::Store::try_append`]).
#[async_trait]
pub trait Append: Send + Sync {
    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error>;
    /// How many append transactions are worth running at once.
    fn writers(&self) -> usize;
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
