//! Search: the statement of one page of a tenant's calls for a query, in
//! the query's order after a keyset cursor.

use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use super::{rows::CALL_COLUMNS, statement::Statement};
use crate::model::{CallQuery, CallScope, Cursor, Order};

impl<'q, DB> Statement<'q, DB>
where
    DB: Database,
    for<'a> Uuid: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    /// Up to `limit` of the tenant's calls matching `query`, after `after`.
    pub(super) fn search(
        tenant: &str,
        query: &'q CallQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Self {
        // With a party filter (agent, queue, linked agent) the party
        // index drives the page: it is ordered by (start, call id)
        // within one name, so a page is one index range plus PK lookups.
        let parties = [
            ("linked", query.linked_agent.as_ref()),
            ("agent", query.agent.as_ref()),
            ("queue", query.queue.as_ref()),
        ];
        let driver = parties
            .iter()
            .find_map(|(role, name)| name.map(|n| (*role, n)));
        let mut qb = Self::new("SELECT ");
        qb.push(CALL_COLUMNS);
        let key = match driver {
            Some((role, name)) => {
                qb.push(" FROM call_parties k JOIN calls c ON c.call_id = k.call_id WHERE k.tenant_id = ")
                            .push_bind(tenant.to_owned())
                            .push(" AND k.role = ")
                            .push_bind(role)
                            .push(" AND k.name = ")
                            .push_bind(name.clone());
                "k"
            }
            None => {
                qb.push(" FROM calls c WHERE c.tenant_id = ")
                    .push_bind(tenant.to_owned());
                "c"
            }
        };
        if let Some(from) = query.from {
            qb.push(format!(" AND {key}.start_us >= "))
                .push_bind(from.timestamp_micros());
        }
        if let Some(to) = query.to {
            qb.push(format!(" AND {key}.start_us < "))
                .push_bind(to.timestamp_micros());
        }
        if let Some(ap) = &query.access_point_number {
            qb.push(" AND c.access_point_number = ")
                .push_bind(ap.clone());
        }
        if let Some(number) = &query.caller_number {
            if query.caller_number_partial {
                qb.push(" AND c.caller_number LIKE ")
                    .push_bind(like_contains(number))
                    .push(" ESCAPE '\\'");
            } else {
                qb.push(" AND c.caller_number = ").push_bind(number.clone());
            }
        }
        for (role, name) in parties {
            let Some(name) = name else { continue };
            if driver.is_some_and(|(r, _)| r == role) {
                continue;
            }
            qb.push(
                        " AND EXISTS (SELECT 1 FROM call_parties p WHERE p.call_id = c.call_id AND p.role = ",
                    )
                    .push_bind(role)
                    .push(" AND p.name = ")
                    .push_bind(name.clone())
                    .push(")");
        }
        if let Some(scope) = &query.scope {
            qb.in_scope(scope);
        }
        if query.has_recording {
            qb.push(if query.include_deleted {
                " AND c.recording_count > 0"
            } else {
                " AND c.live_recording_count > 0"
            });
        }
        for (column, op, bound) in [
            ("c.recording_ms", ">=", query.min_recording_ms),
            ("c.recording_ms", "<=", query.max_recording_ms),
            ("c.speak_time_ms", ">=", query.min_speak_ms),
            ("c.speak_time_ms", "<=", query.max_speak_ms),
        ] {
            if let Some(bound) = bound {
                qb.push(format!(" AND {column} {op} ")).push_bind(bound);
            }
        }
        let (cmp, dir) = match query.order {
            Order::NewestFirst => ("<", "DESC"),
            Order::OldestFirst => (">", "ASC"),
        };
        if let Some(cursor) = after {
            qb.push(format!(" AND ({key}.start_us, {key}.call_id) {cmp} ("))
                .push_bind(cursor.start_us)
                .push(", ")
                .push_bind(cursor.call_id)
                .push(")");
        }
        qb.push(format!(
            " ORDER BY {key}.start_us {dir}, {key}.call_id {dir} LIMIT "
        ))
        .push_bind(i64::from(limit));
        qb
    }
}

impl<'q, DB> Statement<'q, DB>
where
    DB: Database,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    /// ` AND (…)`: the call `c` is in `scope` (any part of it; an empty
    /// scope reaches nothing). Own calls are those the agent took part in,
    /// minus agent-to-agent calls whose recording another agent initiated
    /// (the help page links those to the initiator only).
    fn in_scope(&mut self, scope: &CallScope) {
        self.push(" AND (1 = 0");
        if let Some(agent) = &scope.own_agent {
            self.push(
                " OR (EXISTS (SELECT 1 FROM call_parties sp WHERE sp.call_id = c.call_id \
                 AND sp.role IN ('agent', 'linked') AND sp.name = ",
            )
            .push_bind(agent.clone())
            .push(
                ") AND NOT EXISTS (SELECT 1 FROM recordings sr WHERE sr.call_id = c.call_id \
                 AND sr.owner_agent IS NOT NULL AND sr.owner_agent <> ",
            )
            .push_bind(agent.clone())
            .push("))");
        }
        if !scope.queues.is_empty() {
            self.push(
                " OR EXISTS (SELECT 1 FROM call_parties sq WHERE sq.call_id = c.call_id \
                 AND sq.role = 'queue' AND sq.name IN ",
            )
            .push_list(scope.queues.iter().cloned())
            .push(")");
        }
        if !scope.access_points.is_empty() {
            self.push(" OR c.access_point_number IN ")
                .push_list(scope.access_points.iter().cloned());
        }
        self.push(")");
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
