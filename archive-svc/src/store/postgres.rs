//! Production storage: PostgreSQL through sqlx.

use sqlx::{PgPool, Postgres};

use super::{StoreError, sql::call_store_impl};

#[derive(Debug, Clone)]
pub struct PostgresCallStore {
    pool: PgPool,
}

impl PostgresCallStore {
    /// Wraps `pool` and applies the PostgreSQL migrations.
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

call_store_impl!(PostgresCallStore, Postgres);
