//! The Anthropic Messages API provider.
//!
//! It sends `POST {base_url}/v1/messages` with `x-api-key`, `anthropic-version: 2023-06-01`
//! and `stream: true`, the system prompt top-level, tool calls as `tool_use` blocks and their
//! results as `tool_result` blocks (all the results of a turn in one user message, first),
//! and `max_tokens` (required by the API; default 4096). It supports:
//!
//! - **streaming** over the API's events (`message_start`, `content_block_start`,
//!   `content_block_delta` with `text_delta` / `input_json_delta`, `content_block_stop`,
//!   `message_delta`, `message_stop`, `ping`, `error`): text deltas reach the caller as they
//!   arrive, a `tool_use` block is announced when it starts;
//! - **tool calls**, several per turn (parallel tool use), their JSON input assembled from
//!   `partial_json` fragments;
//! - **usage** (`input_tokens` from `message_start`, cache reads and writes included;
//!   `output_tokens` from `message_delta`) and **stop reasons** (`end_turn`, `tool_use`,
//!   `max_tokens`, `stop_sequence`, `refusal`);
//! - **errors**: 401/403 → [`ModelError::Auth`], 429 and 529 (overloaded) →
//!   [`ModelError::RateLimited`] (with `retry-after` or the `anthropic-ratelimit-*-reset`
//!   headers), 400 "prompt is too long" and 413 → [`ModelError::ContextTooLong`], other 4xx
//!   → [`ModelError::InvalidRequest`], 5xx → [`ModelError::Server`]; an `error` event in
//!   the stream maps the same way (`overloaded_error` → rate limited);
//! - **retries** per its [`RetryPolicy`] (also after an `error` event, as long as nothing
//!   was streamed yet), **timeouts** (connect, and overall per attempt), and
//!   **cancellation** (dropping the future closes the connection).
//!
//! The key never appears in `Debug` output or errors.
//!
//! ```no_run
//! use canopy_agent::{Message, Model, ModelRequest, providers::anthropic::{Anthropic, AnthropicConfig}};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let key = std::env::var("ANTHROPIC_API_KEY")?;
//! let model = Anthropic::new(AnthropicConfig::new("claude-sonnet-4-5").api_key(key))?;
//! let request = ModelRequest { messages: vec![Message::user("Hello!")], ..Default::default() };
//! let answer = model.complete(&request, &|delta| println!("{delta:?}")).await?;
//! println!("{}", answer.message.text());
//! # Ok(()) }
//! ```

use futures::StreamExt;
use serde_json::{Value, json};

use super::http::{self, ApiKey, Auth, RetryPolicy, Tracked, Transport, transport_setters};
use crate::model::{
    DeltaSink, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role,
    StopReason, ToolCall, Usage,
};

/// Anthropic's own endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// How to reach the Anthropic API. Built with [`AnthropicConfig::new`] and its setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AnthropicConfig {
    /// The model name, e.g. `claude-sonnet-4-5`.
    pub model: String,
    /// The API's base URL, without `/v1` (default [`DEFAULT_BASE_URL`]).
    pub base_url: String,
    /// `max_tokens` when the request sets none (default [`DEFAULT_MAX_TOKENS`]).
    pub max_tokens: u32,
    transport: Transport,
}

impl AnthropicConfig {
    /// A configuration for `model`, with no key yet, default timeouts and retries.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            max_tokens: DEFAULT_MAX_TOKENS,
            transport: Transport::default(),
        }
    }

    /// The base URL (a proxy, a gateway).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The API key, sent as `x-api-key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.transport.api_key = Some(ApiKey::new(key));
        self
    }

    /// `max_tokens` when the request sets none.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    transport_setters!();
}

/// A model behind the Anthropic Messages API.
#[derive(Debug)]
pub struct Anthropic {
    config: AnthropicConfig,
    client: reqwest::Client,
}

impl Anthropic {
    /// The model `config` describes.
    pub fn new(config: AnthropicConfig) -> Result<Self, ModelError> {
        let client = config.transport.client()?;
        Ok(Self { config, client })
    }

    /// Its configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    async fn attempt(&self, body: &Value, sink: &Tracked<'_>) -> Result<ModelResponse, ModelError> {
        let timeout = self.config.transport.request_timeout;
        let key = self.config.transport.api_key.as_ref();
        let request = self
            .config
            .transport
            .post(
                &self.client,
                format!("{}/v1/messages", self.config.base_url),
                Auth::Header("x-api-key"),
                body,
            )
            .header("anthropic-version", API_VERSION);
        let response = http::send(request, key, timeout).await?;
        let mut events = http::sse(response, timeout);
        let mut answer = Answer::new(&self.config.model);
        while let Some(event) = events.next().await {
            let event = event?;
            let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                continue;
            };
            let data: Value = serde_json::from_str(&data)
                .map_err(|e| ModelError::Malformed(format!("bad event ({e}): {data}")))?;
            let name = event
                .event
                .or_else(|| data.get("type").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            if answer.event(&name, &data, sink)? {
                return answer.finish();
            }
        }
        Err(ModelError::Transport(
            "the stream ended before message_stop".to_owned(),
        ))
    }
}

#[async_trait::async_trait]
impl Model for Anthropic {
    fn describe(&self) -> String {
        format!("anthropic:{}", self.config.model)
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        let body = request_body(&self.config.model, self.config.max_tokens, request);
        let sink = Tracked::new(on_delta);
        http::with_retries(&self.config.transport, &self.describe(), &sink, || {
            self.attempt(&body, &sink)
        })
        .await
    }
}

/// The Messages API request for `request`.
fn request_body(model: &str, default_max_tokens: u32, request: &ModelRequest) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let content = blocks(message);
        if content.is_empty() {
            continue;
        }
        // Consecutive messages of one role become one, so that all the results of a turn's
        // tool calls sit in the single user message after it.
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["content"].as_array_mut() {
                    existing.extend(content);
                    if role == "user" {
                        // Tool results must come first in a user message.
                        existing.sort_by_key(|b| b["type"] != "tool_result");
                    }
                }
            }
            _ => messages.push(json!({"role": role, "content": content})),
        }
    }
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens.unwrap_or(default_max_tokens),
        "messages": messages,
        "stream": true,
    });
    if let Some(system) = &request.system {
        body["system"] = system.clone().into();
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({"name": tool.name, "description": tool.description,
                       "input_schema": tool.input_schema})
            })
            .collect();
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = f64::from(temperature).into();
    }
    body
}

/// A message's content blocks: tool results first, then text and tool calls in order
/// (empty text is left out; the API rejects it).
fn blocks(message: &Message) -> Vec<Value> {
    let mut results = Vec::new();
    let mut rest = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { text } if text.is_empty() => {}
            Part::Text { text } => rest.push(json!({"type": "text", "text": text})),
            Part::ToolCall(call) => {
                // The API takes an object; arguments that did not parse are passed on as is.
                let input = match &call.arguments {
                    Value::Object(_) => call.arguments.clone(),
                    other => json!({"arguments": other}),
                };
                rest.push(json!({"type": "tool_use", "id": call.id, "name": call.name,
                                 "input": input}));
            }
            Part::ToolResult(result) => {
                let mut block = json!({"type": "tool_result", "tool_use_id": result.call_id,
                                       "content": result.content});
                if result.is_error {
                    block["is_error"] = true.into();
                }
                results.push(block);
            }
        }
    }
    results.extend(rest);
    results
}

/// A content block being assembled from the stream.
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    /// Thinking and server-side blocks: not part of the answer we return.
    Other,
}

/// The answer being assembled from the stream's events.
struct Answer {
    model: String,
    blocks: Vec<(u64, Block)>,
    stop: Option<String>,
    usage: Usage,
}

impl Answer {
    fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            blocks: Vec::new(),
            stop: None,
            usage: Usage::default(),
        }
    }

    fn block(&mut self, index: u64) -> Option<&mut Block> {
        self.blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
    }

    /// Handles one event; `true` at `message_stop`.
    fn event(&mut self, name: &str, data: &Value, sink: &Tracked<'_>) -> Result<bool, ModelError> {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match name {
            "message_start" => {
                let message = &data["message"];
                if let Some(model) = message.get("model").and_then(Value::as_str) {
                    model.clone_into(&mut self.model);
                }
                let usage = &message["usage"];
                let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
                self.usage.input_tokens = count("input_tokens")
                    + count("cache_creation_input_tokens")
                    + count("cache_read_input_tokens");
                self.usage.output_tokens = count("output_tokens");
            }
            "content_block_start" => {
                let block = &data["content_block"];
                let field = |name: &str| {
                    block
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let block = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = field("text");
                        if !text.is_empty() {
                            sink.emit(ModelDelta::Text(text.clone()));
                        }
                        Block::Text(text)
                    }
                    Some("tool_use") => {
                        let (id, name) = (field("id"), field("name"));
                        sink.emit(ModelDelta::ToolCallStarted {
                            id: id.clone(),
                            name: name.clone(),
                        });
                        Block::ToolUse {
                            id,
                            name,
                            json: String::new(),
                        }
                    }
                    _ => Block::Other,
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                let field = |name: &str| delta.get(name).and_then(Value::as_str);
                match (field("type"), self.block(index)) {
                    (Some("text_delta"), Some(Block::Text(text))) => {
                        let more = field("text").unwrap_or_default();
                        text.push_str(more);
                        if !more.is_empty() {
                            sink.emit(ModelDelta::Text(more.to_owned()));
                        }
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => {
                        json.push_str(field("partial_json").unwrap_or_default());
                    }
                    (Some("text_delta" | "input_json_delta"), None) => {
                        return Err(ModelError::Malformed(format!(
                            "content_block_delta for block {index}, which never started"
                        )));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"].get("stop_reason").and_then(Value::as_str) {
                    self.stop = Some(reason.to_owned());
                }
                if let Some(output) = data["usage"].get("output_tokens").and_then(Value::as_u64) {
                    self.usage.output_tokens = output;
                }
            }
            "message_stop" => return Ok(true),
            "error" => return Err(http::stream_error(&data["error"])),
            // `content_block_stop`, `ping`, and events added to the API later.
            _ => {}
        }
        Ok(false)
    }

    fn finish(self) -> Result<ModelResponse, ModelError> {
        let mut parts = Vec::new();
        for (_, block) in self.blocks {
            match block {
                Block::Text(text) if text.is_empty() => {}
                Block::Text(text) => match parts.last_mut() {
                    Some(Part::Text { text: previous }) => previous.push_str(&text),
                    _ => parts.push(Part::text(text)),
                },
                Block::ToolUse { id, name, json } => {
                    let arguments = if json.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap_or(Value::String(json))
                    };
                    parts.push(Part::ToolCall(ToolCall {
                        id,
                        name,
                        arguments,
                    }));
                }
                Block::Other => {}
            }
        }
        let stop = match self.stop.as_deref() {
            Some("end_turn") => StopReason::EndTurn,
            Some("tool_use") => StopReason::ToolUse,
            Some("max_tokens") => StopReason::MaxTokens,
            Some("stop_sequence") => StopReason::StopSequence,
            Some("refusal") => StopReason::Refusal,
            Some(other) => StopReason::Other(other.to_owned()),
            None => {
                return Err(ModelError::Malformed(
                    "message_stop without a stop_reason".to_owned(),
                ));
            }
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                parts,
            },
            stop,
            usage: self.usage,
            model: self.model,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ToolResult, ToolSpec};

    #[test]
    fn messages_translate_to_the_messages_api() {
        let result = |id: &str| {
            Part::ToolResult(ToolResult {
                call_id: id.into(),
                content: format!("result {id}"),
                is_error: id == "b",
            })
        };
        let call = |id: &str| {
            Part::ToolCall(ToolCall {
                id: id.into(),
                name: "t".into(),
                arguments: json!({"x": id}),
            })
        };
        let request = ModelRequest {
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("Go"),
                Message {
                    role: Role::Assistant,
                    parts: vec![Part::text(""), call("a"), call("b")],
                },
                // Results split over two messages, and a note: merged into one, results first.
                Message {
                    role: Role::User,
                    parts: vec![result("a")],
                },
                Message {
                    role: Role::User,
                    parts: vec![Part::text("note"), result("b")],
                },
            ],
            tools: vec![ToolSpec {
                name: "t".into(),
                description: "T".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: None,
            temperature: Some(0.5),
        };
        let body = request_body("m", 4096, &request);
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Go"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "a", "name": "t", "input": {"x": "a"}},
                    {"type": "tool_use", "id": "b", "name": "t", "input": {"x": "b"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "a", "content": "result a"},
                    {"type": "tool_result", "tool_use_id": "b", "content": "result b",
                     "is_error": true},
                    {"type": "text", "text": "note"}]},
            ])
        );
        assert_eq!(
            body["tools"],
            json!([{"name": "t", "description": "T", "input_schema": {"type": "object"}}])
        );
    }
}
