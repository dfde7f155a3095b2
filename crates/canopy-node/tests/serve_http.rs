//! `Tree::serve_http`: the tree served over Streamable HTTP on 127.0.0.1, used by a real rmcp
//! client, then shut down.

mod common;

use std::{net::SocketAddr, time::Duration};

use canopy_node::{Node, Tree};
use canopy_topology::Policy;
use common::servers;
use rmcp::{ServiceExt, model::CallToolRequestParams, transport::StreamableHttpClientTransport};
use serde_json::json;

/// A hang guard only: every wait below finishes at once on a healthy run.
const GUARD: Duration = Duration::from_secs(30);

async fn demo_tree() -> Tree {
    Tree::builder(
        Node::new("hub")
            .policy(Policy::new().ask("notes/write_note"))
            .child(Node::server("web", servers::Web::new()))
            .child(Node::server("notes", servers::Notes::new())),
    )
    .build()
    .await
    .expect("the tree builds")
}

fn call(name: &str, arguments: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = common::args(arguments);
    params
}

/// Waits until nothing listens on `addr` any more.
async fn until_refused(addr: SocketAddr) {
    tokio::time::timeout(GUARD, async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server stops listening");
}

#[tokio::test]
async fn a_served_tree_answers_an_rmcp_client_then_shuts_down_gracefully() {
    let tree = demo_tree().await;
    let server = tree.serve_http("127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "the bound port, not the one asked for");
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}/mcp", addr.port())
    );

    let seen = common::TestClient::new(true);
    let client = seen
        .clone()
        .serve(StreamableHttpClientTransport::from_uri(server.url()))
        .await
        .expect("the client initializes over HTTP");
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    for expected in [
        "web__search",
        "web__fetch",
        "notes__write_note",
        "notes__read_notes",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    let found = client
        .call_tool(call("web__search", json!({ "query": "rust" })))
        .await
        .expect("tools/call");
    assert_eq!(common::text(&found), "https://example.org/rust");

    // The `ask` policy reaches the HTTP client as elicitation/create; it allows the call.
    let wrote = client
        .call_tool(call("notes__write_note", json!({ "text": "over HTTP" })))
        .await
        .expect("tools/call");
    assert_ne!(wrote.is_error, Some(true), "{wrote:?}");
    assert_eq!(seen.seen.lock().expect("lock").elicitations.len(), 1);
    let notes = tree
        .call_tool("notes__read_notes", ())
        .await
        .expect("read_notes");
    assert_eq!(common::text(&notes), "over HTTP");

    // Graceful shutdown with the client's session (and its SSE stream) still open: it
    // closes them and returns, and the port is free again.
    tokio::time::timeout(GUARD, server.shutdown())
        .await
        .expect("shutdown returns")
        .expect("the server stopped cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens on {addr} after shutdown"
    );
    let after = tokio::time::timeout(GUARD, client.list_all_tools())
        .await
        .expect("the client's request ends");
    assert!(after.is_err(), "a request after shutdown fails: {after:?}");
    let _ = client.cancel().await;
    tree.shutdown().await;
}

#[tokio::test]
async fn a_foreign_host_is_refused_and_dropping_the_server_stops_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tree = demo_tree().await;
    let server = tree.serve_http("127.0.0.1:0").await.expect("binds");
    let addr = server.local_addr();
    // DNS-rebinding protection: a Host that is not a loopback name with the port gets 403.
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }).to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut response))
        .await
        .expect("a response")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");

    drop(server);
    until_refused(addr).await;
    tree.shutdown().await;
}

#[tokio::test]
async fn an_address_in_use_is_a_clear_error() {
    let tree = demo_tree().await;
    let first = tree.serve_http("127.0.0.1:0").await.expect("binds");
    let error = tree
        .serve_http(first.local_addr())
        .await
        .expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {}: ", first.local_addr())),
        "{message}"
    );
    first.shutdown().await.expect("stops");
    tree.shutdown().await;
}
