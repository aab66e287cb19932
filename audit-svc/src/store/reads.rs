//! The reads of the trail (ListEvents, ranges for verification and export,
//! chain heads, tenants): the same SQL and binds on both backends, so one
//! generic [`Store`] implementation serves both; it hands appends to the
//! backend's [`Append`].

use archive_common::Clock;
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

use super::{Append, Attempt, ChainHead, EventFilter, Group, SqlStore, Store};
use crate::{
    Error,
    event::{Event, EventBody},
};

pub(super) const COLUMNS: &str = "tenant, sequence, kind, actor_id, actor_display_name, call_id, \
     recording_id, reason, client_address, user_agent, event_time, detail, previous_hash, hash, \
     event_id, request_id, reason_code, case_id, hash_version";

pub(super) const HEAD_SQL: &str = "SELECT sequence, hash FROM audit_events WHERE tenant = $1 \
     ORDER BY sequence DESC LIMIT 1";

/// Distinct tenants by skipping through the primary key (a loose index
/// scan), not by reading every event.
const TENANTS_SQL: &str = "WITH RECURSIVE t(tenant) AS ( \
         SELECT min(tenant) FROM audit_events \
         UNION ALL \
         SELECT (SELECT min(tenant) FROM audit_events WHERE tenant > t.tenant) \
         FROM t WHERE t.tenant IS NOT NULL) \
     SELECT tenant FROM t WHERE tenant IS NOT NULL";

fn range_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM audit_events WHERE tenant = $1 AND sequence >= $2 \
         AND sequence <= $3 ORDER BY sequence LIMIT $4"
    )
}

/// A bind parameter of a dynamically built query.
enum Param {
    Text(String),
    Int(i64),
}

/// The ListEvents query: only the filters in use appear, so each shape can
/// use its index. The text filters of the newer columns repeat their partial
/// index's `<> ''` so both planners see that the index applies.
fn list_sql(
    tenant: &str,
    filter: &EventFilter,
    before: Option<u64>,
    limit: u32,
) -> (String, Vec<Param>) {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE tenant = $1");
    let mut params = vec![Param::Text(tenant.to_owned())];
    let mut add = |clause: &str, param: Param| {
        params.push(param);
        sql.push_str(&format!(" AND {clause} ${}", params.len()));
    };
    if let Some(before) = before {
        add("sequence <", Param::Int(before as i64));
    }
    if let Some(from) = filter.time_from {
        add("event_time >=", Param::Int(from));
    }
    if let Some(to) = filter.time_to {
        add("event_time <", Param::Int(to));
    }
    if let Some(actor) = &filter.actor_id {
        add("actor_id =", Param::Text(actor.clone()));
    }
    if let Some(recording) = &filter.recording_id {
        add("recording_id =", Param::Text(recording.clone()));
    }
    if let Some(kind) = filter.kind {
        add("kind =", Param::Int(i64::from(kind)));
    }
    for (column, value) in [
        ("call_id", &filter.call_id),
        ("reason_code", &filter.reason_code),
        ("case_id", &filter.case_id),
        ("request_id", &filter.request_id),
    ] {
        if let Some(value) = value {
            add(
                &format!("{column} <> '' AND {column} ="),
                Param::Text(value.clone()),
            );
        }
    }
    params.push(Param::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY sequence DESC LIMIT ${}", params.len()));
    (sql, params)
}

/// An `audit_events` row as both backends return it.
#[derive(sqlx::FromRow)]
struct EventRow {
    sequence: i64,
    #[sqlx(flatten)]
    body: EventBody,
    previous_hash: String,
    hash: String,
    hash_version: i16,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Self {
            sequence: r.sequence as u64,
            body: r.body,
            previous_hash: r.previous_hash,
            hash: r.hash,
            // A negative version is no version this build knows, like any other.
            hash_version: u16::try_from(r.hash_version).unwrap_or(u16::MAX),
        }
    }
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Database,
    SqlStore<DB>: Append,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'r> i32: Decode<'r, DB> + Type<DB>,
    for<'r> i16: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error> {
        Append::try_append(self, groups, clock).await
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &EventFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Event>, Error> {
        let (sql, params) = list_sql(tenant, filter, before, limit);
        let mut query = sqlx::query_as::<_, EventRow>(&sql);
        for param in params {
            query = match param {
                Param::Text(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    async fn range(
        &self,
        tenant: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<Event>, Error> {
        let rows = sqlx::query_as::<_, EventRow>(&range_sql())
            .bind(tenant)
            .bind(from as i64)
            .bind(to.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    async fn head(&self, tenant: &str) -> Result<Option<ChainHead>, Error> {
        let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        Ok(head.map(|(sequence, hash)| ChainHead {
            last_sequence: sequence as u64,
            last_hash: hash,
        }))
    }

    async fn tenants(&self) -> Result<Vec<String>, Error> {
        let rows: Vec<(String,)> = sqlx::query_as(TENANTS_SQL).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(tenant,)| tenant).collect())
    }

    fn writers(&self) -> usize {
        Append::writers(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_sql_numbers_only_the_filters_in_use() {
        let (sql, params) = list_sql("10009", &EventFilter::default(), None, 10);
        assert!(
            sql.ends_with("WHERE tenant = $1 ORDER BY sequence DESC LIMIT $2"),
            "{sql}"
        );
        assert_eq!(params.len(), 2);
        let filter = EventFilter {
            actor_id: Some("paal".into()),
            kind: Some(3),
            ..Default::default()
        };
        let (sql, params) = list_sql("10009", &filter, Some(7), 10);
        assert!(
            sql.contains(
                "sequence < $2 AND actor_id = $3 AND kind = $4 ORDER BY sequence DESC LIMIT $5"
            ),
            "{sql}"
        );
        assert_eq!(params.len(), 5);
        let filter = EventFilter {
            case_id: Some("CASE-7".into()),
            request_id: Some("req-1".into()),
            ..Default::default()
        };
        let (sql, params) = list_sql("10009", &filter, None, 10);
        assert!(
            sql.contains(
                "case_id <> '' AND case_id = $2 AND request_id <> '' AND request_id = $3 \
                 ORDER BY sequence DESC LIMIT $4"
            ),
            "{sql}"
        );
        assert_eq!(params.len(), 4);
    }
}
