//! A stand-in for OpenAI's Chat Completions API: `POST /v1/chat/completions`, streaming
//! only (`data: {chunk}` frames, usage in a last chunk with no choices, `data: [DONE]`).

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
pub(crate) const PROMPT_TOKENS: u64 = 21;
pub(crate) const COMPLETION_TOKENS: u64 = 9;

/// Starts a stand-in that requires `Authorization: Bearer KEY` when `key` is given.
pub(crate) async fn start(key: Option<&str>) -> StandIn {
    StandIn::start(
        key,
        |shared| {
            Router::new()
                .route("/v1/chat/completions", post(handle))
                .with_state(shared)
        },
        "/v1",
    )
    .await
}

/// OpenAI's error body.
pub(crate) fn error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn bad_request(message: &str) -> Response {
    json_response(400, &[], &error(message, "invalid_request_error", None))
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let recorded = shared.record(&headers, &body);
    if let Some(key) = &shared.key {
        let given = recorded.headers.get("authorization").map(String::as_str);
        let expected = format!("Bearer {key}");
        if given != Some(expected.as_str()) {
            let shown = given
                .and_then(|g| g.strip_prefix("Bearer "))
                .unwrap_or_default();
            return json_response(
                401,
                &[],
                &error(
                    &format!(
                        "Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."
                    ),
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
            );
        }
    }
    if let Some(retry_after) = shared.take_rate_limit() {
        return json_response(
            429,
            &[
                ("retry-after".to_owned(), retry_after),
                ("x-ratelimit-remaining-requests".to_owned(), "0".to_owned()),
                ("x-ratelimit-reset-requests".to_owned(), "1s".to_owned()),
            ],
            &error(
                "Rate limit reached for requests",
                "requests",
                Some("rate_limit_exceeded"),
            ),
        );
    }
    if let Err(message) = validate(&recorded.body) {
        return bad_request(&message);
    }
    let model = recorded.body["model"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1,
               "model": model, "system_fingerprint": null,
               "choices": [{"index": 0, "delta": delta, "logprobs": null,
                            "finish_reason": finish}],
               "usage": null})
    };
    let frame = |value: Value| format!("data: {value}\n\n");
    let mut frames = vec![frame(chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    ))];
    let text_frames = |texts: &[String]| -> Vec<String> {
        texts
            .iter()
            .map(|t| frame(chunk(json!({"content": t}), Value::Null)))
            .collect()
    };
    let finish = match shared.next_reply() {
        Reply::Text(texts) => {
            frames.extend(text_frames(&texts));
            "stop".to_owned()
        }
        Reply::Tools {
            text,
            calls,
            fragment,
        } => {
            frames.extend(text_frames(&text));
            for (index, call) in calls.iter().enumerate() {
                frames.push(frame(chunk(
                    json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                           "function": {"name": call.name, "arguments": ""}}]}),
                    Value::Null,
                )));
                for piece in fragments(&call.arguments, fragment) {
                    frames.push(frame(chunk(
                        json!({"tool_calls": [{"index": index,
                                               "function": {"arguments": piece}}]}),
                        Value::Null,
                    )));
                }
            }
            "tool_calls".to_owned()
        }
        Reply::Stop { text, reason } => {
            frames.extend(text_frames(&[text]));
            reason
        }
        Reply::Status {
            status,
            headers,
            body,
        } => return json_response(status, &headers, &body),
        Reply::StreamError(error) => {
            return sse_response(vec![frame(json!({"error": error}))]);
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            return ().into_response();
        }
        Reply::Stall(text) => {
            frames.extend(text_frames(&[text]));
            return stalled_response(shared, frames);
        }
    };
    frames.push(frame(chunk(json!({}), json!(finish))));
    frames.push(frame(
        json!({"id": "chatcmpl-standin", "object": "chat.completion.chunk",
        "created": 1, "model": model, "choices": [],
        "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                  "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}}),
    ));
    frames.push("data: [DONE]\n\n".to_owned());
    sse_response(frames)
}

/// The checks the real API makes that a client can get wrong.
fn validate(body: &Value) -> Result<(), String> {
    if body.is_null() {
        return Err("We could not parse the JSON body of your request.".into());
    }
    if !body["model"].is_string() {
        return Err("you must provide a model parameter".into());
    }
    if body["stream"] != true || body["stream_options"]["include_usage"] != true {
        return Err("this stand-in only streams, with stream_options.include_usage".into());
    }
    for (i, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        let name = tool["function"]["name"].as_str().unwrap_or_default();
        if tool["type"] != "function" || !valid_tool_name(name) {
            return Err(format!(
                "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
            ));
        }
        if !tool["function"]["parameters"].is_object() {
            return Err(format!(
                "Invalid 'tools[{i}].function.parameters': expected an object."
            ));
        }
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err("[] is too short - 'messages'".into());
    };
    // Ids of the latest assistant message's tool calls still waiting for a `tool` message.
    let mut waiting: Vec<String> = Vec::new();
    let mut in_tool_block = false;
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if role != "tool" && !waiting.is_empty() {
            return Err(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                waiting.join(", ")
            ));
        }
        match role {
            "system" | "developer" | "user" => {
                if !(message["content"].is_string() || message["content"].is_array()) {
                    return Err(format!("Invalid value for 'messages[{i}].content'."));
                }
                in_tool_block = false;
            }
            "assistant" => {
                in_tool_block = false;
                let calls = message["tool_calls"].as_array();
                if message["content"].is_null() && calls.is_none() {
                    return Err(format!(
                        "Invalid value for 'messages[{i}].content': expected a string, got null."
                    ));
                }
                for call in calls.into_iter().flatten() {
                    if !call["function"]["arguments"].is_string() || !call["id"].is_string() {
                        return Err(format!(
                            "Invalid type for 'messages[{i}].tool_calls': each needs an id and string arguments."
                        ));
                    }
                    waiting.push(call["id"].as_str().unwrap_or_default().to_owned());
                    in_tool_block = true;
                }
            }
            "tool" => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                match waiting.iter().position(|w| w == id) {
                    Some(at) if in_tool_block => {
                        waiting.remove(at);
                    }
                    _ => {
                        return Err(format!(
                            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages[{i}], tool_call_id {id})"
                        ));
                    }
                }
            }
            other => {
                return Err(format!(
                    "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'developer'."
                ));
            }
        }
    }
    Ok(())
}
