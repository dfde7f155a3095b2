//! The agent node: a [`NodeService`] whose tool runs a model in a tool-use loop over the
//! node's subtree.
//!
//! ```no_run
//! use canopy_agent::{Agent, AgentConfig, providers::scripted::Scripted};
//! use canopy_node::{Node, Tree};
//! # #[derive(Clone)] struct Search; impl rmcp::ServerHandler for Search {}
//! # async fn demo(model: Scripted) -> Result<(), Box<dyn std::error::Error>> {
//! let lead = Node::service("lead", Agent::new(model, AgentConfig::default()))
//!     .child(Node::server("search", Search));
//! let tree = Tree::builder(lead).build().await?;
//! let answer = tree.call_tool("run", Some(serde_json::json!({"task": "…"}).as_object().unwrap().clone())).await?;
//! # Ok(()) }
//! ```

mod report;
mod run;

use std::sync::Arc;

use canopy_node::{Limits, NodeContext, NodeService};
use canopy_topology::Policy;
use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError,
    model::{CallToolResult, JsonObject, Tool},
};
use serde_json::json;

pub use self::report::{Outcome, Pricing, RunSummary, USAGE_META_KEY, UsageReport};
use crate::{model::Model, providers::sampling::SamplingOptions};

/// How an agent is set up: its tool, its instructions, its limits, and which of its
/// subtree's tools its model sees.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The name of the tool the agent exposes (default `run`).
    pub tool_name: String,
    /// The tool's description.
    pub description: String,
    /// The tool's input schema (default: an object with a required `task` string). Any
    /// other schema works too: the model then gets the arguments as JSON.
    pub input_schema: JsonObject,
    /// The system prompt.
    pub system: Option<String>,
    /// The most model turns per run (default 10).
    pub max_turns: u32,
    /// The most tokens per model answer.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Limits for each run, nested in the caller's budget.
    pub limits: Limits,
    /// Which tools of the subtree the model sees: `allow`/`deny` globs over tool ids
    /// relative to the agent (`deny` hides, `ask` is ignored here: the node's real policy
    /// asks). Default: every tool.
    pub tools: Policy,
    /// The most tool calls run at once within one turn (default 8).
    pub concurrency: usize,
    /// Model prices, for the cost in usage reports.
    pub pricing: Option<Pricing>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            tool_name: "run".to_owned(),
            description: "Give this agent a task; it works on it with its tools and answers."
                .to_owned(),
            input_schema: task_schema(),
            system: None,
            max_turns: 10,
            max_tokens: None,
            temperature: None,
            limits: Limits::none(),
            tools: Policy::new(),
            concurrency: 8,
            pricing: None,
        }
    }
}

impl AgentConfig {
    /// Sets the tool's name and description.
    pub fn tool(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.tool_name = name.into();
        self.description = description.into();
        self
    }

    /// Sets the system prompt.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Sets the maximum number of turns (at least 1).
    pub fn max_turns(mut self, turns: u32) -> Self {
        self.max_turns = turns.max(1);
        self
    }

    /// Sets the limits of each run.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets which subtree tools the model sees.
    pub fn tools(mut self, tools: Policy) -> Self {
        self.tools = tools;
        self
    }

    /// Sets model prices.
    pub fn pricing(mut self, pricing: Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }
}

/// The default input schema: `{"task": string}`.
fn task_schema() -> JsonObject {
    match json!({
        "type": "object",
        "properties": { "task": { "type": "string", "description": "What to do" } },
        "required": ["task"],
    }) {
        serde_json::Value::Object(schema) => schema,
        _ => JsonObject::new(),
    }
}

/// Where an agent's model comes from.
#[derive(Clone, Debug)]
pub(crate) enum ModelSource {
    /// A provider the agent owns.
    Owned(Arc<dyn Model>),
    /// The model of whoever called the tree, asked through MCP sampling.
    Host(SamplingOptions),
}

/// An LLM-driven node: serve it with [`Node::service`](canopy_node::Node::service).
#[derive(Clone, Debug)]
pub struct Agent {
    pub(crate) model: ModelSource,
    pub(crate) config: Arc<AgentConfig>,
}

impl Agent {
    /// An agent driven by `model`.
    pub fn new(model: impl Model, config: AgentConfig) -> Self {
        Self::from_arc(Arc::new(model), config)
    }

    /// An agent driven by a shared model.
    pub fn from_arc(model: Arc<dyn Model>, config: AgentConfig) -> Self {
        Self {
            model: ModelSource::Owned(model),
            config: Arc::new(config),
        }
    }

    /// An agent that uses its caller's model through MCP sampling (no API key needed when
    /// the tree is served to a sampling-capable host).
    pub fn with_host_model(options: SamplingOptions, config: AgentConfig) -> Self {
        Self {
            model: ModelSource::Host(options),
            config: Arc::new(config),
        }
    }

    /// The agent's configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }
}

impl NodeService for Agent {
    fn tools(&self) -> Vec<Tool> {
        vec![Tool::new(
            self.config.tool_name.clone(),
            self.config.description.clone(),
            self.config.input_schema.clone(),
        )]
    }

    fn call_tool(
        &self,
        name: String,
        arguments: Option<JsonObject>,
        cx: NodeContext,
    ) -> BoxFuture<'static, Result<CallToolResult, McpError>> {
        let agent = self.clone();
        Box::pin(async move {
            if name != agent.config.tool_name {
                return Err(McpError::invalid_params(
                    format!(
                        "agent '{}' has one tool, '{}', not '{name}'",
                        cx.path(),
                        agent.config.tool_name
                    ),
                    None,
                ));
            }
            run::run(&agent, arguments, cx).await
        })
    }

    fn kind(&self) -> &'static str {
        "agent"
    }
}
