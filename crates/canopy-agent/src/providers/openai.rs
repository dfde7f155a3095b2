//! The OpenAI-compatible Chat Completions provider: OpenAI itself, and the servers that speak
//! its API (Ollama, vLLM, llama.cpp's server, LM Studio, OpenRouter…).
//!
//! It sends `POST {base_url}/chat/completions` with `stream: true` and
//! `stream_options.include_usage`, and supports:
//!
//! - **streaming**: text deltas reach the caller as they arrive; a tool call is announced
//!   (`ModelDelta::ToolCallStarted`) as soon as its name is known;
//! - **tool calls**, several per turn (parallel tool calls), assembled from their deltas by
//!   `index`; the arguments arrive as string fragments and are parsed once complete (text
//!   that does not parse is kept as a JSON string so the agent loop can report it);
//! - **usage** from the final chunk, and **stop reasons** (`stop`, `tool_calls`, `length`,
//!   `content_filter`; a `stop` with tool calls, as some local servers send, counts as tool
//!   use);
//! - **errors**: 401/403 → [`ModelError::Auth`], 429 → [`ModelError::RateLimited`] (with
//!   `retry-after`, `retry-after-ms` or the `x-ratelimit-reset-*` headers), 400
//!   `context_length_exceeded` → [`ModelError::ContextTooLong`], other 4xx →
//!   [`ModelError::InvalidRequest`], 5xx → [`ModelError::Server`], and an error object in
//!   the stream;
//! - **retries** per its [`RetryPolicy`], **timeouts** (connect, and overall per attempt),
//!   and **cancellation** (dropping the future closes the connection).
//!
//! The key is optional (local servers need none) and is sent as `Authorization: Bearer`;
//! it never appears in `Debug` output or errors.
//!
//! ```no_run
//! use canopy_agent::{Message, Model, ModelRequest, providers::openai::{OpenAi, OpenAiConfig}};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // A local Ollama server: no key.
//! let model = OpenAi::new(OpenAiConfig::new("llama3.2").base_url("http://127.0.0.1:11434/v1"))?;
//! let request = ModelRequest { messages: vec![Message::user("Hello!")], ..Default::default() };
//! let answer = model.complete(&request, &|delta| println!("{delta:?}")).await?;
//! println!("{}", answer.message.text());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::{Value, json};

use super::http::{self, ApiKey, Auth, RetryPolicy, Tracked, Transport, transport_setters};
use crate::model::{
    DeltaSink, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role,
    StopReason, ToolCall, Usage,
};

/// OpenAI's own endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// How to reach an OpenAI-compatible server. Built with [`OpenAiConfig::new`] and its
/// setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// The model name, e.g. `gpt-4o-mini` or `llama3.2`.
    pub model: String,
    /// The API's base URL, up to and including `/v1` (default [`DEFAULT_BASE_URL`]).
    pub base_url: String,
    transport: Transport,
}

impl OpenAiConfig {
    /// A configuration for `model` at OpenAI, with no key, default timeouts and retries.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            transport: Transport::default(),
        }
    }

    /// The base URL (e.g. `http://127.0.0.1:11434/v1` for Ollama).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The API key, sent as `Authorization: Bearer KEY`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.transport.api_key = Some(ApiKey::new(key));
        self
    }

    transport_setters!();
}

/// An OpenAI-compatible Chat Completions model.
#[derive(Debug)]
pub struct OpenAi {
    config: OpenAiConfig,
    client: reqwest::Client,
}

impl OpenAi {
    /// The model `config` describes.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        let client = config.transport.client()?;
        Ok(Self { config, client })
    }

    /// Its configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    async fn attempt(&self, body: &Value, sink: &Tracked<'_>) -> Result<ModelResponse, ModelError> {
        let timeout = self.config.transport.request_timeout;
        let key = self.config.transport.api_key.as_ref();
        let request = self.config.transport.post(
            &self.client,
            format!("{}/chat/completions", self.config.base_url),
            Auth::Bearer,
            body,
        );
        let response = http::send(request, key, timeout).await?;
        let mut events = http::sse(response, timeout);
        let mut answer = Answer::new(&self.config.model);
        while let Some(event) = events.next().await {
            let event = event?;
            let Some(data) = event.data else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                return answer.finish(true);
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|e| ModelError::Malformed(format!("bad chunk ({e}): {data}")))?;
            answer.chunk(&chunk, sink)?;
        }
        answer.finish(false)
    }
}

#[async_trait::async_trait]
impl Model for OpenAi {
    fn describe(&self) -> String {
        format!("openai:{}", self.config.model)
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        let body = request_body(&self.config.model, request);
        let sink = Tracked::new(on_delta);
        http::with_retries(&self.config.transport, &self.describe(), &sink, || {
            self.attempt(&body, &sink)
        })
        .await
    }
}

/// The Chat Completions request for `request`.
fn request_body(model: &str, request: &ModelRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        translate(message, &mut messages);
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                }})
            })
            .collect();
    }
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = max.into();
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = f64::from(temperature).into();
    }
    body
}

/// Appends the wire messages for one message: an assistant message with its `tool_calls`,
/// or a user message's tool results as `role: tool` messages (first, since they must follow
/// the assistant message that asked) and then its text.
fn translate(message: &Message, out: &mut Vec<Value>) {
    match message.role {
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls()
                .map(|call| {
                    let arguments = match &call.arguments {
                        Value::String(raw) => raw.clone(),
                        other => other.to_string(),
                    };
                    json!({"id": call.id, "type": "function",
                           "function": {"name": call.name, "arguments": arguments}})
                })
                .collect();
            let text = message.text();
            let mut wire = json!({"role": "assistant"});
            wire["content"] = if text.is_empty() && !calls.is_empty() {
                Value::Null
            } else {
                text.into()
            };
            if !calls.is_empty() {
                wire["tool_calls"] = calls.into();
            }
            out.push(wire);
        }
        Role::User => {
            for part in &message.parts {
                if let Part::ToolResult(result) = part {
                    let content = if result.is_error {
                        format!("Error: {}", result.content)
                    } else {
                        result.content.clone()
                    };
                    out.push(
                        json!({"role": "tool", "tool_call_id": result.call_id, "content": content}),
                    );
                }
            }
            let text = message.text();
            if !text.is_empty() {
                out.push(json!({"role": "user", "content": text}));
            }
        }
    }
}

/// A tool call being assembled from its deltas.
#[derive(Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
    announced: bool,
}

/// The answer being assembled from the stream's chunks.
struct Answer {
    model: String,
    text: String,
    calls: BTreeMap<u64, PendingCall>,
    finish: Option<String>,
    usage: Usage,
}

impl Answer {
    fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            text: String::new(),
            calls: BTreeMap::new(),
            finish: None,
            usage: Usage::default(),
        }
    }

    fn chunk(&mut self, chunk: &Value, sink: &Tracked<'_>) -> Result<(), ModelError> {
        if let Some(error) = chunk.get("error") {
            return Err(http::stream_error(error));
        }
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            model.clone_into(&mut self.model);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
            self.usage = Usage {
                input_tokens: count("prompt_tokens"),
                output_tokens: count("completion_tokens"),
            };
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        // Only the first choice is asked for (`n` is not set).
        let Some(choice) = choices.and_then(|c| c.first()) else {
            return Ok(());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(reason.to_owned());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(());
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            self.text.push_str(text);
            sink.emit(ModelDelta::Text(text.to_owned()));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let pending = self.calls.entry(index).or_default();
            if let Some(id) = call.get("id").and_then(Value::as_str)
                && !id.is_empty()
            {
                id.clone_into(&mut pending.id);
            }
            let function = call.get("function");
            if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
                pending.name.push_str(name);
            }
            if let Some(arguments) = function
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
            {
                pending.arguments.push_str(arguments);
            }
            if !pending.announced && !pending.name.is_empty() {
                pending.announced = true;
                if pending.id.is_empty() {
                    pending.id = format!("call_{index}");
                }
                sink.emit(ModelDelta::ToolCallStarted {
                    id: pending.id.clone(),
                    name: pending.name.clone(),
                });
            }
        }
        Ok(())
    }

    fn finish(self, done: bool) -> Result<ModelResponse, ModelError> {
        let Some(reason) = self.finish else {
            let what = if done {
                "the stream ended without a finish_reason"
            } else {
                "the stream ended before the answer was complete"
            };
            return Err(ModelError::Transport(what.to_owned()));
        };
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(Part::text(self.text));
        }
        for (index, call) in self.calls {
            if call.name.is_empty() {
                return Err(ModelError::Malformed(format!(
                    "tool call {index} has no name"
                )));
            }
            let arguments = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments))
            };
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            parts.push(Part::ToolCall(ToolCall {
                id,
                name: call.name,
                arguments,
            }));
        }
        let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
        let stop = match reason.as_str() {
            "tool_calls" | "function_call" => StopReason::ToolUse,
            "stop" if has_calls => StopReason::ToolUse,
            "stop" => StopReason::EndTurn,
            "length" => StopReason::MaxTokens,
            "content_filter" => StopReason::Refusal,
            other => StopReason::Other(other.to_owned()),
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
    fn messages_translate_to_chat_completions() {
        let request = ModelRequest {
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("Weather in Paris?"),
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::text("Looking."),
                        Part::ToolCall(ToolCall {
                            id: "call_1".into(),
                            name: "weather".into(),
                            arguments: json!({"city": "Paris"}),
                        }),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![Part::ToolResult(ToolResult {
                        call_id: "call_1".into(),
                        content: "no data".into(),
                        is_error: true,
                    })],
                },
            ],
            tools: vec![ToolSpec {
                name: "weather".into(),
                description: "The weather".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: Some(100),
            temperature: None,
        };
        let body = request_body("m", &request);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "Looking.", "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "Error: no data"},
            ])
        );
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "function": {"name": "weather",
                "description": "The weather", "parameters": {"type": "object"}}}])
        );
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }
}
