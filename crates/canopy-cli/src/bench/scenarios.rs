//! The scenarios of `canopy bench`, each with its baseline measured in the same run.

use std::{path::Path, sync::Arc, time::Instant};

use anyhow::{Context as _, bail};
use canopy_bench::fixtures::{
    CONCURRENCY, DirectLeaf, Echo, FOREST_NODES, FOREST_TOOLS, HttpLeafProcess, HttpServer,
    LEAF_SERVER, LEAF_TOOL, Leaf, Listing, NaiveChain, TICKS, call_peer, call_tree, discover,
    exposed, forest, http_client, peer_caller, stdio_client, ticks, tree_at_depth, tree_caller,
};
use canopy_node::{HttpOptions, HttpSpec, Node, StdioSpec, Tree, auth::OAuthResource};
use rmcp::service::ClientLifecycleMode;
use serde_json::json;

use super::{
    Basis, Measure, Row, Rule, alloc,
    measure::{Budget, compare_concurrent, compare_sequential, measure_sequential},
};

/// In-process calls averaged into one latency sample.
const IN_PROCESS_BATCH: usize = 64;
/// Depths of the chart's sweep.
const CANOPY_DEPTHS: [usize; 5] = [1, 2, 4, 8, 16];
const NAIVE_DEPTHS: [usize; 4] = [1, 2, 4, 8];

fn latency_row(
    id: &'static str,
    scenario: &str,
    names: (&str, &str),
    stats: (super::measure::Stats, super::measure::Stats),
    rule: Rule,
) -> Row {
    Row::new(id, scenario, names, stats, Basis::P50, rule)
}

/// Scenario 1: In-process depth 1 against a direct call of the leaf's handler.
pub(crate) async fn depth1_vs_direct(budget: Budget) -> anyhow::Result<Row> {
    let direct = DirectLeaf::new().await?;
    let tree = tree_at_depth(1, Node::server("leaf", Echo::new())).await?;
    let name = exposed(&tree, "echo")?;
    let (direct_ref, tree_ref, name_ref) = (&direct, &tree, &*name);
    let stats = compare_sequential(
        budget,
        IN_PROCESS_BATCH,
        move || direct_ref.call(),
        move || call_tree(tree_ref, name_ref),
    )
    .await?;
    tree.shutdown().await;
    Ok(latency_row(
        "inprocess_depth1_vs_direct",
        "in-process call, depth 1 vs direct handler call",
        ("direct handler call", "Canopy depth 1"),
        stats,
        Rule::AtMost(2.0),
    ))
}

/// Scenario 2: In-process depth 16 against depth 1.
pub(crate) async fn depth16_vs_depth1(budget: Budget) -> anyhow::Result<Row> {
    let shallow = tree_at_depth(1, Node::server("leaf", Echo::new())).await?;
    let deep = tree_at_depth(16, Node::server("leaf", Echo::new())).await?;
    let (shallow_name, deep_name) = (exposed(&shallow, "echo")?, exposed(&deep, "echo")?);
    let (s, d, sn, dn) = (&shallow, &deep, &*shallow_name, &*deep_name);
    let stats = compare_sequential(
        budget,
        IN_PROCESS_BATCH,
        move || call_tree(s, sn),
        move || call_tree(d, dn),
    )
    .await?;
    shallow.shutdown().await;
    deep.shutdown().await;
    Ok(latency_row(
        "inprocess_depth16_vs_depth1",
        "in-process call, depth 16 vs depth 1",
        ("Canopy depth 1", "Canopy depth 16"),
        stats,
        Rule::AtMost(1.3),
    ))
}

/// Scenario 3: In-process depth 4 against a chain of 4 naive rmcp proxies over JSON duplexes, plus
/// the depth sweep the chart draws.
pub(crate) async fn depth4_vs_naive(budget: Budget) -> anyhow::Result<Row> {
    let chain = NaiveChain::new(4).await?;
    let tree = tree_at_depth(4, Node::server("leaf", Echo::new())).await?;
    let name = exposed(&tree, "echo")?;
    let (c, t, n) = (&chain, &tree, &*name);
    let stats = compare_sequential(budget, 1, move || c.call(), move || call_tree(t, n)).await?;
    tree.shutdown().await;
    drop(chain);
    let sweep = Budget {
        rounds: 1,
        ..budget
    };
    let mut canopy_series = Vec::new();
    for depth in CANOPY_DEPTHS {
        let tree = tree_at_depth(depth, Node::server("leaf", Echo::new())).await?;
        let name = exposed(&tree, "echo")?;
        let (t, n) = (&tree, &*name);
        let s = measure_sequential(sweep, IN_PROCESS_BATCH, move || call_tree(t, n)).await?;
        canopy_series.push(json!({"depth": depth, "p50_ns": s.p50_ns, "p99_ns": s.p99_ns}));
        tree.shutdown().await;
    }
    let mut naive_series = Vec::new();
    for depth in NAIVE_DEPTHS {
        let chain = NaiveChain::new(depth).await?;
        let c = &chain;
        let s = measure_sequential(sweep, 1, move || c.call()).await?;
        naive_series.push(json!({"depth": depth, "p50_ns": s.p50_ns, "p99_ns": s.p99_ns}));
    }
    let mut row = latency_row(
        "inprocess_depth4_vs_naive_chain",
        "in-process depth 4 vs naive rmcp proxy chain of 4",
        ("naive chain depth 4", "Canopy depth 4"),
        stats,
        Rule::AtMost(0.1),
    );
    row.extra.push((
        "series",
        json!({"canopy": canopy_series, "naive_chain": naive_series}),
    ));
    Ok(row)
}

/// How the root reaches the leaf process of scenarios 4-6.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Link {
    /// Scenarios 4 and 5: a stdio child.
    Stdio,
    /// Scenario 6: a Streamable HTTP child.
    Http,
}

impl Link {
    /// The ids of its sequential and concurrent rows.
    fn ids(self) -> [&'static str; 2] {
        match self {
            Self::Stdio => ["stdio_sequential", "stdio_concurrent"],
            Self::Http => ["http_sequential", "http_concurrent"],
        }
    }

    /// Its name in the rows' words.
    fn label(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::Http => "HTTP",
        }
    }
}

/// Scenarios 4 to 6: the root calling the `leaf_server` example over `link` against a bare
/// rmcp client of the same leaf (rmcp's pipe transport, or its Streamable HTTP client),
/// sequential and concurrent.
pub(crate) async fn leaf_link(budget: Budget, leaf: &Path, link: Link) -> anyhow::Result<[Row; 2]> {
    // The only difference: how the leaf starts, and how both sides reach it.
    let (process, bare, node) = match link {
        Link::Stdio => {
            let bare = stdio_client(leaf, LEAF_SERVER).await?;
            let spec = StdioSpec::new(leaf.to_string_lossy()).args([LEAF_SERVER]);
            (None, bare, Node::stdio("leaf", spec))
        }
        Link::Http => {
            let process = HttpLeafProcess::start(leaf, LEAF_SERVER).await?;
            let bare = http_client(&process.url, discover()).await?;
            let node = Node::http("leaf", HttpSpec::new(process.url.clone()));
            (Some(process), bare, node)
        }
    };
    let tree = tree_at_depth(1, node).await?;
    let name = exposed(&tree, LEAF_TOOL)?;
    let peer = bare.peer().clone();
    let sequential = {
        let (p, t, n) = (&peer, &tree, &*name);
        compare_sequential(
            budget,
            1,
            move || call_peer(p, LEAF_TOOL),
            move || call_tree(t, n),
        )
        .await?
    };
    let concurrent = compare_concurrent(
        budget,
        CONCURRENCY,
        peer_caller(peer, LEAF_TOOL),
        tree_caller(tree.clone(), Arc::clone(&name)),
    )
    .await?;
    tree.shutdown().await;
    drop(bare);
    drop(process);
    let [sequential_id, concurrent_id] = link.ids();
    let label = link.label();
    let names = (
        format!("bare rmcp client -> {label} leaf"),
        format!("Canopy root -> {label} leaf"),
    );
    let names = (names.0.as_str(), names.1.as_str());
    Ok([
        latency_row(
            sequential_id,
            &format!("root -> {label} leaf, sequential"),
            names,
            sequential,
            Rule::AtMost(1.15),
        ),
        Row::new(
            concurrent_id,
            &format!("root -> {label} leaf, {CONCURRENCY} concurrent"),
            names,
            concurrent,
            Basis::Throughput,
            Rule::AtLeast(0.8),
        ),
    ])
}

/// Scenario 7: The tree served over Streamable HTTP (what `canopy serve --http` does, in process)
/// against a bare rmcp Streamable HTTP server with the same tool.
pub(crate) async fn serve_http(budget: Budget) -> anyhow::Result<Row> {
    let bare_server = HttpServer::start(Echo::new()).await?;
    let tree = tree_at_depth(1, Node::server("leaf", Echo::new())).await?;
    let name = exposed(&tree, "echo")?;
    let canopy_server = HttpServer::start(tree.server()).await?;
    // Clients as most are in the field: `initialize`, a session, 2025-11-25.
    let bare = http_client(&bare_server.url, ClientLifecycleMode::Initialize).await?;
    let served = http_client(&canopy_server.url, ClientLifecycleMode::Initialize).await?;
    let stats = compare_concurrent(
        budget,
        CONCURRENCY,
        peer_caller(bare.peer().clone(), "echo"),
        peer_caller(served.peer().clone(), &name),
    )
    .await?;
    // Close the sessions before the servers stop.
    let _ = bare.cancel().await;
    let _ = served.cancel().await;
    drop((bare_server, canopy_server));
    tree.shutdown().await;
    Ok(Row::new(
        "serve_http_concurrent",
        &format!("canopy serve --http, in-process leaf, {CONCURRENCY} concurrent"),
        ("bare rmcp HTTP server", "Canopy tree over HTTP"),
        stats,
        Basis::Throughput,
        Rule::AtLeast(0.9),
    ))
}

/// Scenario 7b: The same served tree behind the OAuth resource server (`canopy serve --http
/// --auth-issuer …`, in process; a JWT on every request, verified once and then found in the
/// per-token cache) against it without authentication: same tree, same client, interleaved
/// rounds. A bench is not a test of an authorization server: the issuer here is a static
/// metadata document and JWKS served on loopback by this process, and the token is an ES256
/// JWT signed by `jsonwebtoken` with a P-256 key `ring` generated for the run (the tests run
/// a real one, `oidc-provider`).
pub(crate) async fn serve_http_oauth(budget: Budget) -> anyhow::Result<Row> {
    let issuer = BenchIssuer::start().await?;
    let tree = tree_at_depth(1, Node::server("leaf", Echo::new())).await?;
    let name = exposed(&tree, "echo")?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let open = tree.serve_http_with(loopback, HttpOptions::new()).await?;
    // The audience is the served URL, so the port is chosen before the server binds it.
    let port = std::net::TcpListener::bind(loopback)?.local_addr()?.port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let oauth = OAuthResource::builder(issuer.url.clone(), resource.clone())
        .scopes(["bench"])
        .discover()
        .await?;
    let guarded = tree
        .serve_http_with(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            HttpOptions::new().oauth(oauth),
        )
        .await?;
    let token = issuer.token(&resource)?;
    let open_client = http_client(&open.url(), ClientLifecycleMode::Initialize).await?;
    let guarded_client = http_client_with_token(&resource, &token).await?;
    let stats = compare_concurrent(
        budget,
        CONCURRENCY,
        peer_caller(open_client.peer().clone(), &name),
        peer_caller(guarded_client.peer().clone(), &name),
    )
    .await?;
    let _ = open_client.cancel().await;
    let _ = guarded_client.cancel().await;
    let _ = open.shutdown().await;
    let _ = guarded.shutdown().await;
    issuer.stop.cancel();
    tree.shutdown().await;
    Ok(Row::new(
        "serve_http_oauth_concurrent",
        &format!("canopy serve --http with OAuth JWT vs without, {CONCURRENCY} concurrent"),
        ("served tree, no auth", "served tree, OAuth JWT"),
        stats,
        Basis::Throughput,
        Rule::AtLeast(0.9),
    ))
}

/// The bench's stand-in issuer: RFC 8414 metadata and a JWKS of one P-256 key, on loopback.
struct BenchIssuer {
    url: String,
    key: jsonwebtoken::EncodingKey,
    stop: tokio_util::sync::CancellationToken,
}

impl BenchIssuer {
    async fn start() -> anyhow::Result<Self> {
        use base64::Engine as _;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("cannot read the P-256 key back"))?;
        // An uncompressed point: 0x04, then x and y (32 bytes each).
        let point = pair.public_key().as_ref();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwks = json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "kid": "bench", "use": "sig", "alg": "ES256",
            "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..65]),
        }]});
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let metadata = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") });
        let router = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || std::future::ready(axum::Json(metadata.clone()))),
            )
            .route(
                "/jwks",
                axum::routing::get(move || std::future::ready(axum::Json(jwks.clone()))),
            );
        let stop = tokio_util::sync::CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        Ok(Self {
            url,
            key: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
            stop,
        })
    }

    /// An access token for `resource` with the scope `bench`, valid for an hour.
    fn token(&self, resource: &str) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("bench".into());
        let claims = json!({
            "iss": self.url, "aud": resource, "sub": "bench", "client_id": "bench",
            "scope": "bench", "exp": now.as_secs() + 3600,
        });
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

/// [`http_client`] with a bearer token.
async fn http_client_with_token(
    url: &str,
    token: &str,
) -> anyhow::Result<rmcp::service::RunningService<rmcp::RoleClient, ()>> {
    use rmcp::{
        service::ClientServiceExt as _,
        transport::{
            StreamableHttpClientTransport,
            streamable_http_client::StreamableHttpClientTransportConfig,
        },
    };
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .tcp_keepalive(std::time::Duration::from_secs(30))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .build()?;
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(client, config);
    Ok(
        ().serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
            .await?,
    )
}

/// Scenario 8: Progress events per second from depth 8 against depth 1.
pub(crate) async fn progress(budget: Budget) -> anyhow::Result<Row> {
    let shallow = tree_at_depth(1, Node::server("leaf", Leaf::ticker())).await?;
    let deep = tree_at_depth(8, Node::server("leaf", Leaf::ticker())).await?;
    let (shallow_name, deep_name) = (exposed(&shallow, "tick")?, exposed(&deep, "tick")?);
    let (s, d, sn, dn) = (&shallow, &deep, &*shallow_name, &*deep_name);
    let stats = compare_sequential(
        budget,
        1,
        move || ticks(s, sn, TICKS),
        move || ticks(d, dn, TICKS),
    )
    .await?;
    shallow.shutdown().await;
    deep.shutdown().await;
    Ok(Row::new(
        "progress_depth8_vs_depth1",
        &format!("progress events ({TICKS} per call), depth 8 vs depth 1"),
        ("Canopy depth 1", "Canopy depth 8"),
        stats,
        Basis::Throughput,
        Rule::AtLeast(0.8),
    ))
}

/// Scenario 9: `tools/list` of a 1,000-leaf tree through its MCP face (all pages) against one server
/// listing 1,000 tools.
pub(crate) async fn list_1000(budget: Budget) -> anyhow::Result<Row> {
    let listing = Listing::new(1_000).await?;
    let (b, c) = (listing.single.peer(), listing.served.peer());
    let stats = compare_sequential(
        budget,
        1,
        move || async move { Ok(b.list_all_tools().await.map(|_| 1)?) },
        move || async move { Ok(c.list_all_tools().await.map(|_| 1)?) },
    )
    .await?;
    listing.tree.shutdown().await;
    Ok(latency_row(
        "tools_list_1000",
        "tools/list of 1,000 leaves (all pages, MCP face)",
        ("one server, 1,000 tools", "Canopy tree, 1,000 leaves"),
        stats,
        Rule::AtMost(1.5),
    ))
}

/// Scenario 10: Building a 10,000-node in-process tree: the time of each build, and the heap
/// the tree keeps (bytes allocated minus bytes freed during the first build, counted by the
/// binary's allocator, [`alloc`]); the growth of the resident set comes along as a second
/// opinion (`rss_growth_per_node` in the JSON).
pub(crate) async fn build_10000(budget: Budget) -> anyhow::Result<[Row; 2]> {
    let build = || async {
        // Making the nodes (the leaves' handlers too) is part of the build, as before.
        let start = Instant::now();
        let tree = Tree::builder(forest()).build().await?;
        anyhow::Ok((tree, start.elapsed()))
    };
    let rss_before = rss_bytes()?;
    let (built, heap) = alloc::measure(build()).await;
    let (tree, first) = built?;
    let rss_after = rss_bytes()?;
    let tools = tree.tools().len();
    if tools != FOREST_TOOLS {
        bail!("the 10,000-node tree exposes {tools} tools, not {FOREST_TOOLS}");
    }
    tree.shutdown().await;
    drop(tree);
    let per_node = heap.net as f64 / FOREST_NODES as f64;
    let rss_per_node = rss_after.saturating_sub(rss_before) as f64 / FOREST_NODES as f64;
    let mut times = vec![first.as_secs_f64()];
    for _ in 0..budget.rounds.max(2) {
        let (tree, took) = build().await?;
        times.push(took.as_secs_f64());
        tree.shutdown().await;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mut memory = Row::absolute(
        "build_10000_memory",
        "build a 10,000-node in-process tree: heap kept per node",
        Measure::Value {
            value: 4096.0,
            unit: "B/node",
        },
        Measure::Value {
            value: per_node,
            unit: "B/node",
        },
        Rule::Below(1.0),
    );
    memory.extra.push((
        "heap",
        json!({
            "kept_bytes": heap.net,
            "allocated_bytes": heap.allocated,
            "allocations": heap.count,
            "nodes": FOREST_NODES,
        }),
    ));
    memory
        .extra
        .push(("rss_growth_per_node", json!(rss_per_node)));
    Ok([
        Row::absolute(
            "build_10000_time",
            "build a 10,000-node in-process tree: time (median build)",
            Measure::Value {
                value: 1.0,
                unit: "s",
            },
            Measure::Value {
                value: median,
                unit: "s",
            },
            Rule::Below(1.0),
        ),
        memory,
    ])
}

/// The resident set size of this process.
fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("reading /proc/self/status (the memory scenario needs Linux)")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}
