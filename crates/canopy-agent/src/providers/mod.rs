//! Model providers, each behind its own feature flag where it needs one.
//!
//! | Provider | Feature | Streaming | Tool calls (several per turn) | Usage | Errors mapped | Retries |
//! |---|---|---|---|---|---|---|
//! | [`openai::OpenAi`]: OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter) | `openai` | text and tool-call deltas over SSE | yes, assembled by `index` | from the final chunk (`stream_options.include_usage`) | auth, rate limit (with `retry-after` / `x-ratelimit-reset-*`), context length, invalid request, server, transport, timeout | 429, 5xx, transport, timeout |
//! | [`anthropic::Anthropic`]: Anthropic Messages API | `anthropic` | text and `tool_use` deltas over SSE events | yes, `tool_use` blocks | `message_start` input, `message_delta` output | as above, plus 529 and `overloaded_error` events as rate limits | 429, 529, 5xx, transport, timeout |
//! | [`sampling`]: the caller's own model through MCP sampling (`sampling/createMessage`, tools included) | always | no (answers arrive whole) | yes, `tool_use` blocks | estimated (MCP sampling reports none) | the host's refusal or failure as [`ModelError::Unsupported`](crate::ModelError::Unsupported) | none (the host decides) |
//! | [`scripted::Scripted`]: a deterministic script or closure | always | text in word chunks | yes, names matched exactly, by suffix or glob | about a token per four characters | script errors as [`ModelError::Unsupported`](crate::ModelError::Unsupported) | none needed |
//!
//! The HTTP providers share their plumbing: a connect timeout and an overall timeout per
//! attempt (streaming included), a [`RetryPolicy`] (exponential backoff with jitter,
//! honouring `retry-after`; an answer that has started streaming is never retried), and API
//! keys that never appear in `Debug` output or in errors. Dropping the future returned by
//! [`Model::complete`](crate::Model::complete) closes the connection.

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "openai")]
pub mod openai;
pub mod sampling;
pub mod scripted;

#[cfg(feature = "http")]
pub use self::http::RetryPolicy;
