//! An agent served to an MCP host uses the host's model through sampling — no API key:
//! `examples/trees/host_model.toml` (an agent with `provider = "sampling"` over the web and
//! notes leaves) served to an rmcp client whose model (its `create_message`) first asks for
//! the web search tool, then answers with what the tool returned. The host declares
//! `sampling.tools` (SEP-1577): the agent offers its tools in each sampling request.

// The host answers MCP sampling, which SEP-2577 deprecates but hosts still implement.
#![allow(deprecated)]

mod common;

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use canopy::node::{Tree, treefile};
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, CreateMessageRequestParams,
        CreateMessageResult, Implementation, SamplingMessage, SamplingMessageContentBlock,
    },
    service::RequestContext,
};
use serde_json::json;

/// A host whose "model" searches once, then answers with the search result it was shown.
#[derive(Clone, Default)]
struct Host {
    requests: Arc<Mutex<Vec<CreateMessageRequestParams>>>,
}

impl ClientHandler for Host {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder()
                .enable_sampling()
                .enable_sampling_tools()
                .build(),
            Implementation::new("sampling-host", "1.0"),
        )
    }

    #[allow(deprecated)]
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        let first = self.requests.lock().expect("lock").is_empty();
        self.requests.lock().expect("lock").push(params.clone());
        let message = if first {
            let tool = params
                .tools
                .iter()
                .flatten()
                .find(|t| t.name.ends_with("search"))
                .map(|t| t.name.to_string())
                .unwrap_or_default();
            let input = json!({ "query": "rust" });
            SamplingMessage::new(
                rmcp::model::Role::Assistant,
                SamplingMessageContentBlock::tool_use(
                    "call-1",
                    tool,
                    input.as_object().cloned().unwrap_or_default(),
                ),
            )
        } else {
            let seen = serde_json::to_string(&params.messages).unwrap_or_default();
            let answer = if seen.contains("https://example.org/rust") {
                "The web index has https://example.org/rust."
            } else {
                "I did not see the search result."
            };
            SamplingMessage::assistant_text(answer)
        };
        Ok(CreateMessageResult::new(message, "host-model-1".into()))
    }
}

#[tokio::test]
async fn a_served_agent_thinks_with_the_hosts_model() {
    let leaf = common::example_binary("leaf_server");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trees/host_model.toml");
    let source = std::fs::read_to_string(&path).expect("host_model.toml");
    let env = |name: &str| match name {
        "LEAF_SERVER" => Some(leaf.display().to_string()),
        other => std::env::var(other).ok(),
    };
    let root = treefile::Loader::new()
        .agents(canopy::agent::schema())
        .parse(
            &source,
            "host_model.toml",
            path.parent().expect("a folder"),
            &env,
        )
        .expect("the tree file loads");
    let tree = Tree::builder(root)
        .agents(canopy::agent::factory())
        .build()
        .await
        .expect("the tree builds");

    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = tree.server();
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let host = Host::default();
    let client = host.clone().serve(client_io).await.expect("connects");
    let mut params = CallToolRequestParams::new("run");
    params.arguments = json!({ "task": "What does the web index say about rust?" })
        .as_object()
        .cloned();
    let result = client.call_tool(params).await.expect("the agent answers");
    assert_eq!(
        result.content[0].as_text().expect("text").text,
        "The web index has https://example.org/rust."
    );
    let summary = result.structured_content.expect("a summary");
    assert_eq!(summary["outcome"], "answered");
    assert_eq!(summary["toolCalls"], 1);
    assert_eq!(summary["model"], "host-model-1 (via sampling)");

    let requests = host.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 2, "one sampling request per turn");
    let offered: Vec<String> = requests[0]
        .tools
        .iter()
        .flatten()
        .map(|t| t.name.to_string())
        .collect();
    assert!(offered.contains(&"web__search".to_owned()), "{offered:?}");
    assert_eq!(
        requests[0].system_prompt.as_deref(),
        Some("You help the user. Use the web tools to look things up and the notes to remember.")
    );
    client.cancel().await.expect("close");
    tree.shutdown().await;
}
