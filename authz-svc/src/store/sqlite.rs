//! The SQLite store (the embedded default).

use archive_common::convert::micros;
use async_trait::async_trait;
use audit_svc::outbox::Change;
use sqlx::{Sqlite, SqlitePool};

use super::{
    LOCK_SQL, Store, UserRow, bind_user, delete_sql, insert_sql, list_sql, select_sql,
    shared::store_impl, update_sql,
};
use crate::{
    Error,
    model::{User, UserSpec},
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Wraps a pool whose schema is already migrated (see [`super::open`]).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

store_impl!(SqliteStore, Sqlite);
