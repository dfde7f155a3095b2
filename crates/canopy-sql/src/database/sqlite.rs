//! SQLite: the file is opened read-only (`SQLITE_OPEN_READONLY`, plus `PRAGMA query_only`),
//! each query is one statement run inside a transaction (so `VACUUM INTO` cannot run), and a
//! progress handler enforces the statement timeout and cancellation.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteValueRef,
};
use sqlx::{Column, Decode, Row, Sqlite, TypeInfo, ValueRef};

use super::{ConnectOptions, QueryControl, QueryRequest, sqlite_lex};
use crate::error::SqlError;
use crate::output::{QueryOutput, ResultColumn};
use crate::schema::{
    ColumnInfo, ForeignKey, IndexInfo, TableRef, TableSchema, TableSummary, quote_ident,
};

/// SQLite VM instructions between progress-handler calls.
const PROGRESS_OPS: i32 = 1000;

#[derive(Debug, Clone)]
pub(super) struct SqliteDatabase {
    pool: SqlitePool,
    label: String,
}

impl SqliteDatabase {
    pub(super) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, SqlError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| SqlError::Config(format!("invalid SQLite URL '{url}': {e}")))?
            .read_only(true)
            .create_if_missing(false)
            .pragma("query_only", "ON");
        let label = format!("SQLite database {}", connect.get_filename().display());
        let pool = SqlitePoolOptions::new()
            .max_connections(options.pool_size.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect)
            .await
            .map_err(|e| SqlError::Connection(format!("{e} ({url})")))?;
        Ok(Self { pool, label })
    }

    pub(super) fn label(&self) -> String {
        self.label.clone()
    }

    pub(super) async fn query(
        &self,
        request: &QueryRequest,
        control: &QueryControl,
    ) -> Result<QueryOutput, SqlError> {
        let statements = sqlite_lex::statement_count(&request.sql);
        if statements > 1 {
            return Err(SqlError::MultipleStatements {
                detail: format!("found {statements} statements"),
            });
        }
        let started = Instant::now();
        let deadline = started + request.timeout;
        let stop = Arc::new(AtomicBool::new(false));
        let mut conn = self.pool.acquire().await.map_err(SqlError::from_sqlx)?;
        {
            let stop = stop.clone();
            let cancel = control.cancel.clone();
            let mut handle = conn.lock_handle().await.map_err(SqlError::from_sqlx)?;
            handle.set_progress_handler(PROGRESS_OPS, move || {
                !(stop.load(Ordering::Relaxed)
                    || cancel.is_cancelled()
                    || Instant::now() >= deadline)
            });
        }
        if let Err(e) = sqlx::Executor::execute(&mut *conn, "BEGIN").await {
            Self::finish(conn).await;
            return Err(SqlError::from_sqlx(e));
        }
        let mut query = sqlx::query(request.sql.as_str()).persistent(false);
        for param in &request.params {
            query = bind(query, param);
        }
        let mut columns: Option<Vec<ResultColumn>> = None;
        let mut rows = Vec::new();
        let mut truncated = false;
        let mut failure = None;
        {
            let mut stream = query.fetch(&mut *conn);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(row) => {
                        if columns.is_none() {
                            columns = Some(result_columns(&row));
                        }
                        if rows.len() == request.max_rows {
                            truncated = true;
                            // Interrupt the statement rather than step through rows nobody reads.
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        rows.push(decode_row(&row));
                        control.add_row();
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        Self::finish(conn).await;
        if let Some(e) = failure {
            if control.cancel.is_cancelled() {
                return Err(SqlError::Cancelled);
            }
            if is_interrupt(&e) && Instant::now() >= deadline {
                return Err(SqlError::Timeout {
                    timeout: request.timeout,
                    max: request.max_timeout,
                });
            }
            return Err(SqlError::from_sqlx(e));
        }
        if control.cancel.is_cancelled() {
            return Err(SqlError::Cancelled);
        }
        let mut columns = match columns {
            Some(c) => c,
            None => self
                .describe_columns(&request.sql)
                .await
                .unwrap_or_default(),
        };
        // Expressions have no declared type; name the storage class their values have.
        for (i, column) in columns.iter_mut().enumerate() {
            if column.data_type == "NULL"
                && let Some(class) = rows.iter().find_map(|r| storage_class(r.get(i)?))
            {
                column.data_type = class.to_string();
            }
        }
        Ok(QueryOutput {
            columns,
            row_count: rows.len(),
            rows,
            truncated,
            row_limit: request.max_rows,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Rolls back, removes the progress handler; a connection that cannot is closed.
    async fn finish(mut conn: PoolConnection<Sqlite>) {
        let rollback = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await;
        // "no transaction is active" is fine: BEGIN may have failed.
        let ok = match rollback {
            Ok(_) => true,
            Err(sqlx::Error::Database(e)) => e.message().contains("no transaction is active"),
            Err(_) => false,
        };
        let removed = match conn.lock_handle().await {
            Ok(mut handle) => {
                handle.remove_progress_handler();
                true
            }
            Err(_) => false,
        };
        if !ok || !removed {
            conn.close_on_drop();
        }
    }

    async fn describe_columns(&self, sql: &str) -> Result<Vec<ResultColumn>, SqlError> {
        use sqlx::Executor;
        let mut conn = self.pool.acquire().await.map_err(SqlError::from_sqlx)?;
        let described = (&mut *conn)
            .describe(sql)
            .await
            .map_err(SqlError::from_sqlx)?;
        Ok(described
            .columns()
            .iter()
            .map(|c| ResultColumn {
                name: c.name().to_string(),
                data_type: c.type_info().name().to_string(),
            })
            .collect())
    }

    async fn fetch_all<T>(&self, sql: &str, binds: &[&str]) -> Result<Vec<T>, SqlError>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let mut query = sqlx::query_as::<_, T>(sql);
        for b in binds {
            query = query.bind(b.to_string());
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(SqlError::from_sqlx)
    }

    pub(super) async fn list_tables(&self) -> Result<Vec<TableSummary>, SqlError> {
        let tables: Vec<(String, String)> = self
            .fetch_all(
                "SELECT name, type FROM sqlite_schema
                 WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                 ORDER BY name",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(tables.len());
        for (name, kind) in tables {
            let t = TableRef::new("main", name, kind);
            let rows = self.count_rows(&t).await.ok();
            out.push(TableSummary {
                uri: crate::uri::table_uri(&t),
                qualified_name: sqlite_name(&t),
                schema: t.schema,
                name: t.name,
                kind: t.kind,
                row_estimate: rows,
                comment: None,
            });
        }
        Ok(out)
    }

    async fn count_rows(&self, table: &TableRef) -> Result<i64, SqlError> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(&table.name));
        let (n,): (i64,) = sqlx::query_as(&sql)
            .fetch_one(&self.pool)
            .await
            .map_err(SqlError::from_sqlx)?;
        Ok(n)
    }

    pub(super) async fn describe(&self, table: &TableRef) -> Result<TableSchema, SqlError> {
        let kind: Vec<(String,)> = self
            .fetch_all(
                "SELECT type FROM sqlite_schema WHERE name = ? AND type IN ('table', 'view')",
                &[&table.name],
            )
            .await?;
        let Some((kind,)) = kind.into_iter().next() else {
            return Err(SqlError::UnknownTable {
                name: table.name.clone(),
                candidates: Vec::new(),
            });
        };
        let columns: Vec<(String, String, bool, Option<String>, i64)> = self
            .fetch_all(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
                &[&table.name],
            )
            .await?;
        let mut pk: Vec<(i64, String)> = columns
            .iter()
            .filter(|c| c.4 > 0)
            .map(|c| (c.4, c.0.clone()))
            .collect();
        pk.sort();
        let fks: Vec<(i64, i64, String, String, Option<String>)> = self
            .fetch_all(
                "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq",
                &[&table.name],
            )
            .await?;
        let mut foreign_keys: Vec<ForeignKey> = Vec::new();
        let mut last_id = None;
        for (id, _seq, target, from, to) in fks {
            if last_id != Some(id) {
                foreign_keys.push(ForeignKey {
                    name: String::new(),
                    columns: Vec::new(),
                    references_table: sqlite_name(&TableRef::new("main", target, "table")),
                    references_columns: Vec::new(),
                });
                last_id = Some(id);
            }
            if let Some(fk) = foreign_keys.last_mut() {
                fk.columns.push(from);
                fk.references_columns.push(to.unwrap_or_default());
            }
        }
        let index_list: Vec<(String, bool, String)> = self
            .fetch_all(
                "SELECT name, \"unique\", origin FROM pragma_index_list(?) ORDER BY name",
                &[&table.name],
            )
            .await?;
        let mut indexes = Vec::new();
        for (name, unique, origin) in index_list {
            let cols: Vec<(Option<String>,)> = self
                .fetch_all(
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                    &[&name],
                )
                .await?;
            let definition: Vec<(Option<String>,)> = self
                .fetch_all(
                    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
                    &[&name],
                )
                .await?;
            indexes.push(IndexInfo {
                name,
                unique,
                primary: origin == "pk",
                columns: cols
                    .into_iter()
                    .map(|(c,)| c.unwrap_or_else(|| "<expression>".into()))
                    .collect(),
                definition: definition.into_iter().next().and_then(|(d,)| d),
            });
        }
        let row_estimate = self.count_rows(table).await.ok();
        Ok(TableSchema {
            schema: table.schema.clone(),
            name: table.name.clone(),
            kind,
            qualified_name: sqlite_name(table),
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            columns: columns
                .into_iter()
                .map(|(name, data_type, notnull, default, pk)| ColumnInfo {
                    name,
                    data_type,
                    nullable: !notnull && pk == 0,
                    default,
                    primary_key: pk > 0,
                    comment: None,
                })
                .collect(),
            foreign_keys,
            indexes,
            row_estimate,
            comment: None,
        })
    }
}

/// SQLite names are unqualified (`main` is implied).
fn sqlite_name(table: &TableRef) -> String {
    crate::schema::quote_ident_if_needed(&table.name)
}

fn storage_class(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null => None,
        Value::Number(n) if n.is_i64() => Some("INTEGER"),
        Value::Number(_) => Some("REAL"),
        Value::String(s) if s.starts_with("\\x") => Some("BLOB"),
        _ => Some("TEXT"),
    }
}

fn is_interrupt(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("9") || db.message().contains("interrupted"))
}

fn result_columns(row: &SqliteRow) -> Vec<ResultColumn> {
    row.columns()
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_string(),
            data_type: c.type_info().name().to_string(),
        })
        .collect()
}

fn decode_row(row: &SqliteRow) -> Vec<Value> {
    (0..row.len())
        .map(|i| row.try_get_raw(i).map(decode_value).unwrap_or(Value::Null))
        .collect()
}

/// SQLite values carry their own storage class: INTEGER, REAL, TEXT, BLOB or NULL.
fn decode_value(value: SqliteValueRef<'_>) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let class = value.type_info().name().to_string();
    match class.as_str() {
        "INTEGER" => <i64 as Decode<Sqlite>>::decode(value)
            .map(|i| json!(i))
            .unwrap_or(Value::Null),
        "REAL" => <f64 as Decode<Sqlite>>::decode(value)
            .map(|f| {
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(f.to_string()))
            })
            .unwrap_or(Value::Null),
        "BLOB" => <Vec<u8> as Decode<Sqlite>>::decode(value)
            .map(|b| {
                Value::String(format!(
                    "\\x{}",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                ))
            })
            .unwrap_or(Value::Null),
        _ => <String as Decode<Sqlite>>::decode(value)
            .map(Value::String)
            .unwrap_or(Value::Null),
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind<'q>(query: SqliteQuery<'q>, value: &Value) -> SqliteQuery<'q> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(b) => query.bind(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => query.bind(i),
            None => query.bind(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => query.bind(s.clone()),
        other => query.bind(other.to_string()),
    }
}

/// `EXPLAIN QUERY PLAN` rows (id, parent, notused, detail) as an indented tree.
pub(super) fn format_query_plan(output: &QueryOutput) -> String {
    let mut depth: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut lines = vec!["QUERY PLAN".to_string()];
    for row in &output.rows {
        let id = row.first().and_then(Value::as_i64).unwrap_or(0);
        let parent = row.get(1).and_then(Value::as_i64).unwrap_or(0);
        let detail = row.get(3).and_then(Value::as_str).unwrap_or("");
        let d = depth.get(&parent).map(|d| d + 1).unwrap_or(1);
        depth.insert(id, d);
        lines.push(format!("{}`--{detail}", "   ".repeat(d - 1)));
    }
    lines.join("\n")
}
