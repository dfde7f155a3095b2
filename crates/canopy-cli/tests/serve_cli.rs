//! `canopy serve`: the served tree driven by rmcp's client over stdio and over Streamable
//! HTTP (session-based 2025-11-25 and stateless 2026-07-28 on the same endpoint), and the
//! DNS-rebinding protection of the HTTP endpoint.

mod common;

use std::process::Stdio;

use common::{canopy_binary, leaf_server, post_initialize, tree, wait_for_url};
use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ProtocolVersion},
    service::{ClientLifecycleMode, ClientServiceExt},
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};

const TOOLS: [&str; 10] = [
    "research__web__fetch",
    "research__web__search",
    "research__lab__analyze",
    "research__lab__wait",
    "research__lab__was_cancelled",
    "notes__greet",
    "notes__read_notes",
    "notes__write_note",
    "faulty__explode",
    "faulty__fail",
];

fn serve_command(extra: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(canopy_binary());
    command
        .arg("serve")
        .arg(tree("demo.toml"))
        .args(extra)
        .env("LEAF_SERVER", leaf_server())
        .kill_on_drop(true);
    command
}

fn search(query: &str) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("research__web__search");
    params.arguments = serde_json::json!({ "query": query }).as_object().cloned();
    params
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// Only tools the demo tree exposes that the leaf servers all have (the `faulty` leaf may
/// grow more tools; `broken` is denied).
fn known(mut names: Vec<String>) -> Vec<String> {
    names.retain(|n| TOOLS.contains(&n.as_str()));
    names
}

#[tokio::test]
async fn stdio_lists_and_calls() {
    let transport = TokioChildProcess::new(serve_command(&["--stdio"])).expect("canopy starts");
    let client = ().serve(transport).await.expect("the client connects");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("hub")
    );
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(known(names(&tools)), TOOLS);
    assert!(
        !names(&tools).contains(&"faulty__broken".to_owned()),
        "denied, so hidden"
    );
    let result = client.call_tool(search("rust")).await.expect("tools/call");
    assert_eq!(text(&result), "https://example.org/rust");
    client.cancel().await.expect("close");
}

async fn serve_http() -> (tokio::process::Child, String) {
    let mut child = serve_command(&["--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("canopy starts");
    let url = wait_for_url(&mut child, "serving tree 'hub' at").await;
    (child, url)
}

#[tokio::test]
async fn http_serves_session_and_stateless_clients() {
    let (_server, url) = serve_http().await;

    let legacy = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.as_str()),
            ClientLifecycleMode::Initialize,
        )
        .await
        .expect("a 2025-11-25 client connects");
    assert_eq!(
        legacy.peer_info().expect("info").protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    assert_eq!(
        known(names(&legacy.list_all_tools().await.expect("list"))),
        TOOLS
    );
    let result = legacy.call_tool(search("trees")).await.expect("call");
    assert_eq!(text(&result), "https://example.org/trees");
    legacy.cancel().await.expect("close");

    let stateless = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.as_str()),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("a 2026-07-28 client connects to the same endpoint");
    assert_eq!(
        stateless.peer_info().expect("info").protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    assert_eq!(
        known(names(&stateless.list_all_tools().await.expect("list"))),
        TOOLS
    );
    let result = stateless.call_tool(search("rust")).await.expect("call");
    assert_eq!(text(&result), "https://example.org/rust");
    stateless.cancel().await.expect("close");
}

/// One raw `initialize` POST with this `Host` (and `Origin`): the status code and the body.
async fn raw_post(url: &str, host: &str, origin: Option<&str>) -> (u16, String) {
    let mut headers = vec![("Host", host)];
    if let Some(origin) = origin {
        headers.push(("Origin", origin));
    }
    let response = post_initialize(url, &headers).await;
    (response.status, response.body)
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (_server, url) = serve_http().await;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.strip_suffix("/mcp"))
        .expect("port");

    let (status, body) = raw_post(&url, &format!("evil.example:{port}"), None).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Forbidden: Host header is not allowed"),
        "{body}"
    );

    let (status, _) = raw_post(
        &url,
        &format!("localhost:{}", port.parse::<u16>().expect("port") ^ 1),
        None,
    )
    .await;
    assert_eq!(
        status, 403,
        "a loopback name with another port is refused too"
    );

    let (status, body) = raw_post(
        &url,
        &format!("127.0.0.1:{port}"),
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Forbidden: Origin header is not allowed"),
        "{body}"
    );

    let (status, _) = raw_post(
        &url,
        &format!("localhost:{port}"),
        Some(&format!("http://localhost:{port}")),
    )
    .await;
    assert_eq!(status, 200, "loopback Host and Origin are served");
}

/// `canopy serve ARGS…` of routers.toml, run to its end (each case is refused before any
/// child starts or any address is bound).
fn refused(args: &[&str]) -> String {
    let tree = tree("routers.toml").display().to_string();
    let output = std::process::Command::new(canopy_binary())
        .arg("serve")
        .arg(&tree)
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

#[test]
fn a_non_loopback_address_needs_authentication_and_no_auth_is_loopback_only() {
    let stderr = refused(&["--http", "0.0.0.0:0", "--allow-remote"]);
    assert!(
        stderr.contains("refusing to serve on 0.0.0.0:0 without authentication")
            && stderr.contains("--auth-token-file FILE"),
        "{stderr}"
    );
    let stderr = refused(&["--http", "0.0.0.0:0", "--allow-remote", "--no-auth"]);
    assert!(
        stderr.contains("--no-auth is only for loopback addresses"),
        "{stderr}"
    );
    let stderr = refused(&[
        "--http",
        "127.0.0.1:0",
        "--no-auth",
        "--auth-token-file",
        "t",
    ]);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let output = std::process::Command::new(canopy_binary())
        .args([
            "serve",
            &tree("routers.toml").display().to_string(),
            "--http",
            "192.0.2.1:80",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--allow-remote"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
