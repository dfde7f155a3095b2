//! Subscriptions and header validation at the tree's server face, with real child processes:
//! - a 2025 caller's `resources/subscribe` to a child linked at 2026-07-28 (which has no such
//!   method) becomes a `subscriptions/listen` stream on the child; its updates reach the
//!   caller, and `resources/unsubscribe` closes the stream;
//! - a 2026-07-28 caller's `subscriptions/listen` on the root is acknowledged with the filter
//!   the tree accepts, gets the tree's list changes and resource updates tagged with its
//!   subscription id, and nothing its filter did not ask for;
//! - over Streamable HTTP, `Mcp-Param-*` headers are validated against the tool the tree
//!   exposes (its `x-mcp-header` annotations).

mod common;

use std::time::Duration;

use canopy::node::{Node, StdioSpec, Tree};
use common::{TestClient, args, text};
use rmcp::{
    RoleClient,
    model::{
        CallToolRequestParams, ClientRequest, ProtocolVersion, Request, ServerNotification,
        SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    },
    service::{ClientLifecycleMode, ClientServiceExt, RunningService, Subscription},
};
use serde_json::json;

fn leaf(server: &str, protocol: Option<ProtocolVersion>) -> StdioSpec {
    let spec =
        StdioSpec::new(common::example_binary("leaf_server").to_string_lossy()).args([server]);
    match protocol {
        Some(version) => spec.protocol(version),
        None => spec,
    }
}

/// A client of `tree` speaking `upstream`, over an in-memory stream.
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

fn call(name: &str) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = args(json!({}));
    params
}

/// The text a tool of the tree answers.
async fn tool_text(client: &RunningService<RoleClient, TestClient>, name: &str) -> String {
    text(&client.call_tool(call(name)).await.expect(name))
}

/// Polls `watch__status` until it says `expected` (the child updates it asynchronously).
async fn wait_status(client: &RunningService<RoleClient, TestClient>, expected: &str) {
    let mut status = String::new();
    for _ in 0..200 {
        status = tool_text(client, "watch__status").await;
        if status == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the child's status stayed '{status}', expected '{expected}'");
}

/// The exposed URI of the watched child's resource.
async fn watched_uri(client: &RunningService<RoleClient, TestClient>) -> String {
    let resources = client.list_all_resources().await.expect("resources/list");
    resources
        .iter()
        .find(|r| r.uri.contains("counter"))
        .unwrap_or_else(|| panic!("no counter resource in {resources:?}"))
        .uri
        .clone()
}

#[tokio::test]
async fn a_legacy_subscription_to_a_2026_child_becomes_a_listen_stream() {
    let tree = Tree::builder(Node::new("hub").child(Node::stdio(
        "watch",
        leaf("watched", Some(ProtocolVersion::V_2026_07_28)),
    )))
    .build()
    .await
    .expect("the tree builds");
    let test_client = TestClient::new(true);
    let client = client(&tree, &ProtocolVersion::V_2025_11_25, test_client.clone()).await;
    let uri = watched_uri(&client).await;

    let subscribe =
        ClientRequest::SubscribeRequest(Request::new(SubscribeRequestParams::new(uri.clone())));
    client
        .send_request(subscribe)
        .await
        .expect("resources/subscribe is answered, not refused with -32601");
    // The child saw a listen stream, not a legacy subscription.
    wait_status(&client, "listen streams: 1, subscribed: []").await;

    assert_eq!(tool_text(&client, "watch__touch").await, "counter is 1");
    let mut updates = Vec::new();
    for _ in 0..200 {
        updates = test_client
            .seen
            .lock()
            .expect("lock")
            .resource_updates
            .clone();
        if !updates.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        updates,
        std::slice::from_ref(&uri),
        "the update arrives with the exposed URI"
    );

    let unsubscribe =
        ClientRequest::UnsubscribeRequest(Request::new(UnsubscribeRequestParams::new(uri.clone())));
    client
        .send_request(unsubscribe)
        .await
        .expect("resources/unsubscribe");
    wait_status(&client, "listen streams: 0, subscribed: []").await;
    assert_eq!(tool_text(&client, "watch__touch").await, "counter is 2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        test_client
            .seen
            .lock()
            .expect("lock")
            .resource_updates
            .len(),
        1,
        "no update after unsubscribing"
    );
    tree.shutdown().await;
}

#[tokio::test]
async fn a_legacy_subscription_to_a_legacy_child_stays_resources_subscribe() {
    let tree = Tree::builder(Node::new("hub").child(Node::stdio(
        "watch",
        leaf("watched", Some(ProtocolVersion::V_2025_11_25)),
    )))
    .build()
    .await
    .expect("the tree builds");
    let test_client = TestClient::new(true);
    let client = client(&tree, &ProtocolVersion::V_2025_11_25, test_client.clone()).await;
    let uri = watched_uri(&client).await;
    let subscribe =
        ClientRequest::SubscribeRequest(Request::new(SubscribeRequestParams::new(uri.clone())));
    client.send_request(subscribe).await.expect("subscribe");
    wait_status(
        &client,
        "listen streams: 0, subscribed: [\"watch://counter\"]",
    )
    .await;
    tool_text(&client, "watch__touch").await;
    let mut updates = Vec::new();
    for _ in 0..200 {
        updates = test_client
            .seen
            .lock()
            .expect("lock")
            .resource_updates
            .clone();
        if !updates.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(updates, [uri]);
    tree.shutdown().await;
}

/// The next notification on a listen stream, within a few seconds.
async fn next(subscription: &mut Subscription) -> ServerNotification {
    tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a notification in time")
        .expect("the stream is healthy")
        .expect("the stream is open")
}

#[tokio::test]
async fn a_2026_caller_listens_to_the_tree() {
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::stdio(
                "watch",
                leaf("watched", Some(ProtocolVersion::V_2026_07_28)),
            ))
            .child(Node::stdio("dyn", leaf("dynamic", None))),
    )
    .build()
    .await
    .expect("the tree builds");
    let client = client(&tree, &ProtocolVersion::V_2026_07_28, TestClient::new(true)).await;
    let uri = watched_uri(&client).await;

    let filter = SubscriptionFilter::builder()
        .tools_list_changed()
        .resource_subscription(uri.clone())
        .resource_subscription("nowhere://at-all")
        .build();
    // rmcp's client checks that the acknowledgment comes first and carries the request id.
    let mut everything = client.peer().listen(filter).await.expect("acknowledged");
    assert_eq!(everything.acknowledged().tools_list_changed, Some(true));
    assert_eq!(
        everything.acknowledged().resource_subscriptions,
        Some(vec![uri.clone()]),
        "a URI no node owns is not accepted"
    );
    let prompts_only = SubscriptionFilter::builder().prompts_list_changed().build();
    let mut narrow = client
        .peer()
        .listen(prompts_only)
        .await
        .expect("acknowledged");
    wait_status(&client, "listen streams: 1, subscribed: []").await;

    assert_eq!(tool_text(&client, "watch__touch").await, "counter is 1");
    match next(&mut everything).await {
        ServerNotification::ResourceUpdatedNotification(update) => {
            assert_eq!(update.params.uri, uri);
        }
        other => panic!("expected resources/updated, got {other:?}"),
    }

    let mut add = CallToolRequestParams::new("dyn__add_tool");
    add.arguments = args(json!({"name": "fresh"}));
    client.call_tool(add).await.expect("add_tool");
    match next(&mut everything).await {
        ServerNotification::ToolListChangedNotification(_) => {}
        other => panic!("expected tools/list_changed, got {other:?}"),
    }
    // Neither the tool change nor the resource update is for the prompts-only stream.
    let leaked = tokio::time::timeout(Duration::from_millis(500), narrow.next()).await;
    assert!(
        leaked.is_err(),
        "the prompts-only stream got something: {leaked:?}"
    );

    // Ending the stream ends the child's.
    everything.cancel().await.expect("cancel");
    wait_status(&client, "listen streams: 0, subscribed: []").await;
    narrow.cancel().await.expect("cancel");
    tree.shutdown().await;
}

/// One HTTP/1.1 POST to `addr`/mcp; the status code and the body.
async fn post(addr: std::net::SocketAddr, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("the response in time")
        .expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, response)
}

#[tokio::test]
async fn mcp_param_headers_are_validated_against_the_exposed_tool() {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let fixtures = StdioSpec::new(common::example_binary("conformance_server").to_string_lossy());
    let tree = Tree::builder(Node::new("hub").child(Node::stdio("fx", fixtures)))
        .build()
        .await
        .expect("the tree builds");
    let server = tree.server();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });

    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {
            "name": "fx__test_custom_headers",
            "arguments": {"region": "us-west"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"}
            }
        }
    })
    .to_string();
    let standard = [
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "fx__test_custom_headers"),
    ];
    let mut with_header = standard.to_vec();
    with_header.push(("Mcp-Param-Region", "us-west"));
    let (status, response) = post(addr, &with_header, &body).await;
    assert_eq!(status, 200, "{response}");
    assert!(response.contains("region: us-west"), "{response}");

    // The body has the value, the header is missing: the tool's x-mcp-header says it must
    // be there.
    let (status, response) = post(addr, &standard, &body).await;
    assert_eq!(status, 400, "{response}");
    assert!(response.contains("-32020"), "{response}");

    let mut mismatched = standard.to_vec();
    mismatched.push(("Mcp-Param-Region", "eu-north"));
    let (status, response) = post(addr, &mismatched, &body).await;
    assert_eq!(status, 400, "{response}");
    assert!(response.contains("-32020"), "{response}");
    tree.shutdown().await;
}
