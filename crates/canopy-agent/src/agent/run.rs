//! One agent run: the tool-use loop.
//!
//! Each turn asks the model (streaming its text as `partial` events), charges the tokens to
//! the call's budget, runs the tool calls it asked for — concurrently, each through the tree
//! so policies, prompts, budgets and events apply — and feeds the results back, until the
//! model answers without tool calls, the turns run out, or the budget does.

use std::collections::HashMap;

use canopy_node::{BudgetExceeded, NodeContext, SubtreeTool};
use canopy_topology::RuleKind;
use futures::{StreamExt, stream};
use rmcp::{
    ErrorData as McpError,
    model::{CallToolResult, ContentBlock, JsonObject, MetaObject},
};
use serde_json::{Value, json};

use super::{Agent, ModelSource, Outcome, RunSummary, USAGE_META_KEY, UsageReport};
use crate::{
    model::{
        Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role, ToolCall,
        ToolResult, ToolSpec,
    },
    providers::sampling::HostModel,
};

/// Runs the agent on one call.
pub(super) async fn run(
    agent: &Agent,
    arguments: Option<JsonObject>,
    cx: NodeContext,
) -> Result<CallToolResult, McpError> {
    let config = &agent.config;
    let cx = cx.with_limits(config.limits);
    let host_model;
    let model: &dyn Model = match &agent.model {
        ModelSource::Owned(model) => model.as_ref(),
        ModelSource::Host(options) => {
            host_model = HostModel::new(cx.clone(), options.clone());
            &host_model
        }
    };
    let task = task_text(arguments.as_ref());
    let tools = visible_tools(agent, &cx);
    let by_name: HashMap<String, SubtreeTool> = tools
        .iter()
        .map(|tool| (tool.tool.name.to_string(), tool.clone()))
        .collect();
    let specs: Vec<ToolSpec> = tools.iter().map(spec).collect();

    let mut messages = vec![Message::user(task)];
    let mut own = UsageReport {
        agents: 1,
        ..UsageReport::default()
    };
    let mut below = UsageReport::default();
    let mut turns = 0;
    let mut answer = String::new();
    let mut spent: Option<String> = None;
    let mut model_name = model.describe();
    let ct = cx.cancellation();

    let outcome = loop {
        if turns >= config.max_turns {
            break Outcome::MaxTurns;
        }
        if let Some(budget) = cx.budget()
            && let Err(exceeded) = budget.check()
        {
            spent = Some(exceeded.to_string());
            break Outcome::BudgetExhausted;
        }
        turns += 1;
        cx.progress(
            f64::from(turns - 1),
            Some(f64::from(config.max_turns)),
            Some(format!("turn {turns}: thinking")),
        );
        let request = ModelRequest {
            system: config.system.clone(),
            messages: messages.clone(),
            tools: specs.clone(),
            max_tokens: config.max_tokens,
            temperature: config.temperature,
        };
        let response = match ask_model(model, &request, &cx, &ct).await {
            Ok(response) => response,
            Err(Stop::Cancelled) => {
                return Err(McpError::internal_error(
                    "the agent's call was cancelled",
                    None,
                ));
            }
            Err(Stop::Deadline(exceeded)) => {
                spent = Some(exceeded.to_string());
                break Outcome::BudgetExhausted;
            }
            Err(Stop::Model(error)) => return Err(model_error(&cx, &error)),
        };
        own.model_calls += 1;
        own.input_tokens += response.usage.input_tokens;
        own.output_tokens += response.usage.output_tokens;
        if !response.model.is_empty() {
            model_name = response.model.clone();
        }
        let text = response.message.text();
        if !text.is_empty() {
            answer = text;
        }
        let calls: Vec<ToolCall> = response.message.tool_calls().cloned().collect();
        messages.push(Message {
            role: Role::Assistant,
            parts: response.message.parts,
        });
        if let Some(budget) = cx.budget()
            && let Err(exceeded) = budget.charge_tokens(response.usage.total())
        {
            spent = Some(exceeded.to_string());
            break Outcome::BudgetExhausted;
        }
        if calls.is_empty() {
            break Outcome::Answered;
        }
        cx.progress(
            f64::from(turns - 1) + 0.5,
            Some(f64::from(config.max_turns)),
            Some(format!(
                "turn {turns}: calling {}",
                calls
                    .iter()
                    .map(|call| call.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        let pending: Vec<_> = calls
            .iter()
            .map(|call| run_tool(&cx, &by_name, call))
            .collect();
        let outcomes: Vec<CallOutcome> = stream::iter(pending)
            .buffered(config.concurrency.max(1))
            .collect()
            .await;
        own.tool_calls += calls.len() as u64;
        let mut results = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            if let Some(usage) = &outcome.usage {
                below.add(usage);
            }
            if outcome.spent.is_some() && spent.is_none() {
                spent = outcome.spent;
            }
            results.push(Part::ToolResult(outcome.result));
        }
        messages.push(Message {
            role: Role::User,
            parts: results,
        });
        if ct.is_cancelled() {
            return Err(McpError::internal_error(
                "the agent's call was cancelled",
                None,
            ));
        }
        if spent.is_some() {
            break Outcome::BudgetExhausted;
        }
    };

    if let Some(pricing) = &config.pricing {
        own.cost_usd = pricing.cost(crate::model::Usage {
            input_tokens: own.input_tokens,
            output_tokens: own.output_tokens,
        });
    }
    let mut total = own;
    total.add(&below);
    if answer.is_empty() {
        answer = match outcome {
            Outcome::Answered => String::new(),
            Outcome::MaxTurns => format!(
                "(no answer: the agent stopped after {} turns)",
                config.max_turns
            ),
            Outcome::BudgetExhausted => "(no answer: the budget ran out)".to_owned(),
        };
    }
    cx.progress(
        f64::from(config.max_turns),
        Some(f64::from(config.max_turns)),
        Some(match outcome {
            Outcome::Answered => format!("answered after {turns} turns"),
            Outcome::MaxTurns => format!("stopped at the turn limit ({turns})"),
            Outcome::BudgetExhausted => "stopped: budget spent".to_owned(),
        }),
    );
    let summary = RunSummary {
        answer: answer.clone(),
        outcome,
        turns,
        tool_calls: own.tool_calls,
        model: model_name,
        own,
        total,
        budget: spent,
    };
    let mut result = CallToolResult::success(vec![ContentBlock::text(answer)]);
    result.structured_content = Some(serde_json::to_value(&summary).unwrap_or_default());
    let mut meta = MetaObject::new();
    meta.0.insert(USAGE_META_KEY.to_owned(), total.to_value());
    result.meta = Some(meta);
    Ok(result)
}

/// Why asking the model did not give an answer.
enum Stop {
    Cancelled,
    Deadline(BudgetExceeded),
    Model(ModelError),
}

/// Asks the model, streaming its text as `partial` events; gives up when the call is
/// cancelled or its deadline passes.
async fn ask_model(
    model: &dyn Model,
    request: &ModelRequest,
    cx: &NodeContext,
    ct: &tokio_util::sync::CancellationToken,
) -> Result<ModelResponse, Stop> {
    let listening = cx.is_listened_to();
    let on_delta = |delta: ModelDelta| {
        if !listening {
            return;
        }
        match delta {
            ModelDelta::Text(text) => cx.partial(json!({ "text": text })),
            ModelDelta::ToolCallStarted { name, .. } => cx.partial(json!({ "toolCall": name })),
        }
    };
    let deadline = cx.budget().and_then(|budget| budget.remaining_time());
    let sleep = async {
        match deadline {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        response = model.complete(request, &on_delta) => response.map_err(Stop::Model),
        () = ct.cancelled() => Err(Stop::Cancelled),
        () = sleep => Err(Stop::Deadline(BudgetExceeded::Deadline {
            limit: cx.budget().and_then(|b| b.limits().time).unwrap_or_default(),
        })),
    }
}

/// The error a failed model request becomes (logged for the user, returned to the caller).
fn model_error(cx: &NodeContext, error: &ModelError) -> McpError {
    cx.log("error", json!({ "model_error": error.to_string() }));
    McpError::internal_error(
        format!("agent '{}': the model failed: {error}", cx.path()),
        Some(json!({ "reason": "model_error", "retryable": error.is_retryable() })),
    )
}

/// The outcome of one tool call, for the model and the run's accounts.
struct CallOutcome {
    result: ToolResult,
    usage: Option<UsageReport>,
    /// Why the budget refused the call, when it did.
    spent: Option<String>,
}

async fn run_tool(
    cx: &NodeContext,
    tools: &HashMap<String, SubtreeTool>,
    call: &ToolCall,
) -> CallOutcome {
    let failed = |content: String| CallOutcome {
        result: ToolResult {
            call_id: call.id.clone(),
            content,
            is_error: true,
        },
        usage: None,
        spent: None,
    };
    let Some(tool) = tools.get(&call.name) else {
        let mut names: Vec<&str> = tools.keys().map(String::as_str).collect();
        names.sort_unstable();
        return failed(format!(
            "There is no tool named '{}'. Available tools: {}.",
            call.name,
            names.join(", ")
        ));
    };
    let arguments = match &call.arguments {
        Value::Object(arguments) => Some(arguments.clone()),
        Value::Null => None,
        Value::String(raw) => {
            return failed(format!(
                "The arguments for '{}' are not a JSON object: {raw}",
                call.name
            ));
        }
        other => {
            return failed(format!(
                "The arguments for '{}' must be a JSON object, not {other}",
                call.name
            ));
        }
    };
    match cx.call_tool(&tool.id, arguments).await {
        Ok(result) => {
            let usage = UsageReport::from_meta(result.meta.as_ref());
            CallOutcome {
                result: ToolResult {
                    call_id: call.id.clone(),
                    content: result_text(&result),
                    is_error: result.is_error.unwrap_or(false),
                },
                usage,
                spent: None,
            }
        }
        Err(error) => {
            let spent = is_budget_error(&error).then(|| error.message.to_string());
            CallOutcome {
                result: ToolResult {
                    call_id: call.id.clone(),
                    content: format!("The tool failed: {}", error.message),
                    is_error: true,
                },
                usage: None,
                spent,
            }
        }
    }
}

fn is_budget_error(error: &McpError) -> bool {
    error
        .data
        .as_ref()
        .and_then(|data| data.get("reason"))
        .and_then(Value::as_str)
        == Some("budget_exceeded")
}

/// A tool result as text for the model: text blocks as they are, other blocks described,
/// structured content as JSON when there is no text.
pub(crate) fn result_text(result: &CallToolResult) -> String {
    let mut parts = Vec::new();
    for block in &result.content {
        if let Some(text) = block.as_text() {
            parts.push(text.text.clone());
        } else if let Some(link) = block.as_resource_link() {
            parts.push(format!("[resource {}]", link.uri));
        } else if let Some(resource) = block.as_resource() {
            parts.push(
                serde_json::to_string(&resource.resource).unwrap_or_else(|_| "[resource]".into()),
            );
        } else if block.as_image().is_some() {
            parts.push("[image]".to_owned());
        } else {
            parts.push("[content]".to_owned());
        }
    }
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    parts.join("\n")
}

/// The text of the task: the `task` argument, or all arguments as JSON.
fn task_text(arguments: Option<&JsonObject>) -> String {
    match arguments {
        Some(arguments) => match arguments.get("task").and_then(Value::as_str) {
            Some(task) if arguments.len() == 1 => task.to_owned(),
            _ => Value::Object(arguments.clone()).to_string(),
        },
        None => String::new(),
    }
}

/// The subtree tools the agent's configuration lets the model see.
fn visible_tools(agent: &Agent, cx: &NodeContext) -> Vec<SubtreeTool> {
    cx.tools()
        .into_iter()
        .filter(|tool| {
            let relative = tool.id.relative_to(cx.path()).unwrap_or_default();
            !matches!(
                agent.config.tools.evaluate(&relative),
                Some(rule) if rule.kind == RuleKind::Deny
            )
        })
        .collect()
}

fn spec(tool: &SubtreeTool) -> ToolSpec {
    ToolSpec {
        name: tool.tool.name.to_string(),
        description: tool
            .tool
            .description
            .as_deref()
            .unwrap_or_default()
            .to_owned(),
        input_schema: Value::Object((*tool.tool.input_schema).clone()),
    }
}
