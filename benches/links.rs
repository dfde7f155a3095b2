//! Cross-process links: what it costs to call a tool of a stdio or Streamable HTTP child
//! through a Canopy tree, against a bare rmcp client of the same child.
//!
//! Scenarios, all measured in the same run and process, calls of the `lab` demo server's
//! `was_cancelled` (the `leaf_server` example, built first):
//!
//! - `links/stdio/{bare,canopy}`: a bare rmcp client over rmcp's child-process pipes, and
//!   `Tree::call_tool` on a tree whose child is the same server over stdio; sequential.
//! - `links/stdio_64/{bare,canopy}`: the same with 64 concurrent callers (time per call at
//!   that concurrency, i.e. the inverse of throughput).
//! - `links/http/{bare,canopy}` and `links/http_64/{bare,canopy}`: a bare rmcp Streamable
//!   HTTP client (reqwest configured as Canopy's links are: keep-alive, `TCP_NODELAY`), and
//!   the tree with the same server as an HTTP child; sequential, then 64 concurrent.
//!
//! Both sides negotiate 2026-07-28 (`server/discover`), as Canopy's links do. The same
//! scenarios run in `canopy bench`, which interleaves the two sides and prints the ratios.
//!
//! Run: `cargo bench --bench links`

use std::{
    hint::black_box,
    path::{Path, PathBuf},
};

use canopy::node::{HttpSpec, Node, StdioSpec, Tree};
use criterion::{Criterion, Throughput};
use rmcp::{Peer, RoleClient};
use tokio::runtime::Runtime;

mod common;

use canopy_bench::fixtures::{
    HttpLeafProcess, LEAF_SERVER, LEAF_TOOL, call_peer, call_tree, discover, exposed, http_client,
    peer_caller, stdio_client, tree_at_depth, tree_caller,
};
use common::{CONCURRENCY, concurrently};

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

/// The bare client and the tree, sequential then concurrent, as groups `{link}` and
/// `{link}_64`.
fn bench_link(c: &mut Criterion, rt: &Runtime, link: &str, bare: &Peer<RoleClient>, tree: &Tree) {
    let name = exposed(tree, LEAF_TOOL).expect("the tree exposes the leaf's tool");
    let mut group = c.benchmark_group(format!("links/{link}"));
    group.bench_function("bare", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(call_peer(bare, LEAF_TOOL).await) });
    });
    group.bench_function("canopy", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(call_tree(tree, &name).await) });
    });
    group.finish();

    let mut group = c.benchmark_group(format!("links/{link}_{CONCURRENCY}"));
    group.throughput(Throughput::Elements(1));
    let bare_call = peer_caller(bare.clone(), LEAF_TOOL);
    group.bench_function("bare", |b| {
        b.to_async(rt)
            .iter_custom(|iters| concurrently(iters, bare_call.clone()));
    });
    let tree_call = tree_caller(tree.clone(), name);
    group.bench_function("canopy", |b| {
        b.to_async(rt)
            .iter_custom(|iters| concurrently(iters, tree_call.clone()));
    });
    group.finish();
}

fn main() {
    let leaf = leaf_server();
    let rt = common::runtime();
    let mut c = common::criterion(30).configure_from_args();

    let (bare, tree) = rt.block_on(async {
        let bare = stdio_client(&leaf, LEAF_SERVER)
            .await
            .expect("the bare stdio client connects");
        let spec = StdioSpec::new(leaf.to_string_lossy()).args([LEAF_SERVER]);
        let tree = tree_at_depth(1, Node::stdio("leaf", spec))
            .await
            .expect("the stdio tree builds");
        (bare, tree)
    });
    bench_link(&mut c, &rt, "stdio", bare.peer(), &tree);
    rt.block_on(async move {
        tree.shutdown().await;
        let _ = bare.cancel().await;
    });

    let (process, bare, tree) = rt.block_on(async {
        let process = HttpLeafProcess::start(&leaf, LEAF_SERVER)
            .await
            .expect("the HTTP leaf listens");
        let bare = http_client(&process.url, discover())
            .await
            .expect("the bare HTTP client connects");
        let tree = tree_at_depth(1, Node::http("leaf", HttpSpec::new(process.url.clone())))
            .await
            .expect("the HTTP tree builds");
        (process, bare, tree)
    });
    bench_link(&mut c, &rt, "http", bare.peer(), &tree);
    rt.block_on(async move {
        tree.shutdown().await;
        let _ = bare.cancel().await;
        drop(process);
    });
    c.final_summary();
}
