//! `canopy bench TREE TOOL`: a tool of the user's own tree, measured at a concurrency, with
//! latency percentiles and throughput (bounded: 50 calls). Timings are printed, never
//! checked; the counts, the keys and the shape are.

mod common;

use common::{run, stderr, stdout};
use serde_json::Value;

fn demo() -> String {
    common::tree("demo.toml").display().to_string()
}

const BUILD: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

#[test]
fn json_has_the_counts_percentiles_and_throughput() {
    let tree = demo();
    let output = run(&[
        "bench",
        &tree,
        "research__web__search",
        "--args",
        r#"{"query":"rust"}"#,
        "--concurrency",
        "4",
        "--requests",
        "50",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON object");
    assert_eq!(report["id"], "tree_tool");
    assert_eq!(report["tree"], "hub");
    assert_eq!(report["tool"], "research__web__search");
    assert_eq!(report["arguments"], serde_json::json!({"query": "rust"}));
    assert_eq!(report["concurrency"], 4);
    assert_eq!(report["requests"], 50);
    assert_eq!(report["calls"], 50);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["first_error"], Value::Null);
    assert_eq!(report["build"], BUILD);
    let latency = &report["latency_ns"];
    let at = |key: &str| {
        latency[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no latency_ns.{key} in {report}"))
    };
    assert!(at("p50") > 0.0, "{report}");
    assert!(at("p50") <= at("p90") && at("p90") <= at("p99") && at("p99") <= at("max"));
    assert!(
        report["throughput_per_s"].as_f64().is_some_and(|t| t > 0.0),
        "{report}"
    );
    assert!(
        report["wall_s"].as_f64().is_some_and(|t| t > 0.0),
        "{report}"
    );
}

#[test]
fn the_table_fits_120_columns_and_a_debug_build_says_so() {
    let tree = demo();
    let output = run(&[
        "bench",
        &tree,
        "research__lab__analyze",
        "--args",
        r#"{"steps":1,"step_ms":1}"#,
        "--requests",
        "20",
        "--concurrency",
        "2",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(
            "tree 'hub', tool research__lab__analyze: 20 calls (0 failed) at concurrency 2 in "
        ),
        "{text}"
    );
    let header: Vec<&str> = lines[1].split('|').map(str::trim).collect();
    assert_eq!(
        header,
        ["", "p50", "p90", "p99", "max", "throughput", ""],
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
    for line in &lines {
        assert!(
            line.chars().count() <= 120,
            "wider than 120 columns: {line}"
        );
    }
    assert_eq!(
        stderr(&output).contains("WARNING: this canopy is a DEBUG build"),
        cfg!(debug_assertions),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_tool_that_fails_stops_the_run_with_its_error() {
    let output = run(&["bench", &demo(), "research__web__serch", "--requests", "5"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "canopy bench: the first call of 'research__web__serch' failed: unknown tool \
             'research__web__serch'"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn tree_flags_need_a_tool_and_the_scenarios_warn_on_debug() {
    let output = run(&["bench", "--requests", "5"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    // The scenarios' run says it too, before anything else.
    let output = run(&["bench", "--quick", "--leaf", "/nonexistent/leaf_server"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).contains("Its figures are NOT meaningful"),
        cfg!(debug_assertions),
        "{}",
        stderr(&output)
    );
}
