//! The [`Store`](super::Store) implementation both backends share: the SQL
//! is the same text on SQLite and PostgreSQL (sqlx numbers `$N` on both), so
//! it is written once here and instantiated per pool type. Each change and
//! its audit event commit in one transaction.

/// Implements `Store` for `$store`, a struct with a `pool` field of database `$db`.
macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), Error> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn outbox(&self) -> audit_svc::outbox::SqlOutbox {
                audit_svc::outbox::SqlOutbox::new(self.pool.clone().into())
            }

            async fn insert_user(
                &self,
                tenant: &str,
                user: &UserSpec,
                change: &Change,
            ) -> Result<Option<User>, Error> {
                let now = micros(change.at);
                let sql = insert_sql();
                let mut tx = self.pool.begin().await?;
                let query = sqlx::query_as::<_, UserRow>(&sql);
                let Some(row) = bind_user!(query, tenant, user, now)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let event = crate::audit::created(change, user);
                Self::write_event(&mut tx, tenant, &event, change).await?;
                tx.commit().await?;
                Ok(Some(User::from(row)))
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
                change: &Change,
            ) -> Result<Option<User>, Error> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(LOCK_SQL)
                    .bind(tenant)
                    .bind(&user.user_id)
                    .execute(&mut *tx)
                    .await?;
                let Some(before) = sqlx::query_as::<_, UserRow>(&select_sql())
                    .bind(tenant)
                    .bind(&user.user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let before = User::from(before);
                let sql = update_sql();
                let query = sqlx::query_as::<_, UserRow>(&sql);
                let after = bind_user!(query, tenant, user, micros(change.at))
                    .fetch_one(&mut *tx)
                    .await?;
                if let Some(event) = crate::audit::updated(change, &before, user) {
                    Self::write_event(&mut tx, tenant, &event, change).await?;
                }
                tx.commit().await?;
                Ok(Some(User::from(after)))
            }

            async fn delete_user(
                &self,
                tenant: &str,
                user_id: &str,
                change: &Change,
            ) -> Result<bool, Error> {
                let mut tx = self.pool.begin().await?;
                let Some(before) = sqlx::query_as::<_, UserRow>(&delete_sql())
                    .bind(tenant)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(false);
                };
                let event = crate::audit::deleted(change, &User::from(before));
                Self::write_event(&mut tx, tenant, &event, change).await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        impl $store {
            /// Writes `event` to the outbox in `tx`, due at the change's time.
            async fn write_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                tenant: &str,
                event: &archive_proto::v1::AuditEvent,
                change: &Change,
            ) -> Result<(), Error> {
                use prost::Message as _;
                sqlx::query(audit_svc::outbox::INSERT)
                    .bind(tenant)
                    .bind(event.encode_to_vec())
                    .bind(micros(change.at))
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use store_impl;
