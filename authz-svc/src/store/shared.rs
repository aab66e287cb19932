//! The [`Store`](super::Store) implementation both backends share: the SQL
//! is the same text on SQLite and PostgreSQL (sqlx numbers `$N` on both), so
//! it is written once here and instantiated per pool type.

/// Implements `Store` for `$store`, a struct with a `pool` field.
macro_rules! store_impl {
    ($store:ty) => {
        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), Error> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_user(
                &self,
                tenant: &str,
                user: &UserSpec,
                now: DateTime<Utc>,
            ) -> Result<Option<User>, Error> {
                let sql = insert_sql();
                let query = sqlx::query_as::<_, UserRow>(&sql);
                let row = bind_user!(query, tenant, user, micros(now))
                    .bind(micros(now))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(User::from))
            }

            async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, Error> {
                let row = sqlx::query_as::<_, UserRow>(&select_sql())
                    .bind(tenant)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(User::from))
            }

            async fn list_users(
                &self,
                tenant: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<User>, Error> {
                let rows = sqlx::query_as::<_, UserRow>(&list_sql())
                    .bind(tenant)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(User::from).collect())
            }

            async fn update_user(
                &self,
                tenant: &str,
                user: &UserSpec,
                now: DateTime<Utc>,
            ) -> Result<Option<User>, Error> {
                let sql = update_sql();
                let query = sqlx::query_as::<_, UserRow>(&sql);
                let row = bind_user!(query, tenant, user, micros(now))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(User::from))
            }

            async fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, Error> {
                let done = sqlx::query(DELETE_SQL)
                    .bind(tenant)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(super) use store_impl;
