//! Helpers shared by the integration tests: start the binary, talk to it with rmcp's client,
//! make throw-away PostgreSQL databases.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The PostgreSQL URL of the non-superuser test role, or a failure that says how to get one.
pub fn pg_url() -> String {
    std::env::var("CANOPY_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("CANOPY_TEST_PG_URL is not set: run scripts/test.sh, which starts PostgreSQL (or: bash scripts/setup/postgres.sh; set -a; source .tools/test.env; set +a)")
    })
}

/// The superuser URL of the test cluster.
pub fn pg_admin_url() -> String {
    std::env::var("CANOPY_TEST_PG_ADMIN_URL").unwrap_or_else(|_| {
        panic!("CANOPY_TEST_PG_ADMIN_URL is not set: run scripts/test.sh, which starts PostgreSQL")
    })
}

/// Replaces the database of a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

/// A fresh database owned by the test role, named after the test; returns its URL.
pub async fn fresh_pg_database(name: &str) -> String {
    use sqlx::Connection;
    let url = pg_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let db = format!("canopy_sql_{name}");
    sqlx::Executor::execute(
        &mut conn,
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str(),
    )
    .await
    .unwrap();
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    with_database(&url, &db)
}

/// Runs SQL on a writable connection (fixtures).
pub async fn pg_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// What the test client saw besides responses.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub resource_list_changed: Arc<AtomicUsize>,
}

impl ClientHandler for Seen {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().await.push(params);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.resource_list_changed.fetch_add(1, Ordering::SeqCst);
    }
}

pub type Client = RunningService<RoleClient, Seen>;

/// Starts `canopy-sql ARGS` and connects rmcp's client to it over stdio.
pub async fn start(args: &[&str]) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_canopy-sql"));
    cmd.args(args).env("RUST_LOG", "warn");
    let transport = TokioChildProcess::new(cmd).unwrap();
    Seen::default().serve(transport).await.unwrap()
}

/// Starts the binary on the sample database in a fresh temporary data directory.
pub async fn start_sample(extra: &[&str]) -> (Client, tempdir::TempDir) {
    let dir = tempdir::TempDir::new();
    let path = dir.path().to_str().unwrap().to_string();
    let mut args = vec!["--data-dir", path.as_str()];
    args.extend_from_slice(extra);
    (start(&args).await, dir)
}

/// Calls a tool with JSON arguments.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap()
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Calls `query` and returns the structured result, failing on a tool error.
pub async fn query(client: &Client, sql: &str) -> Value {
    let result = call(client, "query", json!({ "sql": sql })).await;
    assert_eq!(
        result.is_error,
        Some(false),
        "query failed: {sql}: {}",
        text(&result)
    );
    result.structured_content.unwrap()
}

/// Calls `query` and returns the error text, failing if it succeeded.
pub async fn query_error(client: &Client, sql: &str) -> String {
    let result = call(client, "query", json!({ "sql": sql })).await;
    assert_eq!(result.is_error, Some(true), "expected an error for: {sql}");
    assert!(result.structured_content.is_none());
    text(&result)
}

/// Polls `check` every 50 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub mod tempdir {
    //! A temporary directory removed on drop.
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    #[derive(Debug)]
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let path =
                std::env::temp_dir().join(format!("canopy-sql-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
