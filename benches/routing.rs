//! Routing overhead: what it costs to call an in-process tool through a Canopy tree, against
//! calling the rmcp handler directly and against a chain of naive rmcp proxies.
//!
//! Scenarios, all measured in the same run and process, on one multi-thread tokio runtime:
//!
//! - `direct/echo`: the leaf handler's `call_tool`, called directly with a real peer.
//! - `canopy/depth/N`: `Tree::call_tool` on the leaf mounted at in-process depth `N`
//!   (`N - 1` router nodes under the hub, then the server node).
//! - `naive_chain/depth/N`: an rmcp client calling through `N` naive rmcp proxies (each an
//!   rmcp server forwarding to an rmcp client) to the leaf, every link a JSON byte duplex.
//!
//! After criterion has run, a summary table compares the scenarios against the targets.
//!
//! Run: `cargo bench --bench routing`

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use canopy::node::{Node, Tree};
use criterion::{BenchmarkId, Criterion};
use futures::channel::mpsc;
use rmcp::{
    ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt,
    handler::server::router::tool::ToolRouter,
    model::{
        CallToolRequestParams, CallToolResponse, ListToolsResult, NumberOrString,
        PaginatedRequestParams, ServerCapabilities, ServerConfig,
    },
    service::{RequestContext, RunningService, RxJsonRpcMessage, TxJsonRpcMessage, serve_directly},
    tool, tool_handler, tool_router,
};
use tokio::runtime::Runtime;

/// In-process depths measured for Canopy.
const CANOPY_DEPTHS: [usize; 5] = [1, 2, 4, 8, 16];
/// Depths measured for the naive proxy chain.
const NAIVE_DEPTHS: [usize; 3] = [1, 2, 4];
/// Buffer of each in-memory byte duplex.
const DUPLEX_BUFFER: usize = 1 << 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The leaf: one tool, `echo`, returning a short text.
#[derive(Clone)]
struct Echo {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Answer with a short text")]
    async fn echo(&self) -> String {
        "echo".to_owned()
    }
}

// The stored router: the macro's default rebuilds the router on every call.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A naive proxy: an rmcp server whose `tools/list` and `tools/call` are forwarded, as they
/// are, to an rmcp client of the next server.
#[derive(Clone)]
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

/// The leaf served over a pair of channels nobody writes to, only so that a direct call has a
/// real `Peer<RoleServer>` to put in its `RequestContext`.
struct DirectLeaf {
    handler: Echo,
    peer: Peer<RoleServer>,
    _service: RunningService<RoleServer, Echo>,
    _to_server: mpsc::UnboundedSender<RxJsonRpcMessage<RoleServer>>,
    _from_server: mpsc::UnboundedReceiver<TxJsonRpcMessage<RoleServer>>,
}

impl DirectLeaf {
    fn new() -> Self {
        let handler = Echo::new();
        let (to_server, server_rx) = mpsc::unbounded();
        let (server_tx, from_server) = mpsc::unbounded();
        let service = serve_directly(handler.clone(), (server_tx, server_rx), None);
        Self {
            handler,
            peer: service.peer().clone(),
            _service: service,
            _to_server: to_server,
            _from_server: from_server,
        }
    }

    async fn call(&self) -> Result<CallToolResponse, McpError> {
        let context = RequestContext::new(NumberOrString::Number(1), self.peer.clone());
        self.handler
            .call_tool(CallToolRequestParams::new("echo"), context)
            .await
    }
}

/// A Canopy tree with the leaf at in-process depth `depth`, and the leaf tool's exposed name.
async fn canopy_tree(depth: usize) -> Result<(Tree, String), BoxError> {
    let mut node = Node::server("leaf", Echo::new());
    for level in (1..depth).rev() {
        node = Node::new(format!("n{level}")).child(node);
    }
    let tree = Tree::builder(Node::new("hub").child(node)).build().await?;
    let tools = tree.tools();
    let [tool] = tools.as_slice() else {
        return Err(format!("expected one tool, the tree exposes {}", tools.len()).into());
    };
    // Long names are shortened by the LLM-safe codec, so take the name the tree exposes.
    let exposed = tool.name.to_string();
    Ok((tree, exposed))
}

/// Serves `handler` over a fresh duplex and connects an rmcp client to it.
async fn link<H: ServerHandler>(
    handler: H,
) -> Result<
    (
        RunningService<RoleServer, H>,
        RunningService<RoleClient, ()>,
    ),
    BoxError,
> {
    let (server_io, client_io) = tokio::io::duplex(DUPLEX_BUFFER);
    let server = tokio::spawn(async move { handler.serve(server_io).await });
    let client = ().serve(client_io).await?;
    let server = server.await??;
    Ok((server, client))
}

/// A chain of `depth` naive proxies in front of the leaf; every service is kept alive.
struct NaiveChain {
    client: RunningService<RoleClient, ()>,
    _leaf: RunningService<RoleServer, Echo>,
    _proxies: Vec<RunningService<RoleServer, Proxy>>,
    _clients: Vec<RunningService<RoleClient, ()>>,
}

impl NaiveChain {
    async fn new(depth: usize) -> Result<Self, BoxError> {
        let (leaf, mut next) = link(Echo::new()).await?;
        let mut proxies = Vec::with_capacity(depth);
        let mut clients = Vec::with_capacity(depth);
        for _ in 0..depth {
            let proxy = Proxy {
                next: next.peer().clone(),
            };
            let (server, client) = link(proxy).await?;
            proxies.push(server);
            clients.push(std::mem::replace(&mut next, client));
        }
        let tools = next.peer().list_tools(None).await?;
        if tools.tools.len() != 1 || tools.tools[0].name != "echo" {
            return Err("the naive chain does not expose the leaf's 'echo'".into());
        }
        Ok(Self {
            client: next,
            _leaf: leaf,
            _proxies: proxies,
            _clients: clients,
        })
    }

    async fn call(&self) -> Result<CallToolResponse, rmcp::service::ServiceError> {
        self.client
            .peer()
            .call_tool_once(CallToolRequestParams::new("echo"))
            .await
    }
}

fn echo_text(response: &CallToolResponse) -> Option<&str> {
    match response {
        CallToolResponse::Complete(result) => result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.as_str()),
        _ => None,
    }
}

fn bench_direct(c: &mut Criterion, rt: &Runtime) {
    let leaf = rt.block_on(async { DirectLeaf::new() });
    let answer = rt.block_on(leaf.call()).expect("the direct call answers");
    assert_eq!(echo_text(&answer), Some("echo"), "the direct call echoes");
    let mut group = c.benchmark_group("direct");
    group.bench_function("echo", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(leaf.call().await) });
    });
    group.finish();
    rt.block_on(async move { drop(leaf) });
}

fn bench_canopy(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("canopy");
    for depth in CANOPY_DEPTHS {
        let (tree, exposed) = rt
            .block_on(canopy_tree(depth))
            .expect("the Canopy tree builds");
        let answer = rt
            .block_on(tree.call_tool(&exposed, None))
            .expect("the Canopy call answers");
        assert_eq!(
            echo_text(&CallToolResponse::Complete(answer)),
            Some("echo"),
            "the Canopy call echoes"
        );
        group.bench_with_input(BenchmarkId::new("depth", depth), &exposed, |b, exposed| {
            b.to_async(rt)
                .iter(|| async { black_box(tree.call_tool(exposed, None).await) });
        });
        rt.block_on(async move { drop(tree) });
    }
    group.finish();
}

fn bench_naive(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("naive_chain");
    for depth in NAIVE_DEPTHS {
        let chain = rt
            .block_on(NaiveChain::new(depth))
            .expect("the naive chain connects");
        let answer = rt.block_on(chain.call()).expect("the naive call answers");
        assert_eq!(echo_text(&answer), Some("echo"), "the naive call echoes");
        group.bench_function(BenchmarkId::new("depth", depth), |b| {
            b.to_async(rt)
                .iter(|| async { black_box(chain.call().await) });
        });
        rt.block_on(async move { drop(chain) });
    }
    group.finish();
}

/// Where criterion writes its results (set explicitly, so the summary can read them back).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// The mean time per iteration (ns) criterion estimated for `id` in this run, if it ran.
fn mean_ns(home: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let file = home.join(id).join("new").join("estimates.json");
    let fresh = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= since);
    if !fresh {
        return None;
    }
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn format_ns(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns >= 1_000.0 => format!("{:.2} µs", ns / 1_000.0),
        Some(ns) => format!("{ns:.0} ns"),
        None => "n/a".to_owned(),
    }
}

/// One target: `canopy / baseline` must be at most `max_ratio`.
struct Target {
    scenario: &'static str,
    baseline: &'static str,
    canopy: &'static str,
    max_ratio: f64,
    label: &'static str,
}

const TARGETS: [Target; 3] = [
    Target {
        scenario: "depth 16 vs depth 1",
        baseline: "canopy/depth/1",
        canopy: "canopy/depth/16",
        max_ratio: 1.3,
        label: "≤ 1.3×",
    },
    Target {
        scenario: "depth 1 vs direct call",
        baseline: "direct/echo",
        canopy: "canopy/depth/1",
        max_ratio: 2.0,
        label: "≤ 2×",
    },
    Target {
        scenario: "depth 4 vs naive chain 4",
        baseline: "naive_chain/depth/4",
        canopy: "canopy/depth/4",
        max_ratio: 0.1,
        label: "≥ 10× faster",
    },
];

fn print_summary(home: &Path, since: SystemTime) {
    println!("\nrouting summary (mean per call, this run)\n");
    let mut ids: Vec<String> = vec!["direct/echo".to_owned()];
    ids.extend(CANOPY_DEPTHS.iter().map(|d| format!("canopy/depth/{d}")));
    ids.extend(
        NAIVE_DEPTHS
            .iter()
            .map(|d| format!("naive_chain/depth/{d}")),
    );
    for id in &ids {
        println!("  {id:<22} {:>10}", format_ns(mean_ns(home, id, since)));
    }
    println!();
    let rows: Vec<[String; 6]> = TARGETS
        .iter()
        .map(|t| {
            let baseline = mean_ns(home, t.baseline, since);
            let canopy = mean_ns(home, t.canopy, since);
            let ratio = baseline.zip(canopy).map(|(b, c)| c / b);
            [
                t.scenario.to_owned(),
                format!("{} {}", t.baseline, format_ns(baseline)),
                format!("{} {}", t.canopy, format_ns(canopy)),
                ratio.map_or("n/a".to_owned(), |r| format!("{r:.3}×")),
                t.label.to_owned(),
                match ratio {
                    Some(r) if r <= t.max_ratio => "yes".to_owned(),
                    Some(_) => "NO".to_owned(),
                    None => "n/a".to_owned(),
                },
            ]
        })
        .collect();
    let header = ["scenario", "baseline", "canopy", "ratio", "target", "pass"].map(String::from);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&header);
    println!("|{}|", widths.map(|w| "-".repeat(w + 2)).join("|"));
    for row in &rows {
        line(row);
    }
}

fn main() {
    let since = SystemTime::now();
    let home = criterion_home();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50)
        .without_plots()
        .output_directory(&home)
        .configure_from_args();
    bench_direct(&mut c, &rt);
    bench_canopy(&mut c, &rt);
    bench_naive(&mut c, &rt);
    c.final_summary();
    print_summary(&home, since);
}
