//! `canopy bench --quick --json`: one JSON object per scenario with the keys of the contract.
//! Timings are printed, never checked (the machine is shared and noisy).

mod common;

use common::{leaf_server, run, stderr, stdout};
use serde_json::Value;

const SCENARIOS: [&str; 13] = [
    "inprocess_depth1_vs_direct",
    "inprocess_depth16_vs_depth1",
    "inprocess_depth4_vs_naive_chain",
    "stdio_sequential",
    "stdio_concurrent",
    "http_sequential",
    "http_concurrent",
    "serve_http_concurrent",
    "serve_http_oauth_concurrent",
    "progress_depth8_vs_depth1",
    "tools_list_1000",
    "build_10000_time",
    "build_10000_memory",
];

#[test]
fn quick_json_has_every_scenario_with_its_keys() {
    let leaf = leaf_server().display().to_string();
    let output = run(&["bench", "--quick", "--json", "--leaf", &leaf]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, SCENARIOS);
    for row in &rows {
        for key in ["scenario", "baseline", "canopy", "ratio", "target", "pass"] {
            assert!(row.get(key).is_some(), "no '{key}' in {row}");
        }
        assert!(row["scenario"].is_string(), "{row}");
        assert!(row["ratio"].is_number(), "{row}");
        assert!(row["pass"].is_boolean(), "{row}");
        let target = row["target"].as_str().unwrap_or_default();
        assert!(
            target.starts_with("<= ") || target.starts_with(">= ") || target.starts_with("< "),
            "{row}"
        );
    }
    let sweep = &rows[2]["series"];
    assert!(
        sweep["canopy"].as_array().is_some_and(|s| s.len() == 5),
        "{sweep}"
    );
    assert!(
        sweep["naive_chain"]
            .as_array()
            .is_some_and(|s| s.len() == 4),
        "{sweep}"
    );
    // Progress goes to stderr, one line per step.
    assert!(
        stderr(&output).contains("canopy bench: [1/10]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn only_runs_the_named_scenarios_and_counts_just_their_steps() {
    let leaf = leaf_server().display().to_string();
    let output = run(&[
        "bench",
        "--quick",
        "--json",
        "--leaf",
        &leaf,
        "--only",
        "tools_list_1000",
        "--only",
        "serve_http_oauth_concurrent",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    // In the table's order, whatever the order of the flags.
    assert_eq!(ids, ["serve_http_oauth_concurrent", "tools_list_1000"]);
    let progress = stderr(&output);
    assert!(progress.contains("canopy bench: [1/2]"), "{progress}");
    assert!(progress.contains("canopy bench: [2/2]"), "{progress}");
    assert!(!progress.contains("[3/"), "{progress}");
}

#[test]
fn an_unknown_only_id_is_a_usage_error() {
    let output = run(&["bench", "--quick", "--only", "no_such_scenario"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no_such_scenario"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_leaf_is_a_usage_error() {
    let output = run(&["bench", "--quick", "--leaf", "/nonexistent/leaf_server"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--leaf"), "{}", stderr(&output));
}
