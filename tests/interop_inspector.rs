//! The MCP Inspector CLI (`@modelcontextprotocol/inspector`, Node 22) against the served
//! tree over stdio: `--method tools/list` and `--method tools/call`.
//!
//! Needs `CANOPY_INSPECTOR` and `CANOPY_NODE_BIN`: `scripts/test.sh` installs both.

mod common;

use std::process::Command;

use serde_json::Value;

fn inspector(args: &[&str]) -> Value {
    let inspector = std::env::var("CANOPY_INSPECTOR")
        .unwrap_or_else(|_| panic!("CANOPY_INSPECTOR is not set: run the tests with scripts/test.sh, which installs the MCP Inspector"));
    let node_bin = std::env::var("CANOPY_NODE_BIN")
        .unwrap_or_else(|_| panic!("CANOPY_NODE_BIN is not set: run scripts/test.sh"));
    let path = format!("{node_bin}:{}", std::env::var("PATH").unwrap_or_default());
    let output = Command::new(inspector)
        .env("PATH", path)
        .arg("--cli")
        .arg(common::example_binary("serve_tree"))
        .args(args)
        .output()
        .expect("the inspector runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "inspector failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspector printed no JSON ({e}): {stdout}"))
}

#[test]
fn inspector_lists_the_tree_tools() {
    let listed = inspector(&["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names.len(), 15, "{names:?}");
    assert!(names.contains(&"research__lab__crunch__analyze"));
    assert!(
        !names.contains(&"faulty__broken"),
        "denied tools are hidden"
    );
}

#[test]
fn inspector_calls_a_tool_through_the_tree() {
    let result = inspector(&[
        "--method",
        "tools/call",
        "--tool-name",
        "research__web__search",
        "--tool-arg",
        "query=trees",
    ]);
    assert_eq!(result["content"][0]["text"], "https://example.org/trees");
    assert_eq!(result["isError"], false);
    let result = inspector(&[
        "--method",
        "tools/call",
        "--tool-name",
        "research__lab__crunch__analyze",
        "--tool-arg",
        "steps=3",
    ]);
    assert_eq!(
        result["content"][0]["text"],
        "analysis complete after 3 steps"
    );
}
