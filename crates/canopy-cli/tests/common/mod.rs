//! Helpers shared by the `canopy` command's tests: the binary, the demo tree files, and the
//! `leaf_server` example whose processes are the trees' leaves.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, BufReader};

/// The `canopy` binary under test.
pub fn canopy_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_canopy"))
}

/// The `leaf_server` example (built first, so a test never runs a stale one).
pub fn leaf_server() -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !*built {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "canopy",
                "--example",
                "leaf_server",
            ])
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the leaf_server example failed");
        *built = true;
    }
    let path = canopy_binary()
        .parent()
        .expect("target/<profile>")
        .join("examples/leaf_server");
    assert!(
        path.exists(),
        "{} is missing after building it",
        path.display()
    );
    path
}

/// A tree file of this crate's tests.
pub fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees")
        .join(name)
}

/// `canopy ARGS` with `LEAF_SERVER` set for the tree files, stdin closed.
pub fn canopy(args: &[&str]) -> Command {
    let mut command = Command::new(canopy_binary());
    command
        .args(args)
        .env("LEAF_SERVER", leaf_server())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    command
}

/// Runs `canopy ARGS` to the end.
pub fn run(args: &[&str]) -> Output {
    canopy(args).output().expect("canopy runs")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads a child's stderr until a line containing `marker`, and returns the first
/// `http://…/mcp` URL on it. A guard (not a measurement) fails the test if the line never
/// comes.
pub async fn wait_for_url(child: &mut tokio::process::Child, marker: &str) -> String {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("stderr readable") {
            if line.contains(marker) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the server announces its address")
    .expect("the server exited before announcing its address");
    // Keep draining stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let start = found.find("http://").expect("a URL on the line");
    found[start..]
        .split_whitespace()
        .next()
        .expect("the URL")
        .to_owned()
}

/// The stdout lines as JSON events, each checked to carry `type`, `path` and `call`.
pub fn events(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
            for key in ["type", "path", "call"] {
                assert!(event.get(key).is_some(), "no '{key}' in {line}");
            }
            event
        })
        .collect()
}
