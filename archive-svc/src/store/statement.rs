//! Statements assembled with their binds, for SQL whose shape depends on the
//! request (filters, lists of ids, multi-row inserts). sqlx's `QueryBuilder`
//! cannot be executed from code generic over the database (its arguments'
//! lifetime must outlive the builder), so this keeps the text and the
//! arguments apart: `let (sql, args) = statement.into_parts();` then
//! `sqlx::query_with(&sql, args)`.

use std::fmt::{Display, Write as _};

use sqlx::{Arguments as _, Database, Encode, Type};

pub(super) struct Statement<'q, DB: Database> {
    sql: String,
    args: DB::Arguments<'q>,
}

impl<'q, DB: Database> Statement<'q, DB> {
    pub(super) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Default::default(),
        }
    }

    pub(super) fn push(&mut self, sql: impl Display) -> &mut Self {
        write!(self.sql, "{sql}").expect("writing to a String");
        self
    }

    /// Binds `value` where the text has got to.
    pub(super) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, DB> + Type<DB>,
    {
        self.args.add(value).expect("a bind of a plain value");
        self.args
            .format_placeholder(&mut self.sql)
            .expect("writing to a String");
        self
    }

    /// `(v1, v2, …)`, one bind per item.
    pub(super) fn push_list<T>(&mut self, items: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: 'q + Encode<'q, DB> + Type<DB>,
    {
        self.push("(");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "" } else { ", " }).push_bind(item);
        }
        self.push(")")
    }

    /// ` VALUES (…), (…)`: `row` binds each item's columns through its tuple.
    pub(super) fn push_values<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut row: impl FnMut(&mut Tuple<'_, 'q, DB>, T),
    ) -> &mut Self {
        self.push(" VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(
                &mut Tuple {
                    statement: self,
                    first: true,
                },
                item,
            );
            self.push(")");
        }
        self
    }

    pub(super) fn into_parts(self) -> (String, DB::Arguments<'q>) {
        (self.sql, self.args)
    }
}

/// One row of [`Statement::push_values`].
pub(super) struct Tuple<'s, 'q, DB: Database> {
    statement: &'s mut Statement<'q, DB>,
    first: bool,
}

impl<'q, DB: Database> Tuple<'_, 'q, DB> {
    pub(super) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, DB> + Type<DB>,
    {
        if !std::mem::take(&mut self.first) {
            self.statement.push(", ");
        }
        self.statement.push_bind(value);
        self
    }
}

/// How many rows a statement changed: the backends' results have no common trait for it.
pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}
