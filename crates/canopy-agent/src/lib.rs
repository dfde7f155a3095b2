//! Canopy's agent nodes: an LLM that receives a task, calls its children's tools in a loop,
//! and answers. Every agent is itself an MCP server, so agents nest into teams.
//!
//! - [`model`]: the [`Model`] trait and its provider-neutral types;
//! - [`providers`]: OpenAI-compatible Chat Completions, Anthropic Messages, MCP sampling,
//!   and a scripted model for tests and offline examples.

pub mod agent;
mod factory;
pub mod model;
pub mod providers;

pub use self::agent::{Agent, AgentConfig, Outcome, Pricing, RunSummary, UsageReport};
pub use self::factory::{PROVIDERS, factory, schema};
pub use self::model::{
    DeltaSink, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role,
    StopReason, ToolCall, ToolResult, ToolSpec, Usage,
};
