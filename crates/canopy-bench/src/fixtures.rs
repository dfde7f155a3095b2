//! What the scenarios measure: a minimal in-process leaf, the naive proxy chain, Canopy trees
//! of any depth, the `leaf_server` example as a stdio or HTTP child, HTTP servers and
//! clients, and the callers the concurrent measurements clone.

use std::{net::SocketAddr, path::Path, process::Stdio, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use axum::serve::ListenerExt as _;
use canopy_node::{CanopyServer, EventKind, Node, Tree};
use rmcp::{
    ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt,
    handler::server::router::tool::ToolRouter,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
        ListToolsResult, NumberOrString, PaginatedRequestParams, ProgressNotificationParam,
        ServerCapabilities, ServerConfig, Tool,
    },
    service::{ClientLifecycleMode, ClientServiceExt as _, RequestContext, RunningService},
    tool, tool_handler, tool_router,
    transport::{
        StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_client::StreamableHttpClientTransportConfig,
        streamable_http_server::session::local::LocalSessionManager,
    },
};
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;

/// Buffer of each in-memory byte duplex.
const DUPLEX_BUFFER: usize = 1 << 16;

/// Concurrent callers of the concurrent scenarios (stdio, HTTP, the served tree).
pub const CONCURRENCY: usize = 64;
/// Progress notifications per `tick` call in the progress scenario.
pub const TICKS: u64 = 200;
/// The server the stdio and HTTP scenarios start: the `leaf_server` example's `lab` demo.
pub const LEAF_SERVER: &str = "lab";
/// The tool they call on it: `was_cancelled` (no arguments, a short answer).
pub const LEAF_TOOL: &str = "was_cancelled";

/// The in-process leaf of the call scenarios (`canopy bench`'s and the criterion benches'):
/// one tool, `echo`, written the way rmcp users write tools (`#[tool_router]`).
#[derive(Clone, Debug)]
pub struct Echo {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    /// The leaf, its router built once.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Answer with a short text")]
    async fn echo(&self) -> String {
        "echo".to_owned()
    }
}

impl Default for Echo {
    fn default() -> Self {
        Self::new()
    }
}

// The stored router: the macro's default rebuilds the router on every call.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The leaf of the progress and listing scenarios: `tick` sends `count` progress
/// notifications, then answers; every other tool (`echo`, or the `t0`, `t1`… that fill a
/// long list) answers with a short text.
#[derive(Clone, Debug)]
pub struct Leaf {
    tools: Arc<Vec<Tool>>,
}

impl Leaf {
    /// A leaf with the given tools (each answers like `echo`, except `tick`).
    pub fn with_tools<I: IntoIterator<Item = String>>(names: I) -> Self {
        let schema = Arc::new(JsonObject::new());
        let tools = names
            .into_iter()
            .map(|name| Tool::new(name, "a benchmark tool", Arc::clone(&schema)))
            .collect();
        Self {
            tools: Arc::new(tools),
        }
    }

    /// A leaf listing exactly these tools.
    pub fn listing(tools: Vec<Tool>) -> Self {
        Self {
            tools: Arc::new(tools),
        }
    }

    /// A leaf with only `tick`.
    pub fn ticker() -> Self {
        Self::with_tools(["tick".to_owned()])
    }
}

impl ServerHandler for Leaf {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if request.name == "tick" {
            let count = request
                .arguments
                .as_ref()
                .and_then(|a| a.get("count"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
            if let Some(token) = context.meta.get_progress_token() {
                for step in 1..=count {
                    let params = ProgressNotificationParam::new(token.clone(), step as f64)
                        .with_total(count as f64);
                    context.peer.notify_progress(params).await.map_err(|e| {
                        McpError::internal_error(format!("progress not sent: {e}"), None)
                    })?;
                }
            }
        }
        Ok(CallToolResult::success(vec![ContentBlock::text("echo")]).into())
    }
}

/// A naive proxy: an rmcp server whose `tools/list` and `tools/call` are forwarded as they
/// are to an rmcp client of the next server.
#[derive(Clone, Debug)]
struct Proxy {
    next: Peer<RoleClient>,
}

fn forward_error(error: &rmcp::service::ServiceError) -> McpError {
    McpError::internal_error(format!("the next server failed: {error}"), None)
}

impl ServerHandler for Proxy {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.next
            .list_tools(request)
            .await
            .map_err(|e| forward_error(&e))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.next
            .call_tool_once(request)
            .await
            .map_err(|e| forward_error(&e))
    }
}

/// Serves `handler` over a fresh JSON byte duplex and connects an rmcp client to it.
pub async fn duplex_link<H: ServerHandler>(
    handler: H,
) -> anyhow::Result<(
    RunningService<RoleServer, H>,
    RunningService<RoleClient, ()>,
)> {
    let (server_io, client_io) = tokio::io::duplex(DUPLEX_BUFFER);
    let server = tokio::spawn(async move { handler.serve(server_io).await });
    let client = ().serve(client_io).await?;
    let server = server.await??;
    Ok((server, client))
}

/// The leaf's handler called directly, with a real peer in its `RequestContext` (taken from
/// a session serving the same handler, which nobody calls).
#[derive(Debug)]
pub struct DirectLeaf {
    handler: Echo,
    peer: Peer<RoleServer>,
    _server: RunningService<RoleServer, Echo>,
    _client: RunningService<RoleClient, ()>,
}

impl DirectLeaf {
    /// The handler, and the session its peer comes from.
    pub async fn new() -> anyhow::Result<Self> {
        let handler = Echo::new();
        let (server, client) = duplex_link(handler.clone()).await?;
        Ok(Self {
            handler,
            peer: server.peer().clone(),
            _server: server,
            _client: client,
        })
    }

    /// One call of `echo`, straight into the handler; one unit.
    pub async fn call(&self) -> anyhow::Result<u64> {
        let context = RequestContext::new(NumberOrString::Number(1), self.peer.clone());
        self.handler
            .call_tool(CallToolRequestParams::new("echo"), context)
            .await?;
        Ok(1)
    }
}

/// The nodes of scenario 10's tree: a root, 99 routers, 99 × 100 `echo` leaves.
pub const FOREST_NODES: usize = 10_000;
/// The tools it exposes: one per leaf.
pub const FOREST_TOOLS: usize = 99 * 100;

/// Scenario 10's tree, unbuilt ([`FOREST_NODES`] nodes).
pub fn forest() -> Node {
    let routers = (0..99).map(|r| {
        Node::new(format!("r{r}"))
            .children((0..100).map(|l| Node::server(format!("l{l}"), Echo::new())))
    });
    Node::new("hub").children(routers)
}

/// Scenario 9's pair: a tree of `echo` leaves under one hub, and a single server listing the
/// very tool definitions the tree exposes in one page; each behind an rmcp client over a
/// duplex, both checked to list every tool.
#[derive(Debug)]
pub struct Listing {
    /// The tree (shut it down when done).
    pub tree: Tree,
    /// The client of the single server.
    pub single: RunningService<RoleClient, ()>,
    /// The client of the tree's MCP face.
    pub served: RunningService<RoleClient, ()>,
    _servers: (
        RunningService<RoleServer, Leaf>,
        RunningService<RoleServer, CanopyServer>,
    ),
}

impl Listing {
    /// The pair for a tree of `leaves` leaves (one tool each).
    pub async fn new(leaves: usize) -> anyhow::Result<Self> {
        let nodes = (0..leaves).map(|i| Node::server(format!("l{i}"), Echo::new()));
        let tree = Tree::builder(Node::new("hub").children(nodes))
            .build()
            .await?;
        let (single_server, single) = duplex_link(Leaf::listing(tree.tools())).await?;
        let (canopy_server, served) = duplex_link(tree.server()).await?;
        for (side, client) in [("the single server", &single), ("the tree", &served)] {
            let n = client.peer().list_all_tools().await?.len();
            if n != leaves {
                bail!("{side} lists {n} tools, not {leaves}");
            }
        }
        Ok(Self {
            tree,
            single,
            served,
            _servers: (single_server, canopy_server),
        })
    }
}

/// A chain of `depth` naive proxies in front of the leaf; every service is kept alive.
#[derive(Debug)]
pub struct NaiveChain {
    client: RunningService<RoleClient, ()>,
    _leaf: RunningService<RoleServer, Echo>,
    _proxies: Vec<RunningService<RoleServer, Proxy>>,
    _clients: Vec<RunningService<RoleClient, ()>>,
}

impl NaiveChain {
    /// The leaf behind `depth` proxies, every link a JSON byte duplex.
    pub async fn new(depth: usize) -> anyhow::Result<Self> {
        let (leaf, mut next) = duplex_link(Echo::new()).await?;
        let mut proxies = Vec::with_capacity(depth);
        let mut clients = Vec::with_capacity(depth);
        for _ in 0..depth {
            let proxy = Proxy {
                next: next.peer().clone(),
            };
            let (server, client) = duplex_link(proxy).await?;
            proxies.push(server);
            clients.push(std::mem::replace(&mut next, client));
        }
        Ok(Self {
            client: next,
            _leaf: leaf,
            _proxies: proxies,
            _clients: clients,
        })
    }

    /// One call of `echo` through the whole chain; one unit.
    pub async fn call(&self) -> anyhow::Result<u64> {
        call_peer(self.client.peer(), "echo").await
    }
}

/// Calls `tool` through an rmcp client and checks that it answered; one unit.
pub async fn call_peer(peer: &Peer<RoleClient>, tool: &str) -> anyhow::Result<u64> {
    match peer
        .call_tool_once(CallToolRequestParams::new(tool.to_owned()))
        .await?
    {
        CallToolResponse::Complete(result) if result.is_error != Some(true) => Ok(1),
        other => bail!("'{tool}' did not answer normally: {other:?}"),
    }
}

/// One call of `tick` (`count` progress notifications) through `start_call`, reading
/// every event; the units are the progress events received.
pub async fn ticks(tree: &Tree, name: &str, count: u64) -> anyhow::Result<u64> {
    let mut args = JsonObject::new();
    args.insert("count".into(), count.into());
    let mut call = tree.start_call(name, Some(args));
    let mut received = 0;
    while let Some(event) = call.next_event().await {
        if matches!(event.kind, EventKind::Progress { .. }) {
            received += 1;
        }
    }
    call.result().await?;
    if received != count {
        bail!("{received} of {count} progress events arrived");
    }
    Ok(received)
}

/// A caller of `tool` through an rmcp client, for the concurrent measurements (each call a
/// boxed future, on both sides of a comparison alike).
pub fn peer_caller(
    peer: Peer<RoleClient>,
    tool: &str,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send>>
+ Clone
+ Send
+ 'static {
    let tool: Arc<str> = Arc::from(tool);
    move || {
        let (peer, tool) = (peer.clone(), Arc::clone(&tool));
        Box::pin(async move { call_peer(&peer, &tool).await })
    }
}

/// A caller of the tree's tool `name` through its host API (see [`peer_caller`]).
pub fn tree_caller(
    tree: Tree,
    name: Arc<str>,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send>>
+ Clone
+ Send
+ 'static {
    move || {
        let (tree, name) = (tree.clone(), Arc::clone(&name));
        Box::pin(async move { call_tree(&tree, &name).await })
    }
}

/// Calls `tool` through the tree's host API and checks that it answered; one unit.
pub async fn call_tree(tree: &Tree, tool: &str) -> anyhow::Result<u64> {
    let result = tree.call_tool(tool, None).await?;
    if result.is_error == Some(true) {
        bail!("'{tool}' answered with a tool error: {result:?}");
    }
    Ok(1)
}

/// A tree whose only leaf, `leaf`, sits at in-process depth `depth` under the root.
pub async fn tree_at_depth(depth: usize, leaf: Node) -> anyhow::Result<Tree> {
    let mut node = leaf;
    for level in (1..depth).rev() {
        node = Node::new(format!("n{level}")).child(node);
    }
    Ok(Tree::builder(Node::new("hub").child(node)).build().await?)
}

/// The exposed name of the tree's tool whose name ends with `tool`.
pub fn exposed(tree: &Tree, tool: &str) -> anyhow::Result<Arc<str>> {
    let tools = tree.tools();
    match tools.iter().find(|t| t.name.ends_with(tool)) {
        Some(found) => Ok(Arc::from(found.name.as_ref())),
        None if tools.len() == 1 => Ok(Arc::from(tools[0].name.as_ref())),
        None => bail!(
            "the tree exposes no '{tool}' (it has {:?})",
            tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>()
        ),
    }
}

/// The `leaf_server` example run as a Streamable HTTP server on a free local port; killed
/// when dropped.
#[derive(Debug)]
pub struct HttpLeafProcess {
    /// Its endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    _child: tokio::process::Child,
}

impl HttpLeafProcess {
    /// Starts the binary `leaf` serving its demo server `server`, and waits (20 s at most)
    /// until it says where it listens.
    pub async fn start(leaf: &Path, server: &str) -> anyhow::Result<Self> {
        let mut child = tokio::process::Command::new(leaf)
            .args([server, "--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", leaf.display()))?;
        let stderr = child.stderr.take().context("the leaf's stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("serving on ") {
                    return anyhow::Ok(rest.trim().to_owned());
                }
            }
            bail!("the HTTP leaf exited before it listened")
        })
        .await
        .context("the HTTP leaf did not start listening within 20 s")??;
        // Keep draining its stderr so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { url, _child: child })
    }
}

/// The revision Canopy's links negotiate with a child that supports it (2026-07-28, through
/// `server/discover`): the bare clients use it too, so both sides speak the same protocol.
pub fn discover() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    }
}

/// A bare rmcp client of a stdio child (rmcp's pipe transport), the same way Canopy
/// launches its children.
pub async fn stdio_client(
    leaf: &Path,
    server: &str,
) -> anyhow::Result<RunningService<RoleClient, ()>> {
    let mut command = tokio::process::Command::new(leaf);
    command.arg(server).kill_on_drop(true);
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", leaf.display()))?;
    Ok(().serve_with_lifecycle(transport, discover()).await?)
}

/// A bare rmcp Streamable HTTP client with keep-alive and `TCP_NODELAY`.
pub async fn http_client(
    url: &str,
    lifecycle: ClientLifecycleMode,
) -> anyhow::Result<RunningService<RoleClient, ()>> {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?;
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    let transport = StreamableHttpClientTransport::with_client(client, config);
    Ok(().serve_with_lifecycle(transport, lifecycle).await?)
}

/// An in-process Streamable HTTP server (rmcp's service under axum at `/mcp`) on a free local
/// port, with `TCP_NODELAY` on every connection; stops when dropped.
#[derive(Debug)]
pub struct HttpServer {
    /// Its endpoint.
    pub url: String,
    stop: CancellationToken,
}

impl HttpServer {
    /// Serves a clone of `handler` to each session.
    pub async fn start<H: ServerHandler + Clone>(handler: H) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let local = listener.local_addr()?;
        // Without it, a response written in two parts waits for the client's delayed ACK
        // (~40 ms on Linux) whenever the client keeps its connection alive.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let stop = CancellationToken::new();
        let config =
            StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
        let service = StreamableHttpService::new(
            move || Ok(handler.clone()),
            LocalSessionManager::default().into(),
            config,
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
        });
        Ok(Self {
            url: format!("http://{local}/mcp"),
            stop,
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
