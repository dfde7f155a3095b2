//! Revision bridging at every hop: an MCP client speaking 2025-06-18, 2025-11-25 or
//! 2026-07-28 calls through a tree whose stdio children are pinned to each of the same three
//! revisions. For all nine pairs: progress arrives on the client's token, an elicitation from
//! the child is answered by the client, a sampling request from the child is run by the
//! client's model, and cancelling the call reaches the child.
//!
//! Legacy children ask with `elicitation/create` / `sampling/createMessage`; 2026-07-28
//! children answer with `input_required`. Legacy clients are asked with requests; 2026-07-28
//! clients get `input_required` (the call is parked) and retry.

mod common;

use std::time::Duration;

use canopy::node::{Node, StdioSpec, Tree};
use common::{TestClient, args, text};
use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, ClientRequest, ProtocolVersion, Request},
    service::{ClientLifecycleMode, ClientServiceExt, PeerRequestOptions, RunningService},
};
use serde_json::json;

fn leaf(server: &str, protocol: &ProtocolVersion) -> StdioSpec {
    StdioSpec::new(common::example_binary("leaf_server").to_string_lossy())
        .args([server])
        .protocol(protocol.clone())
}

async fn tree(child: &ProtocolVersion) -> Tree {
    Tree::builder(
        Node::new("hub")
            .child(Node::stdio("lab", leaf("lab", child)))
            .child(Node::stdio("notes", leaf("notes", child)))
            .child(Node::stdio("dynamic", leaf("dynamic", child))),
    )
    .build()
    .await
    .expect("the tree builds")
}

async fn client(
    tree: &Tree,
    upstream: &ProtocolVersion,
    test_client: TestClient,
) -> RunningService<RoleClient, TestClient> {
    use rmcp::ServiceExt;
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = tree.server();
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let lifecycle = if *upstream >= ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![upstream.clone()],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    let mut test_client = test_client;
    test_client.protocol = Some(upstream.clone());
    let client = test_client
        .serve_with_lifecycle(client_io, lifecycle)
        .await
        .expect("the client connects");
    assert_eq!(
        client.peer_info().expect("info").protocol_version,
        *upstream
    );
    client
}

fn call(name: &str, value: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = args(value);
    params
}

async fn check(upstream: ProtocolVersion, child: ProtocolVersion) {
    let pair = format!("client {upstream} → child {child}");
    let tree = tree(&child).await;
    let topology: serde_json::Value =
        serde_json::from_str(&tree.render(canopy::topology::TopologyFormat::Json)).expect("json");
    for node in topology["children"].as_array().expect("children") {
        assert_eq!(
            node["protocol_version"],
            child.as_str(),
            "the link speaks the pinned revision"
        );
    }
    let test_client = TestClient::new(true);
    let client = client(&tree, &upstream, test_client.clone()).await;

    // Progress on the client's own token.
    let done = client
        .call_tool(call("lab__analyze", json!({"steps": 3, "step_ms": 5})))
        .await
        .expect("analyze");
    assert_eq!(text(&done), "analysis complete after 3 steps", "{pair}");
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = test_client.progress();
        if seen.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, [1.0, 2.0, 3.0], "progress, {pair}");

    // Elicitation from the child, answered by the client.
    let greeting = client
        .call_tool(call("notes__greet", json!({})))
        .await
        .unwrap_or_else(|e| panic!("greet, {pair}: {e}"));
    assert_eq!(text(&greeting), "Hello, Grace!", "{pair}");

    // Sampling from the child, run by the client's model.
    let sampled = client
        .call_tool(call("dynamic__ask_model", json!({})))
        .await
        .unwrap_or_else(|e| panic!("sampling, {pair}: {e}"));
    assert_eq!(text(&sampled), "model said: blue", "{pair}");

    // Cancellation reaches the child.
    let request = ClientRequest::CallToolRequest(Request::new(call("lab__wait", json!({}))));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(100)).await;
    handle
        .cancel(Some("the test cancels".into()))
        .await
        .expect("cancel sent");
    let mut cancelled = false;
    for _ in 0..300 {
        let result = client
            .call_tool(call("lab__was_cancelled", json!({})))
            .await
            .expect("was_cancelled");
        if text(&result) == "true" {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cancelled, "cancellation, {pair}");
    client.cancel().await.expect("close");
    tree.shutdown().await;
}

macro_rules! matrix {
    ($($name:ident: $upstream:ident -> $child:ident;)*) => {$(
        #[tokio::test]
        async fn $name() {
            check(ProtocolVersion::$upstream, ProtocolVersion::$child).await;
        }
    )*};
}

matrix! {
    client_2025_06_18_child_2025_06_18: V_2025_06_18 -> V_2025_06_18;
    client_2025_06_18_child_2025_11_25: V_2025_06_18 -> V_2025_11_25;
    client_2025_06_18_child_2026_07_28: V_2025_06_18 -> V_2026_07_28;
    client_2025_11_25_child_2025_06_18: V_2025_11_25 -> V_2025_06_18;
    client_2025_11_25_child_2025_11_25: V_2025_11_25 -> V_2025_11_25;
    client_2025_11_25_child_2026_07_28: V_2025_11_25 -> V_2026_07_28;
    client_2026_07_28_child_2025_06_18: V_2026_07_28 -> V_2025_06_18;
    client_2026_07_28_child_2025_11_25: V_2026_07_28 -> V_2025_11_25;
    client_2026_07_28_child_2026_07_28: V_2026_07_28 -> V_2026_07_28;
}

/// A 2026-07-28 client's declared capabilities reach a 2026-07-28 child: a client without
/// `sampling` gets the child's -32021 for a tool that needs it (passed up unchanged), and a
/// client with it gets the tool's answer.
#[tokio::test]
async fn a_2026_child_sees_the_capabilities_the_client_declared() {
    let fixtures = StdioSpec::new(common::example_binary("conformance_server").to_string_lossy())
        .protocol(ProtocolVersion::V_2026_07_28);
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("fixtures", fixtures).inline()))
        .build()
        .await
        .expect("the tree builds");
    let upstream = ProtocolVersion::V_2026_07_28;

    let mut without_sampling = TestClient::new(true);
    without_sampling.sampling = false;
    let refused = client(&tree, &upstream, without_sampling).await;
    let error = refused
        .call_tool(call("test_missing_capability", json!({})))
        .await
        .expect_err("the child refuses: the client cannot sample");
    let rmcp::service::ServiceError::McpError(error) = error else {
        panic!("a JSON-RPC error, not {error:?}");
    };
    assert_eq!(error.code.0, -32021, "{error:?}");
    refused.cancel().await.expect("close");

    let with_sampling = TestClient::new(true);
    let allowed = client(&tree, &upstream, with_sampling.clone()).await;
    let answer = allowed
        .call_tool(call("test_missing_capability", json!({})))
        .await
        .expect("the child samples through the tree");
    assert_eq!(text(&answer), "LLM response: blue");
    assert_eq!(with_sampling.seen.lock().expect("lock").samplings, 1);
    allowed.cancel().await.expect("close");
    tree.shutdown().await;
}

/// A 2026-07-28 child's `input_required` reaches a 2026-07-28 client with the child's own
/// keys, every request in one round (elicitation, sampling and `roots/list`, which goes to
/// the client too), and the client's answers reach the child.
#[tokio::test]
async fn a_2026_childs_input_requests_pass_through_with_their_keys_in_one_round() {
    let fixtures = StdioSpec::new(common::example_binary("conformance_server").to_string_lossy())
        .protocol(ProtocolVersion::V_2026_07_28);
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("fixtures", fixtures).inline()))
        .build()
        .await
        .expect("the tree builds");
    let client = client(&tree, &ProtocolVersion::V_2026_07_28, TestClient::new(true)).await;
    let tool = "test_input_required_result_multiple_inputs";
    let first = client
        .send_request(ClientRequest::CallToolRequest(Request::new(call(
            tool,
            json!({}),
        ))))
        .await
        .expect("an answer");
    let rmcp::model::ServerResult::InputRequiredResult(input) = first else {
        panic!("input_required, not {first:?}");
    };
    let requests = input.input_requests.expect("input requests");
    let mut keys: Vec<&str> = requests.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_roots", "greeting", "user_name"]);
    let methods: serde_json::Value = serde_json::to_value(&requests).expect("json");
    assert_eq!(methods["client_roots"]["method"], "roots/list");
    assert_eq!(methods["greeting"]["method"], "sampling/createMessage");
    assert_eq!(methods["user_name"]["method"], "elicitation/create");

    let mut retry = call(tool, json!({}));
    retry.request_state = input.request_state;
    retry.input_responses = Some(
        serde_json::from_value(json!({
            "user_name": { "action": "accept", "content": { "name": "Grace" } },
            "greeting": {
                "role": "assistant",
                "content": { "type": "text", "text": "hello there" },
                "model": "test-model"
            },
            "client_roots": { "roots": [{ "uri": "file:///work/project", "name": "project" }] }
        }))
        .expect("input responses"),
    );
    let second = client
        .send_request(ClientRequest::CallToolRequest(Request::new(retry)))
        .await
        .expect("an answer");
    let rmcp::model::ServerResult::CallToolResult(result) = second else {
        panic!("the result, not {second:?}");
    };
    assert_eq!(
        text(&result),
        "name: Grace; greeting: hello there; roots: file:///work/project"
    );
    client.cancel().await.expect("close");
    tree.shutdown().await;
}

/// Tasks (the `io.modelcontextprotocol/tasks` extension) pass through: a client that opts in
/// gets the child's task for a task-supporting tool, polls it through the root until it
/// completes, and can cancel another one; an id no node started is invalid params.
#[tokio::test]
async fn a_childs_tasks_are_polled_and_cancelled_through_the_root() {
    use rmcp::model::{CancelTaskParams, GetTaskParams, ServerResult};

    let fixtures = StdioSpec::new(common::example_binary("conformance_server").to_string_lossy())
        .protocol(ProtocolVersion::V_2026_07_28);
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("fixtures", fixtures).inline()))
        .build()
        .await
        .expect("the tree builds");
    let mut tasks_client = TestClient::new(true);
    tasks_client.tasks = true;
    let client = client(&tree, &ProtocolVersion::V_2026_07_28, tasks_client).await;
    let start = |seconds: f64| {
        ClientRequest::CallToolRequest(Request::new(call(
            "slow_compute",
            json!({ "seconds": seconds }),
        )))
    };
    let ServerResult::CreateTaskResult(created) =
        client.send_request(start(0.2)).await.expect("an answer")
    else {
        panic!("a task for a client that opted in");
    };
    let task_id = created.task.task_id.clone();
    let get =
        |id: &str| ClientRequest::GetTaskRequest(Request::new(GetTaskParams::new(id.to_owned())));
    let mut finished = None;
    for _ in 0..500 {
        let ServerResult::GetTaskResult(status) =
            client.send_request(get(&task_id)).await.expect("tasks/get")
        else {
            panic!("a task status");
        };
        let value = serde_json::to_value(&status).expect("json");
        if value["status"] != "working" {
            finished = Some(value);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let finished = finished.expect("the task finishes");
    assert_eq!(finished["status"], "completed", "{finished}");
    assert!(
        finished.to_string().contains("computed after 0.2s"),
        "{finished}"
    );

    let ServerResult::CreateTaskResult(slow) =
        client.send_request(start(30.0)).await.expect("an answer")
    else {
        panic!("a task");
    };
    let cancel = ClientRequest::CancelTaskRequest(Request::new(CancelTaskParams::new(
        slow.task.task_id.clone(),
    )));
    client
        .send_request(cancel)
        .await
        .expect("tasks/cancel is acknowledged");
    let ServerResult::GetTaskResult(status) = client
        .send_request(get(&slow.task.task_id))
        .await
        .expect("tasks/get")
    else {
        panic!("a task status");
    };
    assert_eq!(
        serde_json::to_value(&status).expect("json")["status"],
        "cancelled"
    );

    let unknown = client
        .send_request(get("no-such-task"))
        .await
        .expect_err("an unknown task");
    let rmcp::service::ServiceError::McpError(error) = unknown else {
        panic!("a JSON-RPC error, not {unknown:?}");
    };
    assert_eq!(error.code.0, -32602, "{error:?}");
    client.cancel().await.expect("close");
    tree.shutdown().await;
}
