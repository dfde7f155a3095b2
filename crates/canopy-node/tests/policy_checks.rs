//! Policies that users get wrong or cannot satisfy, and names that users get almost right:
//! - a rule that matches no capability is a warning naming the rule, its node and the
//!   nearest existing ids, at build and again (once) when a child's list change makes one;
//! - a client that cannot answer permission prompts (no elicitation) is told so, and each
//!   node's `on_unanswerable` decides whether the call goes ahead (ancestors only narrow),
//!   over loopback Streamable HTTP at 2025-11-25 and 2026-07-28;
//! - unknown names get "did you mean" by edit distance, and canonical ids work wherever an
//!   exposed name does.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use canopy_node::{Node, Tree};
use canopy_topology::{OnUnanswerable, Policy};
use common::{args, servers, text};
use rmcp::{
    ErrorData as McpError, RoleClient, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
        ContentBlock, GetPromptRequestParams, Implementation, ListToolsResult,
        PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
    },
    service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService},
};
use serde_json::json;

/// How long a test waits for a refresh before it gives up (a hang guard only).
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_rule_that_matches_nothing_is_a_warning_with_the_nearest_ids() {
    let tree = Tree::builder(
        Node::new("hub")
            .policy(Policy::new().ask("lab/analyse").deny("notes/write_note"))
            .child(Node::server("lab", servers::Lab::new()))
            .child(
                Node::server("notes", servers::Notes::new()).policy(
                    Policy::new()
                        .allow("read_notes")
                        .allow("greet*")
                        .ask("writ_note"),
                ),
            ),
    )
    .build()
    .await
    .expect("the tree builds");
    let warnings: Vec<String> = tree
        .policy_warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            "policy rule ask \"lab/analyse\" of the root node matches no capability; nearest: \
             'lab/analyze', 'lab/wait', 'lab/was_cancelled'",
            "policy rule ask \"writ_note\" of node 'notes' matches no capability; nearest: \
             'notes/write_note', 'notes/read_notes', 'notes/greet'",
        ]
    );
    let warning = &tree.policy_warnings()[0];
    assert!(warning.node.is_root());
    assert_eq!(warning.rule.glob, "lab/analyse");
    assert_eq!(warning.nearest[0].to_string(), "lab/analyze");
    assert!(warning.unconnected.is_empty());
    // What the warning is about: the typo lets the tool run unasked.
    assert!(
        tree.tools().iter().any(|t| t.name == "lab__analyze"),
        "the tool is listed"
    );
}

/// A server whose tools can be retired one by one (`retire`), announcing each change.
#[derive(Clone)]
struct Shelf {
    tools: Arc<Mutex<Vec<&'static str>>>,
}

impl Shelf {
    fn new() -> Self {
        Self {
            tools: Arc::new(Mutex::new(vec!["archive", "extra", "retire"])),
        }
    }
}

impl ServerHandler for Shelf {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = self.tools.lock().expect("lock").clone();
        Ok(ListToolsResult::with_all_items(
            tools
                .into_iter()
                .map(|name| Tool::new(name, "a shelf tool", Arc::new(serde_json::Map::new())))
                .collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        self.tools
            .lock()
            .expect("lock")
            .retain(|tool| *tool != name);
        let _ = context.peer.notify_tool_list_changed().await;
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("retired {name}"))]).into())
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

async fn wait_until_tools(tree: &Tree, done: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
        if done(&names) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tree never refreshed: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// Single-threaded: the refresh runs on a task of this thread, under the capturing subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_refresh_warns_once_about_a_rule_that_stopped_matching() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .finish();
    let _guard = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);
    let tree = Tree::builder(
        Node::new("hub")
            .policy(Policy::new().ask("shelf/archive"))
            .child(Node::server("shelf", Shelf::new())),
    )
    .build()
    .await
    .expect("the tree builds");
    assert!(tree.policy_warnings().is_empty());
    let retire = |name: &str| {
        let tree = tree.clone();
        let arguments = args(json!({ "name": name }));
        async move { tree.call_tool("shelf__retire", arguments).await }
    };
    retire("archive").await.expect("retired");
    wait_until_tools(&tree, |names| !names.iter().any(|n| n == "shelf__archive")).await;
    let expected = "policy rule ask \"shelf/archive\" of the root node matches no capability; \
                    nearest: 'shelf/retire', 'shelf/extra'";
    assert_eq!(
        tree.policy_warnings()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [expected]
    );
    // Another change that leaves the rule unmatched is not warned about again.
    retire("extra").await.expect("retired");
    wait_until_tools(&tree, |names| !names.iter().any(|n| n == "shelf__extra")).await;
    let logged = captured.text();
    assert_eq!(logged.matches(expected).count(), 1, "{logged}");
    assert!(logged.contains(" WARN "), "{logged}");
}

/// An rmcp client that declares no elicitation capability (as the MCP Inspector CLI).
#[derive(Clone)]
struct CannotAsk {
    protocol: ProtocolVersion,
}

impl rmcp::ClientHandler for CannotAsk {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("cannot-ask", "1.0"),
        )
        .with_protocol_version(self.protocol.clone())
    }
}

/// Serves `tree` over Streamable HTTP on a loopback port; the URL of its endpoint.
async fn serve_http(tree: &Tree) -> String {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
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
    format!("http://{addr}/mcp")
}

async fn connect(url: &str, protocol: &ProtocolVersion) -> RunningService<RoleClient, CannotAsk> {
    let lifecycle = if *protocol >= ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![protocol.clone()],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url);
    let client = CannotAsk {
        protocol: protocol.clone(),
    }
    .serve_with_lifecycle(transport, lifecycle)
    .await
    .expect("the client connects");
    assert_eq!(
        client.peer_info().expect("info").protocol_version,
        *protocol
    );
    client
}

/// A tree whose root asks about `office/notes/write_note`, and whose `office` node asks
/// about `notes/*`: each with its own `on_unanswerable`.
async fn office(root: OnUnanswerable, office: OnUnanswerable) -> (Tree, servers::Notes) {
    let notes = servers::Notes::new();
    let tree = Tree::builder(
        Node::new("hub")
            .policy(
                Policy::new()
                    .ask("office/notes/write_note")
                    .on_unanswerable(root),
            )
            .child(
                Node::new("office")
                    .policy(Policy::new().ask("notes/*").on_unanswerable(office))
                    .child(Node::server("notes", notes.clone())),
            ),
    )
    .build()
    .await
    .expect("the tree builds");
    (tree, notes)
}

fn write(text: &str) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("office__notes__write_note");
    params.arguments = args(json!({ "text": text }));
    params
}

async fn unanswerable_calls(protocol: ProtocolVersion) {
    use OnUnanswerable::{Allow, Deny};
    // Default (deny): refused, saying that nobody could be asked.
    let (tree, notes) = office(Deny, Deny).await;
    let client = connect(&serve_http(&tree).await, &protocol).await;
    let refused = client.call_tool(write("x")).await.expect("a tool result");
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        text(&refused),
        "The call to 'office/notes/write_note' needs the user's approval ('(root)' asks for \
         'office/notes/write_note'; 'office' asks for 'notes/*'), but this client cannot \
         answer permission prompts (it has no elicitation support), so nobody was asked and \
         the call was not made. Use a client that supports elicitation, or set \
         on_unanswerable = \"allow\" in the [policy] of the asking node."
    );
    assert!(notes.notes.lock().expect("lock").is_empty());
    client.cancel().await.expect("close");

    // The root allows it, but the office node (which asks too) does not: still refused.
    let (tree, notes) = office(Allow, Deny).await;
    let client = connect(&serve_http(&tree).await, &protocol).await;
    let refused = client.call_tool(write("x")).await.expect("a tool result");
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    assert!(notes.notes.lock().expect("lock").is_empty());
    client.cancel().await.expect("close");

    // Every asking node allows it: the call goes ahead unasked.
    let (tree, notes) = office(Allow, Allow).await;
    let client = connect(&serve_http(&tree).await, &protocol).await;
    let written = client.call_tool(write("x")).await.expect("a tool result");
    assert_eq!(text(&written), "1 notes");
    assert_eq!(*notes.notes.lock().expect("lock"), ["x"]);
    // read_notes is asked about by the office node only, which allows it.
    let mut read = CallToolRequestParams::new("office__notes__read_notes");
    read.arguments = args(json!({}));
    assert_eq!(text(&client.call_tool(read).await.expect("read")), "x");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_client_that_cannot_answer_is_told_so_at_2025_11_25() {
    unanswerable_calls(ProtocolVersion::V_2025_11_25).await;
}

#[tokio::test]
async fn a_client_that_cannot_answer_is_told_so_at_2026_07_28() {
    unanswerable_calls(ProtocolVersion::V_2026_07_28).await;
}

#[tokio::test]
async fn a_host_call_nobody_reads_follows_on_unanswerable() {
    let (tree, notes) = office(OnUnanswerable::Allow, OnUnanswerable::Allow).await;
    let result = tree
        .call_tool("office__notes__write_note", args(json!({"text": "quiet"})))
        .await
        .expect("a result");
    assert_eq!(text(&result), "1 notes");
    assert_eq!(*notes.notes.lock().expect("lock"), ["quiet"]);
}

async fn research() -> Tree {
    Tree::builder(
        Node::new("hub")
            .policy(Policy::new().ask("notes/write_note").deny("lab/wait"))
            .child(Node::new("research").child(Node::server("web", servers::Web::new())))
            .child(Node::server("lab", servers::Lab::new()))
            .child(Node::server("notes", servers::Notes::new())),
    )
    .build()
    .await
    .expect("the tree builds")
}

#[tokio::test]
async fn unknown_names_get_the_nearest_exposed_names() {
    let tree = research().await;
    let error = |name: &'static str| {
        let tree = tree.clone();
        async move {
            let message = tree
                .call_tool(name, args(json!({})))
                .await
                .expect_err("unknown")
                .to_string();
            // Invalid params, as every unknown name.
            message
                .strip_suffix(" (code -32602)")
                .unwrap_or_else(|| panic!("{message}"))
                .to_owned()
        }
    };
    assert_eq!(
        error("lab__analyse").await,
        "unknown tool 'lab__analyse'; did you mean 'lab__analyze'?"
    );
    assert_eq!(
        error("research__web__serch").await,
        "unknown tool 'research__web__serch'; did you mean 'research__web__search'?"
    );
    assert_eq!(
        error("search").await,
        "unknown tool 'search'; did you mean 'research__web__search'?"
    );
    assert_eq!(
        error("notes/read_note").await,
        "unknown tool 'notes/read_note'; did you mean 'notes__read_notes'?"
    );
    // Denied tools are not offered, and far-off names get no guess.
    assert_eq!(error("lab__wai").await, "unknown tool 'lab__wai'");
    assert_eq!(error("frobnicate").await, "unknown tool 'frobnicate'");

    let client = in_memory_client(&tree).await;
    let error = client
        .get_prompt(GetPromptRequestParams::new("notes__summarise"))
        .await
        .expect_err("unknown prompt");
    assert!(
        error
            .to_string()
            .contains("unknown prompt 'notes__summarise'; did you mean 'notes__summarize'?"),
        "{error}"
    );
    let error = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "canopy://notes/notes://al",
        ))
        .await
        .expect_err("unknown resource");
    assert!(
        error.to_string().contains(
            "no node of this tree owns the resource 'canopy://notes/notes://al'; did you mean \
             'canopy://notes/notes://all'?"
        ),
        "{error}"
    );
    client.cancel().await.expect("close");
}

async fn in_memory_client(tree: &Tree) -> RunningService<RoleClient, common::TestClient> {
    use rmcp::ServiceExt;
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = tree.server();
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    common::TestClient::new(true)
        .serve(client_io)
        .await
        .expect("the client connects")
}

#[tokio::test]
async fn canonical_ids_work_wherever_exposed_names_do() {
    let tree = research().await;
    let found = tree
        .call_tool("research/web/search", args(json!({"query": "rust"})))
        .await
        .expect("called by canonical id");
    assert_eq!(text(&found), "https://example.org/rust");
    // Policies apply the same way: a denied tool stays denied by its id.
    let denied = tree
        .call_tool("lab/wait", args(json!({})))
        .await
        .expect_err("denied");
    assert!(
        denied.to_string().contains("'lab/wait' is denied"),
        "{denied}"
    );
    // An `ask` tool asks, by its id too (the host answers the prompt).
    let mut call = tree.start_call("notes/write_note", args(json!({"text": "by id"})));
    let mut asked = Vec::new();
    while let Some(event) = call.next_event().await {
        if let canopy_node::EventKind::Question(prompt) = &event.kind {
            asked.push(prompt.message.clone());
            prompt.respond(canopy_node::Answer::Accept(Default::default()));
        }
    }
    assert_eq!(text(&call.result().await.expect("written")), "1 notes");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("'notes/write_note'"), "{asked:?}");

    // Through the server face: tools/call and prompts/get.
    let client = in_memory_client(&tree).await;
    let mut params = CallToolRequestParams::new("notes/read_notes");
    params.arguments = args(json!({}));
    let read = client.call_tool(params).await.expect("read by id");
    assert_eq!(text(&read), "by id");
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("notes/summarize"))
        .await
        .expect("prompt by id");
    let message = serde_json::to_value(&prompt.messages[0]).expect("json");
    assert_eq!(message["content"]["text"], "Summarize these notes:\nby id");
    client.cancel().await.expect("close");
}
