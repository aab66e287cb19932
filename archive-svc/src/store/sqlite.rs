//! The embedded default: SQLite through sqlx.

use sqlx::{Sqlite, SqlitePool};

use super::{outbox::outbox_impl, sql::call_store_impl};

#[derive(Debug, Clone)]
pub struct SqliteCallStore {
    pool: SqlitePool,
}

impl SqliteCallStore {
    /// Wraps `pool`, whose schema is current (see [`super::open`]).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

call_store_impl!(SqliteCallStore, Sqlite);
outbox_impl!(SqliteCallStore, Sqlite);
