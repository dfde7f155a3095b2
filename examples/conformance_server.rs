//! The fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`),
//! as an rmcp server: the tools, resources, prompts and completions its server scenarios call
//! by name, with the exact behaviour they check. `scripts/conformance.sh` runs the suite
//! against it, directly and through a Canopy tree (`examples/trees/conformance.toml`).
//!
//! Run: `cargo run --example conformance_server` (stdio), or
//! `cargo run --example conformance_server -- --http 127.0.0.1:3001` (Streamable HTTP at /mcp).
//!
//! Tools that need the client (elicitation, sampling, roots) ask it the way the caller's
//! revision expects: a request on the session for 2025 callers, an `input_required` result
//! for 2026-07-28 callers (who retry with `inputResponses`).
// Logging, sampling and resources/subscribe are deprecated by the 2026-07-28 revision, but
// the 2025 scenarios exercise them.
#![allow(deprecated)]

use std::{
    collections::HashSet,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::bail;
use canopy_fixtures::serve;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
        CompleteResult, CompletionInfo, ContentBlock, GetPromptRequestParams, GetPromptResponse,
        GetPromptResult, InputRequest, InputRequests, InputRequiredResult, InputResponses,
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
        LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
        ProgressNotificationParam, Prompt, PromptMessage, ProtocolVersion,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference, Resource,
        ResourceContents, ResourceTemplate, Role, ServerCapabilities, ServerConfig,
        SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool,
        UnsubscribeRequestParams,
    },
    service::{RequestContext, SubscriptionContext},
};
use serde_json::{Value, json};

/// A 1x1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A WAV header with no samples (silence).
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

/// The conformance fixtures.
#[derive(Clone, Debug)]
struct Fixtures {
    subscriptions: Arc<Mutex<HashSet<String>>>,
    log_level: Arc<Mutex<LoggingLevel>>,
    /// Keys the `requestState` seal: a SipHash with a per-process random key is a MAC.
    state_key: Arc<RandomState>,
    /// List changes, for the `subscriptions/listen` streams of 2026-07-28 callers.
    changes: tokio::sync::broadcast::Sender<ListChange>,
    tasks: tasks::Tasks,
}

/// Which list a trigger tool changed.
#[derive(Clone, Copy, Debug)]
enum ListChange {
    Tools,
    Prompts,
}

/// What asking the client gave: its answer, or the `input_required` result to return first.
enum Asked {
    Answer(Value),
    Required(InputRequiredResult),
}

impl Fixtures {
    fn new() -> Self {
        Self {
            subscriptions: Arc::default(),
            log_level: Arc::new(Mutex::new(LoggingLevel::Debug)),
            state_key: Arc::new(RandomState::new()),
            changes: tokio::sync::broadcast::channel(16).0,
            tasks: tasks::Tasks::default(),
        }
    }

    /// `payload` with an integrity tag, for `requestState`.
    fn seal(&self, payload: &Value) -> String {
        let payload = payload.to_string();
        format!("{payload}~{:016x}", self.state_key.hash_one(&payload))
    }

    /// The payload of a `requestState` this server sealed; -32602 if it was tampered with.
    fn open(&self, state: Option<&str>) -> Result<Value, McpError> {
        let bad = || McpError::invalid_params("requestState failed its integrity check", None);
        let (payload, tag) = state
            .ok_or_else(|| McpError::invalid_params("requestState is missing", None))?
            .rsplit_once('~')
            .ok_or_else(bad)?;
        if format!("{:016x}", self.state_key.hash_one(payload)) != tag {
            return Err(bad());
        }
        serde_json::from_str(payload).map_err(|_| bad())
    }

    fn tool_result(
        &self,
        name: &str,
        args: &serde_json::Map<String, Value>,
    ) -> Option<CallToolResult> {
        let text = |t: &str| CallToolResult::success(vec![ContentBlock::text(t)]);
        Some(match name {
            "test_simple_text" => text("This is a simple text response for testing."),
            "test_image_content" => {
                CallToolResult::success(vec![ContentBlock::image(PNG, "image/png")])
            }
            "test_audio_content" => CallToolResult::success(vec![ContentBlock::Audio(
                rmcp::model::AudioContent::new(WAV, "audio/wav"),
            )]),
            "test_embedded_resource" => CallToolResult::success(vec![ContentBlock::resource(
                ResourceContents::text(
                    "This is an embedded resource content.",
                    "test://embedded-resource",
                )
                .with_mime_type("text/plain"),
            )]),
            "test_multiple_content_types" => CallToolResult::success(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG, "image/png"),
                ContentBlock::resource(
                    ResourceContents::text(
                        r#"{"test":"data","value":123}"#,
                        "test://mixed-content-resource",
                    )
                    .with_mime_type("application/json"),
                ),
            ]),
            "test_error_handling" => CallToolResult::error(vec![ContentBlock::text(
                "This tool intentionally returns an error for testing",
            )]),
            "json_schema_2020_12_tool" => text(&format!(
                "Hello, {}!",
                args.get("name").and_then(Value::as_str).unwrap_or("world")
            )),
            _ => return None,
        })
    }

    /// Asks the client: on the session for 2025 callers, with `input_required` for
    /// 2026-07-28 callers (`state` is then echoed back with the answers).
    async fn ask(
        context: &RequestContext<RoleServer>,
        responses: Option<&InputResponses>,
        requests: Vec<(&str, InputRequest)>,
        state: Option<String>,
    ) -> Result<Asked, McpError> {
        if stateless(context) {
            let mut answers = serde_json::Map::new();
            for (key, _) in &requests {
                match responses.and_then(|r| r.get(*key)) {
                    Some(answer) => {
                        answers.insert((*key).to_owned(), answer.clone());
                    }
                    None => {
                        let requests: InputRequests = requests
                            .into_iter()
                            .map(|(k, r)| (k.to_owned(), r))
                            .collect();
                        return Ok(Asked::Required(InputRequiredResult::new(
                            Some(requests),
                            state,
                        )));
                    }
                }
            }
            return Ok(Asked::Answer(Value::Object(answers)));
        }
        let mut answers = serde_json::Map::new();
        for (key, request) in requests {
            let failed =
                |e: rmcp::ServiceError| McpError::internal_error(format!("{key}: {e}"), None);
            let answer = match request {
                InputRequest::Elicitation(r) => serde_json::to_value(
                    context
                        .peer
                        .create_elicitation(r.params)
                        .await
                        .map_err(failed)?,
                ),
                InputRequest::CreateMessage(r) => serde_json::to_value(
                    context
                        .peer
                        .create_message(r.params)
                        .await
                        .map_err(failed)?,
                ),
                InputRequest::ListRoots(_) => {
                    serde_json::to_value(context.peer.list_roots().await.map_err(failed)?)
                }
                _ => {
                    return Err(McpError::internal_error(
                        format!("{key}: unknown input request"),
                        None,
                    ));
                }
            }
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            answers.insert(key.to_owned(), answer);
        }
        Ok(Asked::Answer(Value::Object(answers)))
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        if let Some(result) = self.tool_result(&request.name, &args) {
            return Ok(result.into());
        }
        let responses = request.input_responses.as_ref();
        let text = |t: String| Ok(CallToolResult::success(vec![ContentBlock::text(t)]).into());
        macro_rules! ask {
            ($requests:expr, $state:expr) => {
                match Self::ask(&context, responses, $requests, $state).await? {
                    Asked::Answer(answers) => answers,
                    Asked::Required(result) => return Ok(result.into()),
                }
            };
        }
        if let Some(&(_, required)) = tasks::TASK_TOOLS.iter().find(|(n, _)| *n == request.name) {
            let declared = context
                .client_capabilities()
                .is_some_and(|c| c.supports_tasks());
            let missing = || {
                McpError::missing_required_client_capability(
                    rmcp::model::ClientCapabilities::builder()
                        .enable_tasks()
                        .build(),
                )
            };
            if required && !declared {
                return Err(missing());
            }
            if request.name == "test_tool_with_task" {
                // Gathers the name with input_required, then escalates to a task.
                let answers = ask!(
                    vec![("user_name", name_request("What is your name?")?)],
                    None
                );
                let name = elicited_field(&answers["user_name"], "name")?;
                return Ok(CallToolResponse::Task(self.tasks.start(
                    &request.name,
                    &args,
                    Some(name),
                )));
            }
            if declared {
                return Ok(CallToolResponse::Task(self.tasks.start(
                    &request.name,
                    &args,
                    None,
                )));
            }
            // Without the extension, task-supporting tools run synchronously.
            return match request.name.as_ref() {
                "slow_compute" => {
                    let seconds = args.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
                    tokio::time::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 60.0))).await;
                    text(format!("computed after {seconds}s"))
                }
                "protocol_error_job" => {
                    Err(McpError::internal_error("protocol_error_job failed", None))
                }
                _ => {
                    let answers = ask!(
                        vec![(
                            "confirm",
                            elicitation(
                                "Go ahead?",
                                json!({"type": "object", "properties": {"confirm": {"type": "boolean"}}}),
                            )?
                        )],
                        None
                    );
                    text(format!("answered: {}", elicited(&answers["confirm"]).0))
                }
            };
        }
        match request.name.as_ref() {
            "greet" => text(format!(
                "Hello, {}!",
                args.get("name").and_then(Value::as_str).unwrap_or("world")
            )),
            "test_tool_with_logging" => {
                for (i, message) in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ]
                .into_iter()
                .enumerate()
                {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let params =
                        LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
                            .with_logger("conformance-server");
                    let _ = context.peer.notify_logging_message(params).await;
                }
                text("Logging test completed".into())
            }
            "test_tool_with_progress" => {
                let token = context.meta.get_progress_token();
                for (i, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if let Some(token) = &token {
                        let params = ProgressNotificationParam::new(token.clone(), progress)
                            .with_total(100.0);
                        let _ = context.peer.notify_progress(params).await;
                    }
                }
                text("Progress test completed".into())
            }
            "test_logging_tool" => {
                // 2026-07-28 callers get logs only when their request's _meta asks for them.
                let wanted = !stateless(&context)
                    || context
                        .meta
                        .contains_key("io.modelcontextprotocol/logLevel");
                if wanted {
                    let params = LoggingMessageNotificationParam::new(
                        LoggingLevel::Info,
                        json!("test_logging_tool ran"),
                    )
                    .with_logger("conformance-server");
                    let _ = context.peer.notify_logging_message(params).await;
                }
                text("Logging tool completed".into())
            }
            "test_trigger_tool_change" | "test_trigger_prompt_change" => {
                let change = if request.name == "test_trigger_tool_change" {
                    ListChange::Tools
                } else {
                    ListChange::Prompts
                };
                if !stateless(&context) {
                    let _ = match change {
                        ListChange::Tools => context.peer.notify_tool_list_changed().await,
                        ListChange::Prompts => context.peer.notify_prompt_list_changed().await,
                    };
                }
                let _ = self.changes.send(change);
                text(format!("{change:?} list changed"))
            }
            "test_custom_headers" => text(format!(
                "region: {}",
                args.get("region").and_then(Value::as_str).unwrap_or("none")
            )),
            "test_missing_capability" => {
                let declared = context
                    .client_capabilities()
                    .is_some_and(|c| c.sampling.is_some());
                if stateless(&context) && !declared {
                    let mut required = rmcp::model::ClientCapabilities::default();
                    required.sampling = Some(Default::default());
                    return Err(McpError::missing_required_client_capability(required));
                }
                let answers = ask!(vec![("sampling", sampling("Say hello", 20)?)], None);
                text(format!(
                    "LLM response: {}",
                    sampled_text(&answers["sampling"])
                ))
            }
            "test_streaming_elicitation" => {
                let answers = ask!(
                    vec![("user_name", name_request("What is your name?")?)],
                    None
                );
                text(format!(
                    "Hello, {}!",
                    elicited_field(&answers["user_name"], "name")?
                ))
            }
            "test_input_required_result_capabilities" => {
                let capabilities = context.client_capabilities().unwrap_or_default();
                let mut requests = Vec::new();
                if capabilities.elicitation.is_some() {
                    requests.push(("user_name", name_request("What is your name?")?));
                }
                if capabilities.sampling.is_some() {
                    requests.push(("greeting", sampling("Generate a greeting", 50)?));
                }
                if capabilities.roots.is_some() {
                    requests.push(("client_roots", list_roots()?));
                }
                if requests.is_empty() {
                    return text("The client declared no capability to ask with".into());
                }
                let answers = ask!(requests, None);
                text(format!(
                    "Answered: {}",
                    answers.as_object().map_or(0, serde_json::Map::len)
                ))
            }
            "test_reconnection" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                text("Reconnection test completed".into())
            }
            "test_sampling" => {
                let prompt = args
                    .get("prompt")
                    .and_then(Value::as_str)
                    .unwrap_or("Hello");
                let answers = ask!(vec![("sampling", sampling(prompt, 100)?)], None);
                text(format!(
                    "LLM response: {}",
                    sampled_text(&answers["sampling"])
                ))
            }
            "test_elicitation" => {
                let message = args
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("Please provide your information");
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                });
                let answers = ask!(vec![("user_info", elicitation(message, schema)?)], None);
                let (action, content) = elicited(&answers["user_info"]);
                text(format!("User response: action={action}, content={content}"))
            }
            "test_elicitation_sep1034_defaults" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "User's name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User's age", "default": 30},
                        "score": {"type": "number", "description": "User's score", "default": 95.5},
                        "status": {
                            "type": "string", "description": "User's status",
                            "enum": ["active", "inactive", "pending"], "default": "active"
                        },
                        "verified": {"type": "boolean", "description": "Whether user is verified", "default": true}
                    }
                });
                let answers = ask!(
                    vec![(
                        "defaults",
                        elicitation("Please provide values (all have defaults)", schema)?
                    )],
                    None
                );
                let (action, content) = elicited(&answers["defaults"]);
                text(format!(
                    "Elicitation completed: action={action}, content={content}"
                ))
            }
            "test_elicitation_sep1330_enums" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"}
                        ]},
                        "legacyEnum": {
                            "type": "string", "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]
                        },
                        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]}}
                    }
                });
                let answers = ask!(
                    vec![(
                        "enums",
                        elicitation("Test enum schema improvements", schema)?
                    )],
                    None
                );
                let (action, content) = elicited(&answers["enums"]);
                text(format!(
                    "Elicitation completed: action={action}, content={content}"
                ))
            }
            "test_input_required_result_elicitation" => {
                let answers = ask!(
                    vec![("user_name", name_request("What is your name?")?)],
                    None
                );
                text(format!(
                    "Hello, {}!",
                    elicited_field(&answers["user_name"], "name")?
                ))
            }
            "test_input_required_result_sampling" => {
                let answers = ask!(
                    vec![(
                        "capital_question",
                        sampling("What is the capital of France?", 100)?
                    )],
                    None
                );
                text(format!(
                    "The model answered: {}",
                    sampled_text(&answers["capital_question"])
                ))
            }
            "test_input_required_result_list_roots" => {
                let answers = ask!(vec![("client_roots", list_roots()?)], None);
                text(format!(
                    "Client roots: {}",
                    root_uris(&answers["client_roots"])
                ))
            }
            "test_input_required_result_request_state" => {
                let state = self.seal(&json!({"tool": "request_state"}));
                let answers = ask!(
                    vec![(
                        "confirm",
                        elicitation(
                            "Please confirm",
                            json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
                        )?
                    )],
                    Some(state)
                );
                self.expect_state(request.request_state.as_deref(), "request_state")?;
                let ok = elicited(&answers["confirm"]).1;
                text(format!(
                    "state-ok: the requestState came back intact; confirmed: {ok}"
                ))
            }
            "test_input_required_result_multiple_inputs" => {
                let state = self.seal(&json!({"tool": "multiple_inputs"}));
                let answers = ask!(
                    vec![
                        ("user_name", name_request("What is your name?")?),
                        ("greeting", sampling("Generate a greeting", 50)?),
                        ("client_roots", list_roots()?),
                    ],
                    Some(state)
                );
                self.expect_state(request.request_state.as_deref(), "multiple_inputs")?;
                text(format!(
                    "name: {}; greeting: {}; roots: {}",
                    elicited_field(&answers["user_name"], "name")?,
                    sampled_text(&answers["greeting"]),
                    root_uris(&answers["client_roots"])
                ))
            }
            "test_input_required_result_multi_round" => {
                if !stateless(&context) {
                    return Err(McpError::invalid_request(
                        "test_input_required_result_multi_round needs protocol 2026-07-28",
                        None,
                    ));
                }
                let round = match &request.request_state {
                    None => 1,
                    Some(_) => {
                        let state = self.open(request.request_state.as_deref())?;
                        state["round"].as_u64().unwrap_or(0) + 1
                    }
                };
                if round == 1 || responses.is_none_or(|r| !r.contains_key("step1") && round == 2) {
                    let state = self.seal(&json!({"tool": "multi_round", "round": 1}));
                    let _ = ask!(
                        vec![("step1", name_request("Step 1: What is your name?")?)],
                        Some(state)
                    );
                    return Err(McpError::invalid_params(
                        "step1 was answered but not expected",
                        None,
                    ));
                }
                if round == 2 {
                    let name = elicited_field(
                        &responses
                            .and_then(|r| r.get("step1"))
                            .cloned()
                            .unwrap_or_default(),
                        "name",
                    )?;
                    let state =
                        self.seal(&json!({"tool": "multi_round", "round": 2, "name": name}));
                    let requests = InputRequests::from([(
                        "step2".to_owned(),
                        elicitation(
                            "Step 2: What is your favorite color?",
                            json!({"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}),
                        )?,
                    )]);
                    return Ok(InputRequiredResult::new(Some(requests), Some(state)).into());
                }
                let state = self.open(request.request_state.as_deref())?;
                let color = match responses.and_then(|r| r.get("step2")) {
                    Some(answer) => elicited_field(answer, "color")?,
                    None => {
                        return Err(McpError::invalid_params(
                            "inputResponses.step2 is missing",
                            None,
                        ));
                    }
                };
                text(format!(
                    "{} likes {color}",
                    state["name"].as_str().unwrap_or("someone")
                ))
            }
            "test_input_required_result_tampered_state" => {
                let state = self.seal(&json!({"tool": "tampered_state"}));
                let answers = ask!(
                    vec![("user_name", name_request("What is your name?")?)],
                    Some(state)
                );
                self.expect_state(request.request_state.as_deref(), "tampered_state")?;
                text(format!(
                    "Hello, {}! (state verified)",
                    elicited_field(&answers["user_name"], "name")?
                ))
            }
            other => Err(McpError::invalid_params(
                format!("unknown tool '{other}'"),
                None,
            )),
        }
    }

    /// Checks that a 2026-07-28 retry echoed the state sealed for `tool`.
    fn expect_state(&self, state: Option<&str>, tool: &str) -> Result<(), McpError> {
        // 2025 callers were asked on the session: there is no state to check.
        if state.is_none() {
            return Ok(());
        }
        let state = self.open(state)?;
        if state["tool"] != tool {
            return Err(McpError::invalid_params(
                "requestState belongs to another tool",
                None,
            ));
        }
        Ok(())
    }
}

fn stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

fn input_request(method: &str, params: Value) -> Result<InputRequest, McpError> {
    let mut request = serde_json::Map::new();
    request.insert("method".into(), method.into());
    request.insert("params".into(), params);
    serde_json::from_value(Value::Object(request))
        .map_err(|e| McpError::internal_error(format!("building {method}: {e}"), None))
}

fn elicitation(message: &str, schema: Value) -> Result<InputRequest, McpError> {
    let mut params = serde_json::Map::new();
    params.insert("message".into(), message.into());
    params.insert("requestedSchema".into(), schema);
    input_request("elicitation/create", Value::Object(params))
}

fn name_request(message: &str) -> Result<InputRequest, McpError> {
    elicitation(
        message,
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
    )
}

fn sampling(prompt: &str, max_tokens: u32) -> Result<InputRequest, McpError> {
    input_request(
        "sampling/createMessage",
        json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
            "maxTokens": max_tokens
        }),
    )
}

fn list_roots() -> Result<InputRequest, McpError> {
    input_request("roots/list", json!({}))
}

/// An elicitation answer's action and content (as JSON text).
fn elicited(answer: &Value) -> (String, String) {
    let action = answer["action"].as_str().unwrap_or("unknown").to_owned();
    let content = answer
        .get("content")
        .map_or_else(|| "null".to_owned(), Value::to_string);
    (action, content)
}

/// One string field of an accepted elicitation; -32602 when the answer is not one.
fn elicited_field(answer: &Value, field: &str) -> Result<String, McpError> {
    let result: rmcp::model::ElicitResult = serde_json::from_value(answer.clone())
        .map_err(|e| McpError::invalid_params(format!("bad inputResponses entry: {e}"), None))?;
    match (result.action, result.content) {
        (rmcp::model::ElicitationAction::Accept, Some(content)) => Ok(content
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("stranger")
            .to_owned()),
        (action, _) => Ok(format!("(no {field}: {action:?})")),
    }
}

/// The text of a sampling answer (`content` is one block or, from 2025-11-25, an array).
fn sampled_text(answer: &Value) -> String {
    let content = &answer["content"];
    let block = if content.is_array() {
        &content[0]
    } else {
        content
    };
    block["text"].as_str().unwrap_or("(no text)").to_owned()
}

fn root_uris(answer: &Value) -> String {
    let uris: Vec<&str> = answer["roots"]
        .as_array()
        .map(|roots| roots.iter().filter_map(|r| r["uri"].as_str()).collect())
        .unwrap_or_default();
    if uris.is_empty() {
        "none".to_owned()
    } else {
        uris.join(", ")
    }
}

fn tools() -> Vec<Tool> {
    let empty = json!({"type": "object", "properties": {}});
    let mut tools = Vec::new();
    for (name, description) in [
        ("test_simple_text", "Returns simple text content"),
        ("test_image_content", "Returns image content"),
        ("test_audio_content", "Returns audio content"),
        (
            "test_embedded_resource",
            "Returns embedded resource content",
        ),
        (
            "test_multiple_content_types",
            "Returns multiple content types",
        ),
        (
            "test_tool_with_logging",
            "Sends logging notifications during execution",
        ),
        ("test_error_handling", "Always returns an error"),
        ("test_tool_with_progress", "Reports progress notifications"),
        (
            "test_reconnection",
            "Takes a moment (SSE reconnection tests)",
        ),
        (
            "test_logging_tool",
            "Logs once (2026-07-28: only when _meta asks for a logLevel)",
        ),
        (
            "test_trigger_tool_change",
            "Announces a change of the tool list",
        ),
        (
            "test_trigger_prompt_change",
            "Announces a change of the prompt list",
        ),
        (
            "test_missing_capability",
            "Needs sampling: -32021 when the client did not declare it",
        ),
        (
            "test_streaming_elicitation",
            "Asks the user's name (input_required on 2026-07-28)",
        ),
        (
            "test_input_required_result_capabilities",
            "Asks only with the capabilities the client declared",
        ),
        (
            "test_elicitation_sep1034_defaults",
            "Elicitation with default values (SEP-1034)",
        ),
        (
            "test_elicitation_sep1330_enums",
            "Elicitation with every enum form (SEP-1330)",
        ),
        (
            "test_input_required_result_elicitation",
            "Asks the user's name with input_required",
        ),
        (
            "test_input_required_result_sampling",
            "Asks the client's model with input_required",
        ),
        (
            "test_input_required_result_list_roots",
            "Asks the client's roots with input_required",
        ),
        (
            "test_input_required_result_request_state",
            "input_required with a requestState",
        ),
        (
            "test_input_required_result_multiple_inputs",
            "Three input requests at once",
        ),
        (
            "test_input_required_result_multi_round",
            "Two rounds of input_required",
        ),
        (
            "test_input_required_result_tampered_state",
            "Rejects a tampered requestState",
        ),
    ] {
        tools.push(json!({"name": name, "description": description, "inputSchema": empty}));
    }
    for (name, description) in [
        (
            "failing_job",
            "A task that ends in a tool error (needs the tasks extension)",
        ),
        (
            "protocol_error_job",
            "A task that fails with a protocol error",
        ),
        ("multi_input", "A task that asks two questions at once"),
        (
            "test_tool_with_task",
            "Asks a name with input_required, then runs as a task",
        ),
    ] {
        tools.push(json!({"name": name, "description": description, "inputSchema": empty}));
    }
    tools.push(json!({
        "name": "greet",
        "description": "Greets by name (synchronous only)",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
    }));
    tools.push(json!({
        "name": "slow_compute",
        "description": "Sleeps `seconds`, then answers (a task when the client supports tasks)",
        "inputSchema": {
            "type": "object",
            "properties": {"seconds": {"type": "number"}, "label": {"type": "string"}}
        }
    }));
    tools.push(json!({
        "name": "confirm_delete",
        "description": "Asks before deleting `filename` (a task that needs input)",
        "inputSchema": {"type": "object", "properties": {"filename": {"type": "string"}}}
    }));
    tools.push(json!({
        "name": "test_custom_headers",
        "description": "Echoes an argument that clients also send as the Mcp-Param-Region header",
        "inputSchema": {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}
        }
    }));
    tools.push(json!({
        "name": "test_sampling",
        "description": "Requests LLM sampling from the client",
        "inputSchema": {
            "type": "object",
            "properties": {"prompt": {"type": "string", "description": "The prompt to send"}},
            "required": ["prompt"]
        }
    }));
    tools.push(json!({
        "name": "test_elicitation",
        "description": "Requests user input from the client",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string", "description": "The message to show"}},
            "required": ["message"]
        }
    }));
    tools.push(json!({
        "name": "json_schema_2020_12_tool",
        "description": "Tool with JSON Schema 2020-12 features",
        "inputSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
            }},
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"}
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": false
        }
    }));
    tools
        .into_iter()
        .filter_map(|t| serde_json::from_value(t).ok())
        .collect()
}

fn prompts() -> Vec<Prompt> {
    let prompts = json!([
        {"name": "test_simple_prompt", "description": "A simple prompt without arguments"},
        {"name": "test_prompt_with_arguments", "description": "A prompt with required arguments",
         "arguments": [
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true}
         ]},
        {"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource",
         "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
        {"name": "test_prompt_with_image", "description": "A prompt with an image"},
        {"name": "test_input_required_result_prompt", "description": "A prompt that asks for context first"}
    ]);
    serde_json::from_value(prompts).unwrap_or_default()
}

impl ServerHandler for Fixtures {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_logging()
                .enable_completions()
                .enable_tasks()
                .build(),
        )
        .with_server_info(rmcp::model::Implementation::new(
            "canopy-conformance-fixtures",
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.call(request, context).await
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, McpError> {
        self.tasks.get(&request.task_id)
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks.update(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks.cancel(&request.task_id)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.changes.subscribe();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                change = changes.recv() => {
                    // The sink drops what the client's filter did not ask for.
                    let _ = match change {
                        Ok(ListChange::Tools) => context.sink().notify_tool_list_changed().await,
                        Ok(ListChange::Prompts) => context.sink().notify_prompt_list_changed().await,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                    };
                }
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("test://static-text", "Static text")
                .with_description("A static text resource")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "Static binary")
                .with_description("A static binary resource (a PNG)")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "Watched resource")
                .with_description("A resource to subscribe to")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("test://template/{id}/data", "Template data")
                .with_description("Data for an id")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static-text" => {
                ResourceContents::text("This is the content of the static text resource.", uri)
                    .with_mime_type("text/plain")
            }
            "test://static-binary" => ResourceContents::blob(PNG, uri).with_mime_type("image/png"),
            "test://watched-resource" => {
                ResourceContents::text("The watched resource's current content.", uri)
                    .with_mime_type("text/plain")
            }
            _ => match uri
                .strip_prefix("test://template/")
                .and_then(|rest| rest.strip_suffix("/data"))
                .filter(|id| !id.is_empty() && !id.contains('/'))
            {
                Some(id) => ResourceContents::text(
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                        .to_string(),
                    uri,
                )
                .with_mime_type("application/json"),
                None => {
                    return Err(McpError::invalid_params(
                        "Resource not found",
                        Some(json!({"uri": uri})),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        let arg = |name: &str| {
            args.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => vec![PromptMessage::new_text(
                Role::User,
                format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    arg("arg1"),
                    arg("arg2")
                ),
            )],
            "test_prompt_with_embedded_resource" => {
                let uri = match arg("resourceUri") {
                    uri if uri.is_empty() => "test://example-resource".to_owned(),
                    uri => uri,
                };
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(
                            ResourceContents::text("Embedded resource content for testing.", uri)
                                .with_mime_type("text/plain"),
                        ),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            "test_input_required_result_prompt" => {
                let request_context = elicitation(
                    "What context should the prompt use?",
                    json!({"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}),
                )?;
                let answers = match Fixtures::ask(
                    &context,
                    request.input_responses.as_ref(),
                    vec![("user_context", request_context)],
                    None,
                )
                .await?
                {
                    Asked::Answer(answers) => answers,
                    Asked::Required(result) => return Ok(result.into()),
                };
                let given = elicited_field(&answers["user_context"], "context")?;
                vec![PromptMessage::new_text(
                    Role::User,
                    format!("Answer with this context in mind: {given}"),
                )]
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("unknown prompt '{other}'"),
                    None,
                ));
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let candidates: &[&str] = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Prompt(p), "arg1") if p.name == "test_prompt_with_arguments" => {
                &["paris", "park", "party"]
            }
            (Reference::Prompt(p), "arg2") if p.name == "test_prompt_with_arguments" => {
                &["world", "wonder", "work"]
            }
            (Reference::Resource(_), "id") => &["1", "2", "3", "123"],
            _ => &[],
        };
        let values: Vec<String> = candidates
            .iter()
            .filter(|c| c.starts_with(request.argument.value.as_str()))
            .map(|c| (*c).to_owned())
            .collect();
        let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = request.level;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let usage = "\
usage: conformance_server [--http ADDR]

Serves the fixtures of the MCP conformance suite over stdio, or over Streamable HTTP at
http://ADDR/mcp (scripts/conformance.sh runs the suite against it).

Options:
  --http ADDR  serve Streamable HTTP at http://ADDR/mcp (e.g. 127.0.0.1:3001)
  -h, --help   print this help";
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{usage}");
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let http = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--http"), Some(addr)) => Some(addr),
        _ => bail!(usage),
    };
    serve::stdio_or_http(Fixtures::new(), http).await
}

/// The tasks extension (SEP-2663) fixtures: `greet` (sync only), `slow_compute`,
/// `failing_job`, `protocol_error_job`, `confirm_delete`, `multi_input` and
/// `test_tool_with_task`, run as tasks for callers that declare the extension.
mod tasks {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
        time::{Duration, SystemTime, UNIX_EPOCH},
    };

    use rmcp::{
        ErrorData as McpError,
        model::{
            CallToolResult, ContentBlock, CreateTaskResult, DetailedTask, GetTaskResult,
            InputRequests, InputResponses, JsonObject, Task, TaskPayload, TaskStatus,
        },
    };
    use serde_json::{Value, json};
    use tokio::sync::oneshot;
    use tokio_util::sync::CancellationToken;

    /// The tools that run as tasks, and whether they need the extension (`required`).
    pub(super) const TASK_TOOLS: &[(&str, bool)] = &[
        ("slow_compute", false),
        ("failing_job", true),
        ("protocol_error_job", false),
        ("confirm_delete", false),
        ("multi_input", false),
        ("test_tool_with_task", true),
    ];

    struct Entry {
        task: Task,
        payload: TaskPayload,
        ct: CancellationToken,
        /// Answers collected so far, and where they go once nothing is pending.
        answers: InputResponses,
        resume: Option<oneshot::Sender<InputResponses>>,
    }

    /// Every task of the process (kept for the run; the suite's runs are short).
    #[derive(Clone, Default)]
    pub(super) struct Tasks {
        entries: Arc<Mutex<HashMap<String, Entry>>>,
    }

    impl std::fmt::Debug for Tasks {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Tasks").finish_non_exhaustive()
        }
    }

    impl Tasks {
        fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
            self.entries.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// Creates a task running `tool` and returns its `CreateTaskResult` once it is stored.
        pub(super) fn start(
            &self,
            tool: &str,
            args: &JsonObject,
            note: Option<String>,
        ) -> CreateTaskResult {
            let id = format!("task-{}", uuid_like());
            let now = now();
            let task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now)
                .with_ttl_ms(600_000)
                .with_poll_interval_ms(100);
            let ct = CancellationToken::new();
            self.lock().insert(
                id.clone(),
                Entry {
                    task: task.clone(),
                    payload: TaskPayload::Working,
                    ct: ct.clone(),
                    answers: InputResponses::new(),
                    resume: None,
                },
            );
            let (tasks, tool, args) = (self.clone(), tool.to_owned(), args.clone());
            tokio::spawn(async move {
                let payload = tokio::select! {
                    payload = tasks.run(&id, &tool, &args, note) => payload,
                    () = ct.cancelled() => TaskPayload::Cancelled,
                };
                tasks.settle(&id, payload);
            });
            CreateTaskResult::new(task)
        }

        async fn run(
            &self,
            id: &str,
            tool: &str,
            args: &JsonObject,
            note: Option<String>,
        ) -> TaskPayload {
            match tool {
                "slow_compute" => {
                    let seconds = args.get("seconds").and_then(Value::as_f64).unwrap_or(1.0);
                    tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
                    let label = args
                        .get("label")
                        .and_then(Value::as_str)
                        .unwrap_or("compute");
                    complete(CallToolResult::success(vec![ContentBlock::text(format!(
                        "{label}: computed after {seconds}s"
                    ))]))
                }
                "failing_job" => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    complete(CallToolResult::error(vec![ContentBlock::text(
                        "the job failed",
                    )]))
                }
                "protocol_error_job" => TaskPayload::Failed {
                    error: object(
                        json!({"code": -32603, "message": "protocol_error_job failed inside the server"}),
                    ),
                },
                "confirm_delete" => {
                    let filename = args
                        .get("filename")
                        .and_then(Value::as_str)
                        .unwrap_or("the file");
                    let requests = requests(&[("confirm", &format!("Delete {filename}?"))]);
                    let answers = self.wait_for(id, requests).await;
                    let confirmed = answers["confirm"]["action"] == "accept";
                    complete(CallToolResult::success(vec![ContentBlock::text(
                        if confirmed {
                            format!("Deleted {filename}")
                        } else {
                            format!("Kept {filename}")
                        },
                    )]))
                }
                "multi_input" => {
                    let requests =
                        requests(&[("first", "First answer?"), ("second", "Second answer?")]);
                    let answers = self.wait_for(id, requests).await;
                    complete(CallToolResult::success(vec![ContentBlock::text(format!(
                        "answered: {}",
                        answers.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))]))
                }
                "test_tool_with_task" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    complete(CallToolResult::success(vec![ContentBlock::text(format!(
                        "Hello, {}! (from a task)",
                        note.unwrap_or_else(|| "stranger".to_owned())
                    ))]))
                }
                other => TaskPayload::Failed {
                    error: object(
                        json!({"code": -32602, "message": format!("unknown task tool '{other}'")}),
                    ),
                },
            }
        }

        /// Parks the task on `requests` until `tasks/update` has answered all of them.
        async fn wait_for(&self, id: &str, requests: InputRequests) -> InputResponses {
            let (resume, answers) = oneshot::channel();
            if let Some(entry) = self.lock().get_mut(id) {
                entry.payload = TaskPayload::InputRequired {
                    input_requests: requests,
                };
                entry.task.last_updated_at = now();
                entry.resume = Some(resume);
            }
            // A dropped sender (the task was removed) never happens while the task runs.
            answers.await.unwrap_or_default()
        }

        /// Records a task's final state, unless it is already final (cancelled first).
        fn settle(&self, id: &str, payload: TaskPayload) {
            if let Some(entry) = self.lock().get_mut(id)
                && !entry.payload.status().is_terminal()
            {
                entry.payload = payload;
                entry.task.last_updated_at = now();
            }
        }

        pub(super) fn get(&self, id: &str) -> Result<GetTaskResult, McpError> {
            let entries = self.lock();
            let entry = entries.get(id).ok_or_else(|| unknown(id))?;
            Ok(GetTaskResult::new(DetailedTask::new(
                entry.task.clone(),
                entry.payload.clone(),
            )))
        }

        /// Takes the answers of `tasks/update`; unknown keys are ignored.
        pub(super) fn update(&self, id: &str, responses: InputResponses) -> Result<(), McpError> {
            let mut entries = self.lock();
            let entry = entries.get_mut(id).ok_or_else(|| unknown(id))?;
            if let TaskPayload::InputRequired { input_requests } = &mut entry.payload {
                for (key, answer) in responses {
                    if input_requests.remove(&key).is_some() {
                        entry.answers.insert(key, answer);
                    }
                }
                if input_requests.is_empty() {
                    entry.payload = TaskPayload::Working;
                    if let Some(resume) = entry.resume.take() {
                        let _ = resume.send(std::mem::take(&mut entry.answers));
                    }
                }
                entry.task.last_updated_at = now();
            }
            Ok(())
        }

        pub(super) fn cancel(&self, id: &str) -> Result<(), McpError> {
            let mut entries = self.lock();
            let entry = entries.get_mut(id).ok_or_else(|| unknown(id))?;
            if !entry.payload.status().is_terminal() {
                entry.ct.cancel();
                entry.payload = TaskPayload::Cancelled;
                entry.task.last_updated_at = now();
            }
            Ok(())
        }
    }

    fn unknown(id: &str) -> McpError {
        McpError::invalid_params(
            format!("unknown taskId '{id}'"),
            Some(json!({"taskId": id})),
        )
    }

    fn complete(result: CallToolResult) -> TaskPayload {
        TaskPayload::Completed {
            result: object(serde_json::to_value(result).unwrap_or_default()),
        }
    }

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            _ => JsonObject::new(),
        }
    }

    fn requests(questions: &[(&str, &str)]) -> InputRequests {
        questions
            .iter()
            .filter_map(|(key, message)| {
                let request = json!({
                    "method": "elicitation/create",
                    "params": {
                        "message": message,
                        "requestedSchema": {
                            "type": "object",
                            "properties": {"confirm": {"type": "boolean"}},
                        }
                    }
                });
                Some(((*key).to_owned(), serde_json::from_value(request).ok()?))
            })
            .collect()
    }

    /// A unique id (time and a counter; uniqueness is all a task id needs).
    fn uuid_like() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The current UTC time as RFC 3339 (`2026-07-28T12:00:00.000Z`).
    fn now() -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}
