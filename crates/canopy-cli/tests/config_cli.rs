//! `canopy config claude TREE [--write]`: the Claude Desktop entry with absolute paths, and
//! its merge into a config file that keeps everything else.

mod common;

use std::path::{Path, PathBuf};

use common::{canopy_binary, run, stderr, stdout};
use serde_json::{Value, json};

/// The entry `canopy config claude` must produce for `tree`.
fn expected_entry(tree: &Path) -> Value {
    let canopy = std::fs::canonicalize(canopy_binary()).expect("the binary exists");
    let tree = std::fs::canonicalize(tree).expect("the tree exists");
    json!({
        "command": canopy.display().to_string(),
        "args": ["serve", tree.display().to_string()],
    })
}

/// A tree file named `hub` in a temporary folder, given by a relative path.
fn tree_in(dir: &Path) -> PathBuf {
    let path = dir.join("hub.toml");
    std::fs::write(&path, "name = \"hub\"\n").expect("write the tree");
    path
}

fn write_config(config: &Path, tree: &Path, extra: &[&str]) -> std::process::Output {
    let config = config.display().to_string();
    let tree = tree.display().to_string();
    let mut args = vec!["config", "claude", &tree, "--write", "--config", &config];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn prints_the_entry_with_absolute_paths_named_after_the_root() {
    let demo = common::tree("demo.toml");
    let output = run(&["config", "claude", &demo.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(
        printed,
        json!({"mcpServers": {"hub": expected_entry(&demo)}})
    );
}

#[test]
fn a_relative_tree_path_becomes_absolute() {
    let dir = tempfile::tempdir().expect("temp dir");
    tree_in(dir.path());
    let output = common::canopy(&["config", "claude", "hub.toml"])
        .current_dir(dir.path())
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let args = &printed["mcpServers"]["hub"]["args"];
    assert_eq!(args, &expected_entry(&dir.path().join("hub.toml"))["args"]);
    assert!(
        Path::new(args[1].as_str().expect("a path")).is_absolute(),
        "{args}"
    );
}

#[test]
fn write_creates_the_file_and_its_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = tree_in(dir.path());
    let config = dir.path().join("Claude/claude_desktop_config.json");
    let output = write_config(&config, &tree, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("added the entry 'hub'"),
        "{}",
        stdout(&output)
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&config).expect("written")).expect("JSON");
    assert_eq!(
        written,
        json!({"mcpServers": {"hub": expected_entry(&tree)}})
    );
}

#[test]
fn write_keeps_every_other_entry_and_key_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = tree_in(dir.path());
    let config = dir.path().join("claude_desktop_config.json");
    let before = r#"{
  "theme": "dark",
  "mcpServers": {
    "zeta": {"command": "/usr/bin/zeta", "args": ["--fast"], "env": {"B": "2", "A": "1"}},
    "alpha": {"command": "alpha"}
  },
  "globalShortcut": "Ctrl+Space"
}"#;
    std::fs::write(&config, before).expect("write the config");
    let output = write_config(&config, &tree, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = std::fs::read_to_string(&config).expect("read back");
    let value: Value = serde_json::from_str(&after).expect("JSON");
    let mut expected: Value = serde_json::from_str(before).expect("JSON");
    expected["mcpServers"]["hub"] = expected_entry(&tree);
    assert_eq!(value, expected);
    // The order of keys is the file's own, with the new entry last.
    let order: Vec<usize> = [
        "\"theme\"",
        "\"mcpServers\"",
        "\"zeta\"",
        "\"B\"",
        "\"A\"",
        "\"alpha\"",
        "\"hub\"",
        "\"globalShortcut\"",
    ]
    .iter()
    .map(|key| {
        after
            .find(key)
            .unwrap_or_else(|| panic!("{key} missing: {after}"))
    })
    .collect();
    assert!(order.is_sorted(), "keys moved: {after}");

    // Writing the same entry again changes nothing.
    let output = write_config(&config, &tree, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("the entry 'hub' is already there, unchanged"),
        "{}",
        stdout(&output)
    );
    assert_eq!(std::fs::read_to_string(&config).expect("read"), after);
}

#[test]
fn a_different_entry_of_the_same_name_needs_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = tree_in(dir.path());
    let config = dir.path().join("claude_desktop_config.json");
    let before = r#"{"mcpServers": {"hub": {"command": "/opt/other/canopy", "args": ["serve", "/elsewhere.toml"]}}}"#;
    std::fs::write(&config, before).expect("write the config");

    let output = write_config(&config, &tree, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("already has a different entry 'hub'"),
        "{message}"
    );
    assert!(message.contains("/opt/other/canopy"), "{message}");
    assert!(message.contains("Pass --force to replace it"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        before,
        "untouched"
    );

    let output = write_config(&config, &tree, &["--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("replaced the entry 'hub'"),
        "{}",
        stdout(&output)
    );
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(&config).expect("read")).expect("JSON");
    assert_eq!(value, json!({"mcpServers": {"hub": expected_entry(&tree)}}));
}

#[test]
fn a_config_that_is_not_json_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = tree_in(dir.path());
    let config = dir.path().join("claude_desktop_config.json");
    std::fs::write(&config, "{ not json").expect("write");
    let output = write_config(&config, &tree, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not valid JSON"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        "{ not json"
    );
}

#[test]
fn a_bad_tree_file_is_a_usage_error() {
    let bad = common::tree("bad.toml");
    let output = run(&["config", "claude", &bad.display().to_string()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("bad.toml:"), "{}", stderr(&output));
}
