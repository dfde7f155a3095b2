//! Helpers shared by the `canopy` command's tests: the binary, the demo tree files, and the
//! `leaf_server` example whose processes are the trees' leaves.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub mod authorization;

/// The `canopy` binary under test.
pub fn canopy_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_canopy"))
}

/// The `leaf_server` example (built first, so a test never runs a stale one).
pub fn leaf_server() -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !*built {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "canopy",
                "--example",
                "leaf_server",
            ])
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the leaf_server example failed");
        *built = true;
    }
    let path = canopy_binary()
        .parent()
        .expect("target/<profile>")
        .join("examples/leaf_server");
    assert!(
        path.exists(),
        "{} is missing after building it",
        path.display()
    );
    path
}

/// A tree file of this crate's tests.
pub fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees")
        .join(name)
}

/// `canopy ARGS` with `LEAF_SERVER` set for the tree files, stdin closed.
pub fn canopy(args: &[&str]) -> Command {
    let mut command = Command::new(canopy_binary());
    command
        .args(args)
        .env("LEAF_SERVER", leaf_server())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    command
}

/// Runs `canopy ARGS` to the end.
pub fn run(args: &[&str]) -> Output {
    canopy(args).output().expect("canopy runs")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The demo tree (`demo.toml`) with `tables` (TOML: a `[serve]` table, say) before its
/// `[policy]`, written to `dir/name`.
pub fn demo_with(dir: &Path, name: &str, tables: &str) -> PathBuf {
    let demo = std::fs::read_to_string(tree("demo.toml")).expect("demo.toml");
    let (head, rest) = demo.split_once("\n[policy]").expect("a [policy] table");
    let file = dir.join(name);
    std::fs::write(&file, format!("{head}\n{tables}\n\n[policy]{rest}")).expect("writes");
    file
}

/// `canopy serve ARGS…` with the demo leaf and `envs`, once it has announced its URL: the
/// child (killed when dropped) and the URL.
pub async fn serve_announced<A: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = A>,
    envs: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(canopy_binary())
        .arg("serve")
        .args(args)
        .env("LEAF_SERVER", leaf_server())
        .envs(envs.iter().copied())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy starts");
    let url = wait_for_url(&mut child, "serving tree 'hub' at").await;
    (child, url)
}

/// Reads a child's stderr until a line containing `marker`, and returns the first
/// `http://…/mcp` URL on it. A guard (not a measurement) fails the test if the line never
/// comes.
pub async fn wait_for_url(child: &mut tokio::process::Child, marker: &str) -> String {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("stderr readable") {
            if line.contains(marker) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the server announces its address")
    .expect("the server exited before announcing its address");
    // Keep draining stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let start = found.find("http://").expect("a URL on the line");
    found[start..]
        .split_whitespace()
        .next()
        .expect("the URL")
        .to_owned()
}

/// The stdout lines as JSON events, each checked to carry `type`, `path` and `call`.
pub fn events(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
            for key in ["type", "path", "call"] {
                assert!(event.get(key).is_some(), "no '{key}' in {line}");
            }
            event
        })
        .collect()
}

/// An MCP `initialize` request (2025-11-25), the body of the raw HTTP tests' POSTs.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// What [`http`] got back.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One raw HTTP/1.1 request on loopback (`Connection: close`), so that tests control every
/// header (a `Host` in `headers` replaces the URL's). A `200` event stream is read only to
/// its headers; anything else to the end.
pub async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or(authority, |(_, value)| value);
    let extra: String = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connects");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await.expect("reads");
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        if text.starts_with("HTTP/1.1 200") && text.contains("text/event-stream") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// [`http`]: an MCP `initialize` POST to `url` with `headers` besides the JSON ones.
pub async fn post_initialize(url: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut all = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    all.extend_from_slice(headers);
    http("POST", url, &all, INITIALIZE).await
}

/// rmcp's Streamable HTTP client of `url` with `token` as its bearer token, at 2025-11-25
/// (`Initialize`) or 2026-07-28.
pub async fn client_with_token(
    url: &str,
    token: &str,
    lifecycle: rmcp::service::ClientLifecycleMode,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    use rmcp::{
        service::ClientServiceExt,
        transport::{
            StreamableHttpClientTransport,
            streamable_http_client::StreamableHttpClientTransportConfig,
        },
    };
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    ().serve_with_lifecycle(
        StreamableHttpClientTransport::from_config(config),
        lifecycle,
    )
    .await
    .expect("a client with the token connects")
}

/// Both revision families' lifecycles: 2025-11-25's `initialize`, 2026-07-28's discovery.
pub fn lifecycles() -> [rmcp::service::ClientLifecycleMode; 2] {
    use rmcp::{model::ProtocolVersion, service::ClientLifecycleMode};
    [
        ClientLifecycleMode::Initialize,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    ]
}

/// The names of every tool a client lists.
pub async fn tool_names(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> Vec<String> {
    let tools = client.list_all_tools().await.expect("tools/list");
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

/// rmcp's Streamable HTTP client with `token` as its bearer token, at 2025-11-25 and at
/// 2026-07-28: each lists the demo tree's tools and calls `research__web__search`.
pub async fn search_with_token(url: &str, token: &str) {
    use rmcp::model::CallToolRequestParams;
    for lifecycle in lifecycles() {
        let client = client_with_token(url, token, lifecycle).await;
        let names = tool_names(&client).await;
        assert!(
            names.iter().any(|name| name == "research__web__search"),
            "{names:?}"
        );
        let mut params = CallToolRequestParams::new("research__web__search");
        params.arguments = serde_json::json!({ "query": "rust" }).as_object().cloned();
        let result = client.call_tool(params).await.expect("tools/call");
        let text = result.content[0].as_text().map(|t| t.text.clone());
        assert_eq!(text.as_deref(), Some("https://example.org/rust"));
        client.cancel().await.expect("close");
    }
}
