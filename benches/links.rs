//! Cross-process links: what it costs to call a tool of a stdio or Streamable HTTP child
//! through a Canopy tree, against a bare rmcp client of the same child.
//!
//! Scenarios, all measured in the same run and process, sequential calls of the `lab` demo
//! server's `was_cancelled` (the `leaf_server` example, built first):
//!
//! - `links/stdio/{bare,canopy}`: a bare rmcp client over rmcp's child-process pipes, and
//!   `Tree::call_tool` on a tree whose child is the same server over stdio.
//! - `links/http/{bare,canopy}`: a bare rmcp Streamable HTTP client (reqwest configured as
//!   Canopy's links are: keep-alive, `TCP_NODELAY`), and the tree with the same server as an
//!   HTTP child.
//!
//! Both sides negotiate 2026-07-28 (`server/discover`), as Canopy's links do. The same
//! scenarios, concurrent ones included, run in `canopy bench`.
//!
//! Run: `cargo bench --bench links`

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use canopy::node::{HttpSpec, Node, StdioSpec, Tree};
use criterion::Criterion;
use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, CallToolResponse, ProtocolVersion},
    service::{ClientLifecycleMode, ClientServiceExt, RunningService},
    transport::{
        StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::{io::AsyncBufReadExt, runtime::Runtime};

const SERVER: &str = "lab";
const TOOL: &str = "was_cancelled";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the `leaf_server` example in this bench's own profile (release under `cargo bench`,
/// debug when `cargo test --all-targets` runs the bench once) and returns its path.
fn leaf_server() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().expect("the bench's own path");
    let release = exe.components().any(|part| part.as_os_str() == "release");
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args([
        "build",
        "--quiet",
        "-p",
        "canopy",
        "--example",
        "leaf_server",
    ]);
    if release {
        build.arg("--release");
    }
    let status = build.current_dir(workspace).status().expect("cargo runs");
    assert!(status.success(), "building the leaf_server example failed");
    let mut dir = exe.parent().expect("target/<profile>/deps").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let leaf = dir.join("examples").join("leaf_server");
    assert!(leaf.is_file(), "no leaf_server at {}", leaf.display());
    leaf
}

fn discover() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

async fn bare_stdio(leaf: &Path) -> Result<RunningService<RoleClient, ()>, BoxError> {
    let mut command = tokio::process::Command::new(leaf);
    command.arg(SERVER).kill_on_drop(true);
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()?;
    Ok(().serve_with_lifecycle(transport, discover()).await?)
}

/// `leaf_server lab --http 127.0.0.1:0`, and its URL once it listens.
async fn http_leaf(leaf: &Path) -> Result<(tokio::process::Child, String), BoxError> {
    let mut child = tokio::process::Command::new(leaf)
        .args([SERVER, "--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.strip_prefix("serving on ") {
            let url = url.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((child, url));
        }
    }
    Err("the HTTP leaf exited before it listened".into())
}

async fn tree_with(child: Node) -> Result<(Tree, String), BoxError> {
    let tree = Tree::builder(Node::new("hub").child(child)).build().await?;
    let name = tree
        .tools()
        .iter()
        .find(|t| t.name.ends_with(TOOL))
        .map(|t| t.name.to_string())
        .ok_or("the tree does not expose the leaf's tool")?;
    Ok((tree, name))
}

async fn call_bare(client: &RunningService<RoleClient, ()>) -> CallToolResponse {
    client
        .peer()
        .call_tool_once(CallToolRequestParams::new(TOOL))
        .await
        .expect("the bare call answers")
}

fn bench_pair(
    c: &mut Criterion,
    rt: &Runtime,
    group: &str,
    bare: &RunningService<RoleClient, ()>,
    tree: &Tree,
    name: &str,
) {
    let mut group = c.benchmark_group(group);
    group.bench_function("bare", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(call_bare(bare).await) });
    });
    group.bench_function("canopy", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(tree.call_tool(name, None).await) });
    });
    group.finish();
}

fn main() {
    let leaf = leaf_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50)
        .without_plots()
        .configure_from_args();

    let (bare, tree, name) = rt.block_on(async {
        let bare = bare_stdio(&leaf)
            .await
            .expect("the bare stdio client connects");
        let spec = StdioSpec::new(leaf.to_string_lossy()).args([SERVER]);
        let (tree, name) = tree_with(Node::stdio("leaf", spec))
            .await
            .expect("the stdio tree builds");
        (bare, tree, name)
    });
    bench_pair(&mut c, &rt, "links/stdio", &bare, &tree, &name);
    rt.block_on(async move {
        tree.shutdown().await;
        let _ = bare.cancel().await;
    });

    let (process, bare, tree, name) = rt.block_on(async {
        let (process, url) = http_leaf(&leaf).await.expect("the HTTP leaf listens");
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .expect("the HTTP client builds");
        let config = StreamableHttpClientTransportConfig::with_uri(url.clone());
        let transport = StreamableHttpClientTransport::with_client(client, config);
        let bare =
            ().serve_with_lifecycle(transport, discover())
                .await
                .expect("the bare HTTP client connects");
        let (tree, name) = tree_with(Node::http("leaf", HttpSpec::new(url)))
            .await
            .expect("the HTTP tree builds");
        (process, bare, tree, name)
    });
    bench_pair(&mut c, &rt, "links/http", &bare, &tree, &name);
    rt.block_on(async move {
        tree.shutdown().await;
        let _ = bare.cancel().await;
        drop(process);
    });
    c.final_summary();
}
