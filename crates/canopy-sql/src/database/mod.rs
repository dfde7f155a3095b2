//! The database behind the server: a pool of read-only connections to PostgreSQL or SQLite,
//! with schema introspection and one-statement queries that honour a row limit, a statement
//! timeout and cancellation.

mod pg_value;
mod postgres;
mod sqlite;
mod sqlite_lex;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::SqlError;
use crate::output::QueryOutput;
use crate::schema::{TableRef, TableSchema, TableSummary};

pub use self::postgres::PgOptions;

/// Which SQL engine the server talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// The engine's name for messages and prompts.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Sqlite => "SQLite",
        }
    }
}

/// One statement to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryRequest {
    /// The SQL text: exactly one statement.
    pub sql: String,
    /// Values for `$1`, `$2`… (PostgreSQL) or `?`/`?1` (SQLite).
    pub params: Vec<Value>,
    /// Rows to return at most; more rows mark the result truncated.
    pub max_rows: usize,
    /// Statement timeout.
    pub timeout: Duration,
    /// Largest timeout the server allows (for the error message).
    pub max_timeout: Duration,
}

impl QueryRequest {
    /// A request for `sql` with no parameters, 100 rows and a 30 s timeout.
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
            max_rows: 100,
            timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(30),
        }
    }

    /// Sets the parameters.
    pub fn with_params(mut self, params: Vec<Value>) -> Self {
        self.params = params;
        self
    }

    /// Sets the row limit.
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// Sets the statement timeout (and the maximum reported in timeout errors).
    pub fn with_timeout(mut self, timeout: Duration, max_timeout: Duration) -> Self {
        self.timeout = timeout;
        self.max_timeout = max_timeout;
        self
    }
}

/// Lets a running query be cancelled and watched.
#[derive(Debug, Clone, Default)]
pub struct QueryControl {
    /// Cancelling it cancels the statement on the database server.
    pub cancel: CancellationToken,
    rows: Arc<AtomicUsize>,
}

impl QueryControl {
    /// A control that is cancelled when `cancel` is.
    pub fn new(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            rows: Arc::default(),
        }
    }

    /// Rows received so far.
    pub fn rows_so_far(&self) -> usize {
        self.rows.load(Ordering::Relaxed)
    }

    pub(crate) fn add_row(&self) {
        self.rows.fetch_add(1, Ordering::Relaxed);
    }
}

/// How to open the database.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Connections in the pool.
    pub pool_size: u32,
    /// PostgreSQL-only options (TLS, role).
    pub postgres: PgOptions,
}

impl ConnectOptions {
    /// Defaults: a pool of 5.
    pub fn new() -> Self {
        Self {
            pool_size: 5,
            postgres: PgOptions::default(),
        }
    }

    /// Sets the pool size.
    pub fn with_pool_size(mut self, pool_size: u32) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }

    /// Sets the PostgreSQL options.
    pub fn with_postgres(mut self, postgres: PgOptions) -> Self {
        self.postgres = postgres;
        self
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Postgres(postgres::PgDatabase),
    Sqlite(sqlite::SqliteDatabase),
}

/// A connection pool to one database, read-only by construction.
#[derive(Debug, Clone)]
pub struct Database {
    backend: Backend,
    label: String,
}

impl Database {
    /// Connects to `url` (`postgres://…`, `postgresql://…` or `sqlite://…`).
    ///
    /// PostgreSQL sessions default to read-only transactions and every query runs in one; a
    /// login role that could bypass that (a superuser, or a member of
    /// `pg_execute_server_program`/`pg_write_server_files`) is refused unless
    /// [`PgOptions::allow_privileged_login`] is set. SQLite files are opened read-only.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, SqlError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let db = postgres::PgDatabase::connect(url, options).await?;
            let label = db.label();
            Ok(Self {
                backend: Backend::Postgres(db),
                label,
            })
        } else if lower.starts_with("sqlite:") {
            let db = sqlite::SqliteDatabase::connect(url, options).await?;
            let label = db.label();
            Ok(Self {
                backend: Backend::Sqlite(db),
                label,
            })
        } else {
            Err(SqlError::Config(format!(
                "unsupported database URL '{}': use postgres://… or sqlite://…",
                redact(url)
            )))
        }
    }

    /// Opens the bundled sample shop database in `data_dir`, creating it on first use.
    pub async fn open_sample(
        data_dir: PathBuf,
        options: &ConnectOptions,
    ) -> Result<Self, SqlError> {
        let path = crate::sample::ensure_sample(&data_dir).await?;
        let url = format!("sqlite://{}", path.display());
        let db = sqlite::SqliteDatabase::connect(&url, options).await?;
        Ok(Self {
            backend: Backend::Sqlite(db),
            label: format!("sample shop database ({})", path.display()),
        })
    }

    /// The engine.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Postgres(_) => Dialect::Postgres,
            Backend::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// What to call this database in messages (no password).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The schema searched first for unqualified names (`public` or `main`).
    pub fn default_schema(&self) -> &'static str {
        match self.backend {
            Backend::Postgres(_) => "public",
            Backend::Sqlite(_) => "main",
        }
    }

    /// Every table and view the connection can see, ordered by schema and name.
    pub async fn list_tables(&self) -> Result<Vec<TableSummary>, SqlError> {
        match &self.backend {
            Backend::Postgres(db) => boxed(db.list_tables()).await,
            Backend::Sqlite(db) => boxed(db.list_tables()).await,
        }
    }

    /// Columns, keys, indexes and row estimate of one table.
    pub async fn describe(&self, table: &TableRef) -> Result<TableSchema, SqlError> {
        match &self.backend {
            Backend::Postgres(db) => boxed(db.describe(table)).await,
            Backend::Sqlite(db) => boxed(db.describe(table)).await,
        }
    }

    /// Runs one read-only statement.
    pub async fn query(
        &self,
        request: &QueryRequest,
        control: &QueryControl,
    ) -> Result<QueryOutput, SqlError> {
        match &self.backend {
            Backend::Postgres(db) => boxed(db.query(request, control)).await,
            Backend::Sqlite(db) => boxed(db.query(request, control)).await,
        }
    }

    /// The query plan of a statement; with `analyze`, the statement is run (read-only) and the
    /// plan shows actual times and row counts.
    pub async fn explain(
        &self,
        request: &QueryRequest,
        analyze: bool,
        control: &QueryControl,
    ) -> Result<String, SqlError> {
        let sql = match self.dialect() {
            Dialect::Postgres if analyze => {
                format!("EXPLAIN (ANALYZE, BUFFERS, VERBOSE) {}", request.sql)
            }
            Dialect::Postgres => format!("EXPLAIN (VERBOSE) {}", request.sql),
            Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {}", request.sql),
        };
        let mut explain_request = request.clone();
        explain_request.sql = sql;
        explain_request.max_rows = 10_000;
        let output = self.query(&explain_request, control).await?;
        Ok(match self.dialect() {
            Dialect::Postgres => output
                .rows
                .iter()
                .filter_map(|row| row.first().and_then(Value::as_str).map(str::to_string))
                .collect::<Vec<_>>()
                .join("\n"),
            Dialect::Sqlite => sqlite::format_query_plan(&output),
        })
    }

    /// A fingerprint of the set of tables; it changes when a table is created, dropped or renamed.
    pub async fn table_list_fingerprint(&self) -> Result<u64, SqlError> {
        use std::hash::{Hash, Hasher};
        let tables = self.list_tables().await?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for t in &tables {
            (&t.schema, &t.name, &t.kind).hash(&mut hasher);
        }
        Ok(hasher.finish())
    }

    /// Finds a table by name: `name` may be qualified (`schema.table`) or not, and `schema`
    /// may be given separately. Unqualified names prefer the default schema.
    pub async fn resolve_table(
        &self,
        name: &str,
        schema: Option<&str>,
    ) -> Result<TableRef, SqlError> {
        let tables = self.list_tables().await?;
        resolve(&tables, name, schema, self.default_schema())
    }
}

/// Boxes a backend future: proving `Send` at a concrete lifetime sidesteps rustc's
/// higher-ranked lifetime errors with sqlx executors inside async fns.
fn boxed<'a, T>(
    future: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

pub(crate) fn resolve(
    tables: &[TableSummary],
    name: &str,
    schema: Option<&str>,
    default_schema: &str,
) -> Result<TableRef, SqlError> {
    let to_ref = |t: &TableSummary| TableRef::new(&t.schema, &t.name, &t.kind);
    let unquote = |s: &str| -> String {
        let s = s.trim();
        if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
            s[1..s.len() - 1].replace("\"\"", "\"")
        } else {
            s.to_string()
        }
    };
    let schema = schema.filter(|s| !s.is_empty()).map(unquote);
    let exact =
        |schema: &str, name: &str| tables.iter().find(|t| t.schema == schema && t.name == name);
    if let Some(schema) = &schema {
        if let Some(t) = exact(schema, &unquote(name)) {
            return Ok(to_ref(t));
        }
    } else {
        // A literal name first (tables may contain dots), then schema.name.
        let literal = unquote(name);
        let matches: Vec<&TableSummary> = tables.iter().filter(|t| t.name == literal).collect();
        if let Some(t) = matches.iter().find(|t| t.schema == default_schema) {
            return Ok(to_ref(t));
        }
        if matches.len() == 1 {
            return Ok(to_ref(matches[0]));
        }
        if matches.len() > 1 {
            return Err(SqlError::AmbiguousTable {
                name: name.to_string(),
                candidates: matches.iter().map(|t| t.qualified_name.clone()).collect(),
            });
        }
        if let Some((s, n)) = split_qualified(name)
            && let Some(t) = exact(&s, &n)
        {
            return Ok(to_ref(t));
        }
        // Case-insensitive, as an unquoted identifier would fold.
        let folded: Vec<&TableSummary> = tables
            .iter()
            .filter(|t| t.name.eq_ignore_ascii_case(&literal))
            .collect();
        if folded.len() == 1 {
            return Ok(to_ref(folded[0]));
        }
    }
    let needle = name.to_lowercase();
    let candidates = tables
        .iter()
        .filter(|t| {
            let n = t.name.to_lowercase();
            n.contains(&needle) || needle.contains(&n)
        })
        .take(5)
        .map(|t| t.qualified_name.clone())
        .collect();
    Err(SqlError::UnknownTable {
        name: match &schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_string(),
        },
        candidates,
    })
}

/// Splits `schema.table`, honouring double quotes on either part.
fn split_qualified(name: &str) -> Option<(String, String)> {
    let mut in_quotes = false;
    for (i, c) in name.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => {
                let unquote = |s: &str| -> String {
                    let s = s.trim();
                    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
                        s[1..s.len() - 1].replace("\"\"", "\"")
                    } else {
                        s.to_string()
                    }
                };
                return Some((unquote(&name[..i]), unquote(&name[i + 1..])));
            }
            _ => {}
        }
    }
    None
}

/// A URL with its password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(schema: &str, name: &str) -> TableSummary {
        let t = TableRef::new(schema, name, "table");
        TableSummary {
            schema: schema.into(),
            name: name.into(),
            kind: "table".into(),
            qualified_name: t.qualified(),
            row_estimate: None,
            uri: String::new(),
            comment: None,
        }
    }

    #[test]
    fn resolves_plain_qualified_and_quoted_names() {
        let tables = vec![
            summary("public", "orders"),
            summary("sales", "orders"),
            summary("Odd Schema", "Weird.Name"),
            summary("sales", "only_here"),
        ];
        assert_eq!(
            resolve(&tables, "orders", None, "public")
                .unwrap_or_else(|e| panic!("{e}"))
                .schema,
            "public"
        );
        assert_eq!(
            resolve(&tables, "sales.orders", None, "public")
                .map(|t| t.schema)
                .ok(),
            Some("sales".into())
        );
        assert_eq!(
            resolve(&tables, "only_here", None, "public")
                .map(|t| t.schema)
                .ok(),
            Some("sales".into())
        );
        assert_eq!(
            resolve(&tables, "\"Odd Schema\".\"Weird.Name\"", None, "public")
                .map(|t| t.name)
                .ok(),
            Some("Weird.Name".into())
        );
        assert_eq!(
            resolve(&tables, "Weird.Name", Some("Odd Schema"), "public")
                .map(|t| t.name)
                .ok(),
            Some("Weird.Name".into())
        );
        let missing = resolve(&tables, "order", None, "public")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some("no table or view named 'order' (did you mean: public.orders, sales.orders?)")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
