//! The `canopy-sql` binary: an MCP server for a PostgreSQL or SQLite database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use canopy_sql::{ConnectOptions, Database, PgOptions, ServerOptions, SqlServer};
use clap::Parser;
use tokio_util::sync::CancellationToken;

const EXAMPLES: &str = "\
Examples:
  # The bundled sample shop database (SQLite, created on first run), over stdio:
  canopy-sql

  # A PostgreSQL database, read-only, as a read-only role:
  canopy-sql --database postgres://analyst@db.internal:5432/shop --role readonly

  # PostgreSQL over TLS with certificate checks:
  canopy-sql --database postgres://analyst@db.internal/shop --ssl-mode verify-full --ssl-root-cert ca.pem

  # A SQLite file, over Streamable HTTP at http://127.0.0.1:8808/mcp:
  canopy-sql --database sqlite://./shop.db --http 127.0.0.1:8808

  # Try it with the MCP Inspector:
  npx @modelcontextprotocol/inspector --cli canopy-sql --method tools/list

The password can come from the URL, from PGPASSWORD, or from ~/.pgpass.";

/// An MCP server that exposes a SQL database, read-only: table schemas as resources, tools
/// to query, explain and sample, and prompts for common analysis tasks.
#[derive(Debug, Parser)]
#[command(name = "canopy-sql", version, after_help = EXAMPLES)]
struct Cli {
    /// Database URL: postgres://user[:password]@host[:port]/db or sqlite://path. Without it, the
    /// bundled sample shop database is served.
    #[arg(long, short = 'd', env = "CANOPY_SQL_DATABASE")]
    database: Option<String>,

    /// Where the sample database is created (default: the user's data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Serve Streamable HTTP at http://ADDR/mcp (loopback only) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,

    /// Rows `query` returns when the call does not say.
    #[arg(long, default_value_t = 100)]
    default_rows: usize,

    /// Most rows one call may return.
    #[arg(long, default_value_t = 10_000)]
    max_rows: usize,

    /// Statement timeout in milliseconds when the call does not say.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    statement_timeout_ms: u64,

    /// Longest statement timeout a call may ask for, in milliseconds.
    #[arg(long, default_value_t = 300_000, value_name = "MS")]
    max_statement_timeout_ms: u64,

    /// Connections in the pool.
    #[arg(long, default_value_t = 5)]
    pool_size: u32,

    /// Look for created or dropped tables this often (0: never), in milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    schema_poll_ms: u64,

    /// Send progress for running queries this often, in milliseconds.
    #[arg(long, default_value_t = 1_000, value_name = "MS")]
    progress_ms: u64,

    /// Resources per page of resources/list.
    #[arg(long, default_value_t = 100)]
    page_size: usize,

    /// PostgreSQL: SET LOCAL ROLE to this role in every transaction (e.g. a read-only role).
    #[arg(long)]
    role: Option<String>,

    /// PostgreSQL TLS mode: disable, allow, prefer, require, verify-ca, verify-full.
    #[arg(long, value_name = "MODE")]
    ssl_mode: Option<String>,

    /// PostgreSQL: CA certificate (PEM) to verify the server with.
    #[arg(long, value_name = "FILE")]
    ssl_root_cert: Option<PathBuf>,

    /// PostgreSQL: client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    ssl_client_cert: Option<PathBuf>,

    /// PostgreSQL: client private key (PEM).
    #[arg(long, value_name = "FILE")]
    ssl_client_key: Option<PathBuf>,

    /// PostgreSQL: serve even when the login role is a superuser or may run programs or write
    /// server files (a read-only transaction does not stop COPY … TO PROGRAM).
    #[arg(long)]
    allow_privileged_login: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = Cli::parse();
    let mut pg = PgOptions::default();
    pg.ssl_mode = cli.ssl_mode.clone();
    pg.ssl_root_cert = cli.ssl_root_cert.clone();
    pg.ssl_client_cert = cli.ssl_client_cert.clone();
    pg.ssl_client_key = cli.ssl_client_key.clone();
    pg.role = cli.role.clone();
    pg.allow_privileged_login = cli.allow_privileged_login;
    let connect = ConnectOptions::new()
        .with_pool_size(cli.pool_size)
        .with_postgres(pg);
    let db = match &cli.database {
        Some(url) => Database::connect(url, &connect).await?,
        None => {
            let dir = cli
                .data_dir
                .clone()
                .unwrap_or_else(canopy_sql::default_data_dir);
            Database::open_sample(dir, &connect).await?
        }
    };
    eprintln!("canopy-sql: serving {}", db.label());
    let options = ServerOptions::default()
        .with_rows(cli.default_rows, cli.max_rows)
        .with_timeouts(
            Duration::from_millis(cli.statement_timeout_ms),
            Duration::from_millis(cli.max_statement_timeout_ms),
        )
        .with_page_size(cli.page_size)
        .with_progress_interval(Duration::from_millis(cli.progress_ms.max(10)))
        .with_schema_poll(
            (cli.schema_poll_ms > 0).then(|| Duration::from_millis(cli.schema_poll_ms)),
        );
    let server = SqlServer::new(db, options).await;
    match cli.http {
        None => canopy_sql::serve_stdio(server).await,
        Some(addr) => {
            let shutdown = CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            canopy_sql::serve_http(server, addr, shutdown, |bound| {
                eprintln!("canopy-sql: listening on http://{bound}/mcp");
            })
            .await
        }
    }
}
