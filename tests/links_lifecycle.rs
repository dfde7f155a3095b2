//! The life of a link to a child in another process: lazy children (not launched when the
//! tree is built, listed and callable when first needed), children that fail to start (their
//! stderr in the error, the tree degraded but up, the child retried until it comes up, with
//! `list_changed`), `strict` builds, and elicitations of the TypeScript reference server
//! reaching the host while the tree refreshes the child's lists.

mod common;

use common::{TestClient, args, text};

use std::{path::Path, time::Duration};

use canopy::{
    node::{Answer, EventKind, HttpSpec, Node, StdioSpec, Tree},
    topology::{Health, TopologyFormat},
};
use rmcp::{
    RoleClient, ServiceExt,
    model::ProtocolVersion,
    service::{ClientLifecycleMode, ClientServiceExt, RunningService},
};
use serde_json::{Value, json};

/// A `leaf_server` child launched through `pid_then_leaf.sh`, which records each launch
/// in `pid_file`.
fn recorded_leaf(server: &str, pid_file: &Path) -> StdioSpec {
    StdioSpec::new("sh")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bin/pid_then_leaf.sh"),
            server,
        ])
        .env("PID_FILE", pid_file.to_string_lossy())
        .env(
            "LEAF_SERVER",
            common::example_binary("leaf_server").to_string_lossy(),
        )
}

/// How many times the recorded leaf was launched.
fn launches(pid_file: &Path) -> usize {
    std::fs::read_to_string(pid_file)
        .map(|pids| pids.lines().count())
        .unwrap_or(0)
}

/// A session client (2025-11-25) of the tree's server face.
async fn session(tree: &Tree, client: TestClient) -> RunningService<RoleClient, TestClient> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = tree.server();
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let mut client = client;
    client.protocol = Some(ProtocolVersion::V_2025_11_25);
    client
        .serve_with_lifecycle(client_io, ClientLifecycleMode::Initialize)
        .await
        .expect("the client connects")
}

fn node_json<'a>(topology: &'a Value, name: &str) -> &'a Value {
    topology["children"]
        .as_array()
        .and_then(|children| children.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no child '{name}' in {topology}"))
}

fn topology_json(tree: &Tree) -> Value {
    serde_json::from_str(&tree.render(TopologyFormat::Json)).expect("json")
}

#[tokio::test]
async fn a_lazy_child_starts_when_a_client_lists_and_is_callable() {
    let dir = tempdir("lazy-list");
    let pids = dir.join("pids");
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::stdio("web", common_leaf("web")))
            .child(Node::stdio("lab", recorded_leaf("lab", &pids).lazy())),
    )
    .build()
    .await
    .expect("the tree builds");
    assert_eq!(launches(&pids), 0, "a lazy child is not launched at build");
    let lab = node_json(&topology_json(&tree), "lab").clone();
    assert_eq!(lab["link"], "stdio", "{lab}");
    assert_eq!(lab["health"], "not_started", "{lab}");

    let client = session(&tree, TestClient::new(true)).await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "web__fetch",
            "web__search",
            "lab__analyze",
            "lab__wait",
            "lab__was_cancelled"
        ]
    );
    assert_eq!(launches(&pids), 1, "the list launched the lazy child once");
    let lab = node_json(&topology_json(&tree), "lab").clone();
    assert_eq!(lab["health"], "healthy", "{lab}");
    assert_eq!(lab["counts"]["tools"], 3, "{lab}");
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("lab__analyze")
                .with_arguments(args(json!({"steps": 2, "step_ms": 1})).expect("object")),
        )
        .await
        .expect("the lazy child's tool answers");
    assert_eq!(text(&result), "analysis complete after 2 steps");
    assert_eq!(launches(&pids), 1);
    let _ = client.cancel().await;
    tree.shutdown().await;
}

#[tokio::test]
async fn a_call_to_a_lazy_childs_tool_starts_it() {
    let dir = tempdir("lazy-call");
    let pids = dir.join("pids");
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::new("deep").child(Node::stdio("lab", recorded_leaf("lab", &pids).lazy()))),
    )
    .build()
    .await
    .expect("the tree builds");
    assert!(tree.tools().is_empty());
    assert_eq!(launches(&pids), 0);
    let result = tree
        .call_tool(
            "deep__lab__analyze",
            args(json!({"steps": 1, "step_ms": 1})),
        )
        .await
        .expect("the call starts the lazy child");
    assert_eq!(text(&result), "analysis complete after 1 steps");
    assert_eq!(launches(&pids), 1);
    let error = tree
        .call_tool("deep__lab__nope", None)
        .await
        .expect_err("still unknown");
    assert!(
        error
            .message()
            .starts_with("unknown tool 'deep__lab__nope'"),
        "{error}"
    );
    assert_eq!(launches(&pids), 1, "started once, not per unknown name");
    tree.shutdown().await;
}

#[tokio::test]
async fn a_child_that_fails_to_start_says_why_with_its_stderr() {
    let error = Tree::builder(Node::new("hub").child(Node::stdio("lab", common_leaf("labb"))))
        .strict(true)
        .build()
        .await
        .expect_err("strict: the build fails");
    let message = error.to_string();
    assert!(
        message.contains("node 'lab' did not complete the MCP handshake"),
        "{message}"
    );
    assert!(
        message.contains("its stderr ended with:\n    Error: unknown server 'labb'"),
        "{message}"
    );
}

#[tokio::test]
async fn a_dead_http_child_is_one_clear_error() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::stdio("web", common_leaf("web")))
            .child(Node::http("gone", HttpSpec::new(url.clone()))),
    )
    .build()
    .await
    .expect("degraded: the tree starts without the dead child");
    let gone = node_json(&topology_json(&tree), "gone").clone();
    assert_eq!(gone["health"], "down");
    assert_eq!(gone["link"], "http");
    let error = gone["error"].as_str().expect("the error");
    assert!(
        error.starts_with(&format!(
            "node 'gone' did not complete the MCP handshake: nothing answers at {url}: "
        )),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
    // No Rust type names, no Debug dumps, one attempt (not discovery and then initialize).
    for noise in ["Tap<", "rmcp::", "reqwest::Error {", "initialize"] {
        assert!(!error.contains(noise), "'{noise}' in {error}");
    }
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["web__fetch", "web__search"]);
    tree.shutdown().await;
}

#[tokio::test]
async fn a_down_child_is_retried_and_announced_when_it_comes_up() {
    let dir = tempdir("retry");
    let ready = dir.join("ready");
    let script = format!(
        "if [ -f '{}' ]; then exec '{}' lab; else echo 'lab is not ready yet' >&2; exit 3; fi",
        ready.display(),
        common::example_binary("leaf_server").display()
    );
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::stdio("web", common_leaf("web")))
            .child(Node::stdio(
                "lab",
                StdioSpec::new("sh").args(["-c", &script]),
            )),
    )
    .build()
    .await
    .expect("degraded: the tree starts");
    let topology = tree.topology();
    let lab = topology
        .iter()
        .into_iter()
        .map(|id| topology.node(id))
        .find(|info| info.path.to_string() == "lab")
        .expect("lab");
    assert_eq!(lab.health, Health::Down);
    let error = lab.error.clone().unwrap_or_default();
    assert!(
        error.contains("its stderr ended with:\n    lab is not ready yet"),
        "{error}"
    );
    let refused = tree
        .call_tool("lab__analyze", None)
        .await
        .expect_err("its tools are absent");
    assert!(
        refused
            .message()
            .contains("node 'lab' is down: node 'lab' did not complete the MCP handshake"),
        "{refused}"
    );

    let client = session(&tree, TestClient::new(true)).await;
    let seen = std::sync::Arc::clone(&client.service().seen);
    std::fs::write(&ready, "").expect("mark ready");
    // A hang guard only: the retries come after 1, 2, 4… seconds.
    tokio::time::timeout(Duration::from_secs(120), async {
        while seen.lock().expect("lock").tool_list_changes == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("list_changed once the child is up");
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "web__fetch",
            "web__search",
            "lab__analyze",
            "lab__wait",
            "lab__was_cancelled"
        ]
    );
    let lab = node_json(&topology_json(&tree), "lab").clone();
    assert_eq!(lab["health"], "healthy", "{lab}");
    assert_eq!(lab["error"], Value::Null, "{lab}");
    let _ = client.cancel().await;
    tree.shutdown().await;
}

/// `@modelcontextprotocol/server-everything` asks for a 13-field form (strings with
/// formats, enums with and without titles, booleans, numbers with ranges, defaults) right
/// after it announced list changes, which the tree re-reads: the form reaches the host,
/// and the answer reaches the server.
#[tokio::test]
async fn the_everything_servers_elicitation_reaches_the_host() {
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("everything", everything_leaf())))
        .build()
        .await
        .expect("builds");
    let mut call = tree.start_call("everything__trigger-elicitation-request", None);
    let mut asked = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Question(prompt) = &event.kind {
            assert_eq!(event.path.to_string(), "everything");
            asked.push(prompt.schema.clone());
            let mut answer = serde_json::Map::new();
            answer.insert("name".into(), "Ada".into());
            answer.insert("check".into(), true.into());
            prompt.respond(Answer::Accept(answer));
        }
    }
    let result = call.result().await.expect("a result");
    assert_eq!(asked.len(), 1, "one form");
    let schema = &asked[0];
    let mut fields: Vec<&str> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "birthdate",
            "check",
            "email",
            "firstLine",
            "homepage",
            "integer",
            "legacyTitledEnum",
            "name",
            "number",
            "titledMultipleSelectEnum",
            "titledSingleSelectEnum",
            "untitledMultipleSelectEnum",
            "untitledSingleSelectEnum"
        ]
    );
    assert_eq!(schema["properties"]["email"]["format"], "email");
    assert_eq!(schema["properties"]["integer"]["maximum"], 100);
    assert_eq!(
        schema["properties"]["titledSingleSelectEnum"]["oneOf"][1]["title"],
        "Green Lantern"
    );
    assert_eq!(schema["required"], json!(["name"]));
    let answer = text(&result);
    assert!(
        answer.contains("User provided the requested information!")
            && answer.contains("- Name: Ada")
            && answer.contains("- Agreed to terms: true"),
        "{answer}"
    );
    tree.shutdown().await;
}

fn common_leaf(server: &str) -> StdioSpec {
    StdioSpec::new(common::example_binary("leaf_server").to_string_lossy()).args([server])
}

/// `@modelcontextprotocol/server-everything` (TypeScript) as a stdio child, on Node 22.
fn everything_leaf() -> StdioSpec {
    let server = std::env::var("CANOPY_SERVER_EVERYTHING")
        .unwrap_or_else(|_| panic!("CANOPY_SERVER_EVERYTHING is not set: run the tests with scripts/test.sh, which installs it"));
    let node_bin = std::env::var("CANOPY_NODE_BIN")
        .unwrap_or_else(|_| panic!("CANOPY_NODE_BIN is not set: run scripts/test.sh"));
    let path = format!("{node_bin}:{}", std::env::var("PATH").unwrap_or_default());
    StdioSpec::new(server).env("PATH", path)
}

/// A fresh directory for one test under the target directory.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canopy-links-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
