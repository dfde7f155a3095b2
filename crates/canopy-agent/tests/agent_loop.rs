//! The agent's tool-use loop, through a real tree: tool calls (several per turn, run
//! concurrently), tool errors fed back to the model, the turn limit, budgets running out
//! mid-loop, cancellation while the model streams, `ask` policies pausing the loop, and
//! usage rolled up from nested agents three deep.
//!
//! The models here are small test models written against the `Model` trait: each decides
//! its answer from what it sees (the conversation so far), as a real model would.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use canopy_agent::{
    Agent, AgentConfig, Message, Model, ModelDelta, ModelError, ModelRequest, ModelResponse,
    Outcome, Part, Role, RunSummary, StopReason, ToolCall, Usage, UsageReport, model::DeltaSink,
};
use canopy_node::{Answer, EventKind, Limits, Node, Tree};
use canopy_topology::Policy;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A leaf with `echo` (returns its text), `fail` (a tool error), `slow` (waits until two
/// calls are in flight at once, so a test can see calls overlap), and `post` (for `ask`).
#[derive(Clone, Default)]
struct Leaf {
    in_flight: Arc<AtomicUsize>,
    overlap: Arc<Notify>,
    calls: Arc<AtomicUsize>,
}

fn schema(properties: &Value) -> Arc<JsonObject> {
    match json!({"type": "object", "properties": properties}) {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("an object"),
    }
}

impl ServerHandler for Leaf {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let text = schema(&json!({"text": {"type": "string"}}));
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("echo", "Echo the text", text.clone()),
            Tool::new("fail", "Always fails", text.clone()),
            Tool::new("slow", "Waits for a second call", text.clone()),
            Tool::new("post", "Posts the text", text),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.run(request).await.map(CallToolResponse::Complete)
    }
}

impl Leaf {
    async fn run(&self, request: CallToolRequestParams) -> Result<CallToolResult, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match &*request.name {
            "echo" | "post" => Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                "{}: {text}",
                request.name
            ))])),
            "fail" => Ok(CallToolResult::error(vec![ContentBlock::text(
                "the disk is full",
            )])),
            "slow" => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                if now >= 2 {
                    self.overlap.notify_waiters();
                    self.overlap.notify_one();
                }
                let overlapped =
                    tokio::time::timeout(Duration::from_secs(20), self.overlap.notified())
                        .await
                        .is_ok()
                        || now >= 2;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                    "slow {text}: {}",
                    if overlapped { "overlapped" } else { "alone" }
                ))]))
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }
}

type Decide = dyn Fn(&ModelRequest) -> Result<Vec<Part>, ModelError> + Send + Sync;

/// A model whose answer is a function of the request; every answer costs 10 input and 5
/// output tokens, and its text is streamed word by word.
struct TestModel {
    decide: Box<Decide>,
    requests: Mutex<Vec<ModelRequest>>,
}

impl std::fmt::Debug for TestModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestModel")
    }
}

impl TestModel {
    fn new(
        decide: impl Fn(&ModelRequest) -> Result<Vec<Part>, ModelError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            decide: Box::new(decide),
            requests: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Model for TestModel {
    fn describe(&self) -> String {
        "test:model".to_owned()
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        self.requests
            .lock()
            .expect("not poisoned")
            .push(request.clone());
        let parts = (self.decide)(request)?;
        for part in &parts {
            match part {
                Part::Text { text } => {
                    for word in text.split_inclusive(' ') {
                        on_delta(ModelDelta::Text(word.to_owned()));
                    }
                }
                Part::ToolCall(call) => on_delta(ModelDelta::ToolCallStarted {
                    id: call.id.clone(),
                    name: call.name.clone(),
                }),
                Part::ToolResult(_) => {}
            }
        }
        let stop = if parts.iter().any(|p| matches!(p, Part::ToolCall(_))) {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                parts,
            },
            stop,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
            },
            model: "test-model-1".to_owned(),
        })
    }
}

/// Turns taken so far: the assistant messages in the conversation.
fn turn(request: &ModelRequest) -> usize {
    request
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .count()
}

fn call(id: &str, name: &str, arguments: Value) -> Part {
    Part::ToolCall(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments,
    })
}

/// The tool results the model was shown last, as (content, is_error).
fn last_results(request: &ModelRequest) -> Vec<(String, bool)> {
    request
        .messages
        .last()
        .map(|m| {
            m.parts
                .iter()
                .filter_map(|p| match p {
                    Part::ToolResult(r) => Some((r.content.clone(), r.is_error)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn task(text: &str) -> Option<JsonObject> {
    match json!({ "task": text }) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn summary(result: &CallToolResult) -> RunSummary {
    serde_json::from_value(result.structured_content.clone().expect("a summary"))
        .expect("a RunSummary")
}

async fn tree(root: Node) -> Tree {
    Tree::builder(root).build().await.expect("the tree builds")
}

#[tokio::test]
async fn the_agent_runs_several_tool_calls_at_once_and_answers_with_their_results() {
    let model = TestModel::new(|request| {
        Ok(match turn(request) {
            0 => vec![
                Part::text("Let me check both. "),
                call("a", "tools__slow", json!({"text": "one"})),
                call("b", "tools__slow", json!({"text": "two"})),
            ],
            _ => {
                let results: Vec<String> =
                    last_results(request).into_iter().map(|(c, _)| c).collect();
                vec![Part::text(format!("Done: {}", results.join(" | ")))]
            }
        })
    });
    let leaf = Leaf::default();
    let tree = tree(
        Node::service(
            "lead",
            Agent::from_arc(model.clone(), AgentConfig::default()),
        )
        .child(Node::server("tools", leaf.clone())),
    )
    .await;
    assert_eq!(
        tree.tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect::<Vec<_>>()[0],
        "run",
        "the root agent's own tool keeps its name"
    );
    let result = tree
        .call_tool("run", task("check one and two"))
        .await
        .expect("the run succeeds");
    let text = result.content[0].as_text().expect("text").text.clone();
    assert_eq!(
        text, "Done: slow one: overlapped | slow two: overlapped",
        "both calls ran at the same time, and results come back in call order"
    );
    let summary = summary(&result);
    assert_eq!(summary.outcome, Outcome::Answered);
    assert_eq!(summary.turns, 2);
    assert_eq!(summary.tool_calls, 2);
    assert_eq!(summary.model, "test-model-1");
    assert_eq!(summary.own.input_tokens, 20);
    assert_eq!(summary.own.output_tokens, 10);
    assert_eq!(summary.own.model_calls, 2);

    // The model saw the subtree's tools with names relative to the agent, and the task.
    let requests = model.requests.lock().expect("not poisoned");
    let names: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["tools__echo", "tools__fail", "tools__slow", "tools__post"]
    );
    assert_eq!(requests[0].messages[0].text(), "check one and two");
}

#[tokio::test]
async fn tool_errors_unknown_tools_and_bad_arguments_are_fed_back_to_the_model() {
    let model = TestModel::new(|request| {
        Ok(match turn(request) {
            0 => vec![
                call("1", "tools__fail", json!({"text": "x"})),
                call("2", "tools__nope", json!({})),
                call("3", "tools__echo", json!("not an object")),
                call("4", "tools__echo", json!({"text": "fine"})),
            ],
            _ => {
                let seen: Vec<String> = last_results(request)
                    .into_iter()
                    .map(|(content, is_error)| format!("{is_error}:{content}"))
                    .collect();
                vec![Part::text(seen.join("\n"))]
            }
        })
    });
    let tree = tree(
        Node::service("lead", Agent::from_arc(model, AgentConfig::default()))
            .child(Node::server("tools", Leaf::default())),
    )
    .await;
    let result = tree
        .call_tool("run", task("try things"))
        .await
        .expect("the run succeeds even though tools failed");
    let text = result.content[0].as_text().expect("text").text.clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "true:the disk is full");
    assert!(
        lines[1].starts_with("true:There is no tool named 'tools__nope'. Available tools: ")
            && lines[1].contains("tools__echo"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        "true:The arguments for 'tools__echo' are not a JSON object: not an object"
    );
    assert_eq!(lines[3], "false:echo: fine");
}

#[tokio::test]
async fn the_run_stops_at_the_turn_limit() {
    let model = TestModel::new(|request| {
        Ok(vec![
            Part::text(format!("turn {}", turn(request) + 1)),
            call(
                &turn(request).to_string(),
                "tools__echo",
                json!({"text": "again"}),
            ),
        ])
    });
    let tree = tree(
        Node::service(
            "lead",
            Agent::from_arc(model.clone(), AgentConfig::default().max_turns(3)),
        )
        .child(Node::server("tools", Leaf::default())),
    )
    .await;
    let result = tree.call_tool("run", task("loop")).await.expect("a result");
    let summary = summary(&result);
    assert_eq!(summary.outcome, Outcome::MaxTurns);
    assert_eq!(summary.turns, 3);
    assert_eq!(summary.tool_calls, 3);
    assert_eq!(summary.answer, "turn 3");
    assert_eq!(model.requests.lock().expect("not poisoned").len(), 3);
}

#[tokio::test]
async fn a_call_budget_running_out_mid_loop_ends_the_run_with_what_it_has() {
    let model = TestModel::new(|request| {
        Ok(vec![
            Part::text(format!("working {}", turn(request))),
            call(
                &turn(request).to_string(),
                "tools__echo",
                json!({"text": "x"}),
            ),
        ])
    });
    let leaf = Leaf::default();
    let tree = tree(
        Node::service("lead", Agent::from_arc(model, AgentConfig::default()))
            .child(Node::server("tools", leaf.clone())),
    )
    .await;
    // The root call itself is one routed call; two more are left for the agent.
    let handle = tree.start_call_with(
        "run",
        task("go"),
        Limits {
            calls: Some(3),
            ..Limits::none()
        },
    );
    let result = handle.result().await.expect("a result");
    let summary = summary(&result);
    assert_eq!(summary.outcome, Outcome::BudgetExhausted);
    assert_eq!(
        leaf.calls.load(Ordering::SeqCst),
        2,
        "the third tool call was refused before reaching the leaf"
    );
    assert!(
        summary
            .budget
            .as_deref()
            .is_some_and(|b| b.contains("call budget")),
        "{:?}",
        summary.budget
    );
    assert_eq!(summary.answer, "working 2");
}

#[tokio::test]
async fn a_token_budget_stops_the_loop_after_the_turn_that_spent_it() {
    let model = TestModel::new(|request| {
        Ok(vec![call(
            &turn(request).to_string(),
            "tools__echo",
            json!({"text": "x"}),
        )])
    });
    let tree = tree(
        Node::service(
            "lead",
            Agent::from_arc(
                model.clone(),
                // 15 tokens per turn: the second turn reaches 30.
                AgentConfig::default().limits(Limits {
                    tokens: Some(30),
                    ..Limits::none()
                }),
            ),
        )
        .child(Node::server("tools", Leaf::default())),
    )
    .await;
    let result = tree
        .call_tool("run", task("spend"))
        .await
        .expect("a result");
    let summary = summary(&result);
    assert_eq!(summary.outcome, Outcome::BudgetExhausted);
    assert_eq!(summary.turns, 2);
    assert!(summary.budget.is_some_and(|b| b.contains("token budget")));
}

/// Streams a few words, then never finishes: only cancellation ends it.
#[derive(Debug)]
struct Hanging;

#[async_trait]
impl Model for Hanging {
    fn describe(&self) -> String {
        "test:hanging".to_owned()
    }

    async fn complete(
        &self,
        _request: &ModelRequest,
        on_delta: DeltaSink<'_>,
    ) -> Result<ModelResponse, ModelError> {
        on_delta(ModelDelta::Text("thinking ".to_owned()));
        on_delta(ModelDelta::Text("hard".to_owned()));
        std::future::pending().await
    }
}

#[tokio::test]
async fn cancelling_while_the_model_streams_ends_the_run() {
    let tree = tree(
        Node::new("hub").child(
            Node::service("lead", Agent::new(Hanging, AgentConfig::default()))
                .child(Node::server("tools", Leaf::default())),
        ),
    )
    .await;
    let mut handle = tree.start_call("lead__run", task("think"));
    let mut streamed = String::new();
    while let Some(event) = handle.next_event().await {
        if let EventKind::Partial { data } = &event.kind {
            assert_eq!(event.path.to_string(), "lead");
            streamed.push_str(data["text"].as_str().unwrap_or_default());
            if streamed == "thinking hard" {
                handle.cancel();
                break;
            }
        }
    }
    assert_eq!(
        streamed, "thinking hard",
        "the text streamed as partial events"
    );
    let error = handle.result().await.expect_err("a cancelled run fails");
    assert!(error.to_string().contains("cancelled"), "{error}");
}

#[tokio::test]
async fn an_ask_policy_pauses_the_loop_until_the_user_answers() {
    let model = TestModel::new(|request| {
        Ok(match turn(request) {
            0 => vec![call("p", "tools__post", json!({"text": "hello"}))],
            _ => vec![Part::text(last_results(request)[0].0.clone())],
        })
    });
    let tree = tree(
        Node::service("lead", Agent::from_arc(model, AgentConfig::default()))
            .policy(Policy::new().ask("tools/post"))
            .child(Node::server("tools", Leaf::default())),
    )
    .await;
    for (answer, expected) in [
        (Answer::Accept(JsonObject::new()), "post: hello"),
        (
            Answer::Decline,
            "The user did not allow the call to 'tools/post'.",
        ),
    ] {
        let mut handle = tree.start_call("run", task("post it"));
        let mut asked = false;
        while let Some(event) = handle.next_event().await {
            if let EventKind::Question(prompt) = &event.kind {
                assert!(prompt.message.contains("tools/post"), "{}", prompt.message);
                assert!(prompt.respond(answer.clone()));
                asked = true;
            }
        }
        assert!(asked, "the user was asked");
        let result = handle.result().await.expect("a result");
        assert_eq!(
            result.content[0].as_text().expect("text").text,
            expected,
            "the model saw the outcome of the prompt"
        );
    }
}

/// An agent that delegates its task to the `run` tool below it, or — when it has none —
/// calls the leaf's echo; then answers with what it got.
fn delegating_model() -> Arc<TestModel> {
    TestModel::new(|request| {
        Ok(match turn(request) {
            0 => {
                let tool = request
                    .tools
                    .iter()
                    .find(|t| t.name.ends_with("run"))
                    .or_else(|| request.tools.iter().find(|t| t.name.ends_with("echo")))
                    .expect("a tool to call");
                let arguments = if tool.name.ends_with("run") {
                    json!({"task": request.messages[0].text()})
                } else {
                    json!({"text": request.messages[0].text()})
                };
                vec![call("d", &tool.name, arguments)]
            }
            _ => vec![Part::text(format!("[{}]", last_results(request)[0].0))],
        })
    })
}

#[tokio::test]
async fn usage_rolls_up_from_nested_agents_three_deep() {
    let agent = || Agent::from_arc(delegating_model(), AgentConfig::default());
    let tree =
        tree(
            Node::service("lead", agent()).child(Node::service("manager", agent()).child(
                Node::service("worker", agent()).child(Node::server("tools", Leaf::default())),
            )),
        )
        .await;
    let mut handle = tree.start_call("run", task("dig"));
    let mut finished_usage = Vec::new();
    while let Some(event) = handle.next_event().await {
        if let EventKind::Status {
            usage: Some(usage), ..
        } = &event.kind
        {
            let usage: UsageReport = serde_json::from_value(usage.clone()).expect("a report");
            finished_usage.push((event.path.to_string(), usage.agents));
        }
    }
    let result = handle.result().await.expect("a result");
    assert_eq!(
        result.content[0].as_text().expect("text").text,
        "[[[echo: dig]]]",
        "the task went down three agents and the answer came back up"
    );
    let summary = summary(&result);
    assert_eq!(summary.own.agents, 1);
    assert_eq!(summary.total.agents, 3);
    assert_eq!(summary.total.model_calls, 6);
    assert_eq!(summary.total.input_tokens, 60);
    assert_eq!(summary.total.output_tokens, 30);
    assert_eq!(summary.total.tool_calls, 3);
    let meta = result.meta.expect("usage in _meta");
    let total: UsageReport =
        serde_json::from_value(meta.0["canopy/usage"].clone()).expect("a report");
    assert_eq!(total, summary.total);
    assert_eq!(
        finished_usage,
        [
            ("manager/worker".to_owned(), 1),
            ("manager".to_owned(), 2),
            ("".to_owned(), 3)
        ],
        "each agent's status event carries its rolled-up usage"
    );
}
