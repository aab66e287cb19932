//! Production storage: PostgreSQL through sqlx.

use sqlx::{PgPool, Postgres};

use super::{outbox::outbox_impl, sql::call_store_impl};

#[derive(Debug, Clone)]
pub struct PostgresCallStore {
    pool: PgPool,
}

impl PostgresCallStore {
    /// Wraps `pool`, whose schema is current (see [`super::open`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

call_store_impl!(PostgresCallStore, Postgres);
outbox_impl!(PostgresCallStore, Postgres);
