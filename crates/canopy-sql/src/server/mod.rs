//! The MCP server: tools, table resources, analysis prompts and completions over a
//! [`Database`](crate::Database).

mod prompts;
mod resources;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, PaginatedRequestParams, ProgressNotificationParam,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::database::{Database, QueryControl, QueryRequest};
use crate::error::SqlError;
use crate::output::QueryOutput;
use crate::schema::{TableSchema, TableSummary};

/// Limits and intervals of a [`SqlServer`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Rows `query` returns when the call does not say.
    pub default_rows: usize,
    /// Most rows a call may ask for.
    pub max_rows: usize,
    /// Statement timeout when the call does not say.
    pub default_timeout: Duration,
    /// Longest statement timeout a call may ask for.
    pub max_timeout: Duration,
    /// Resources per page of `resources/list`.
    pub page_size: usize,
    /// How often a running query reports progress.
    pub progress_interval: Duration,
    /// How often to look for created or dropped tables (`None`: never).
    pub schema_poll: Option<Duration>,
    /// Characters per cell in text tables (structured results are never cut).
    pub max_cell: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            default_rows: 100,
            max_rows: 10_000,
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            page_size: 100,
            progress_interval: Duration::from_secs(1),
            schema_poll: Some(Duration::from_secs(10)),
            max_cell: 80,
        }
    }
}

impl ServerOptions {
    /// Sets the default and maximum rows per call.
    pub fn with_rows(mut self, default_rows: usize, max_rows: usize) -> Self {
        self.max_rows = max_rows.max(1);
        self.default_rows = default_rows.clamp(1, self.max_rows);
        self
    }

    /// Sets the default and maximum statement timeouts.
    pub fn with_timeouts(mut self, default_timeout: Duration, max_timeout: Duration) -> Self {
        self.max_timeout = max_timeout;
        self.default_timeout = default_timeout.min(max_timeout);
        self
    }

    /// Sets the page size of `resources/list`.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Sets the progress interval.
    pub fn with_progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = interval;
        self
    }

    /// Sets the schema polling interval (`None` turns `list_changed` off).
    pub fn with_schema_poll(mut self, interval: Option<Duration>) -> Self {
        self.schema_poll = interval;
        self
    }
}

struct Shared {
    db: Database,
    options: ServerOptions,
    schema_changes: watch::Receiver<u64>,
}

/// The MCP server for one database. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SqlServer {
    shared: Arc<Shared>,
    tool_router: ToolRouter<SqlServer>,
}

impl std::fmt::Debug for SqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServer")
            .field("database", &self.shared.db.label())
            .field("options", &self.shared.options)
            .finish()
    }
}

/// Arguments of `query`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// One SQL statement that reads data (SELECT, WITH, VALUES, SHOW, EXPLAIN…). Writes and DDL are refused.
    pub sql: String,
    /// Values for the placeholders: `$1, $2…` on PostgreSQL, `?` or `?1` on SQLite. Strings bind as text; cast other types in SQL (`$1::date`).
    #[serde(default)]
    pub params: Vec<Value>,
    /// Most rows to return (default set by the server, typically 100). Extra rows are cut and the result says so.
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Statement timeout in milliseconds (default and maximum set by the server).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// Arguments of `explain`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExplainArgs {
    /// The statement to explain.
    pub sql: String,
    /// Placeholder values, as for `query`.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Run the statement (read-only) and report actual times and row counts (PostgreSQL).
    #[serde(default)]
    pub analyze: bool,
}

/// The result of `explain`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExplainOutput {
    /// The plan as the database prints it.
    pub plan: String,
    /// Whether the statement was run (EXPLAIN ANALYZE).
    pub analyzed: bool,
}

/// Arguments of `list_tables`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTablesArgs {
    /// Only tables in this schema.
    #[serde(default)]
    pub schema: Option<String>,
}

/// The result of `list_tables`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListTablesOutput {
    /// Tables and views, ordered by schema and name.
    pub tables: Vec<TableSummary>,
}

/// Arguments naming a table.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TableArgs {
    /// Table name: `orders`, `sales.orders` or `"Odd Name"`.
    pub table: String,
    /// Schema, when not part of `table`.
    #[serde(default)]
    pub schema: Option<String>,
}

/// Arguments of `sample_rows`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SampleArgs {
    /// Table name: `orders`, `sales.orders` or `"Odd Name"`.
    pub table: String,
    /// Schema, when not part of `table`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Rows to return (default 10, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

fn tool_error(error: &SqlError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error.to_string())])
}

fn structured<T: Serialize>(value: &T, text: String) -> Result<CallToolResult, McpError> {
    let json = serde_json::to_value(value).map_err(|e| {
        McpError::internal_error(format!("could not serialize the result: {e}"), None)
    })?;
    let mut result = CallToolResult::structured(json);
    result.content = vec![ContentBlock::text(text)];
    Ok(result)
}

#[tool_router]
impl SqlServer {
    /// Serves `db` with the given options. Must be called inside a Tokio runtime (it starts the
    /// schema poller, after reading the table list once: changes made after `new` returns are
    /// always noticed).
    pub async fn new(db: Database, options: ServerOptions) -> Self {
        let (tx, rx) = watch::channel(0u64);
        if let Some(interval) = options.schema_poll {
            let baseline = db.table_list_fingerprint().await.ok();
            tokio::spawn(poll_schema(db.clone(), interval, tx, baseline));
        }
        Self {
            shared: Arc::new(Shared {
                db,
                options,
                schema_changes: rx,
            }),
            tool_router: Self::tool_router(),
        }
    }

    /// The database served.
    pub fn database(&self) -> &Database {
        &self.shared.db
    }

    /// Runs `request`, sending progress notifications while it runs when the caller asked
    /// for them, and cancelling the statement when the request is cancelled.
    async fn run_query(
        &self,
        request: &QueryRequest,
        explain: Option<bool>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Result<(QueryOutput, Option<String>), SqlError>, McpError> {
        let control = QueryControl::new(context.ct.clone());
        let token = context.meta.get_progress_token();
        let started = Instant::now();
        let db = &self.shared.db;
        let work = async {
            match explain {
                None => db.query(request, &control).await.map(|o| (o, None)),
                Some(analyze) => db.explain(request, analyze, &control).await.map(|p| {
                    (
                        QueryOutput {
                            columns: Vec::new(),
                            rows: Vec::new(),
                            row_count: 0,
                            truncated: false,
                            row_limit: 0,
                            elapsed_ms: started.elapsed().as_millis() as u64,
                        },
                        Some(p),
                    )
                }),
            }
        };
        let Some(token) = token else {
            return Ok(work.await);
        };
        tokio::pin!(work);
        let peer = &context.peer;
        let _ = peer
            .notify_progress(
                ProgressNotificationParam::new(token.clone(), 0.0).with_message("started"),
            )
            .await;
        let mut ticker = tokio::time::interval(self.shared.options.progress_interval);
        ticker.tick().await;
        let mut step = 0u32;
        loop {
            tokio::select! {
                result = &mut work => return Ok(result),
                _ = ticker.tick() => {
                    step += 1;
                    let message = format!(
                        "running for {:.1} s, {} rows received",
                        started.elapsed().as_secs_f64(),
                        control.rows_so_far()
                    );
                    let _ = peer
                        .notify_progress(ProgressNotificationParam::new(token.clone(), f64::from(step)).with_message(message))
                        .await;
                }
            }
        }
    }

    fn request(
        &self,
        sql: String,
        params: Vec<Value>,
        max_rows: Option<usize>,
        timeout_ms: Option<u64>,
    ) -> QueryRequest {
        let o = &self.shared.options;
        let timeout = timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(o.default_timeout)
            .min(o.max_timeout);
        QueryRequest::new(sql)
            .with_params(params)
            .with_max_rows(max_rows.unwrap_or(o.default_rows).clamp(1, o.max_rows))
            .with_timeout(timeout.max(Duration::from_millis(1)), o.max_timeout)
    }

    /// Run one read-only SQL statement and return its rows.
    #[tool(
        description = "Run one read-only SQL statement (SELECT, WITH, VALUES, SHOW…) and return the rows as a table and as JSON. Writes, DDL and multiple statements are refused by the database. Use params for values ($1… on PostgreSQL, ? on SQLite). Results stop at max_rows and say when they were truncated.",
        output_schema = schema_for_output::<QueryOutput>(),
        annotations(read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn query(
        &self,
        params: Parameters<QueryArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let args = params.0;
        let request = self.request(args.sql, args.params, args.max_rows, args.timeout_ms);
        match self.run_query(&request, None, &context).await? {
            Ok((output, _)) => structured(&output, output.to_text(self.shared.options.max_cell)),
            Err(e) => Ok(tool_error(&e)),
        }
    }

    /// Show the query plan of a statement.
    #[tool(
        description = "Show the database's query plan for one SQL statement. With analyze=true the statement is run (still read-only) and the plan includes actual times and row counts (PostgreSQL; SQLite shows EXPLAIN QUERY PLAN).",
        output_schema = schema_for_output::<ExplainOutput>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn explain(
        &self,
        params: Parameters<ExplainArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let args = params.0;
        let request = self.request(args.sql, args.params, None, None);
        match self
            .run_query(&request, Some(args.analyze), &context)
            .await?
        {
            Ok((_, plan)) => {
                let output = ExplainOutput {
                    plan: plan.unwrap_or_default(),
                    analyzed: args.analyze && self.shared.db.dialect() == crate::Dialect::Postgres,
                };
                let text = output.plan.clone();
                structured(&output, text)
            }
            Err(e) => Ok(tool_error(&e)),
        }
    }

    /// List the tables and views.
    #[tool(
        description = "List the tables and views you can query, with their kind, estimated row count and schema resource URI.",
        output_schema = schema_for_output::<ListTablesOutput>(),
        annotations(read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn list_tables(
        &self,
        params: Parameters<ListTablesArgs>,
    ) -> Result<CallToolResult, McpError> {
        let tables = match self.shared.db.list_tables().await {
            Ok(t) => t,
            Err(e) => return Ok(tool_error(&e)),
        };
        let tables: Vec<TableSummary> = match &params.0.schema {
            Some(s) => tables.into_iter().filter(|t| &t.schema == s).collect(),
            None => tables,
        };
        let headers = ["table", "kind", "rows (est.)"].map(String::from);
        let rows: Vec<Vec<String>> = tables
            .iter()
            .map(|t| {
                vec![
                    t.qualified_name.clone(),
                    t.kind.clone(),
                    t.row_estimate
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "?".into()),
                ]
            })
            .collect();
        let mut text = crate::output::render_table(&headers, &rows);
        text.push_str(&format!("({} tables)", tables.len()));
        structured(&ListTablesOutput { tables }, text)
    }

    /// Describe one table: columns, keys, indexes.
    #[tool(
        description = "Describe a table or view: columns with types, nullability and defaults, primary and foreign keys, indexes, and estimated row count.",
        output_schema = schema_for_output::<TableSchema>(),
        annotations(read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn describe_table(
        &self,
        params: Parameters<TableArgs>,
    ) -> Result<CallToolResult, McpError> {
        let args = params.0;
        let db = &self.shared.db;
        let schema = match db.resolve_table(&args.table, args.schema.as_deref()).await {
            Ok(t) => db.describe(&t).await,
            Err(e) => Err(e),
        };
        match schema {
            Ok(schema) => {
                let text = schema.to_markdown();
                structured(&schema, text)
            }
            Err(e) => Ok(tool_error(&e)),
        }
    }

    /// Return the first rows of a table.
    #[tool(
        description = "Return a few rows of a table (default 10, at most 100) to see what its data looks like.",
        output_schema = schema_for_output::<QueryOutput>(),
        annotations(read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn sample_rows(
        &self,
        params: Parameters<SampleArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let args = params.0;
        let table = match self
            .shared
            .db
            .resolve_table(&args.table, args.schema.as_deref())
            .await
        {
            Ok(t) => t,
            Err(e) => return Ok(tool_error(&e)),
        };
        let limit = args.limit.unwrap_or(10).clamp(1, 100);
        let from = match self.shared.db.dialect() {
            crate::Dialect::Postgres => table.quoted(),
            crate::Dialect::Sqlite => crate::schema::quote_ident(&table.name),
        };
        let request = self.request(
            format!("SELECT * FROM {from} LIMIT {limit}"),
            Vec::new(),
            Some(limit),
            None,
        );
        match self.run_query(&request, None, &context).await? {
            Ok((output, _)) => structured(&output, output.to_text(self.shared.options.max_cell)),
            Err(e) => Ok(tool_error(&e)),
        }
    }
}

/// Watches the table list and bumps the generation when it changes.
async fn poll_schema(
    db: Database,
    interval: Duration,
    tx: watch::Sender<u64>,
    baseline: Option<u64>,
) {
    let mut last = baseline;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = ticker.tick() => {}
        }
        if let Ok(now) = db.table_list_fingerprint().await {
            if last.is_some_and(|l| l != now) {
                tx.send_modify(|generation| *generation += 1);
            }
            last = Some(now);
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SqlServer {
    fn get_info(&self) -> ServerConfig {
        let db = &self.shared.db;
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_prompts()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new("canopy-sql", env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "Read-only access to a {} ({}). Start with list_tables or the table resources, look at a table with describe_table and sample_rows, then answer questions with query (one {} statement per call, parameters for values). Writes are refused by the database.",
            db.dialect().name(),
            db.label(),
            db.dialect().name()
        ))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        resources::list(self, request.and_then(|r| r.cursor)).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            resources::template(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        resources::read(self, &request.uri)
            .await
            .map(ReadResourceResponse::from)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let arguments = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
        prompts::get(self, &request.name, arguments)
            .await
            .map(GetPromptResponse::from)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        prompts::complete(self, &request).await
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut changes = self.shared.schema_changes.clone();
        changes.borrow_and_update();
        let peer = context.peer;
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                if peer.notify_resource_list_changed().await.is_err() {
                    break;
                }
            }
        });
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.shared.schema_changes.clone();
        changes.borrow_and_update();
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let _ = context.sink().notify_resource_list_changed().await;
                }
            }
        }
    }
}
