//! The MCP Inspector CLI (Node 22) against `canopy-sql` serving its bundled sample database:
//! it lists the tools and runs a query, as the "done" asks.
//!
//! Needs `CANOPY_INSPECTOR` and `CANOPY_NODE_BIN`: `scripts/test.sh` installs both.

use std::process::Command;

use serde_json::Value;

fn inspector(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let inspector = std::env::var("CANOPY_INSPECTOR").unwrap_or_else(|_| {
        panic!("CANOPY_INSPECTOR is not set: run the tests with scripts/test.sh")
    });
    let node_bin = std::env::var("CANOPY_NODE_BIN")
        .unwrap_or_else(|_| panic!("CANOPY_NODE_BIN is not set: run scripts/test.sh"));
    let path = format!("{node_bin}:{}", std::env::var("PATH").unwrap_or_default());
    let output = Command::new(inspector)
        .env("PATH", path)
        .arg("--cli")
        .arg(env!("CARGO_BIN_EXE_canopy-sql"))
        .arg("--data-dir")
        .arg(data_dir)
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
fn the_inspector_lists_the_tools_and_runs_a_query() {
    let dir = std::env::temp_dir().join(format!("canopy-sql-inspector-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let listed = inspector(&dir, &["--method", "tools/list"]);
    let mut names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "describe_table",
            "explain",
            "list_tables",
            "query",
            "sample_rows"
        ]
    );
    let result = inspector(
        &dir,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "query",
            "--tool-arg",
            "sql=SELECT count(*) AS n FROM customers",
        ],
    );
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["rows"][0][0], 500, "{result}");
    let _ = std::fs::remove_dir_all(&dir);
}
