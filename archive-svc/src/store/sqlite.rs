//! The embedded default: SQLite through sqlx.

use sqlx::{Sqlite, SqlitePool};

use super::{StoreError, sql::call_store_impl};

#[derive(Debug, Clone)]
pub struct SqliteCallStore {
    pool: SqlitePool,
}

impl SqliteCallStore {
    /// Wraps `pool` and applies the SQLite migrations.
    pub async fn new(pool: SqlitePool) -> Result<Self, StoreError> {
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

call_store_impl!(SqliteCallStore, Sqlite);
