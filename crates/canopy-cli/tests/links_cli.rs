//! Children in other processes, through the `canopy` command: a child that fails to start
//! (shown `down` with its own stderr, the tree served without it; `--strict` fails),
//! lazy children (listed by `canopy tree`, callable by `canopy call`), `canopy-sql`
//! children of both revision families over stdio and HTTP (every command ends without
//! waiting on them), and the TypeScript reference server's form (as a `--json` prompt
//! event, and to Python SDK clients at 2025-06-18 and 2026-07-28).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use common::{canopy_binary, events, leaf_server, stderr, stdout};
use serde_json::Value;

/// A tree file written for one test, in a fresh directory.
fn tree_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canopy-links-cli-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write the tree file");
    path
}

/// `canopy ARGS` to the end, stdin closed, `RUST_LOG` unset, under a hang guard.
async fn canopy(args: &[&str]) -> Output {
    let child = tokio::process::Command::new(canopy_binary())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy runs");
    tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("canopy ends (hang guard)")
        .expect("canopy's output")
}

fn child_json<'a>(topology: &'a Value, name: &str) -> &'a Value {
    topology["children"]
        .as_array()
        .and_then(|children| children.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no child '{name}' in {topology}"))
}

/// A tree whose `lab` leaf is launched with a wrong argument and whose `remote` child is
/// a URL nothing listens on, beside a working `web` leaf.
fn broken_tree() -> (PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let leaf = leaf_server().display().to_string();
    let path = tree_file(
        "broken",
        &format!(
            r#"name = "hub"
[[children]]
name = "lab"
command = "{leaf}"
args = ["labb"]
[[children]]
name = "web"
command = "{leaf}"
args = ["web"]
[[children]]
name = "remote"
url = "{url}"
"#
        ),
    );
    (path, url)
}

#[tokio::test]
async fn a_child_that_fails_to_start_is_shown_down_with_its_stderr() {
    let (path, url) = broken_tree();
    let path = path.to_str().expect("utf-8");
    let text = canopy(&["tree", path]).await;
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let shown = stdout(&text);
    assert!(
        shown.contains(
            "├─ lab  [stdio, stdio, -, down]  tools=0 prompts=0 resources=0 templates=0\n\
             │     error: node 'lab' did not complete the MCP handshake:"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(
            "Error: unknown server 'labb' (web, lab, notes, faulty, dynamic, watched, witness)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("web  [stdio, stdio, 2026-07-28, healthy]  tools=2"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "error: node 'remote' did not complete the MCP handshake: nothing answers at {url}"
        )),
        "{shown}"
    );
    // stderr: one warning per down node, in words; no rmcp ERROR lines, no Debug dumps.
    let logs = stderr(&text);
    assert!(!logs.contains("ERROR"), "{logs}");
    assert!(!logs.contains("reqwest::Error {"), "{logs}");
    assert_eq!(logs.matches("WARN").count(), 2, "{logs}");
    assert!(
        logs.contains(
            "node 'remote' is down (the tree starts without it and retries it in the background)"
        ),
        "{logs}"
    );

    for format in ["json", "dot", "mermaid"] {
        let output = canopy(&["tree", path, "--format", format]).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("unknown server 'labb'"),
            "{format}: {}",
            stdout(&output)
        );
    }
    let json = canopy(&["tree", path, "--format", "json"]).await;
    let topology: Value = serde_json::from_str(&stdout(&json)).expect("json");
    assert_eq!(child_json(&topology, "lab")["health"], "down");
    assert_eq!(child_json(&topology, "remote")["health"], "down");
    assert_eq!(child_json(&topology, "web")["error"], Value::Null);

    // The rest of the tree answers; the down node's tools say why they are missing.
    let search = canopy(&["call", path, "web__search", "--args", r#"{"query":"rust"}"#]).await;
    assert_eq!(search.status.code(), Some(0), "{}", stderr(&search));
    assert_eq!(stdout(&search).trim(), "https://example.org/rust");
    let missing = canopy(&["call", path, "lab__analyze"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("unknown tool 'lab__analyze'")
            && stderr(&missing)
                .contains("node 'lab' is down: node 'lab' did not complete the MCP handshake"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn strict_fails_the_build_for_ci() {
    let (path, _) = broken_tree();
    let path = path.to_str().expect("utf-8");
    for command in [
        vec!["tree", path, "--strict"],
        vec!["call", path, "web__search", "--strict"],
        vec!["run", path, "task", "--strict"],
    ] {
        let output = canopy(&command).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{command:?}: {}",
            stderr(&output)
        );
        let logs = stderr(&output);
        assert!(
            logs.contains(&format!("{path}: cannot build the tree: node '")),
            "{command:?}: {logs}"
        );
        assert!(!logs.contains("ERROR"), "{logs}");
    }
    let output = canopy(&["tree", path, "--strict"]).await;
    assert!(
        stderr(&output).contains("its stderr ended with:\n    Error: unknown server 'labb'"),
        "{}",
        stderr(&output)
    );
    let serve = canopy(&["serve", path, "--strict"]).await;
    assert_eq!(serve.status.code(), Some(1), "{}", stderr(&serve));
}

#[tokio::test]
async fn lazy_children_are_listed_by_canopy_tree_and_callable_by_canopy_call() {
    let leaf = leaf_server().display().to_string();
    let path = tree_file(
        "lazy",
        &format!(
            r#"name = "hub"
[[children]]
name = "research"
[[children.children]]
name = "lab"
command = "{leaf}"
args = ["lab"]
start = "lazy"
"#
        ),
    );
    let path = path.to_str().expect("utf-8");
    let text = canopy(&["tree", path]).await;
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert!(
        stdout(&text).contains(
            "└─ lab  [stdio, stdio, 2026-07-28, healthy]  tools=3 prompts=0 resources=0 templates=0"
        ),
        "{}",
        stdout(&text)
    );
    let call = canopy(&[
        "call",
        path,
        "research__lab__analyze",
        "--args",
        r#"{"steps":2,"step_ms":1}"#,
    ])
    .await;
    assert_eq!(call.status.code(), Some(0), "{}", stderr(&call));
    assert_eq!(stdout(&call).trim(), "analysis complete after 2 steps");
}

/// Builds `canopy-sql` (a 2026-07-28 server that keeps a listen stream open for list
/// changes) and returns its path.
fn canopy_sql() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "canopy-sql"])
        .current_dir(&workspace)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building canopy-sql failed");
    let path = canopy_binary()
        .parent()
        .expect("target/<profile>")
        .join("canopy-sql");
    assert!(path.exists(), "{} is missing", path.display());
    path
}

#[tokio::test]
async fn canopy_sql_children_of_every_link_kind_do_not_hold_commands_up() {
    let sql = canopy_sql();
    let data = tree_file("sql-data", "")
        .parent()
        .expect("dir")
        .to_path_buf();
    let mut http = tokio::process::Command::new(&sql)
        .args(["--http", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy-sql serves HTTP");
    let url = common::wait_for_url(&mut http, "listening on").await;
    let sql = sql.display().to_string();
    let data = data.display().to_string();
    let path = tree_file(
        "sql",
        &format!(
            r#"name = "hub"
[[children]]
name = "new"
command = "{sql}"
args = ["--data-dir", "{data}"]
[[children]]
name = "old"
command = "{sql}"
args = ["--data-dir", "{data}"]
protocol = "2025-11-25"
[[children]]
name = "newhttp"
url = "{url}"
[[children]]
name = "oldhttp"
url = "{url}"
protocol = "2025-11-25"
"#
        ),
    );
    let path = path.to_str().expect("utf-8");
    let json = canopy(&["tree", path, "--format", "json"]).await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let topology: Value = serde_json::from_str(&stdout(&json)).expect("json");
    for (name, revision) in [
        ("new", "2026-07-28"),
        ("old", "2025-11-25"),
        ("newhttp", "2026-07-28"),
        ("oldhttp", "2025-11-25"),
    ] {
        assert_eq!(child_json(&topology, name)["protocol_version"], revision);
        assert_eq!(child_json(&topology, name)["health"], "healthy");
    }
    // Before the fix, closing the 2026-07-28 stdio child waited for the child, which waits
    // for its open listen stream: rmcp's warning after 3 s said so.
    for output in [
        json,
        canopy(&["call", path, "new__list_tables"]).await,
        canopy(&["call", path, "newhttp__list_tables"]).await,
    ] {
        let logs = stderr(&output);
        assert!(!logs.contains("cleanup did not complete"), "{logs}");
        assert!(!logs.contains("WARN"), "{logs}");
    }
}

fn everything_tree() -> PathBuf {
    let server = std::env::var("CANOPY_SERVER_EVERYTHING")
        .unwrap_or_else(|_| panic!("CANOPY_SERVER_EVERYTHING is not set: run scripts/test.sh"));
    let node_bin = std::env::var("CANOPY_NODE_BIN")
        .unwrap_or_else(|_| panic!("CANOPY_NODE_BIN is not set: run scripts/test.sh"));
    let path = format!("{node_bin}:{}", std::env::var("PATH").unwrap_or_default());
    tree_file(
        "everything",
        &format!(
            r#"name = "hub"
[[children]]
name = "ts"
[[children.children]]
name = "everything"
command = "{server}"
env = {{ PATH = "{path}" }}
"#
        ),
    )
}

#[tokio::test]
async fn canopy_call_shows_the_everything_servers_form() {
    let path = everything_tree();
    let path = path.to_str().expect("utf-8");
    let output = canopy(&[
        "call",
        path,
        "ts__everything__trigger-elicitation-request",
        "--json",
    ])
    .await;
    let lines = events(&output);
    let prompt = lines
        .iter()
        .find(|e| e["type"] == "prompt")
        .unwrap_or_else(|| panic!("no prompt event in {lines:?}"));
    assert_eq!(prompt["kind"], "input");
    assert_eq!(prompt["path"], "ts/everything");
    assert_eq!(
        prompt["message"],
        "Please provide inputs for the following fields:"
    );
    let properties = prompt["schema"]["properties"].as_object().expect("fields");
    assert_eq!(properties.len(), 13, "{properties:?}");
    assert_eq!(properties["homepage"]["format"], "uri");
    assert_eq!(properties["number"]["minimum"], 0.0);
    assert_eq!(properties["legacyTitledEnum"]["enumNames"][0], "Cats");
    assert_eq!(
        properties["titledMultipleSelectEnum"]["items"]["anyOf"][2]["title"],
        "Trout"
    );
    // Nobody at a terminal: the request is cancelled with a note saying so (not silently).
    assert!(
        stderr(&output).contains("no terminal to answer an information request"),
        "{}",
        stderr(&output)
    );
}

fn python_client(revision: &str) -> Vec<String> {
    let python = std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run scripts/test.sh"));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/everything_client.py");
    let tree = everything_tree();
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(revision)
        .arg("--")
        .arg(canopy_binary())
        .arg("serve")
        .arg(tree)
        .output()
        .expect("python runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the Python client at {revision} failed:\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out.lines().map(str::to_owned).collect()
}

#[test]
fn a_python_client_at_2025_06_18_gets_the_everything_servers_form() {
    assert_eq!(
        python_client("2025-06-18"),
        ["ok protocol 2025-06-18", "ok form", "ok answered"]
    );
}

#[test]
fn a_python_client_at_2026_07_28_gets_the_everything_servers_form() {
    assert_eq!(
        python_client("2026-07-28"),
        ["ok protocol 2026-07-28", "ok form", "ok answered"]
    );
}
