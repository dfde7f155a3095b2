//! The `serve_tree` example served over stdio as a child process, driven by rmcp's client
//! speaking 2025-11-25 (initialize), 2025-06-18, and 2026-07-28 (discover; prompts come back
//! as `input_required` and the retry resumes the parked call).

mod common;

use std::time::Duration;

use common::{TestClient, example_binary, text};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ClientRequest, ProtocolVersion, Request},
    service::{ClientLifecycleMode, ClientServiceExt, PeerRequestOptions, RunningService},
    transport::TokioChildProcess,
};
use serde_json::json;

async fn spawn_tree(
    client: TestClient,
    lifecycle: ClientLifecycleMode,
) -> RunningService<RoleClient, TestClient> {
    let command = tokio::process::Command::new(example_binary("serve_tree"));
    let transport = TokioChildProcess::new(command).expect("the tree starts");
    client
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("the client connects")
}

async fn legacy(client: TestClient) -> RunningService<RoleClient, TestClient> {
    spawn_tree(client, ClientLifecycleMode::Initialize).await
}

async fn stateless(client: TestClient) -> RunningService<RoleClient, TestClient> {
    spawn_tree(
        client,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = common::args(args);
    params
}

#[tokio::test]
async fn lists_and_calls_through_the_served_tree() {
    let client = legacy(TestClient::new(true)).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("hub")
    );
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
    assert_eq!(
        names,
        [
            "research__web__fetch",
            "research__web__search",
            "research__lab__crunch__analyze",
            "research__lab__crunch__wait",
            "research__lab__crunch__was_cancelled",
            "notes__greet",
            "notes__read_notes",
            "notes__write_note",
            "faulty__die",
            "faulty__explode",
            "faulty__fail",
            "faulty__shout",
            "dynamic__add_tool",
            "dynamic__ask_model",
            "dynamic__chatty",
        ],
        "faulty__broken is denied, so hidden"
    );
    let result = client
        .call_tool(call("research__web__search", json!({"query": "rust"})))
        .await
        .expect("call");
    assert_eq!(text(&result), "https://example.org/rust");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn progress_from_depth_three_reaches_the_client_in_order() {
    let test_client = TestClient::new(true);
    let client = legacy(test_client.clone()).await;
    let result = client
        .call_tool(call(
            "research__lab__crunch__analyze",
            json!({"steps": 5, "step_ms": 5}),
        ))
        .await
        .expect("call");
    assert_eq!(text(&result), "analysis complete after 5 steps");
    // Notifications are handled on their own tasks on the client side: wait for all five.
    for _ in 0..200 {
        if test_client.progress().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut progress = test_client.progress();
    progress.sort_by(f64::total_cmp);
    assert_eq!(progress, [1.0, 2.0, 3.0, 4.0, 5.0]);
    let seen = std::mem::take(&mut *test_client.seen.lock().expect("lock"));
    assert!(seen.progress.iter().all(|p| p.total == Some(5.0)));
    let tokens: std::collections::HashSet<String> = seen
        .progress
        .iter()
        .map(|p| format!("{:?}", p.progress_token))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "every notification carries the client's own token"
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn elicitation_and_ask_prompts_reach_the_client() {
    let test_client = TestClient::new(true);
    let client = legacy(test_client.clone()).await;
    let greeting = client
        .call_tool(call("notes__greet", json!({})))
        .await
        .expect("greet");
    assert_eq!(text(&greeting), "Hello, Grace!");
    let written = client
        .call_tool(call("notes__write_note", json!({"text": "hi"})))
        .await
        .expect("write");
    assert_eq!(text(&written), "1 notes");
    let seen = test_client.seen.lock().expect("lock").elicitations.clone();
    assert_eq!(
        seen[0], "What is your name?",
        "a node's own elicitation is passed on verbatim"
    );
    assert!(
        seen[1].starts_with("Allow the call to 'notes/write_note'?"),
        "{}",
        seen[1]
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_declined_permission_refuses_the_call() {
    let client = legacy(TestClient::new(false)).await;
    let refused = client
        .call_tool(call("notes__write_note", json!({"text": "hi"})))
        .await
        .expect("a tool result");
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        text(&refused),
        "The user did not allow the call to 'notes/write_note'."
    );
    let notes = client
        .call_tool(call("notes__read_notes", json!({})))
        .await
        .expect("read");
    assert_eq!(text(&notes), "");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn errors_are_clear_and_only_fail_their_own_call() {
    let client = legacy(TestClient::new(true)).await;
    let unknown = client
        .call_tool(call("nope", json!({})))
        .await
        .expect_err("unknown tool");
    assert!(
        unknown.to_string().contains("unknown tool 'nope'"),
        "{unknown}"
    );
    let denied = client
        .call_tool(call("faulty__broken", json!({})))
        .await
        .expect_err("denied");
    assert!(
        denied
            .to_string()
            .contains("'faulty/broken' is denied by the policy of node '(root)'"),
        "{denied}"
    );
    let bad_args = client
        .call_tool(call(
            "research__lab__crunch__analyze",
            json!({"steps": "many"}),
        ))
        .await
        .expect("tool error");
    assert_eq!(bad_args.is_error, Some(true));
    let panicked = client
        .call_tool(call("faulty__explode", json!({})))
        .await
        .expect_err("panic");
    assert!(
        panicked
            .to_string()
            .contains("node 'faulty' panicked: the faulty tool exploded on purpose"),
        "{panicked}"
    );
    let still_fine = client
        .call_tool(call(
            "research__web__fetch",
            json!({"url": "https://example.org/mcp"}),
        ))
        .await
        .expect("ok");
    assert_eq!(
        text(&still_fine),
        "The Model Context Protocol connects models to tools."
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn cancelling_a_call_reaches_the_leaf() {
    let client = legacy(TestClient::new(true)).await;
    let request = ClientRequest::CallToolRequest(Request::new(call(
        "research__lab__crunch__wait",
        json!({}),
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(100)).await;
    handle
        .cancel(Some("test cancels".into()))
        .await
        .expect("cancel sent");
    for _ in 0..300 {
        let seen = client
            .call_tool(call("research__lab__crunch__was_cancelled", json!({})))
            .await
            .expect("ok");
        if text(&seen) == "true" {
            client.cancel().await.expect("close");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the leaf never observed the cancellation");
}

#[tokio::test]
async fn a_2025_06_18_client_is_served() {
    use rmcp::model::{ClientCapabilities, Implementation, InitializeRequestParams};
    #[derive(Clone)]
    struct OldClient;
    impl rmcp::ClientHandler for OldClient {
        fn get_info(&self) -> rmcp::model::ClientConfig {
            InitializeRequestParams::new(
                ClientCapabilities::default(),
                Implementation::new("old", "1"),
            )
            .with_protocol_version(ProtocolVersion::V_2025_06_18)
        }
    }
    let transport =
        TokioChildProcess::new(tokio::process::Command::new(example_binary("serve_tree")))
            .expect("starts");
    let client = OldClient.serve(transport).await.expect("connects");
    assert_eq!(
        client.peer_info().expect("info").protocol_version,
        ProtocolVersion::V_2025_06_18
    );
    let result = client
        .call_tool(call("research__web__search", json!({"query": "trees"})))
        .await
        .expect("call");
    assert_eq!(text(&result), "https://example.org/trees");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_2026_07_28_client_answers_prompts_through_input_required() {
    let test_client = TestClient::new(true);
    let client = stateless(test_client.clone()).await;
    assert_eq!(
        client.peer_info().expect("info").protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    // rmcp's client fulfils `input_required` through its handler and retries with the
    // answers and the requestState: for the `ask` policy, Canopy's parked call resumes; for
    // `greet`, the leaf's own `input_required` passes through the tree both ways.
    let written = client
        .call_tool(call("notes__write_note", json!({"text": "stateless"})))
        .await
        .expect("write");
    assert_eq!(text(&written), "1 notes");
    let greeting = client
        .call_tool(call("notes__greet", json!({})))
        .await
        .expect("greet");
    assert_eq!(text(&greeting), "Hello, Grace!");
    let seen = test_client.seen.lock().expect("lock").elicitations.clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let result = client
        .call_tool(call("research__lab__crunch__analyze", json!({"steps": 3})))
        .await
        .expect("call");
    assert_eq!(text(&result), "analysis complete after 3 steps");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_2026_07_28_retry_with_an_unknown_state_is_a_clear_error() {
    let client = stateless(TestClient::new(true)).await;
    let mut params = call("notes__write_note", json!({"text": "x"}));
    params.request_state = Some("canopy.parked.0000".into());
    let error = client
        .call_tool_once(params)
        .await
        .expect_err("unknown state");
    assert!(
        error
            .to_string()
            .contains("unknown or expired requestState 'canopy.parked.0000'"),
        "{error}"
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn list_changes_logs_and_sampling_reach_the_client() {
    let test_client = TestClient::new(true);
    let client = legacy(test_client.clone()).await;
    let added = client
        .call_tool(call("dynamic__add_tool", json!({"name": "fresh"})))
        .await
        .expect("add");
    assert_eq!(text(&added), "added fresh");
    let mut found = false;
    for _ in 0..300 {
        let names: Vec<String> = client
            .list_all_tools()
            .await
            .expect("list")
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        if names.iter().any(|n| n == "dynamic__fresh")
            && test_client.seen.lock().expect("lock").tool_list_changes > 0
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        found,
        "the new tool appeared and the client was told the list changed"
    );
    let ran = client
        .call_tool(call("dynamic__fresh", json!({})))
        .await
        .expect("new tool runs");
    assert_eq!(text(&ran), "fresh ran");

    let chatty = client
        .call_tool(call("dynamic__chatty", json!({})))
        .await
        .expect("chatty");
    assert_eq!(text(&chatty), "done");
    for _ in 0..300 {
        if !test_client.seen.lock().expect("lock").logs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = test_client.seen.lock().expect("lock").logs.clone();
    assert_eq!(
        logs,
        [json!({"logger": "chatty", "data": "chatty is working"})]
    );

    let sampled = client
        .call_tool(call("dynamic__ask_model", json!({})))
        .await
        .expect("sampling");
    assert_eq!(text(&sampled), "model said: blue");
    assert_eq!(test_client.seen.lock().expect("lock").samplings, 1);
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn malformed_input_does_not_disturb_other_requests() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut child = tokio::process::Command::new(example_binary("serve_tree"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "this is not json {",
        r#"{"jsonrpc":"2.0","id":2}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"research__web__search","arguments":{"query":"rust"}}}"#,
    ];
    for line in lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
    }
    stdin.flush().await.expect("flush");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut answers = std::collections::HashMap::new();
    let mut invalid = Vec::new();
    while !(answers.contains_key(&3) && answers.contains_key(&4) && !invalid.is_empty()) {
        let line = tokio::time::timeout(Duration::from_secs(20), out.next_line())
            .await
            .expect("answers arrive")
            .expect("read")
            .expect("a line");
        let message: serde_json::Value =
            serde_json::from_str(&line).expect("the server writes only JSON-RPC");
        match message["id"].as_i64() {
            Some(id) if id > 1 => {
                answers.insert(id, message);
            }
            Some(_) => {}
            None => invalid.push(message),
        }
    }
    assert_eq!(answers[&3]["error"]["code"], -32601);
    assert_eq!(
        answers[&4]["result"]["content"][0]["text"],
        "https://example.org/rust"
    );
    assert_eq!(
        invalid.len(),
        1,
        "the message with neither method nor result is answered as invalid: {invalid:?}"
    );
    assert_eq!(invalid[0]["error"]["code"], -32600);
}
