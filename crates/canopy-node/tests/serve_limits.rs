//! The limits of `Tree::serve_http` (`HttpLimits`), each met by a real client on loopback:
//! body size, JSON depth, batches, slow bodies and headers, concurrent requests, open
//! sessions and idle sessions. Each refusal is a clear status with a JSON-RPC error, and
//! the calls already in flight finish unharmed.

mod common;

use std::time::Duration;

use canopy_node::{HttpLimits, HttpOptions, HttpServer, Node, Tree};
use common::servers;
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    service::{RoleClient, RunningService},
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A hang guard only: every wait below finishes well before it on a healthy run.
const GUARD: Duration = Duration::from_secs(30);

async fn serve(limits: HttpLimits) -> (Tree, HttpServer) {
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::server("web", servers::Web::new()))
            .child(Node::server("lab", servers::Lab::new())),
    )
    .build()
    .await
    .expect("the tree builds");
    let server = tree
        .serve_http_with("127.0.0.1:0", HttpOptions::new().limits(limits))
        .await
        .expect("binds");
    (tree, server)
}

async fn connect(server: &HttpServer) -> RunningService<RoleClient, common::TestClient> {
    common::TestClient::new(false)
        .serve(StreamableHttpClientTransport::from_uri(server.url()))
        .await
        .expect("the client initializes over HTTP")
}

/// A POST of `body` to the MCP endpoint, as a Streamable HTTP client sends it.
async fn post(server: &HttpServer, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .expect("the server answers")
}

/// The JSON-RPC error message of a refusal (and checks it is one).
async fn refusal(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "{response:?}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert!(body["error"]["code"].is_i64(), "{body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

fn initialize() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" }
        }
    })
    .to_string()
}

fn slow_call(step_ms: u64) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("lab__analyze");
    params.arguments = common::args(json!({ "steps": 2, "step_ms": step_ms }));
    params
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_a_smaller_one_passes() {
    let (_tree, server) = serve(HttpLimits::default().max_body_bytes(1024)).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(2000)
    );
    let message = refusal(post(&server, big.clone()).await, 413).await;
    assert!(message.contains("1024 bytes"), "{message}");

    // Without a Content-Length (chunked), the limit holds as the body streams in.
    let chunks = futures::stream::iter(
        big.into_bytes()
            .chunks(100)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let message = refusal(post(&server, reqwest::Body::wrap_stream(chunks)).await, 413).await;
    assert!(message.contains("larger than the limit"), "{message}");

    // An initialize under the limit opens a session as usual.
    let response = post(&server, initialize()).await;
    assert_eq!(response.status().as_u16(), 200, "{response:?}");
    assert!(response.headers().contains_key("mcp-session-id"));
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn deep_json_and_batches_are_400_with_their_reason() {
    let (_tree, server) = serve(HttpLimits::default().max_json_depth(8)).await;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"a":{}1{}}}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    let message = refusal(post(&server, deep).await, 400).await;
    assert_eq!(message, "the message nests 22 levels deep; the limit is 8");

    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "ping" },
        { "jsonrpc": "2.0", "id": 2, "method": "ping" }
    ])
    .to_string();
    let message = refusal(post(&server, batch).await, 400).await;
    assert!(message.contains("batches are not accepted"), "{message}");

    // Brackets inside strings are not nesting.
    let client = connect(&server).await;
    let mut params = CallToolRequestParams::new("web__search");
    params.arguments = common::args(json!({ "query": "[[[[[[[[[[[[[[[[[[[[" }));
    client
        .call_tool(params)
        .await
        .expect("a flat message passes");
    client.cancel().await.expect("closes");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_body_slower_than_the_body_timeout_is_408() {
    let (_tree, server) =
        serve(HttpLimits::default().body_timeout(Duration::from_millis(300))).await;
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\"",
        server.local_addr()
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 0.3 s"), "{answer}");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn headers_slower_than_the_header_timeout_lose_the_connection() {
    let (_tree, server) =
        serve(HttpLimits::default().header_timeout(Duration::from_millis(300))).await;
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    // A slowloris: the request line, then nothing.
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    // A prompt client on a new connection is served as usual.
    let client = connect(&server).await;
    client.list_all_tools().await.expect("tools/list");
    client.cancel().await.expect("closes");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn past_the_per_client_concurrency_a_request_is_429_and_the_running_ones_finish() {
    let (_tree, server) = serve(HttpLimits::default().max_concurrent_per_client(2)).await;
    let client = connect(&server).await;
    let peer = client.peer().clone();
    let running: Vec<_> = (0..2)
        .map(|_| {
            let peer = peer.clone();
            tokio::spawn(async move { peer.call_tool(slow_call(1000)).await })
        })
        .collect();
    // Wait until both calls are running (the server counts them).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = post(&server, r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let message = refusal(response, 429).await;
    assert!(
        message.contains("too many concurrent requests from this client"),
        "{message}"
    );
    for call in running {
        let result = tokio::time::timeout(GUARD, call)
            .await
            .expect("the call finishes")
            .expect("joins")
            .expect("the running call was not disturbed");
        assert_eq!(
            common::text(&result),
            "analysis complete after 2 steps",
            "{result:?}"
        );
    }
    // Their slots are free again.
    client
        .list_all_tools()
        .await
        .expect("tools/list after the calls");
    client.cancel().await.expect("closes");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn past_the_total_concurrency_a_request_is_429() {
    let (_tree, server) = serve(HttpLimits::default().max_concurrent(1)).await;
    let client = connect(&server).await;
    let peer = client.peer().clone();
    let running = tokio::spawn(async move { peer.call_tool(slow_call(600)).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let message = refusal(
        post(&server, r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await,
        429,
    )
    .await;
    assert!(message.contains("the server is busy"), "{message}");
    tokio::time::timeout(GUARD, running)
        .await
        .expect("the call finishes")
        .expect("joins")
        .expect("the running call was not disturbed");
    client.cancel().await.expect("closes");
    server.shutdown().await.expect("stops");
}

/// Opens a legacy session by hand; its id.
async fn open_session(server: &HttpServer) -> Result<String, (u16, String)> {
    let response = post(server, initialize()).await;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.text().await.unwrap_or_default();
        return Err((status, body));
    }
    Ok(response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned())
}

async fn delete_session(server: &HttpServer, id: &str) {
    let response = reqwest::Client::new()
        .delete(server.url())
        .header("mcp-session-id", id)
        .send()
        .await
        .expect("the server answers");
    assert!(response.status().is_success(), "{response:?}");
}

#[tokio::test]
async fn sessions_are_bounded_per_client_and_freed_when_deleted() {
    let (_tree, server) = serve(HttpLimits::default().max_sessions_per_client(2)).await;
    let first = open_session(&server).await.expect("the first session");
    open_session(&server).await.expect("the second session");
    let (status, body) = open_session(&server).await.expect_err("a third is refused");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("this client has 2 sessions open"), "{body}");
    delete_session(&server, &first).await;
    open_session(&server)
        .await
        .expect("a session after one was deleted");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn sessions_are_bounded_in_total() {
    let (_tree, server) = serve(HttpLimits::default().max_sessions(1)).await;
    open_session(&server).await.expect("the first session");
    let (status, body) = open_session(&server).await.expect_err("the server is full");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("1 sessions open, its limit"), "{body}");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn an_idle_session_is_closed_and_frees_its_place() {
    let (_tree, server) = serve(
        HttpLimits::default()
            .max_sessions(1)
            .session_idle_timeout(Duration::from_millis(300)),
    )
    .await;
    let idle = open_session(&server).await.expect("a session");
    tokio::time::timeout(GUARD, async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if open_session(&server).await.is_ok() {
                break;
            }
        }
    })
    .await
    .expect("the idle session is closed and its place freed");
    // The idle session's id is gone.
    let response = reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &idle)
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 404, "{response:?}");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn two_hundred_sessions_never_closed_stay_within_the_bound() {
    let (_tree, server) = serve(
        HttpLimits::default()
            .max_sessions(50)
            .max_sessions_per_client(1000),
    )
    .await;
    let mut opened = 0;
    let mut refused = 0;
    for _ in 0..200 {
        match open_session(&server).await {
            Ok(_) => opened += 1,
            Err((503, _)) => refused += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!((opened, refused), (50, 150));
    server.shutdown().await.expect("stops");
}
