//! The whole tree: serving it over Streamable HTTP, progress from depth, listing 1,000 leaves
//! and building 10,000 nodes — `canopy bench`'s scenarios 7-10 as criterion benchmarks, each
//! next to its baseline (criterion runs one after the other; `canopy bench` interleaves the
//! two sides and prints the ratios).
//!
//! - `serve_http/{bare,canopy}`: 64 concurrent callers over Streamable HTTP (sessions,
//!   2025-11-25) against a bare rmcp server with the `echo` tool, and against the tree (an
//!   in-process leaf) served the way `canopy serve --http` serves it. Time per call at 64
//!   concurrent, i.e. the inverse of throughput.
//! - `progress/depth/{1,8}`: a call of `tick`, which sends 200 progress notifications, every
//!   event read; throughput is events per second.
//! - `tools_list/{single_server,canopy}`: every page of `tools/list` of 1,000 tools, from one
//!   server and from a tree of 1,000 leaves through its MCP face.
//! - `build/10000_nodes`: building a tree of a root, 99 routers and 9,900 leaves. (Its memory
//!   per node is measured by `canopy bench`, whose binary counts allocated bytes.)
//!
//! Run: `cargo bench --bench tree`

use std::hint::black_box;

use canopy::node::{Node, Tree};
use criterion::{BenchmarkId, Criterion, Throughput};
use rmcp::service::ClientLifecycleMode;
use tokio::runtime::Runtime;

mod common;

use canopy_bench::fixtures::{
    Echo, FOREST_TOOLS, HttpServer, Leaf, Listing, TICKS, exposed, forest, http_client,
    peer_caller, ticks, tree_at_depth,
};
use common::concurrently;

fn bench_serve_http(c: &mut Criterion, rt: &Runtime) {
    let (bare_server, canopy_server, tree, bare, served, name) = rt.block_on(async {
        let bare_server = HttpServer::start(Echo::new())
            .await
            .expect("the bare server listens");
        let tree = tree_at_depth(1, Node::server("leaf", Echo::new()))
            .await
            .expect("the tree builds");
        let name = exposed(&tree, "echo").expect("the tree exposes echo");
        let canopy_server = HttpServer::start(tree.server())
            .await
            .expect("the served tree listens");
        let bare = http_client(&bare_server.url, ClientLifecycleMode::Initialize)
            .await
            .expect("the client connects to the bare server");
        let served = http_client(&canopy_server.url, ClientLifecycleMode::Initialize)
            .await
            .expect("the client connects to the served tree");
        (bare_server, canopy_server, tree, bare, served, name)
    });
    let mut group = c.benchmark_group("serve_http");
    group.throughput(Throughput::Elements(1));
    let bare_call = peer_caller(bare.peer().clone(), "echo");
    group.bench_function("bare", |b| {
        b.to_async(rt)
            .iter_custom(|iters| concurrently(iters, bare_call.clone()));
    });
    let served_call = peer_caller(served.peer().clone(), &name);
    group.bench_function("canopy", |b| {
        b.to_async(rt)
            .iter_custom(|iters| concurrently(iters, served_call.clone()));
    });
    group.finish();
    rt.block_on(async move {
        // Close the sessions before the servers stop.
        let _ = bare.cancel().await;
        let _ = served.cancel().await;
        drop((bare_server, canopy_server));
        tree.shutdown().await;
    });
}

fn bench_progress(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("progress");
    group.throughput(Throughput::Elements(TICKS));
    for depth in [1, 8] {
        let tree = rt
            .block_on(tree_at_depth(depth, Node::server("leaf", Leaf::ticker())))
            .expect("the tree builds");
        let name = exposed(&tree, "tick").expect("the tree exposes tick");
        group.bench_with_input(BenchmarkId::new("depth", depth), &name, |b, name| {
            b.to_async(rt).iter(|| async {
                black_box(
                    ticks(&tree, name, TICKS)
                        .await
                        .expect("every progress event arrives"),
                )
            });
        });
        rt.block_on(tree.shutdown());
    }
    group.finish();
}

fn bench_tools_list(c: &mut Criterion, rt: &Runtime) {
    let listing = rt
        .block_on(Listing::new(1_000))
        .expect("both sides list every tool");
    let mut group = c.benchmark_group("tools_list");
    for (id, client) in [
        ("single_server", &listing.single),
        ("canopy", &listing.served),
    ] {
        group.bench_function(id, |b| {
            b.to_async(rt)
                .iter(|| async { black_box(client.peer().list_all_tools().await) });
        });
    }
    group.finish();
    rt.block_on(listing.tree.shutdown());
}

fn bench_build(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("10000_nodes", |b| {
        b.to_async(rt).iter(|| async {
            let tree = Tree::builder(forest())
                .build()
                .await
                .expect("the tree builds");
            assert_eq!(
                tree.tools().len(),
                FOREST_TOOLS,
                "every leaf's tool is exposed"
            );
            tree.shutdown().await;
        });
    });
    group.finish();
}

fn main() {
    let rt = common::runtime();
    let mut c = common::criterion(30).configure_from_args();
    bench_serve_http(&mut c, &rt);
    bench_progress(&mut c, &rt);
    bench_tools_list(&mut c, &rt);
    bench_build(&mut c, &rt);
    c.final_summary();
}
