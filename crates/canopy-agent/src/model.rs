//! The [`Model`] trait every provider implements, and the provider-neutral types it speaks:
//! a conversation of [`Message`]s, the [`ToolSpec`]s the model may call, and the
//! [`ModelResponse`] with its tool calls, [`Usage`] and [`StopReason`].
//!
//! Providers translate these to and from their wire formats (OpenAI-compatible Chat
//! Completions, Anthropic Messages, MCP sampling, a script); the agent loop sees only these.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user (or the agent's caller): the task, and the results of tool calls.
    User,
    /// The model.
    Assistant,
}

/// One piece of a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// The model asks for a tool to be run (only in assistant messages).
    ToolCall(ToolCall),
    /// The outcome of a tool call (only in user messages, after the assistant message that
    /// asked for it).
    ToolResult(ToolResult),
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }
}

/// A tool call the model asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; the result must carry the same id.
    pub id: String,
    /// The tool's name, as given in the [`ToolSpec`].
    pub name: String,
    /// The arguments (a JSON object; providers that stream arguments as text parse them,
    /// and text that does not parse arrives as a JSON string so the loop can report it).
    pub arguments: Value,
}

/// The outcome of a tool call, fed back to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the [`ToolCall`] this answers.
    pub call_id: String,
    /// What the tool returned, as text.
    pub content: String,
    /// Whether the tool failed (the model sees the error and may try something else).
    pub is_error: bool,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said, in order.
    pub parts: Vec<Part>,
}

impl Message {
    /// A user message with one text part.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            parts: vec![Part::text(text)],
        }
    }

    /// An assistant message with one text part.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            parts: vec![Part::text(text)],
        }
    }

    /// The message's text parts, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            if let Part::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls in the message, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.parts.iter().filter_map(|part| match part {
            Part::ToolCall(call) => Some(call),
            _ => None,
        })
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model uses (LLM-safe: `^[a-zA-Z0-9_-]{1,64}$`).
    pub name: String,
    /// What the tool does.
    pub description: String,
    /// The JSON schema of the arguments (an object schema).
    pub input_schema: Value,
}

/// One request to a model: a system prompt, the conversation so far, and the tools.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    /// Instructions for the model.
    pub system: Option<String>,
    /// The conversation, oldest first; the last message is the user's.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// The most tokens the model may produce in its answer.
    pub max_tokens: Option<u32>,
    /// Sampling temperature, when the provider takes one.
    pub temperature: Option<f32>,
}

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model wants tool calls run.
    ToolUse,
    /// The answer hit the token limit.
    MaxTokens,
    /// A stop sequence ended the answer.
    StopSequence,
    /// The provider refused to answer (content filter, safety).
    Refusal,
    /// Something else the provider reported, as it named it.
    Other(String),
}

/// Tokens used by one model request, or summed over many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read (prompt).
    pub input_tokens: u64,
    /// Tokens written (completion).
    pub output_tokens: u64,
}

impl Usage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl std::ops::Add for Usage {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

/// A model's complete answer to one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelResponse {
    /// The assistant message: text and tool calls, in the order the model produced them.
    pub message: Message,
    /// Why the model stopped.
    pub stop: StopReason,
    /// Tokens used.
    pub usage: Usage,
    /// The model that answered, as the provider named it.
    pub model: String,
}

/// Something a model streams while it answers.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelDelta {
    /// More text of the answer.
    Text(String),
    /// The model started a tool call (its arguments follow and are complete only in the
    /// final [`ModelResponse`]).
    ToolCallStarted {
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
}

/// Why a model request failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Too many requests (HTTP 429, or the provider's overload error); retry after the
    /// given delay when the provider said.
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {:.1} s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The conversation does not fit the model's context window.
    #[error("context too long: {0}")]
    ContextTooLong(String),
    /// The key is missing, wrong or not allowed to use the model.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The provider rejected the request (HTTP 4xx other than the above).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider failed (HTTP 5xx); retried with backoff.
    #[error("provider error (HTTP {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The connection failed or broke mid-answer.
    #[error("transport error: {0}")]
    Transport(String),
    /// No answer within the configured time.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider's answer could not be understood.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The model cannot be used this way (a feature the provider lacks, a script that ran
    /// out of steps, a host that declined to sample).
    #[error("{0}")]
    Unsupported(String),
}

impl ModelError {
    /// Whether retrying the same request later may succeed (rate limits, server errors,
    /// transport errors and timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport(_) | Self::Timeout(_)
        )
    }
}

/// Receives what a model streams while it answers.
pub type DeltaSink<'a> = &'a (dyn Fn(ModelDelta) + Send + Sync);

/// A language model that can call tools.
///
/// Implementations stream text and tool-call starts to `on_delta` as they arrive and return
/// the whole answer at the end. Dropping the returned future cancels the request.
#[async_trait::async_trait]
pub trait Model: Send + Sync + fmt::Debug + 'static {
    /// A short description for logs and the topology, e.g. `openai:gpt-4o-mini`.
    fn describe(&self) -> String;

    /// Runs one request.
    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError>;
}
