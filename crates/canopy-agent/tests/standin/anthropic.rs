//! A stand-in for Anthropic's Messages API: `POST /v1/messages`, streaming only
//! (`event: NAME` / `data: {…}` frames, from `message_start` to `message_stop`).

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

use super::{
    Reply, Shared, StandIn, fragments, json_response, sse_response, stalled_response,
    valid_tool_name,
};

/// Usage the stand-in reports for every answer.
pub(crate) const INPUT_TOKENS: u64 = 25;
pub(crate) const OUTPUT_TOKENS: u64 = 11;

/// Starts a stand-in that requires `x-api-key: KEY`.
pub(crate) async fn start(key: &str) -> StandIn {
    StandIn::start(
        Some(key),
        |shared| {
            Router::new()
                .route("/v1/messages", post(handle))
                .with_state(shared)
        },
        "",
    )
    .await
}

/// Anthropic's error body.
pub(crate) fn error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn bad_request(message: &str) -> Response {
    json_response(400, &[], &error("invalid_request_error", message))
}

fn frame(value: &Value) -> String {
    let name = value["type"].as_str().unwrap_or_default();
    format!("event: {name}\ndata: {value}\n\n")
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let recorded = shared.record(&headers, &body);
    if recorded.headers.get("x-api-key") != shared.key.as_ref() {
        return json_response(
            401,
            &[],
            &error("authentication_error", "invalid x-api-key"),
        );
    }
    if let Some(retry_after) = shared.take_rate_limit() {
        return json_response(
            429,
            &[
                ("retry-after".to_owned(), retry_after),
                (
                    "anthropic-ratelimit-requests-remaining".to_owned(),
                    "0".to_owned(),
                ),
            ],
            &error(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        );
    }
    if recorded
        .headers
        .get("anthropic-version")
        .map(String::as_str)
        != Some("2023-06-01")
    {
        return bad_request("anthropic-version: header is required");
    }
    if let Err(message) = validate(&recorded.body) {
        return bad_request(&message);
    }
    let model = recorded.body["model"].clone();
    let mut frames = vec![
        frame(&json!({"type": "message_start", "message": {
            "id": "msg_standin", "type": "message", "role": "assistant", "content": [],
            "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}})),
        frame(&json!({"type": "ping"})),
    ];
    let text_block = |frames: &mut Vec<String>, index: usize, texts: &[String]| {
        frames.push(frame(
            &json!({"type": "content_block_start", "index": index,
                                  "content_block": {"type": "text", "text": ""}}),
        ));
        for text in texts {
            frames.push(frame(
                &json!({"type": "content_block_delta", "index": index,
                                      "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        frames.push(frame(
            &json!({"type": "content_block_stop", "index": index}),
        ));
    };
    let stop = match shared.next_reply() {
        Reply::Text(texts) => {
            text_block(&mut frames, 0, &texts);
            "end_turn".to_owned()
        }
        Reply::Tools {
            text,
            calls,
            fragment,
        } => {
            let mut index = 0;
            if !text.is_empty() {
                text_block(&mut frames, 0, &text);
                index = 1;
            }
            for call in &calls {
                frames.push(frame(
                    &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": call.id, "name": call.name,
                                      "input": {}}}),
                ));
                let mut pieces = vec![String::new()];
                pieces.extend(fragments(&call.arguments, fragment));
                for piece in pieces {
                    frames.push(frame(
                        &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    ));
                }
                frames.push(frame(
                    &json!({"type": "content_block_stop", "index": index}),
                ));
                index += 1;
            }
            "tool_use".to_owned()
        }
        Reply::Stop { text, reason } => {
            text_block(&mut frames, 0, &[text]);
            reason
        }
        Reply::Status {
            status,
            headers,
            body,
        } => return json_response(status, &headers, &body),
        Reply::StreamError(error) => {
            frames.push(frame(&json!({"type": "error", "error": error})));
            return sse_response(frames);
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            return ().into_response();
        }
        Reply::Stall(text) => {
            frames.push(frame(&json!({"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}})));
            frames.push(frame(&json!({"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": text}})));
            return stalled_response(shared, frames);
        }
    };
    frames.push(frame(&json!({"type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"output_tokens": OUTPUT_TOKENS}})));
    frames.push(frame(&json!({"type": "message_stop"})));
    sse_response(frames)
}

/// The checks the real API makes that a client can get wrong.
fn validate(body: &Value) -> Result<(), String> {
    if body.is_null() {
        return Err("There was an issue with your request body: not valid JSON".into());
    }
    if !body["model"].is_string() {
        return Err("model: Field required".into());
    }
    if body["max_tokens"].as_u64().is_none_or(|n| n < 1) {
        return Err("max_tokens: Field required".into());
    }
    if body["stream"] != true {
        return Err("this stand-in only streams".into());
    }
    if !(body["system"].is_null() || body["system"].is_string() || body["system"].is_array()) {
        return Err("system: Input should be a valid list".into());
    }
    for (i, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if !valid_tool_name(tool["name"].as_str().unwrap_or_default()) {
            return Err(format!(
                "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            ));
        }
        if tool["input_schema"]["type"] != "object" {
            return Err(format!(
                "tools.{i}.custom.input_schema.type: Field required"
            ));
        }
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err("messages: at least one message is required".into());
    };
    let mut previous_tool_uses: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        let blocks: Vec<Value> = match &message["content"] {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => return Err(format!("messages.{i}.content: Field required")),
        };
        let mut results = Vec::new();
        let mut tool_uses = Vec::new();
        for (j, block) in blocks.iter().enumerate() {
            match block["type"].as_str().unwrap_or_default() {
                "text" => {
                    if block["text"].as_str().is_none_or(str::is_empty) {
                        return Err(format!(
                            "messages.{i}.content.{j}.text: text content blocks must be non-empty"
                        ));
                    }
                }
                "tool_use" if role == "assistant" => {
                    if !block["input"].is_object() || !block["id"].is_string() {
                        return Err(format!(
                            "messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary"
                        ));
                    }
                    tool_uses.push(block["id"].as_str().unwrap_or_default().to_owned());
                }
                "tool_result" if role == "user" => {
                    let id = block["tool_use_id"].as_str().unwrap_or_default().to_owned();
                    if !previous_tool_uses.contains(&id) {
                        return Err(format!(
                            "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                    results.push(id);
                }
                other => {
                    return Err(format!(
                        "messages.{i}.content.{j}: unexpected block type '{other}' in a {role} message"
                    ));
                }
            }
        }
        let missing: Vec<&String> = previous_tool_uses
            .iter()
            .filter(|id| !results.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        previous_tool_uses = tool_uses;
    }
    Ok(())
}
