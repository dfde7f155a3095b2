//! The official Python MCP SDK (`mcp` 2.x) as a client of a served tree, over stdio, at
//! 2025-11-25 (initialize) and 2026-07-28 (discover): list, progress from depth 3,
//! elicitation, an `ask` policy, an unknown tool, and namespaced resources.
//!
//! Needs `CANOPY_PYTHON` (a Python with `mcp` installed): `scripts/test.sh` sets it up.

mod common;

use std::process::Command;

fn python() -> String {
    std::env::var("CANOPY_PYTHON").unwrap_or_else(|_| {
        panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh, which installs the Python MCP SDK")
    })
}

fn run_client(mode: &str) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/stdio_client.py");
    let output = Command::new(python())
        .arg(script)
        .arg(common::example_binary("serve_tree"))
        .arg(mode)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the Python client failed in mode {mode}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

const CHECKS: [&str; 6] = [
    "ok list_tools",
    "ok progress_depth_3",
    "ok elicitation",
    "ok ask_policy",
    "ok unknown_tool",
    "ok resources",
];

#[test]
fn python_sdk_client_at_2025_11_25() {
    let lines = run_client("legacy");
    assert_eq!(lines[0], "ok protocol 2025-11-25");
    assert_eq!(&lines[1..], CHECKS);
}

#[test]
fn python_sdk_client_at_2026_07_28() {
    let lines = run_client("auto");
    assert_eq!(lines[0], "ok protocol 2026-07-28");
    assert_eq!(&lines[1..], CHECKS);
}
