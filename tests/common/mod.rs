//! Helpers shared by the facade's and the examples' integration tests: locating example
//! binaries, and (from `canopy-fixtures`) the rmcp client that records what a served tree
//! sends it.
// Each test file uses a part of it.
#![allow(dead_code, unused_imports, unreachable_pub, missing_docs)]

use std::path::PathBuf;

pub use canopy_fixtures::{Seen, TestClient, args, text};

/// The path of an example binary, built first (so a test never runs a stale one).
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building example {name} failed");
        built.push(name.to_owned());
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example binary {} is missing after building it",
        path.display()
    );
    path
}
