//! The MCP sampling provider: the agent asks *its caller's* model, with
//! `sampling/createMessage` (tools included, SEP-1577). For a 2026-07-28 caller the tree
//! turns the request into an `input_required` round trip; for a Rust host it goes to the
//! tree's [`SamplingHandler`](canopy_node::SamplingHandler). A tree served to Claude Desktop
//! or any sampling-capable host so needs no API key at all.
//!
//! Supports: text, tool calls (several per answer), tool results, stop reasons, the
//! caller's model preferences hint. Not streamed (sampling answers arrive whole); usage is
//! not reported by MCP sampling, so it is estimated (about four characters per token) and
//! marked as such in the model name.

// MCP sampling is deprecated by SEP-2577 (2026-07-28) but still what hosts implement, and
// what 2025 callers speak: this provider uses it on purpose.
#![allow(deprecated)]

use canopy_node::NodeContext;
use rmcp::model::{
    ContentBlock, CreateMessageRequestParams, ModelHint, ModelPreferences, Role as McpRole,
    SamplingMessage, SamplingMessageContentBlock, Tool,
};
use serde_json::Value;

use crate::model::{
    DeltaSink, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role,
    StopReason, ToolCall, Usage,
};

/// How an agent asks its host's model.
#[derive(Clone, Debug, Default)]
pub struct SamplingOptions {
    /// A model name hint for the host (`claude-sonnet`, …).
    pub model_hint: Option<String>,
    /// The most tokens per answer (default 2048; sampling requires a value).
    pub max_tokens: Option<u32>,
}

/// The model of whoever called the tree, for one call.
#[derive(Debug)]
pub(crate) struct HostModel {
    cx: NodeContext,
    options: SamplingOptions,
}

impl HostModel {
    pub(crate) fn new(cx: NodeContext, options: SamplingOptions) -> Self {
        Self { cx, options }
    }
}

#[async_trait::async_trait]
impl Model for HostModel {
    fn describe(&self) -> String {
        "sampling:host".to_owned()
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        let params = to_params(request, &self.options);
        let result = self.cx.sample(params).await.map_err(|error| {
            ModelError::Unsupported(format!("sampling failed: {}", error.message))
        })?;
        let message = from_sampling(result.message);
        let text = message.text();
        if !text.is_empty() {
            on_delta(ModelDelta::Text(text));
        }
        for call in message.tool_calls() {
            on_delta(ModelDelta::ToolCallStarted {
                id: call.id.clone(),
                name: call.name.clone(),
            });
        }
        let stop = match result.stop_reason.as_deref() {
            Some("endTurn") | None => {
                if message.tool_calls().next().is_some() {
                    StopReason::ToolUse
                } else {
                    StopReason::EndTurn
                }
            }
            Some("toolUse") => StopReason::ToolUse,
            Some("maxTokens") => StopReason::MaxTokens,
            Some("stopSequence") => StopReason::StopSequence,
            Some(other) => StopReason::Other(other.to_owned()),
        };
        let usage = Usage {
            input_tokens: estimate_tokens(&serde_json::to_string(request).unwrap_or_default()),
            output_tokens: estimate_tokens(&serde_json::to_string(&message).unwrap_or_default()),
        };
        Ok(ModelResponse {
            message,
            stop,
            usage,
            model: format!("{} (via sampling)", result.model),
        })
    }
}

/// About four characters per token: MCP sampling reports no usage.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn to_params(request: &ModelRequest, options: &SamplingOptions) -> CreateMessageRequestParams {
    let messages = request.messages.iter().map(to_sampling).collect();
    let mut params = CreateMessageRequestParams::new(
        messages,
        request.max_tokens.or(options.max_tokens).unwrap_or(2048),
    );
    params.system_prompt = request.system.clone();
    params.temperature = request.temperature;
    if !request.tools.is_empty() {
        params.tools = Some(
            request
                .tools
                .iter()
                .map(|spec| {
                    let schema = match &spec.input_schema {
                        Value::Object(schema) => schema.clone(),
                        _ => serde_json::Map::new(),
                    };
                    Tool::new(spec.name.clone(), spec.description.clone(), schema)
                })
                .collect(),
        );
    }
    if let Some(hint) = &options.model_hint {
        params.model_preferences =
            Some(ModelPreferences::new().with_hints(vec![ModelHint::new(hint.clone())]));
    }
    params
}

fn to_sampling(message: &Message) -> SamplingMessage {
    let role = match message.role {
        Role::User => McpRole::User,
        Role::Assistant => McpRole::Assistant,
    };
    let blocks: Vec<SamplingMessageContentBlock> = message
        .parts
        .iter()
        .map(|part| match part {
            Part::Text { text } => SamplingMessageContentBlock::text(text.clone()),
            Part::ToolCall(call) => SamplingMessageContentBlock::tool_use(
                call.id.clone(),
                call.name.clone(),
                match &call.arguments {
                    Value::Object(arguments) => arguments.clone(),
                    _ => serde_json::Map::new(),
                },
            ),
            Part::ToolResult(result) => {
                let mut block = rmcp::model::ToolResultContent::new(
                    result.call_id.clone(),
                    vec![ContentBlock::text(result.content.clone())],
                );
                block.is_error = Some(result.is_error);
                SamplingMessageContentBlock::ToolResult(block)
            }
        })
        .collect();
    match <[SamplingMessageContentBlock; 1]>::try_from(blocks) {
        Ok([block]) => SamplingMessage::new(role, block),
        Err(blocks) => SamplingMessage::new_multiple(role, blocks),
    }
}

fn from_sampling(message: SamplingMessage) -> Message {
    let role = match message.role {
        McpRole::User => Role::User,
        McpRole::Assistant => Role::Assistant,
    };
    let parts = message
        .content
        .into_vec()
        .into_iter()
        .filter_map(|block| match block {
            SamplingMessageContentBlock::Text(text) => Some(Part::text(text.text)),
            SamplingMessageContentBlock::ToolUse(call) => Some(Part::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments: Value::Object(call.input),
            })),
            _ => None,
        })
        .collect();
    Message { role, parts }
}
