//! `canopy serve --http --auth-token-file`: only callers with one of the file's bearer tokens
//! reach the tree (rmcp's client with the token lists and calls; no token, a wrong one, or
//! another scheme get 401 with a `WWW-Authenticate: Bearer` challenge), and a bad token file
//! is refused before any child starts.

mod common;

use std::process::Stdio;

use common::{canopy, canopy_binary, leaf_server, tree, wait_for_url};
use rmcp::{
    model::{CallToolRequestParams, ProtocolVersion},
    service::{ClientLifecycleMode, ClientServiceExt},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "canopy-test-token-0123456789";

/// `canopy serve demo.toml --http 127.0.0.1:0 --auth-token-file FILE`, and its URL.
async fn serve_with_tokens(file: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(canopy_binary())
        .arg("serve")
        .arg(tree("demo.toml"))
        .args(["--http", "127.0.0.1:0", "--auth-token-file"])
        .arg(file)
        .env("LEAF_SERVER", leaf_server())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy starts");
    let url = wait_for_url(&mut child, "serving tree 'hub' at").await;
    (child, url)
}

fn token_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("tokens.txt");
    std::fs::write(
        &path,
        format!("# who may call\nsomeone-else-0123456789\n\n{TOKEN}\n"),
    )
    .expect("writes");
    path
}

/// One raw HTTP/1.1 `initialize` POST with an optional `Authorization` header: the status,
/// the `WWW-Authenticate` header and the body.
async fn post(url: &str, authorization: Option<&str>) -> (u16, Option<String>, String) {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .expect("http://ADDR/mcp");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\n{authorization}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connects");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("reads");
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        // A 200 streams SSE and stays open: its status line is all this needs.
        if response.starts_with(b"HTTP/1.1 200") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let challenge = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("www-authenticate")
            .then(|| value.trim().to_owned())
    });
    (status, challenge, body.to_owned())
}

#[tokio::test]
async fn only_callers_with_a_token_reach_the_tree() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (_server, url) = serve_with_tokens(&token_file(&dir)).await;

    let (status, challenge, body) = post(&url, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="canopy""#));
    assert!(body.contains("needs a bearer token"), "{body}");

    for wrong in [
        "Bearer canopy-test-token-012345678",
        "Bearer canopy-test-token-0123456789x",
        "Basic Y2Fub3B5OnRlc3Q=",
    ] {
        let (status, challenge, body) = post(&url, Some(wrong)).await;
        assert_eq!(status, 401, "{wrong}: {body}");
        let challenge = challenge.expect("a challenge");
        assert!(
            challenge.starts_with("Bearer realm=\"canopy\""),
            "{challenge}"
        );
        if wrong.starts_with("Bearer") {
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
        }
    }

    let (status, _, _) = post(&url, Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "the scheme is case-insensitive");

    // rmcp's client with the token, at both revision families.
    for lifecycle in [
        ClientLifecycleMode::Initialize,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    ] {
        let config = StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header(TOKEN);
        let client = ()
            .serve_with_lifecycle(
                StreamableHttpClientTransport::from_config(config),
                lifecycle,
            )
            .await
            .expect("a client with the token connects");
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(
            tools.iter().any(|t| t.name == "research__web__search"),
            "{tools:?}"
        );
        let mut params = CallToolRequestParams::new("research__web__search");
        params.arguments = serde_json::json!({ "query": "rust" }).as_object().cloned();
        let result = client.call_tool(params).await.expect("tools/call");
        let text = result.content[0].as_text().map(|t| t.text.clone());
        assert_eq!(text.as_deref(), Some("https://example.org/rust"));
        client.cancel().await.expect("close");
    }

    // Without the token, rmcp's client cannot even initialize.
    let refused = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.as_str()),
            ClientLifecycleMode::Initialize,
        )
        .await;
    assert!(refused.is_err(), "a client without a token was let in");
}

#[test]
fn a_bad_token_file_is_a_usage_error_before_anything_starts() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "# ops\nabc\n").expect("writes");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nobody yet\n").expect("writes");
    let missing = dir.path().join("missing.txt");
    for (file, expected) in [
        (
            &short,
            format!(
                "{}:2: a token must have at least 16 characters (this one has 3)",
                short.display()
            ),
        ),
        (
            &empty,
            format!("{}: no token (one token a line", empty.display()),
        ),
        (
            &missing,
            format!("cannot read the token file {}", missing.display()),
        ),
    ] {
        let output = canopy(&["serve", &tree("demo.toml").display().to_string()])
            .args(["--http", "127.0.0.1:0", "--auth-token-file"])
            .arg(file)
            // A tree whose children would fail: the file must be refused first.
            .env("LEAF_SERVER", "/nonexistent/leaf")
            .output()
            .expect("canopy runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("canopy: --auth-token-file: {expected}")),
            "{stderr}"
        );
        assert!(!stderr.contains("TOKEN"), "{stderr}");
    }
}

#[test]
fn the_token_file_needs_http() {
    let output = canopy(&["serve", &tree("demo.toml").display().to_string()])
        .args(["--auth-token-file", "tokens.txt"])
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--http"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
