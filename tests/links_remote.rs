//! Children in other processes: stdio children (`leaf_server` processes) and a Streamable
//! HTTP child, three levels deep, driven through the Rust host API — progress in order,
//! elicitation, cancellation reaching the remote leaf, a child that dies mid-call, a hung
//! child under a timeout, a child that writes garbage and stderr, and the topology.

mod common;

use common::{args, text};

use std::{process::Stdio, time::Duration};

use canopy::{
    node::{Answer, EventKind, HttpSpec, Node, StdioSpec, Tree},
    topology::TopologyFormat,
};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

fn leaf(server: &str) -> StdioSpec {
    StdioSpec::new(common::example_binary("leaf_server").to_string_lossy()).args([server])
}

/// A `leaf_server` serving `server` over HTTP on a free loopback port, and its URL.
async fn http_leaf(server: &str) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(common::example_binary("leaf_server"))
        .args([server, "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the HTTP leaf starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the leaf reports its address")
        .expect("read")
        .expect("a line");
    let url = line
        .strip_prefix("serving on ")
        .expect("'serving on URL'")
        .to_owned();
    (child, url)
}

async fn tree() -> (Tree, tokio::process::Child) {
    let (http_child, url) = http_leaf("notes").await;
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::stdio("web", leaf("web")))
            .child(Node::new("deep").child(Node::new("er").child(Node::stdio("lab", leaf("lab")))))
            .child(Node::http("notes", HttpSpec::new(url)))
            .child(Node::stdio("faulty", leaf("faulty")))
            .child(Node::stdio(
                "slow",
                leaf("lab").timeout(Duration::from_secs(1)),
            )),
    )
    .build()
    .await
    .expect("the tree builds");
    (tree, http_child)
}

#[tokio::test]
async fn lists_and_topology_cover_every_transport() {
    let (tree, _http) = tree().await;
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    for expected in [
        "web__search",
        "deep__er__lab__analyze",
        "notes__greet",
        "faulty__die",
        "slow__wait",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    let json: Value = serde_json::from_str(&tree.render(TopologyFormat::Json)).expect("json");
    let children = json["children"].as_array().expect("children");
    let web = &children[0];
    assert_eq!(web["link"], "stdio");
    assert_eq!(web["health"], "healthy");
    assert_eq!(
        web["protocol_version"], "2026-07-28",
        "rmcp leaves speak the newest revision"
    );
    assert_eq!(web["counts"]["tools"], 2);
    let notes = &children[2];
    assert_eq!(notes["link"], "http");
    assert_eq!(notes["protocol_version"], "2026-07-28");
}

#[tokio::test]
async fn progress_from_a_stdio_grandchild_arrives_in_order() {
    let (tree, _http) = tree().await;
    let mut call = tree.start_call(
        "deep__er__lab__analyze",
        args(json!({"steps": 6, "step_ms": 2})),
    );
    let mut progress = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Progress { progress: p, .. } = event.kind {
            assert_eq!(event.path.to_string(), "deep/er/lab");
            progress.push(p);
        }
    }
    assert_eq!(progress, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(
        text(&call.result().await.expect("ok")),
        "analysis complete after 6 steps"
    );
}

#[tokio::test]
async fn an_http_childs_elicitation_reaches_the_host() {
    let (tree, _http) = tree().await;
    let mut call = tree.start_call("notes__greet", None);
    while let Some(event) = call.next_event().await {
        if let EventKind::Question(prompt) = &event.kind {
            assert_eq!(event.path.to_string(), "notes");
            assert_eq!(prompt.message, "What is your name?");
            prompt.respond(Answer::Accept(
                json!({"name": "Ada"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
    }
    assert_eq!(text(&call.result().await.expect("ok")), "Hello, Ada!");
}

#[tokio::test]
async fn cancellation_reaches_the_remote_leaf() {
    let (tree, _http) = tree().await;
    let mut call = tree.start_call("deep__er__lab__wait", None);
    while let Some(event) = call.next_event().await {
        if matches!(event.kind, EventKind::Status { .. }) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.cancel();
    assert_eq!(
        call.result().await.expect_err("cancelled").message(),
        "the call was cancelled"
    );
    for _ in 0..300 {
        let seen = tree
            .call_tool("deep__er__lab__was_cancelled", None)
            .await
            .expect("ok");
        if text(&seen) == "true" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the remote leaf never saw the cancellation");
}

#[tokio::test]
async fn a_child_that_dies_mid_call_fails_only_that_call_and_restarts() {
    let (tree, _http) = tree().await;
    let slow = tree.start_call(
        "deep__er__lab__analyze",
        args(json!({"steps": 3, "step_ms": 50})),
    );
    let started = std::time::Instant::now();
    let error = tree
        .call_tool("faulty__die", None)
        .await
        .expect_err("the child died");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the failure was reported quickly"
    );
    assert!(
        error
            .message()
            .contains("node 'faulty' closed its connection"),
        "{}",
        error.message()
    );
    assert_eq!(
        text(&slow.result().await.expect("other calls are unaffected")),
        "analysis complete after 3 steps"
    );
    let again = tree
        .call_tool("faulty__fail", None)
        .await
        .expect("the next call restarts the child");
    assert_eq!(text(&again), "this tool always fails");
}

#[tokio::test]
async fn a_hung_child_is_bounded_by_its_timeout() {
    let (tree, _http) = tree().await;
    let error = tree
        .call_tool("slow__wait", None)
        .await
        .expect_err("timed out");
    assert_eq!(error.message(), "node 'slow' did not answer within 1.0s");
    let fine = tree
        .call_tool("slow__analyze", args(json!({"steps": 1})))
        .await
        .expect("still serves");
    assert_eq!(text(&fine), "analysis complete after 1 steps");
}

#[tokio::test]
async fn stderr_becomes_log_events_and_stdout_garbage_is_survived() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bin/noisy_server.sh");
    let spec = StdioSpec::new(script).args(["faulty"]).env(
        "LEAF_SERVER",
        common::example_binary("leaf_server").to_string_lossy(),
    );
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("noisy", spec)))
        .build()
        .await
        .expect("builds despite the garbage");
    let mut events = tree.subscribe();
    let result = tree
        .call_tool("noisy__shout", args(json!({"text": "hello from stderr"})))
        .await
        .expect("ok");
    assert_eq!(text(&result), "shouted");
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("the stderr line arrives")
            .expect("the stream is open");
        if let EventKind::Log {
            logger,
            data,
            level,
        } = &event.kind
            && logger.as_deref() == Some("stderr")
            && data == "hello from stderr"
        {
            assert_eq!(event.path.to_string(), "noisy");
            assert_eq!(level, "info");
            break;
        }
    }
}

#[tokio::test]
async fn a_command_that_does_not_exist_is_a_clear_build_error() {
    let error = Tree::builder(Node::new("hub").child(Node::stdio(
        "ghost",
        StdioSpec::new("/nonexistent/mcp-server"),
    )))
    .strict(true)
    .build()
    .await
    .expect_err("cannot start");
    let message = error.to_string();
    assert!(message.contains("node 'ghost'"), "{message}");
    assert!(
        message.contains("could not start '/nonexistent/mcp-server'"),
        "{message}"
    );
}

/// The official Python SDK's `MCPServer` as a stdio child (at 2025-11-25: its `ctx.elicit`
/// needs the session revisions' server-to-client requests).
fn python_leaf() -> StdioSpec {
    let python = std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh, which installs the Python MCP SDK"));
    StdioSpec::new(python)
        .args([concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/mcpserver_leaf.py"
        )])
        .protocol(rmcp::model::ProtocolVersion::V_2025_11_25)
}

#[tokio::test]
async fn a_python_sdk_leaf_works_under_the_tree() {
    let tree = Tree::builder(
        Node::new("hub").child(Node::new("py").child(Node::stdio("leaf", python_leaf()))),
    )
    .build()
    .await
    .expect("builds");
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "py__leaf__add",
            "py__leaf__slow_count",
            "py__leaf__ask_color",
            "py__leaf__whisper"
        ]
    );
    let sum = tree
        .call_tool("py__leaf__add", args(json!({"a": 2, "b": 3.5})))
        .await
        .expect("add");
    assert_eq!(text(&sum), "5.5");

    let mut call = tree.start_call("py__leaf__slow_count", args(json!({"steps": 4})));
    let mut progress = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Progress {
            progress: p,
            message,
            ..
        } = &event.kind
        {
            assert_eq!(event.path.to_string(), "py/leaf");
            progress.push((*p, message.clone().unwrap_or_default()));
        }
    }
    assert_eq!(text(&call.result().await.expect("ok")), "counted to 4");
    assert_eq!(
        progress.iter().map(|p| p.0).collect::<Vec<_>>(),
        [1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(progress[3].1, "counted 4");

    let mut call = tree.start_call("py__leaf__ask_color", None);
    while let Some(event) = call.next_event().await {
        if let EventKind::Question(prompt) = &event.kind {
            assert_eq!(prompt.message, "What is your favourite color?");
            prompt.respond(Answer::Accept(
                json!({"color": "teal"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
    }
    assert_eq!(
        text(&call.result().await.expect("ok")),
        "favourite color: teal"
    );

    let mut events = tree.subscribe();
    assert_eq!(
        text(
            &tree
                .call_tool("py__leaf__whisper", args(json!({"text": "psst"})))
                .await
                .expect("ok")
        ),
        "whispered"
    );
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("a log")
            .expect("open");
        if let EventKind::Log { data, .. } = &event.kind
            && data == "psst"
        {
            assert_eq!(event.path.to_string(), "py/leaf");
            break;
        }
    }
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

#[tokio::test]
async fn the_typescript_everything_server_works_under_the_tree() {
    let tree = Tree::builder(
        Node::new("hub").child(Node::new("ts").child(Node::stdio("everything", everything_leaf()))),
    )
    .build()
    .await
    .expect("builds");
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    // It rejects `server/discover`, so the link fell back to `initialize`.
    let json: Value = serde_json::from_str(&tree.render(TopologyFormat::Json)).expect("json");
    let everything = &json["children"][0]["children"][0];
    assert_eq!(everything["protocol_version"], "2025-11-25", "{everything}");
    // Its tool names use `-`, which the LLM-safe codec keeps.
    for expected in [
        "ts__everything__echo",
        "ts__everything__trigger-long-running-operation",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    let echoed = tree
        .call_tool("ts__everything__echo", args(json!({"message": "hi"})))
        .await
        .expect("echo");
    assert!(text(&echoed).contains("hi"), "{}", text(&echoed));

    let mut call = tree.start_call(
        "ts__everything__trigger-long-running-operation",
        args(json!({"duration": 1, "steps": 3})),
    );
    let mut progress = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Progress { progress: p, .. } = event.kind {
            assert_eq!(event.path.to_string(), "ts/everything");
            progress.push(p);
        }
    }
    call.result().await.expect("the operation completes");
    assert_eq!(progress, [1.0, 2.0, 3.0]);
    let resources = tree.resources();
    assert!(
        resources
            .iter()
            .all(|r| r.uri.starts_with("canopy://ts/everything/")),
        "resource URIs are namespaced: {:?}",
        resources.iter().map(|r| r.uri.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn progress_from_an_http_child_arrives_in_order() {
    let (lab, url) = http_leaf("lab").await;
    let tree = Tree::builder(
        Node::new("hub").child(Node::new("far").child(Node::http("lab", HttpSpec::new(url)))),
    )
    .build()
    .await
    .expect("builds");
    let mut call = tree.start_call("far__lab__analyze", args(json!({"steps": 4, "step_ms": 5})));
    let mut progress = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Progress { progress: p, .. } = event.kind {
            assert_eq!(event.path.to_string(), "far/lab");
            progress.push(p);
        }
    }
    assert_eq!(
        text(&call.result().await.expect("ok")),
        "analysis complete after 4 steps"
    );
    assert_eq!(progress, [1.0, 2.0, 3.0, 4.0]);
    drop(lab);
}

#[tokio::test]
async fn a_remote_childs_list_changes_and_logs_reach_the_tree() {
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("dyn", leaf("dynamic"))))
        .build()
        .await
        .expect("builds");
    let mut events = tree.subscribe();
    let added = tree
        .call_tool("dyn__add_tool", args(json!({"name": "fresh"})))
        .await
        .expect("add");
    assert_eq!(text(&added), "added fresh");
    let mut appeared = false;
    for _ in 0..300 {
        if tree.tools().iter().any(|t| t.name == "dyn__fresh") {
            appeared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        appeared,
        "the child's tools/list_changed refreshed the route table"
    );
    assert_eq!(
        text(&tree.call_tool("dyn__fresh", None).await.expect("routes")),
        "fresh ran"
    );
    assert_eq!(
        text(&tree.call_tool("dyn__chatty", None).await.expect("chatty")),
        "done"
    );
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("a log")
            .expect("open");
        if let EventKind::Log { logger, data, .. } = &event.kind
            && logger.as_deref() == Some("chatty")
        {
            assert_eq!(data, "chatty is working");
            assert_eq!(event.path.to_string(), "dyn");
            break;
        }
    }
}
