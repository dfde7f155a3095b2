//! The HTTP providers against local stand-ins of their APIs on 127.0.0.1: streaming, tool
//! calls, usage, stop reasons, errors, retries, timeouts, cancellation, and keys that never
//! show.

#![cfg(all(feature = "openai", feature = "anthropic"))]

mod standin;

use std::{sync::Mutex, time::Duration};

use canopy_agent::{
    Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse, Part, Role, StopReason,
    ToolCall, ToolResult, ToolSpec, Usage,
    providers::{
        RetryPolicy,
        anthropic::{Anthropic, AnthropicConfig},
        openai::{OpenAi, OpenAiConfig},
    },
};
use serde_json::json;
use standin::{Call, Reply, StandIn, anthropic as anthropic_api, openai as openai_api};

const KEY: &str = "sk-standin-secret-0123456789";

/// Retries that wait a millisecond or so, so tests do not sleep.
fn quick_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::new(
        max_retries,
        Duration::from_millis(1),
        Duration::from_millis(20),
    )
}

fn openai(standin: &StandIn, retries: u32) -> OpenAi {
    OpenAi::new(
        OpenAiConfig::new("gpt-standin")
            .base_url(&standin.base_url)
            .api_key(KEY)
            .retry(quick_retries(retries)),
    )
    .expect("client")
}

fn anthropic(standin: &StandIn, retries: u32) -> Anthropic {
    Anthropic::new(
        AnthropicConfig::new("claude-standin")
            .base_url(&standin.base_url)
            .api_key(KEY)
            .retry(quick_retries(retries)),
    )
    .expect("client")
}

fn tools() -> Vec<ToolSpec> {
    ["weather", "web__search"]
        .into_iter()
        .map(|name| ToolSpec {
            name: name.into(),
            description: format!("The {name} tool"),
            input_schema: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        })
        .collect()
}

fn task(text: &str) -> ModelRequest {
    ModelRequest {
        system: Some("You are terse.".into()),
        messages: vec![Message::user(text)],
        tools: tools(),
        max_tokens: None,
        temperature: Some(0.0),
    }
}

/// Runs the model, returning its answer and every delta it streamed.
async fn complete(
    model: &dyn Model,
    request: &ModelRequest,
) -> (Result<ModelResponse, ModelError>, Vec<ModelDelta>) {
    let deltas = Mutex::new(Vec::new());
    let result = model
        .complete(request, &|delta| deltas.lock().expect("lock").push(delta))
        .await;
    (result, deltas.into_inner().expect("lock"))
}

fn text(deltas: &[&str]) -> Vec<ModelDelta> {
    deltas
        .iter()
        .map(|d| ModelDelta::Text((*d).to_owned()))
        .collect()
}

/// Two calls whose arguments arrive three characters at a time.
fn two_calls(prefix: &str) -> Reply {
    Reply::Tools {
        text: vec!["Let me ".into(), "check.".into()],
        calls: vec![
            Call::new(
                &format!("{prefix}_1"),
                "weather",
                r#"{"q": "Paris, France"}"#,
            ),
            Call::new(
                &format!("{prefix}_2"),
                "web__search",
                r#"{"q": "Paris events"}"#,
            ),
        ],
        fragment: 3,
    }
}

fn expected_calls(prefix: &str) -> Vec<ToolCall> {
    vec![
        ToolCall {
            id: format!("{prefix}_1"),
            name: "weather".into(),
            arguments: json!({"q": "Paris, France"}),
        },
        ToolCall {
            id: format!("{prefix}_2"),
            name: "web__search".into(),
            arguments: json!({"q": "Paris events"}),
        },
    ]
}

/// `request` continued with `answer` and a result for each of its calls, all in one user
/// message (or one per result when `split`).
fn with_results(mut request: ModelRequest, answer: &ModelResponse, split: bool) -> ModelRequest {
    request.messages.push(answer.message.clone());
    let results: Vec<Part> = answer
        .message
        .tool_calls()
        .map(|call| {
            Part::ToolResult(ToolResult {
                call_id: call.id.clone(),
                content: format!("result of {}", call.name),
                is_error: false,
            })
        })
        .collect();
    if split {
        for part in results {
            request.messages.push(Message {
                role: Role::User,
                parts: vec![part],
            });
        }
    } else {
        request.messages.push(Message {
            role: Role::User,
            parts: results,
        });
    }
    request
}

fn assert_no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the key shows in {what}: {text}");
}

// ---- OpenAI-compatible Chat Completions ----

#[tokio::test]
async fn openai_streams_text_deltas_in_order_with_usage() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.reply(Reply::text(&["Hel", "lo, ", "world", "!"]));
    let model = openai(&standin, 0);
    let (answer, deltas) = complete(&model, &task("Greet")).await;
    let answer = answer.expect("answer");
    assert_eq!(deltas, text(&["Hel", "lo, ", "world", "!"]));
    assert_eq!(answer.message, Message::assistant("Hello, world!"));
    assert_eq!(answer.stop, StopReason::EndTurn);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: openai_api::PROMPT_TOKENS,
            output_tokens: openai_api::COMPLETION_TOKENS,
        }
    );
    assert_eq!(answer.model, "gpt-standin");
    assert_eq!(model.describe(), "openai:gpt-standin");

    let requests = standin.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You are terse."},
               {"role": "user", "content": "Greet"}])
    );
    assert_eq!(body["tools"][1]["function"]["name"], "web__search");
    assert_eq!(body["temperature"], 0.0);
}

#[tokio::test]
async fn openai_assembles_several_tool_calls_from_argument_fragments() {
    let standin = openai_api::start(Some(KEY)).await;
    standin
        .reply(two_calls("call"))
        .reply(Reply::text(&["Sunny."]));
    let model = openai(&standin, 0);
    let request = task("Weather and events in Paris?");
    let (answer, deltas) = complete(&model, &request).await;
    let answer = answer.expect("answer");
    let mut expected = text(&["Let me ", "check."]);
    expected.push(ModelDelta::ToolCallStarted {
        id: "call_1".into(),
        name: "weather".into(),
    });
    expected.push(ModelDelta::ToolCallStarted {
        id: "call_2".into(),
        name: "web__search".into(),
    });
    assert_eq!(deltas, expected);
    assert_eq!(answer.stop, StopReason::ToolUse);
    assert_eq!(answer.message.text(), "Let me check.");
    assert_eq!(
        answer.message.tool_calls().cloned().collect::<Vec<_>>(),
        expected_calls("call")
    );

    // The results go back as `tool` messages after the assistant's `tool_calls`; the
    // stand-in rejects any other order, as the real API does.
    let next = with_results(request, &answer, false);
    let (answer, _) = complete(&model, &next).await;
    assert_eq!(answer.expect("second turn").message.text(), "Sunny.");
    let sent = &standin.requests()[1].body["messages"];
    assert_eq!(
        sent[2]["tool_calls"][0]["function"]["arguments"],
        r#"{"q":"Paris, France"}"#
    );
    assert_eq!(
        sent[3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "result of weather"})
    );
    assert_eq!(sent[4]["tool_call_id"], "call_2");
}

#[tokio::test]
async fn openai_rejects_tool_results_that_answer_no_call() {
    let standin = openai_api::start(Some(KEY)).await;
    let model = openai(&standin, 0);
    let mut request = task("x");
    request.messages.push(Message {
        role: Role::User,
        parts: vec![Part::ToolResult(ToolResult {
            call_id: "call_nobody".into(),
            content: "?".into(),
            is_error: false,
        })],
    });
    let (answer, _) = complete(&model, &request).await;
    match answer {
        Err(ModelError::InvalidRequest(message)) => assert!(
            message.contains("must be a response to a preceeding message with 'tool_calls'"),
            "{message}"
        ),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[tokio::test]
async fn openai_keeps_unparsable_arguments_as_a_string() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.reply(Reply::Tools {
        text: vec![],
        calls: vec![Call::new("call_x", "weather", r#"{"q": "Par"#)],
        fragment: 4,
    });
    let (answer, _) = complete(&openai(&standin, 0), &task("x")).await;
    let answer = answer.expect("answer");
    assert_eq!(
        answer.message.parts,
        vec![Part::ToolCall(ToolCall {
            id: "call_x".into(),
            name: "weather".into(),
            arguments: json!(r#"{"q": "Par"#),
        })]
    );
}

#[tokio::test]
async fn openai_maps_finish_reasons() {
    let standin = openai_api::start(Some(KEY)).await;
    let model = openai(&standin, 0);
    for (reason, expected) in [
        ("length", StopReason::MaxTokens),
        ("content_filter", StopReason::Refusal),
        ("stop", StopReason::EndTurn),
        ("something_new", StopReason::Other("something_new".into())),
    ] {
        standin.reply(Reply::Stop {
            text: "…".into(),
            reason: reason.into(),
        });
        let (answer, _) = complete(&model, &task("x")).await;
        assert_eq!(answer.expect("answer").stop, expected, "{reason}");
    }
}

#[tokio::test]
async fn openai_maps_errors_and_never_shows_the_key() {
    let standin = openai_api::start(Some(KEY)).await;

    // A wrong key: the API echoes it in its message; we do not.
    let wrong = OpenAi::new(
        OpenAiConfig::new("gpt-standin")
            .base_url(&standin.base_url)
            .api_key(format!("{KEY}-wrong"))
            .header("X-Secret-Header", KEY)
            .retry(quick_retries(3)),
    )
    .expect("client");
    let (answer, _) = complete(&wrong, &task("x")).await;
    let error = answer.expect_err("401");
    assert!(matches!(error, ModelError::Auth(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("Incorrect API key provided: [redacted]"),
        "{error}"
    );
    assert_no_key("the error", &error.to_string());
    assert_no_key("the error's Debug", &format!("{error:?}"));
    assert_no_key("the model's Debug", &format!("{wrong:?}"));
    assert_no_key("the config's Debug", &format!("{:?}", wrong.config()));
    assert_eq!(standin.requests().len(), 1, "auth errors are not retried");

    let model = openai(&standin, 0);
    let cases = [
        (
            Reply::status(
                400,
                openai_api::error(
                    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
                    "invalid_request_error",
                    Some("context_length_exceeded"),
                ),
            ),
            "context",
        ),
        (
            Reply::status(
                404,
                openai_api::error(
                    "The model `nope` does not exist",
                    "invalid_request_error",
                    Some("model_not_found"),
                ),
            ),
            "invalid",
        ),
        (
            Reply::status(
                500,
                openai_api::error("The server had an error", "server_error", None),
            ),
            "server",
        ),
        (
            Reply::StreamError(json!({"message": "overloaded", "type": "server_error"})),
            "server",
        ),
    ];
    for (reply, kind) in cases {
        standin.reply(reply);
        let (answer, _) = complete(&model, &task("x")).await;
        let error = answer.expect_err(kind);
        let matched = match kind {
            "context" => matches!(error, ModelError::ContextTooLong(_)),
            "invalid" => {
                matches!(&error, ModelError::InvalidRequest(m) if m.contains("does not exist"))
            }
            _ => matches!(error, ModelError::Server { status: 500, .. }),
        };
        assert!(matched, "{kind}: {error:?}");
    }
}

#[tokio::test]
async fn openai_retries_429_then_succeeds() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.rate_limit_first(2, "0");
    standin.reply(Reply::text(&["finally"]));
    let (answer, deltas) = complete(&openai(&standin, 3), &task("x")).await;
    assert_eq!(answer.expect("answer").message.text(), "finally");
    assert_eq!(deltas, text(&["finally"]));
    assert_eq!(standin.requests().len(), 3);
}

#[tokio::test]
async fn openai_rate_limit_after_retries_reports_retry_after() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.rate_limit_first(5, "0");
    let (answer, _) = complete(&openai(&standin, 1), &task("x")).await;
    assert_eq!(
        answer.expect_err("rate limited"),
        ModelError::RateLimited {
            retry_after: Some(Duration::ZERO),
            message: "Rate limit reached for requests (rate_limit_exceeded)".into(),
        }
    );
    assert_eq!(standin.requests().len(), 2);
}

#[tokio::test]
async fn openai_gives_up_after_the_retries_on_5xx() {
    let standin = openai_api::start(Some(KEY)).await;
    for _ in 0..4 {
        standin.reply(Reply::status(
            503,
            openai_api::error("Service unavailable", "server_error", None),
        ));
    }
    standin.reply(Reply::text(&["too late"]));
    let (answer, _) = complete(&openai(&standin, 2), &task("x")).await;
    assert!(
        matches!(answer, Err(ModelError::Server { status: 503, .. })),
        "{answer:?}"
    );
    assert_eq!(standin.requests().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn openai_times_out() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.reply(Reply::Hang);
    let model = OpenAi::new(
        OpenAiConfig::new("gpt-standin")
            .base_url(&standin.base_url)
            .api_key(KEY)
            .request_timeout(Duration::from_millis(200))
            .retry(RetryPolicy::none()),
    )
    .expect("client");
    let (answer, _) = complete(&model, &task("x")).await;
    assert_eq!(
        answer.expect_err("timeout"),
        ModelError::Timeout(Duration::from_millis(200))
    );
}

#[tokio::test]
async fn openai_cancellation_closes_the_connection() {
    let standin = openai_api::start(Some(KEY)).await;
    standin.reply(Reply::Stall("thinking".into()));
    let model = openai(&standin, 0);
    let (first_delta, mut got_delta) = tokio::sync::mpsc::unbounded_channel();
    let request = task("x");
    let call = async {
        model
            .complete(&request, &|delta| {
                first_delta.send(delta).ok();
            })
            .await
    };
    tokio::select! {
        answer = call => panic!("the stalled answer completed: {answer:?}"),
        delta = got_delta.recv() => assert_eq!(delta, Some(ModelDelta::Text("thinking".into()))),
    }
    // Leaving the select dropped the call's future.
    assert!(
        standin.saw_disconnect().await,
        "the stand-in never saw the client go away"
    );
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let standin = openai_api::start(None).await;
    let model = OpenAi::new(
        OpenAiConfig::new("llama3.2")
            .base_url(&standin.base_url)
            .header("HTTP-Referer", "https://example.org"),
    )
    .expect("client");
    let (answer, _) = complete(&model, &task("x")).await;
    assert_eq!(answer.expect("answer").message.text(), "ok");
    let headers = &standin.requests()[0].headers;
    assert!(!headers.contains_key("authorization"), "{headers:?}");
    assert_eq!(
        headers.get("http-referer").map(String::as_str),
        Some("https://example.org")
    );
}

// ---- Anthropic Messages ----

#[tokio::test]
async fn anthropic_streams_text_deltas_in_order_with_usage() {
    let standin = anthropic_api::start(KEY).await;
    standin.reply(Reply::text(&["Hel", "lo, ", "world", "!"]));
    let model = anthropic(&standin, 0);
    let (answer, deltas) = complete(&model, &task("Greet")).await;
    let answer = answer.expect("answer");
    assert_eq!(deltas, text(&["Hel", "lo, ", "world", "!"]));
    assert_eq!(answer.message, Message::assistant("Hello, world!"));
    assert_eq!(answer.stop, StopReason::EndTurn);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: anthropic_api::INPUT_TOKENS,
            output_tokens: anthropic_api::OUTPUT_TOKENS,
        }
    );
    assert_eq!(model.describe(), "anthropic:claude-standin");

    let request = &standin.requests()[0];
    assert_eq!(
        request.headers.get("anthropic-version").map(String::as_str),
        Some("2023-06-01")
    );
    assert_eq!(request.body["system"], "You are terse.");
    assert_eq!(request.body["max_tokens"], 4096);
    assert_eq!(
        request.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Greet"}]}])
    );
    assert_eq!(request.body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn anthropic_assembles_several_tool_uses_from_partial_json() {
    let standin = anthropic_api::start(KEY).await;
    standin
        .reply(two_calls("toolu"))
        .reply(Reply::text(&["Sunny."]));
    let model = anthropic(&standin, 0);
    let request = task("Weather and events in Paris?");
    let (answer, deltas) = complete(&model, &request).await;
    let answer = answer.expect("answer");
    let mut expected = text(&["Let me ", "check."]);
    expected.push(ModelDelta::ToolCallStarted {
        id: "toolu_1".into(),
        name: "weather".into(),
    });
    expected.push(ModelDelta::ToolCallStarted {
        id: "toolu_2".into(),
        name: "web__search".into(),
    });
    assert_eq!(deltas, expected);
    assert_eq!(answer.stop, StopReason::ToolUse);
    assert_eq!(
        answer.message.tool_calls().cloned().collect::<Vec<_>>(),
        expected_calls("toolu")
    );

    // Results split over two user messages still reach the API as one user message of
    // `tool_result` blocks, which the stand-in (like the API) requires.
    let next = with_results(request, &answer, true);
    let (answer, _) = complete(&model, &next).await;
    assert_eq!(answer.expect("second turn").message.text(), "Sunny.");
    let sent = &standin.requests()[1].body["messages"];
    assert_eq!(sent.as_array().map(Vec::len), Some(3));
    assert_eq!(
        sent[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "result of weather"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "result of web__search"}]})
    );
}

#[tokio::test]
async fn anthropic_rejects_a_tool_use_without_its_result() {
    let standin = anthropic_api::start(KEY).await;
    standin.reply(two_calls("toolu"));
    let model = anthropic(&standin, 0);
    let request = task("x");
    let (answer, _) = complete(&model, &request).await;
    let answer = answer.expect("answer");
    let mut next = request;
    next.messages.push(answer.message);
    next.messages.push(Message::user("never mind"));
    let (answer, _) = complete(&model, &next).await;
    match answer {
        Err(ModelError::InvalidRequest(message)) => assert!(
            message.contains("`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1, toolu_2"),
            "{message}"
        ),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[tokio::test]
async fn anthropic_maps_stop_reasons() {
    let standin = anthropic_api::start(KEY).await;
    let model = anthropic(&standin, 0);
    for (reason, expected) in [
        ("max_tokens", StopReason::MaxTokens),
        ("stop_sequence", StopReason::StopSequence),
        ("refusal", StopReason::Refusal),
        ("end_turn", StopReason::EndTurn),
        ("pause_turn", StopReason::Other("pause_turn".into())),
    ] {
        standin.reply(Reply::Stop {
            text: "…".into(),
            reason: reason.into(),
        });
        let (answer, _) = complete(&model, &task("x")).await;
        assert_eq!(answer.expect("answer").stop, expected, "{reason}");
    }
}

#[tokio::test]
async fn anthropic_maps_errors_and_never_shows_the_key() {
    let standin = anthropic_api::start(KEY).await;
    let wrong = Anthropic::new(
        AnthropicConfig::new("claude-standin")
            .base_url(&standin.base_url)
            .api_key("sk-ant-wrong-key"),
    )
    .expect("client");
    let (answer, _) = complete(&wrong, &task("x")).await;
    let error = answer.expect_err("401");
    assert_eq!(
        error,
        ModelError::Auth("invalid x-api-key (authentication_error)".into())
    );
    let model = anthropic(&standin, 0);
    assert_no_key("the model's Debug", &format!("{model:?}"));

    let cases = [
        (
            Reply::status(
                400,
                anthropic_api::error(
                    "invalid_request_error",
                    "prompt is too long: 208310 tokens > 200000 maximum",
                ),
            ),
            "context",
        ),
        (
            Reply::status(529, anthropic_api::error("overloaded_error", "Overloaded")),
            "rate",
        ),
        (
            Reply::StreamError(json!({"type": "overloaded_error", "message": "Overloaded"})),
            "rate",
        ),
        (
            Reply::status(
                500,
                anthropic_api::error("api_error", "Internal server error"),
            ),
            "server",
        ),
        (
            Reply::status(
                403,
                anthropic_api::error("permission_error", "Your API key does not have permission"),
            ),
            "auth",
        ),
    ];
    for (reply, kind) in cases {
        standin.reply(reply);
        let (answer, _) = complete(&model, &task("x")).await;
        let error = answer.expect_err(kind);
        let matched = match kind {
            "context" => {
                matches!(&error, ModelError::ContextTooLong(m) if m.starts_with("prompt is too long"))
            }
            "rate" => {
                matches!(&error, ModelError::RateLimited { message, .. } if message.starts_with("Overloaded"))
            }
            "auth" => matches!(error, ModelError::Auth(_)),
            _ => matches!(error, ModelError::Server { status: 500, .. }),
        };
        assert!(matched, "{kind}: {error:?}");
        assert_no_key("an error", &format!("{error:?}"));
    }
}

#[tokio::test]
async fn anthropic_retries_429_and_overload_then_succeeds() {
    let standin = anthropic_api::start(KEY).await;
    standin.rate_limit_first(1, "0");
    standin
        .reply(Reply::status(
            529,
            anthropic_api::error("overloaded_error", "Overloaded"),
        ))
        .reply(Reply::StreamError(
            json!({"type": "overloaded_error", "message": "Overloaded"}),
        ))
        .reply(Reply::text(&["made ", "it"]));
    let (answer, deltas) = complete(&anthropic(&standin, 3), &task("x")).await;
    assert_eq!(answer.expect("answer").message.text(), "made it");
    assert_eq!(deltas, text(&["made ", "it"]));
    assert_eq!(
        standin.requests().len(),
        4,
        "a 429, a 529, an error event, then the answer"
    );
}

#[tokio::test]
async fn anthropic_gives_up_after_the_retries_on_5xx() {
    let standin = anthropic_api::start(KEY).await;
    for _ in 0..3 {
        standin.reply(Reply::status(
            500,
            anthropic_api::error("api_error", "Internal server error"),
        ));
    }
    let (answer, _) = complete(&anthropic(&standin, 1), &task("x")).await;
    assert!(
        matches!(answer, Err(ModelError::Server { status: 500, .. })),
        "{answer:?}"
    );
    assert_eq!(standin.requests().len(), 2, "one attempt and one retry");
}

#[tokio::test]
async fn anthropic_times_out() {
    let standin = anthropic_api::start(KEY).await;
    standin.reply(Reply::Hang);
    let model = Anthropic::new(
        AnthropicConfig::new("claude-standin")
            .base_url(&standin.base_url)
            .api_key(KEY)
            .request_timeout(Duration::from_millis(200))
            .retry(RetryPolicy::none()),
    )
    .expect("client");
    let (answer, _) = complete(&model, &task("x")).await;
    assert_eq!(
        answer.expect_err("timeout"),
        ModelError::Timeout(Duration::from_millis(200))
    );
}

#[tokio::test]
async fn anthropic_cancellation_closes_the_connection() {
    let standin = anthropic_api::start(KEY).await;
    standin.reply(Reply::Stall("thinking".into()));
    let model = anthropic(&standin, 0);
    let (first_delta, mut got_delta) = tokio::sync::mpsc::unbounded_channel();
    let request = task("x");
    let call = async {
        model
            .complete(&request, &|delta| {
                first_delta.send(delta).ok();
            })
            .await
    };
    tokio::select! {
        answer = call => panic!("the stalled answer completed: {answer:?}"),
        delta = got_delta.recv() => assert_eq!(delta, Some(ModelDelta::Text("thinking".into()))),
    }
    assert!(
        standin.saw_disconnect().await,
        "the stand-in never saw the client go away"
    );
}
