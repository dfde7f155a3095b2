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
//! After criterion has run, a summary table compares the scenarios against the targets (the
//! Markdown table of `canopy bench`, `canopy_bench::table::markdown`).
//!
//! Run: `cargo bench --bench routing`

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    time::SystemTime,
};

use criterion::{BenchmarkId, Criterion};
use tokio::runtime::Runtime;

mod common;

use canopy_bench::{
    fixtures::{DirectLeaf, Echo, NaiveChain, call_tree, exposed, tree_at_depth},
    table::markdown,
};

/// In-process depths measured for Canopy.
const CANOPY_DEPTHS: [usize; 5] = [1, 2, 4, 8, 16];
/// Depths measured for the naive proxy chain.
const NAIVE_DEPTHS: [usize; 3] = [1, 2, 4];

fn bench_direct(c: &mut Criterion, rt: &Runtime) {
    let leaf = rt
        .block_on(DirectLeaf::new())
        .expect("the direct leaf starts");
    rt.block_on(leaf.call()).expect("the direct call answers");
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
        let tree = rt
            .block_on(tree_at_depth(
                depth,
                canopy::node::Node::server("leaf", Echo::new()),
            ))
            .expect("the Canopy tree builds");
        // Long names are shortened by the LLM-safe codec: take the name the tree exposes.
        let name = exposed(&tree, "echo").expect("the tree exposes the leaf's echo");
        rt.block_on(call_tree(&tree, &name))
            .expect("the Canopy call answers");
        group.bench_with_input(BenchmarkId::new("depth", depth), &name, |b, name| {
            b.to_async(rt)
                .iter(|| async { black_box(tree.call_tool(name, None).await) });
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
        rt.block_on(chain.call()).expect("the naive call answers");
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
    let rows: Vec<Vec<String>> = TARGETS
        .iter()
        .map(|t| {
            let baseline = mean_ns(home, t.baseline, since);
            let canopy = mean_ns(home, t.canopy, since);
            let ratio = baseline.zip(canopy).map(|(b, c)| c / b);
            vec![
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
    print!(
        "{}",
        markdown(
            &["scenario", "baseline", "canopy", "ratio", "target", "pass"],
            &rows
        )
    );
}

fn main() {
    let since = SystemTime::now();
    let home = criterion_home();
    let rt = common::runtime();
    let mut c = common::criterion(50)
        .output_directory(&home)
        .configure_from_args();
    bench_direct(&mut c, &rt);
    bench_canopy(&mut c, &rt);
    bench_naive(&mut c, &rt);
    c.final_summary();
    print_summary(&home, since);
}
