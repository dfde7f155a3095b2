//! A Python SDK client without an elicitation callback calls `ask` tools of `canopy serve
//! --http`, at 2025-11-25 and 2026-07-28: `on_unanswerable = "deny"` refuses with a message
//! that says the client cannot answer, `"allow"` lets the call go ahead unasked.
//!
//! Needs `CANOPY_PYTHON` (a Python with `mcp` installed): `scripts/test.sh` sets it up.

mod common;

use std::{path::PathBuf, process::Stdio};

const TREE: &str = r#"
name = "hub"

[policy]
ask = ["notes/write_note"]

[[children]]
name = "notes"
command = "${LEAF_SERVER}"
args = ["notes"]

[children.policy]
ask = ["read_notes"]
on_unanswerable = "allow"
"#;

fn python() -> String {
    std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh"))
}

fn run_python(mode: &str, url: &str) -> Vec<String> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/unanswerable_client.py");
    let output = std::process::Command::new(python())
        .arg(script)
        .args([mode, url])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the Python client failed ({mode}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn python_sdk_without_elicitation_at_both_revision_families() {
    let dir = std::env::temp_dir().join(format!("canopy-unanswerable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tree = dir.join("hub.toml");
    std::fs::write(&tree, TREE).expect("tree file");
    let mut canopy = tokio::process::Command::new(common::canopy_binary())
        .arg("serve")
        .arg(&tree)
        .args(["--http", "127.0.0.1:0"])
        .env("LEAF_SERVER", common::leaf_server())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy serve starts");
    let url = common::wait_for_url(&mut canopy, "http://").await;
    for (mode, protocol) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let lines = run_python(mode, &url);
        assert_eq!(
            lines,
            [
                format!("ok protocol {protocol}"),
                "ok refused".to_owned(),
                "ok allowed_unasked".to_owned(),
            ]
        );
    }
    canopy.kill().await.expect("canopy serve stops");
    let _ = std::fs::remove_dir_all(&dir);
}
