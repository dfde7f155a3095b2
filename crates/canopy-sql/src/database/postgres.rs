//! PostgreSQL: every query runs in `BEGIN READ ONLY` with a local statement timeout (and an
//! optional `SET LOCAL ROLE`), through the extended protocol, which takes one statement only.
//! Cancellation calls `pg_cancel_backend` on the statement's backend.

use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, PgSslMode};
use sqlx::{Column, ConnectOptions as _, Postgres, Row};

use super::pg_value;
use super::{ConnectOptions, QueryControl, QueryRequest};
use crate::error::SqlError;
use crate::output::{QueryOutput, ResultColumn};
use crate::schema::{ColumnInfo, ForeignKey, IndexInfo, TableRef, TableSchema, TableSummary};

/// PostgreSQL-specific connection options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PgOptions {
    /// `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full` (overrides the URL's `sslmode`).
    pub ssl_mode: Option<String>,
    /// CA certificate (PEM) to verify the server with.
    pub ssl_root_cert: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub ssl_client_cert: Option<std::path::PathBuf>,
    /// Client key (PEM) for mutual TLS.
    pub ssl_client_key: Option<std::path::PathBuf>,
    /// A role to `SET LOCAL ROLE` to in every transaction (e.g. a read-only role).
    pub role: Option<String>,
    /// Run even when the login role could write files or run programs despite a read-only
    /// transaction (superusers, `pg_execute_server_program`, `pg_write_server_files`).
    pub allow_privileged_login: bool,
}

#[derive(Debug, Clone)]
pub(super) struct PgDatabase {
    pool: PgPool,
    role: Option<String>,
    label: String,
}

impl PgDatabase {
    pub(super) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, SqlError> {
        let pg = &options.postgres;
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| {
                SqlError::Config(format!(
                    "invalid PostgreSQL URL '{}': {e}",
                    super::redact(url)
                ))
            })?
            .application_name("canopy-sql")
            // Belt and braces: even a statement outside our transaction would be read-only.
            .options([("default_transaction_read_only", "on")]);
        if let Some(mode) = &pg.ssl_mode {
            let mode = PgSslMode::from_str(mode)
                .map_err(|_| SqlError::Config(format!("unknown --ssl-mode '{mode}' (use disable, allow, prefer, require, verify-ca or verify-full)")))?;
            connect = connect.ssl_mode(mode);
        }
        if let Some(path) = &pg.ssl_root_cert {
            connect = connect.ssl_root_cert(path);
        }
        if let Some(path) = &pg.ssl_client_cert {
            connect = connect.ssl_client_cert(path);
        }
        if let Some(path) = &pg.ssl_client_key {
            connect = connect.ssl_client_key(path);
        }
        connect = connect.disable_statement_logging();
        let label = format!(
            "PostgreSQL database '{}' on {}:{}",
            connect.get_database().unwrap_or(connect.get_username()),
            connect.get_host(),
            connect.get_port()
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect)
            .await
            .map_err(|e| SqlError::Connection(format!("{} ({})", e, super::redact(url))))?;
        let db = Self {
            pool,
            role: pg.role.clone(),
            label,
        };
        db.check_login_role(pg.allow_privileged_login).await?;
        Ok(db)
    }

    pub(super) fn label(&self) -> String {
        self.label.clone()
    }

    /// Refuses logins that a read-only transaction does not contain: they can run
    /// `COPY … TO PROGRAM` or write server files.
    async fn check_login_role(&self, allow: bool) -> Result<(), SqlError> {
        let (user, privileged): (String, bool) = sqlx::query_as(
            "SELECT session_user::text, r.rolsuper
                 OR pg_has_role(session_user, 'pg_execute_server_program', 'MEMBER')
                 OR pg_has_role(session_user, 'pg_write_server_files', 'MEMBER')
             FROM pg_roles r WHERE r.rolname = session_user",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(SqlError::from_sqlx)?;
        if privileged && !allow {
            return Err(SqlError::UnsafeRole(format!(
                "refusing to serve as PostgreSQL role '{user}': it is a superuser or may run programs/write server files, which a read-only transaction does not stop (COPY … TO PROGRAM). Connect as a read-only login role, or pass --allow-privileged-login to accept the risk."
            )));
        }
        if let Some(role) = &self.role {
            let mut conn = self.begin(Duration::from_secs(30)).await?;
            let result = sqlx::query("SELECT 1").execute(&mut *conn).await;
            Self::finish(conn).await;
            result
                .map_err(SqlError::from_sqlx)
                .map_err(|e| SqlError::Config(format!("cannot SET ROLE {role}: {e}")))?;
        }
        Ok(())
    }

    /// A pooled connection inside a fresh read-only transaction.
    async fn begin(&self, timeout: Duration) -> Result<PoolConnection<Postgres>, SqlError> {
        let mut conn = self.pool.acquire().await.map_err(SqlError::from_sqlx)?;
        let mut setup = format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {}",
            timeout.as_millis().max(1)
        );
        if let Some(role) = &self.role {
            setup.push_str(&format!(
                "; SET LOCAL ROLE {}",
                crate::schema::quote_ident(role)
            ));
        }
        if let Err(e) = sqlx::Executor::execute(&mut *conn, setup.as_str()).await {
            conn.close_on_drop();
            return Err(SqlError::from_sqlx(e));
        }
        Ok(conn)
    }

    /// Ends the transaction; a connection that cannot roll back is closed, not reused.
    async fn finish(mut conn: PoolConnection<Postgres>) {
        if sqlx::Executor::execute(&mut *conn, "ROLLBACK")
            .await
            .is_err()
        {
            conn.close_on_drop();
        }
    }

    async fn cancel_backend(&self, pid: i32) {
        let result = sqlx::query("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .execute(&self.pool)
            .await;
        if let Err(e) = result {
            tracing::warn!("could not cancel backend {pid}: {e}");
        }
    }

    pub(super) async fn query(
        &self,
        request: &QueryRequest,
        control: &QueryControl,
    ) -> Result<QueryOutput, SqlError> {
        let started = Instant::now();
        let mut conn = self.begin(request.timeout).await?;
        let pid: i32 = match sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
        {
            Ok(pid) => pid,
            Err(e) => {
                Self::finish(conn).await;
                return Err(SqlError::from_sqlx(e));
            }
        };
        let mut query = sqlx::query(request.sql.as_str()).persistent(false);
        for (i, param) in request.params.iter().enumerate() {
            query = bind(query, i + 1, param)?;
        }
        let mut columns: Option<Vec<ResultColumn>> = None;
        let mut rows = Vec::new();
        let mut truncated = false;
        let mut cancel_sent = false;
        let mut failure = None;
        {
            let mut stream = query.fetch(&mut *conn);
            loop {
                tokio::select! {
                    biased;
                    _ = control.cancel.cancelled(), if !cancel_sent => {
                        cancel_sent = true;
                        self.cancel_backend(pid).await;
                    }
                    item = stream.next() => match item {
                        Some(Ok(row)) => {
                            if columns.is_none() {
                                columns = Some(result_columns(&row));
                            }
                            if rows.len() == request.max_rows {
                                truncated = true;
                                break;
                            }
                            rows.push(decode_row(&row));
                            control.add_row();
                        }
                        Some(Err(e)) => {
                            failure = Some(e);
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
        if truncated && !cancel_sent {
            // Stop the server producing rows nobody will read; the rollback below then
            // finds the connection idle (or closes it if the cancel lands late).
            self.cancel_backend(pid).await;
        }
        Self::finish(conn).await;
        if let Some(e) = failure {
            if cancel_sent || control.cancel.is_cancelled() {
                return Err(SqlError::Cancelled);
            }
            if let sqlx::Error::Database(db) = &e
                && db.code().as_deref() == Some("57014")
            {
                return Err(SqlError::Timeout {
                    timeout: request.timeout,
                    max: request.max_timeout,
                });
            }
            return Err(SqlError::from_sqlx(e));
        }
        if cancel_sent {
            return Err(SqlError::Cancelled);
        }
        let columns = match columns {
            Some(c) => c,
            None => self.describe_columns(request).await.unwrap_or_default(),
        };
        Ok(QueryOutput {
            columns,
            row_count: rows.len(),
            rows,
            truncated,
            row_limit: request.max_rows,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Column names and types of a statement that returned no rows.
    async fn describe_columns(
        &self,
        request: &QueryRequest,
    ) -> Result<Vec<ResultColumn>, SqlError> {
        use sqlx::Executor;
        let mut conn = self.begin(request.timeout).await?;
        let described = (&mut *conn).describe(request.sql.as_str()).await;
        Self::finish(conn).await;
        let described = described.map_err(SqlError::from_sqlx)?;
        Ok(described
            .columns()
            .iter()
            .map(|c| ResultColumn {
                name: c.name().to_string(),
                data_type: pg_value::type_name(c.type_info()),
            })
            .collect())
    }

    async fn rows<T>(&self, sql: &'static str, table: Option<&TableRef>) -> Result<Vec<T>, SqlError>
    where
        T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let mut conn = self.begin(Duration::from_secs(30)).await?;
        let mut query = sqlx::query_as::<_, T>(sql);
        if let Some(t) = table {
            query = query.bind(t.schema.clone()).bind(t.name.clone());
        }
        let result = query.fetch_all(&mut *conn).await;
        Self::finish(conn).await;
        result.map_err(SqlError::from_sqlx)
    }

    pub(super) async fn list_tables(&self) -> Result<Vec<TableSummary>, SqlError> {
        let rows: Vec<(String, String, String, f32, Option<String>)> = self
            .rows(
                "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.reltuples,
                        obj_description(c.oid, 'pg_class')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                   AND NOT c.relispartition
                   AND has_schema_privilege(n.oid, 'USAGE')
                   AND has_table_privilege(c.oid, 'SELECT')
                 ORDER BY 1, 2",
                None,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(schema, name, kind, tuples, comment)| {
                let t = TableRef::new(schema, name, relkind(&kind));
                TableSummary {
                    uri: crate::uri::table_uri(&t),
                    qualified_name: t.qualified(),
                    schema: t.schema,
                    name: t.name,
                    kind: t.kind,
                    row_estimate: (tuples >= 0.0).then_some(tuples as i64),
                    comment,
                }
            })
            .collect())
    }

    pub(super) async fn describe(&self, table: &TableRef) -> Result<TableSchema, SqlError> {
        let meta: Vec<(String, f32, Option<String>)> = self
            .rows(
                "SELECT c.relkind::text, c.reltuples, obj_description(c.oid, 'pg_class')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2",
                Some(table),
            )
            .await?;
        let Some((kind, tuples, comment)) = meta.into_iter().next() else {
            return Err(SqlError::UnknownTable {
                name: table.qualified(),
                candidates: Vec::new(),
            });
        };
        let columns: Vec<ColumnRow> = self
            .rows(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                        pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum),
                        EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid
                                AND i.indisprimary AND a.attnum = ANY (i.indkey))
                 FROM pg_attribute a
                 JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
                Some(table),
            )
            .await?;
        let primary_key: Vec<(String,)> = self
            .rows(
                "SELECT a.attname::text
                 FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary
                 ORDER BY k.ord",
                Some(table),
            )
            .await?;
        let foreign_keys: Vec<ForeignKeyRow> = self
            .rows(
                "SELECT con.conname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY u(n, ord)
                              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = u.n ORDER BY u.ord),
                        fn.nspname::text, fc.relname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY u(n, ord)
                              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = u.n ORDER BY u.ord)
                 FROM pg_constraint con
                 JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_class fc ON fc.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2 AND con.contype = 'f'
                 ORDER BY 1",
                Some(table),
            )
            .await?;
        let indexes: Vec<(String, bool, bool, Vec<String>, String)> = self
            .rows(
                "SELECT ic.relname::text, i.indisunique, i.indisprimary,
                        ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                              FROM generate_series(1, i.indnkeyatts) k),
                        pg_get_indexdef(i.indexrelid)
                 FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2
                 ORDER BY 1",
                Some(table),
            )
            .await?;
        Ok(TableSchema {
            schema: table.schema.clone(),
            name: table.name.clone(),
            kind: relkind(&kind).to_string(),
            qualified_name: table.qualified(),
            columns: columns
                .into_iter()
                .map(
                    |(name, data_type, nullable, default, comment, primary_key)| ColumnInfo {
                        name,
                        data_type,
                        nullable,
                        default,
                        primary_key,
                        comment,
                    },
                )
                .collect(),
            primary_key: primary_key.into_iter().map(|(c,)| c).collect(),
            foreign_keys: foreign_keys
                .into_iter()
                .map(
                    |(name, columns, schema, table, references_columns)| ForeignKey {
                        name,
                        columns,
                        references_table: TableRef::new(schema, table, "table").qualified(),
                        references_columns,
                    },
                )
                .collect(),
            indexes: indexes
                .into_iter()
                .map(|(name, unique, primary, columns, definition)| IndexInfo {
                    name,
                    unique,
                    primary,
                    columns,
                    definition: Some(definition),
                })
                .collect(),
            row_estimate: (tuples >= 0.0).then_some(tuples as i64),
            comment,
        })
    }
}

/// name, type, nullable, default, comment, part of the primary key
type ColumnRow = (String, String, bool, Option<String>, Option<String>, bool);
/// name, columns, referenced schema, referenced table, referenced columns
type ForeignKeyRow = (String, Vec<String>, String, String, Vec<String>);

fn relkind(kind: &str) -> &'static str {
    match kind {
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        "p" => "partitioned table",
        _ => "table",
    }
}

fn result_columns(row: &PgRow) -> Vec<ResultColumn> {
    row.columns()
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_string(),
            data_type: pg_value::type_name(c.type_info()),
        })
        .collect()
}

fn decode_row(row: &PgRow) -> Vec<Value> {
    (0..row.len())
        .map(|i| {
            row.try_get_raw(i)
                .map(pg_value::decode)
                .unwrap_or(Value::Null)
        })
        .collect()
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Binds a JSON value by its JSON type: booleans, 64-bit integers, doubles, text, and
/// arrays/objects as `jsonb`. Other types take a cast in the SQL (`$1::timestamptz`).
fn bind<'q>(query: PgQuery<'q>, index: usize, value: &Value) -> Result<PgQuery<'q>, SqlError> {
    Ok(match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(b) => query.bind(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                query.bind(i)
            } else if let Some(f) = n.as_f64() {
                query.bind(f)
            } else {
                return Err(SqlError::BadParameter {
                    index,
                    reason: format!(
                        "{n} does not fit a 64-bit number; pass it as a string and cast it ($N::numeric)"
                    ),
                });
            }
        }
        Value::String(s) => query.bind(s.clone()),
        other => query.bind(sqlx::types::Json(other.clone())),
    })
}
