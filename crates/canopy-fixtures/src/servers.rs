//! Small demo servers that Canopy's examples, tests and benchmarks mount as leaves of a tree.
//!
//! They are ordinary rmcp `ServerHandler`s — nothing Canopy-specific — so they show that
//! any rmcp server can be mounted as it is. Each one's tools are in its description below;
//! `examples/leaf_server.rs` serves any of them as a process of its own.
// `Dynamic` shows logging and sampling, which SEP-2577 deprecates but the 2025 revisions have.
#![allow(deprecated)]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::InputResponses, wrapper::Parameters},
    model::{
        CallToolResponse, CallToolResult, ContentBlock, ElicitRequest, ElicitRequestParams,
        ElicitResult, ElicitationAction, ElicitationSchema, GetPromptRequestParams,
        GetPromptResult, InputRequest, InputRequiredResult, ListPromptsResult, ListResourcesResult,
        PaginatedRequestParams, ProgressNotificationParam, Prompt, PromptMessage, ProtocolVersion,
        ReadResourceRequestParams, ReadResourceResult, Resource, ResourceContents, Role,
        ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// A search engine over a tiny fixed corpus: `search` and `fetch`.
#[derive(Debug, Clone)]
pub struct Web {
    tool_router: ToolRouter<Self>,
}

/// The arguments of [`Web`]'s `search`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
}

/// The arguments of [`Web`]'s `fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FetchArgs {
    /// The page to fetch.
    pub url: String,
}

const PAGES: &[(&str, &str)] = &[
    (
        "https://example.org/mcp",
        "The Model Context Protocol connects models to tools.",
    ),
    (
        "https://example.org/rust",
        "Rust is a language empowering everyone.",
    ),
    (
        "https://example.org/trees",
        "Trees of agents delegate work to their children.",
    ),
];

#[tool_router]
impl Web {
    /// A search engine over the fixed corpus.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Search the corpus; returns matching URLs")]
    async fn search(&self, Parameters(args): Parameters<SearchArgs>) -> String {
        let hits: Vec<&str> = PAGES
            .iter()
            .filter(|(url, text)| {
                url.contains(&args.query)
                    || text.to_lowercase().contains(&args.query.to_lowercase())
            })
            .map(|(url, _)| *url)
            .collect();
        if hits.is_empty() {
            format!("no results for '{}'", args.query)
        } else {
            hits.join("\n")
        }
    }

    #[tool(description = "Fetch a page of the corpus by URL")]
    async fn fetch(
        &self,
        Parameters(args): Parameters<FetchArgs>,
    ) -> Result<CallToolResult, McpError> {
        match PAGES.iter().find(|(url, _)| *url == args.url) {
            Some((_, text)) => Ok(CallToolResult::success(vec![ContentBlock::text(*text)])),
            None => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "no page at {}",
                args.url
            ))])),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Web {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A slow analysis that reports progress at every step and stops when cancelled.
#[derive(Debug, Clone)]
pub struct Lab {
    tool_router: ToolRouter<Self>,
    /// Set when a call saw its cancellation.
    pub cancelled: Arc<AtomicBool>,
}

/// The arguments of [`Lab`]'s `analyze`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AnalyzeArgs {
    /// How many steps to run.
    pub steps: u32,
    /// Milliseconds per step.
    #[serde(default)]
    pub step_ms: u64,
}

#[tool_router]
impl Lab {
    /// A lab that has seen no cancellation yet.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            cancelled: Arc::default(),
        }
    }

    #[tool(description = "Run a slow analysis, reporting progress after every step")]
    async fn analyze(
        &self,
        Parameters(args): Parameters<AnalyzeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let token = context.meta.get_progress_token();
        for step in 1..=args.steps {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(args.step_ms)) => {}
                () = context.ct.cancelled() => {
                    self.cancelled.store(true, Ordering::SeqCst);
                    return Ok(CallToolResult::error(vec![ContentBlock::text("cancelled")]));
                }
            }
            if let Some(token) = &token {
                let params = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(args.steps))
                    .with_message(format!("step {step} of {}", args.steps));
                let _ = context.peer.notify_progress(params).await;
            }
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "analysis complete after {} steps",
            args.steps
        ))]))
    }

    #[tool(description = "Whether any call of this server saw its cancellation")]
    async fn was_cancelled(&self) -> String {
        self.cancelled.load(Ordering::SeqCst).to_string()
    }

    #[tool(description = "Wait until cancelled")]
    async fn wait(&self, context: RequestContext<RoleServer>) -> String {
        context.ct.cancelled().await;
        self.cancelled.store(true, Ordering::SeqCst);
        "cancelled".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Lab {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A notebook: `write_note` (worth an `ask` policy), `read_notes`, a resource and a prompt.
#[derive(Debug, Clone)]
pub struct Notes {
    tool_router: ToolRouter<Self>,
    /// The notes written so far, shared by every clone.
    pub notes: Arc<Mutex<Vec<String>>>,
}

/// The arguments of [`Notes`]' `write_note` and [`Faulty`]'s `shout`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteArgs {
    /// The note's text.
    pub text: String,
}

#[tool_router]
impl Notes {
    /// An empty notebook.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            notes: Arc::default(),
        }
    }

    #[tool(description = "Append a note")]
    async fn write_note(&self, Parameters(args): Parameters<NoteArgs>) -> String {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        notes.push(args.text);
        format!("{} notes", notes.len())
    }

    #[tool(description = "Read every note")]
    async fn read_notes(&self) -> String {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Asks for the user's name: with `elicitation/create` on session-based revisions, with
    /// an `input_required` result on 2026-07-28 (the client retries with the answer).
    #[tool(description = "Ask the user for their name, then greet them")]
    async fn greet(
        &self,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let schema = ElicitationSchema::builder()
            .required_string("name")
            .build()
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: "What is your name?".into(),
            requested_schema: schema,
        };
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let result = if stateless {
            match responses.and_then(|mut r| r.remove("name")) {
                Some(answer) => serde_json::from_value::<ElicitResult>(answer).map_err(|e| {
                    McpError::invalid_params(format!("bad inputResponses: {e}"), None)
                })?,
                None => {
                    let mut requests = rmcp::model::InputRequests::new();
                    requests.insert(
                        "name".into(),
                        InputRequest::Elicitation(ElicitRequest::new(params)),
                    );
                    return Ok(InputRequiredResult::new(Some(requests), None).into());
                }
            }
        } else {
            context
                .peer
                .create_elicitation(params)
                .await
                .map_err(|e| McpError::internal_error(format!("elicitation failed: {e}"), None))?
        };
        let greeting = match (result.action, result.content) {
            (ElicitationAction::Accept, Some(content)) => {
                format!(
                    "Hello, {}!",
                    content
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("stranger")
                )
            }
            _ => "No name given.".to_owned(),
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(greeting)]).into())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "notes://all",
            "all notes",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, McpError> {
        if request.uri != "notes://all" {
            return Err(McpError::resource_not_found(
                format!("no resource {}", request.uri),
                None,
            ));
        }
        let text = self
            .notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n");
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, "notes://all")]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "summarize",
            Some("Summarize the notes"),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, McpError> {
        if request.name != "summarize" {
            return Err(McpError::invalid_params(
                format!("no prompt {}", request.name),
                None,
            ));
        }
        let notes = self
            .notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n");
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Summarize these notes:\n{notes}"),
        )])
        .into())
    }
}

/// Misbehaving tools: a panic, a tool error, a protocol error.
#[derive(Debug, Clone)]
pub struct Faulty {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Faulty {
    /// The misbehaving server.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Panics")]
    async fn explode(&self) -> String {
        panic!("the faulty tool exploded on purpose")
    }

    #[tool(description = "Writes `text` to the process's stderr")]
    async fn shout(&self, Parameters(args): Parameters<NoteArgs>) -> String {
        eprintln!("{}", args.text);
        "shouted".to_owned()
    }

    #[tool(description = "Exits the whole process mid-call (to test crashes)")]
    async fn die(&self) -> String {
        std::process::exit(3)
    }

    #[tool(description = "Fails as a tool (isError)")]
    async fn fail(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("this tool always fails")])
    }

    #[tool(description = "Fails with a protocol error")]
    async fn broken(&self) -> Result<String, McpError> {
        Err(McpError::internal_error("the broken tool is broken", None))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Faulty {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A server whose tool list grows, that logs, and that asks the caller's model (sampling).
#[derive(Debug, Clone)]
pub struct Dynamic {
    tool_router: ToolRouter<Self>,
    extra: Arc<Mutex<Vec<String>>>,
}

/// The arguments of [`Dynamic`]'s `add_tool`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddToolArgs {
    /// The new tool's name.
    pub name: String,
}

#[tool_router]
impl Dynamic {
    /// A server with only its own tools (none added yet).
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            extra: Arc::default(),
        }
    }

    #[tool(description = "Add a tool named `name` and announce the change")]
    async fn add_tool(
        &self,
        Parameters(args): Parameters<AddToolArgs>,
        context: RequestContext<RoleServer>,
    ) -> String {
        self.extra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(args.name.clone());
        let _ = context.peer.notify_tool_list_changed().await;
        format!("added {}", args.name)
    }

    #[tool(description = "Log a message at info level, then answer")]
    #[allow(deprecated)]
    async fn chatty(&self, context: RequestContext<RoleServer>) -> String {
        let params = rmcp::model::LoggingMessageNotificationParam::new(
            rmcp::model::LoggingLevel::Info,
            serde_json::json!("chatty is working"),
        )
        .with_logger("chatty");
        let _ = context.peer.notify_logging_message(params).await;
        "done".to_owned()
    }

    /// Asks the caller's model to complete a sentence: `sampling/createMessage` on session
    /// revisions, an `input_required` result on 2026-07-28.
    #[tool(description = "Ask the caller's model to complete a sentence")]
    async fn ask_model(
        &self,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let params = rmcp::model::CreateMessageRequestParams::new(
            vec![rmcp::model::SamplingMessage::user_text(
                "Complete: the sky is",
            )],
            32,
        );
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let result = if stateless {
            match responses.and_then(|mut r| r.remove("model")) {
                Some(answer) => serde_json::from_value::<rmcp::model::CreateMessageResult>(answer)
                    .map_err(|e| {
                        McpError::invalid_params(format!("bad inputResponses: {e}"), None)
                    })?,
                None => {
                    let mut requests = rmcp::model::InputRequests::new();
                    requests.insert(
                        "model".into(),
                        InputRequest::CreateMessage(rmcp::model::CreateMessageRequest::new(params)),
                    );
                    return Ok(InputRequiredResult::new(Some(requests), None).into());
                }
            }
        } else {
            context
                .peer
                .create_message(params)
                .await
                .map_err(|e| McpError::internal_error(format!("sampling failed: {e}"), None))?
        };
        let text = serde_json::to_value(&result.message.content).unwrap_or_default();
        let said = format!(
            "model said: {}",
            text.get("text").and_then(|t| t.as_str()).unwrap_or("?")
        );
        Ok(CallToolResult::success(vec![ContentBlock::text(said)]).into())
    }
}

impl ServerHandler for Dynamic {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, McpError> {
        let mut tools = self.tool_router.list_all();
        for name in self.extra.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            tools.push(rmcp::model::Tool::new(
                name.clone(),
                "an added tool",
                Arc::new(serde_json::Map::new()),
            ));
        }
        Ok(rmcp::model::ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if self
            .extra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|n| *n == request.name)
        {
            return Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                "{} ran",
                request.name
            ))])
            .into());
        }
        let context = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        self.tool_router.call(context).await
    }
}

/// A server with one watched resource, `watch://counter`, that callers subscribe to: legacy
/// `resources/subscribe` on the 2025 revisions, a `subscriptions/listen` stream naming the URI
/// on 2026-07-28. `touch` bumps the counter and announces the update; `status` says how many
/// listen streams watch a resource and which URIs are subscribed the legacy way.
#[derive(Debug, Clone)]
pub struct Watched {
    tool_router: ToolRouter<Self>,
    counter: Arc<std::sync::atomic::AtomicU64>,
    subscribed: Arc<Mutex<Vec<String>>>,
    streams: Arc<std::sync::atomic::AtomicUsize>,
    updates: tokio::sync::broadcast::Sender<String>,
}

/// The watched resource's URI.
pub const WATCHED_URI: &str = "watch://counter";

#[tool_router]
impl Watched {
    /// A counter at 0 that nobody watches yet.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            counter: Arc::default(),
            subscribed: Arc::default(),
            streams: Arc::default(),
            updates: tokio::sync::broadcast::channel(16).0,
        }
    }

    #[tool(description = "Bump the counter and announce that watch://counter changed")]
    async fn touch(&self, context: RequestContext<RoleServer>) -> String {
        let value = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let legacy = self
            .subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|uri| uri == WATCHED_URI);
        if legacy {
            let _ = context
                .peer
                .notify_resource_updated(rmcp::model::ResourceUpdatedNotificationParam::new(
                    WATCHED_URI,
                ))
                .await;
        }
        let _ = self.updates.send(WATCHED_URI.to_owned());
        format!("counter is {value}")
    }

    #[tool(description = "How the resource is watched")]
    async fn status(&self) -> String {
        format!(
            "listen streams: {}, subscribed: {:?}",
            self.streams.load(Ordering::SeqCst),
            self.subscribed.lock().unwrap_or_else(|p| p.into_inner())
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Watched {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(WATCHED_URI, "counter").with_mime_type("text/plain"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, McpError> {
        if request.uri != WATCHED_URI {
            return Err(McpError::resource_not_found("no such resource", None));
        }
        let value = self.counter.load(Ordering::SeqCst).to_string();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(value, WATCHED_URI)]).into())
    }

    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|uri| *uri != request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), McpError> {
        let watching = context
            .accepted()
            .resource_subscriptions
            .as_ref()
            .is_some_and(|uris| !uris.is_empty());
        if watching {
            self.streams.fetch_add(1, Ordering::SeqCst);
        }
        let mut updates = self.updates.subscribe();
        loop {
            tokio::select! {
                () = context.cancelled() => break,
                update = updates.recv() => match update {
                    // The sink drops URIs the stream's filter did not name.
                    Ok(uri) => { let _ = context.sink().notify_resource_updated(uri).await; }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        if watching {
            self.streams.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Tells what each request brought: `witness` answers with the request's `_meta` and, over
/// HTTP, the names of its headers and its `Authorization` header (to show what a tree passes
/// on to a child, and what it must not).
#[derive(Debug, Clone)]
pub struct Witness {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Witness {
    /// A witness.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Answers with the request's _meta and (over HTTP) its headers")]
    async fn witness(&self, context: RequestContext<RoleServer>) -> String {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let headers: Vec<String> = parts
            .map(|p| p.headers.keys().map(|k| k.as_str().to_owned()).collect())
            .unwrap_or_default();
        let authorization = parts.and_then(|p| {
            p.headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        serde_json::json!({
            "meta": context.meta,
            "headers": headers,
            "authorization": authorization,
        })
        .to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Witness {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// `Default` is `new()`, for every server.
macro_rules! default_is_new {
    ($($server:ty),*) => {
        $(impl Default for $server {
            fn default() -> Self {
                Self::new()
            }
        })*
    };
}

default_is_new!(Web, Lab, Notes, Faulty, Dynamic, Watched, Witness);
