//! `canopy serve` of a tree mixing in-process routers, stdio children (a Rust `leaf_server` and
//! a Python SDK leaf) and a Streamable HTTP child, three levels deep, driven over HTTP and
//! stdio by the Python SDK client and by rmcp's client: progress from the deepest level in
//! order, elicitation, cancellation reaching the remote leaf, a child killed mid-call.

mod common;

use std::{path::PathBuf, process::Stdio, time::Duration};

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ClientRequest, Request},
    service::PeerRequestOptions,
    transport::StreamableHttpClientTransport,
};
use serde_json::json;

const TREE: &str = r#"
name = "hub"

[policy]
deny = ["research/deep/faulty/broken"]

[[children]]
name = "research"

[[children.children]]
name = "deep"

[[children.children.children]]
name = "web"
command = "${LEAF_SERVER}"
args = ["web"]

[[children.children.children]]
name = "faulty"
command = "${LEAF_SERVER}"
args = ["faulty"]

[[children.children.children]]
name = "py"
command = "${CANOPY_PYTHON}"
args = ["${PY_LEAF}"]
protocol = "2025-11-25"

[[children.children.children]]
name = "remote"
url = "${LAB_URL}"
"#;

fn python() -> String {
    std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh"))
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The HTTP leaf, the tree file, and `canopy serve --http` on it: (processes, serve URL).
struct Served {
    _lab: tokio::process::Child,
    canopy: tokio::process::Child,
    url: String,
    tree: PathBuf,
    lab_url: String,
}

async fn serve_http() -> Served {
    let mut lab = tokio::process::Command::new(common::leaf_server())
        .args(["lab", "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the HTTP leaf starts");
    let lab_url = common::wait_for_url(&mut lab, "serving on").await;
    let dir = std::env::temp_dir().join(format!(
        "canopy-mixed-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tree = dir.join("mixed.toml");
    std::fs::write(&tree, TREE).expect("tree file");
    let mut canopy = tokio::process::Command::new(common::canopy_binary())
        .arg("serve")
        .arg(&tree)
        .args(["--http", "127.0.0.1:0"])
        .envs(env(&lab_url))
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy serve starts");
    let url = common::wait_for_url(&mut canopy, "http://").await;
    Served {
        _lab: lab,
        canopy,
        url,
        tree,
        lab_url,
    }
}

fn env(lab_url: &str) -> Vec<(String, String)> {
    vec![
        (
            "LEAF_SERVER".into(),
            common::leaf_server().to_string_lossy().into_owned(),
        ),
        ("CANOPY_PYTHON".into(), python()),
        (
            "PY_LEAF".into(),
            workspace()
                .join("tests/python/mcpserver_leaf.py")
                .to_string_lossy()
                .into_owned(),
        ),
        ("LAB_URL".into(), lab_url.to_owned()),
    ]
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn run_python(mode: &str, target: &[String], envs: &[(String, String)]) -> Vec<String> {
    let script = workspace().join("tests/python/tree_client.py");
    let output = std::process::Command::new(python())
        .arg(script)
        .arg(mode)
        .args(target)
        .envs(envs.iter().cloned())
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

const CHECKS: [&str; 5] = [
    "ok list_tools",
    "ok progress_depth_3_http",
    "ok elicitation_python_leaf",
    "ok stdio_rust_leaf",
    "ok stdio_python_leaf",
];

#[tokio::test]
async fn python_sdk_over_http_at_both_revision_families() {
    let served = serve_http().await;
    for (mode, protocol) in [
        ("legacy", "ok protocol 2025-11-25"),
        ("auto", "ok protocol 2026-07-28"),
    ] {
        let lines = run_python(mode, std::slice::from_ref(&served.url), &[]);
        assert_eq!(lines[0], protocol);
        assert_eq!(&lines[1..], CHECKS);
    }
    drop(served.canopy);
}

#[tokio::test]
async fn python_sdk_over_stdio() {
    let served = serve_http().await;
    let mut target = vec![
        "--".to_owned(),
        common::canopy_binary().to_string_lossy().into_owned(),
        "serve".to_owned(),
    ];
    target.push(served.tree.to_string_lossy().into_owned());
    let lines = run_python("legacy", &target, &env(&served.lab_url));
    assert_eq!(lines[0], "ok protocol 2025-11-25");
    assert_eq!(&lines[1..], CHECKS);
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let serde_json::Value::Object(map) = args {
        params.arguments = Some(map);
    }
    params
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

#[tokio::test]
async fn rmcp_client_over_http_cancellation_and_crashes() {
    let served = serve_http().await;
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(served.url.clone()))
            .await
            .expect("connects");

    // Cancellation reaches the remote (HTTP) leaf three levels down.
    let request = ClientRequest::CallToolRequest(Request::new(call(
        "research__deep__remote__wait",
        json!({}),
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle
        .cancel(Some("the test cancels".into()))
        .await
        .expect("cancel sent");
    let mut seen = false;
    for _ in 0..300 {
        let result = client
            .call_tool(call("research__deep__remote__was_cancelled", json!({})))
            .await
            .expect("ok");
        if text(&result) == "true" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the remote leaf never saw the cancellation");

    // A child killed mid-call fails only that call, quickly; the next call restarts it.
    let slow = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            peer.call_tool(call(
                "research__deep__remote__analyze",
                json!({"steps": 3, "step_ms": 100}),
            ))
            .await
        })
    };
    let started = std::time::Instant::now();
    let died = client
        .call_tool(call("research__deep__faulty__die", json!({})))
        .await
        .expect_err("the child died");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        died.to_string()
            .contains("node 'research/deep/faulty' closed its connection"),
        "{died}"
    );
    let slow = slow
        .await
        .expect("joined")
        .expect("the other call is unaffected");
    assert_eq!(text(&slow), "analysis complete after 3 steps");
    let again = client
        .call_tool(call("research__deep__faulty__fail", json!({})))
        .await
        .expect("restarted");
    assert_eq!(text(&again), "this tool always fails");
    client.cancel().await.expect("close");
}
