//! `canopy-sql`: an MCP server that exposes a SQL database (PostgreSQL or SQLite) to a model,
//! read-only.
//!
//! - **Tools**: `query` (one read-only statement, parameters, row limit, statement timeout,
//!   results as `structuredContent` plus a text table), `explain`, `list_tables`,
//!   `describe_table`, `sample_rows`.
//! - **Resources**: one per table (`sql://tables/{schema}/{table}`: columns, types,
//!   nullability, keys, indexes, row estimate), a template for any table, paginated listing
//!   and `list_changed` when tables come and go.
//! - **Prompts**: `summarize_table`, `find_anomalies`, `compare_segments`,
//!   `explain_slow_query`, with completion of table and column names.
//!
//! Read-only is enforced by the database, not by reading the SQL: on PostgreSQL every query
//! runs in a `READ ONLY` transaction (sessions also default to read-only, and an optional role
//! is set per transaction), and logins that could escape it are refused; on SQLite the file is
//! opened read-only and each statement runs inside a transaction.
//!
//! With no database URL the binary serves a bundled sample shop database (SQLite, created on
//! first run), so it works with nothing else installed. See `docs/sql-server.md`.
//!
//! ```no_run
//! use canopy_sql::{ConnectOptions, Database, ServerOptions, SqlServer};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let db = Database::connect("sqlite://shop.db", &ConnectOptions::new()).await?;
//! let server = SqlServer::new(db, ServerOptions::default()).await;
//! canopy_sql::serve_stdio(server).await?;
//! # Ok(())
//! # }
//! ```

mod database;
mod error;
mod output;
mod sample;
mod schema;
mod server;
mod transport;
mod uri;

pub use self::database::{
    ConnectOptions, Database, Dialect, PgOptions, QueryControl, QueryRequest,
};
pub use self::error::SqlError;
pub use self::output::{QueryOutput, ResultColumn};
pub use self::sample::{SAMPLE_FILE, default_data_dir, ensure_sample};
pub use self::schema::{
    ColumnInfo, ForeignKey, IndexInfo, TableRef, TableSchema, TableSummary, quote_ident,
    quote_ident_if_needed,
};
pub use self::server::{
    ExplainArgs, ExplainOutput, ListTablesArgs, ListTablesOutput, QueryArgs, SampleArgs,
    ServerOptions, SqlServer, TableArgs,
};
pub use self::transport::{serve_http, serve_stdio};
