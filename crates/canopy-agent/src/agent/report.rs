//! What an agent reports about its work: usage and cost (its own plus every descendant
//! agent's), turns and tool calls — in its result's structured content, in its `_meta`
//! (so a parent agent, even across processes, rolls it up), and in `status` events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Usage;

/// The `_meta` key under which an agent's result carries its [`UsageReport`].
pub use canopy_node::budget::USAGE_META_KEY;

/// Prices of a model, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pricing {
    /// Dollars per million input tokens.
    pub input_per_mtok: f64,
    /// Dollars per million output tokens.
    pub output_per_mtok: f64,
}

impl Pricing {
    /// What `usage` costs at these prices.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_mtok
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// Usage of one agent run and everything it caused below it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// Model input tokens.
    pub input_tokens: u64,
    /// Model output tokens.
    pub output_tokens: u64,
    /// Cost in US dollars (0 when no prices are configured).
    pub cost_usd: f64,
    /// Model requests made.
    pub model_calls: u64,
    /// Tool calls made.
    pub tool_calls: u64,
    /// Agent runs counted (this one and every descendant's).
    pub agents: u64,
}

impl UsageReport {
    /// Adds another report (a descendant's) to this one.
    pub fn add(&mut self, other: &UsageReport) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
        self.model_calls += other.model_calls;
        self.tool_calls += other.tool_calls;
        self.agents += other.agents;
    }

    /// The report a tool result's `_meta` carries, if any.
    pub fn from_meta(meta: Option<&rmcp::model::MetaObject>) -> Option<Self> {
        let value = meta?.0.get(USAGE_META_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }

    /// As JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Why an agent run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The model gave its final answer.
    Answered,
    /// The run hit the agent's maximum number of turns.
    MaxTurns,
    /// The call's budget (calls, tokens or time) ran out.
    BudgetExhausted,
}

/// The structured summary in an agent's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The final answer (the model's last text).
    pub answer: String,
    /// Why the run ended.
    pub outcome: Outcome,
    /// Model turns taken.
    pub turns: u32,
    /// Tool calls made by this agent (not counting its descendants').
    pub tool_calls: u64,
    /// The model, as its provider describes it.
    pub model: String,
    /// This agent's own usage.
    pub own: UsageReport,
    /// This agent's usage plus every descendant agent's.
    pub total: UsageReport,
    /// What ran out, when the budget did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
}
