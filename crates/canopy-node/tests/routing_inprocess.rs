//! Routing through an in-process tree, driven by the Rust host API: exposed names, progress
//! from depth 3, prompts (elicitation and `ask` policies), denial, unknown tools, bad
//! arguments, failing leaves, cancellation, resources, prompts and pagination.

mod common;

use std::sync::atomic::Ordering;

use canopy_node::{Answer, CallHandle, Event, EventKind, Node, NodeState, QuestionKind, Tree};
use canopy_topology::{Policy, TopologyFormat};
use common::{args, servers, text};
use serde_json::{Value, json};

struct Fixture {
    tree: Tree,
    lab: servers::Lab,
    notes: servers::Notes,
}

async fn fixture(root_policy: Policy) -> Fixture {
    let lab = servers::Lab::new();
    let notes = servers::Notes::new();
    let tree = Tree::builder(
        Node::new("hub")
            .policy(root_policy)
            .child(
                Node::new("research")
                    .child(Node::server("web", servers::Web::new()))
                    .child(Node::new("lab").child(Node::server("crunch", lab.clone()))),
            )
            .child(
                Node::new("office")
                    .child(Node::new("desk").child(Node::server("notes", notes.clone()))),
            )
            .child(Node::server("faulty", servers::Faulty::new())),
    )
    .build()
    .await
    .expect("the tree builds");
    Fixture { tree, lab, notes }
}

/// Reads every event of a call, answering prompts with `answer`.
async fn collect(
    mut call: CallHandle,
    answer: impl Fn(&canopy_node::Question) -> Answer,
) -> (Vec<Event>, CallHandle) {
    let mut events = Vec::new();
    while let Some(event) = call.next_event().await {
        if let EventKind::Question(prompt) = &event.kind {
            assert!(
                prompt.respond(answer(prompt)),
                "the prompt was still pending"
            );
        }
        events.push(event);
    }
    (events, call)
}

#[tokio::test]
async fn exposed_names_are_namespaced_by_path() {
    let f = fixture(Policy::new()).await;
    let names: Vec<String> = f.tree.tools().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "research__web__fetch",
            "research__web__search",
            "research__lab__crunch__analyze",
            "research__lab__crunch__wait",
            "research__lab__crunch__was_cancelled",
            "office__desk__notes__greet",
            "office__desk__notes__read_notes",
            "office__desk__notes__write_note",
            "faulty__broken",
            "faulty__die",
            "faulty__explode",
            "faulty__fail",
            "faulty__shout",
        ]
    );
    let text = f.tree.render(TopologyFormat::Text);
    assert!(text.contains("crunch"), "{text}");
}

#[tokio::test]
async fn progress_from_depth_three_arrives_in_order_before_the_result() {
    let f = fixture(Policy::new()).await;
    let call = f.tree.start_call(
        "research__lab__crunch__analyze",
        args(json!({"steps": 4, "step_ms": 5})),
    );
    let (events, call) = collect(call, |_| Answer::Decline).await;
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                EventKind::Progress { progress, .. } => format!("progress {progress}"),
                EventKind::Status { state, .. } => format!("{state:?}"),
                EventKind::Result { .. } => "result".to_owned(),
                other => format!("{other:?}"),
            };
            (e.path.to_string(), kind)
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("research/lab/crunch", "Started"),
        ("research/lab/crunch", "progress 1"),
        ("research/lab/crunch", "progress 2"),
        ("research/lab/crunch", "progress 3"),
        ("research/lab/crunch", "progress 4"),
        ("research/lab/crunch", "Finished"),
        ("", "result"),
    ]
    .iter()
    .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
    .collect();
    assert_eq!(kinds, expected);
    assert!(events.iter().all(|e| e.call == Some(call.id())));
    let result = call.result().await.expect("the call succeeds");
    assert_eq!(text(&result), "analysis complete after 4 steps");
}

#[tokio::test]
async fn elicitation_from_depth_three_is_answered_by_the_host() {
    let f = fixture(Policy::new()).await;
    let call = f.tree.start_call("office__desk__notes__greet", None);
    let (events, call) = collect(call, |prompt| {
        assert_eq!(prompt.kind, QuestionKind::Input);
        assert_eq!(prompt.message, "What is your name?");
        assert_eq!(prompt.schema["properties"]["name"]["type"], "string");
        Answer::Accept(
            json!({"name": "Ada"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    })
    .await;
    let prompt = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Question(_)))
        .expect("a prompt event");
    assert_eq!(prompt.path.to_string(), "office/desk/notes");
    assert_eq!(text(&call.result().await.expect("ok")), "Hello, Ada!");
}

#[tokio::test]
async fn ask_policy_pauses_the_call_until_the_user_answers() {
    let f = fixture(Policy::new().ask("office/**/write_note")).await;
    let call = f.tree.start_call(
        "office__desk__notes__write_note",
        args(json!({"text": "hello"})),
    );
    let (events, call) = collect(call, |prompt| {
        assert_eq!(prompt.kind, QuestionKind::Permission);
        assert!(
            prompt.message.contains("office/desk/notes/write_note"),
            "{}",
            prompt.message
        );
        Answer::accept()
    })
    .await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Question(_)))
            .count(),
        1
    );
    assert_eq!(text(&call.result().await.expect("ok")), "1 notes");

    let call = f.tree.start_call(
        "office__desk__notes__write_note",
        args(json!({"text": "again"})),
    );
    let (_, call) = collect(call, |_| Answer::Decline).await;
    let result = call
        .result()
        .await
        .expect("a declined call is a tool result, not an error");
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "The user did not allow the call to 'office/desk/notes/write_note'."
    );
    assert_eq!(
        f.notes.notes.lock().expect("lock").len(),
        1,
        "the declined write never reached the leaf"
    );
}

#[tokio::test]
async fn a_prompt_nobody_reads_is_cancelled_not_hung() {
    let f = fixture(Policy::new().ask("office/desk/notes/write_note")).await;
    let result = f
        .tree
        .call_tool(
            "office__desk__notes__write_note",
            args(json!({"text": "x"})),
        )
        .await
        .expect("ok");
    assert_eq!(result.is_error, Some(true));
    assert!(f.notes.notes.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn ancestors_narrow_descendants_policies() {
    // The office allows only reading; the root denies faulty; a descendant cannot widen.
    let lab = servers::Lab::new();
    let tree = Tree::builder(
        Node::new("hub")
            .policy(Policy::new().deny("faulty/**"))
            .child(
                Node::new("office")
                    .policy(Policy::new().allow("notes/read_*"))
                    .child(Node::server("notes", servers::Notes::new())),
            )
            .child(
                Node::new("faulty")
                    .policy(Policy::new().allow("**"))
                    .child(Node::server("x", servers::Faulty::new())),
            )
            .child(Node::server("lab", lab)),
    )
    .build()
    .await
    .expect("builds");
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "office__notes__read_notes",
            "lab__analyze",
            "lab__wait",
            "lab__was_cancelled"
        ]
    );
    let error = tree
        .call_tool("office__notes__write_note", args(json!({"text": "x"})))
        .await
        .expect_err("denied");
    assert_eq!(error.code(), -32602);
    assert_eq!(
        error.message(),
        "'office/notes/write_note' is denied by the policy of node 'office' (deny '')"
    );
}

#[tokio::test]
async fn denied_tools_are_hidden_and_refused() {
    let f = fixture(Policy::new().deny("faulty/broken")).await;
    assert!(f.tree.tools().iter().all(|t| t.name != "faulty__broken"));
    let error = f
        .tree
        .call_tool("faulty__broken", None)
        .await
        .expect_err("denied");
    assert_eq!(error.code(), -32602);
    assert_eq!(
        error.message(),
        "'faulty/broken' is denied by the policy of node '(root)' (deny 'faulty/broken')"
    );
}

#[tokio::test]
async fn unknown_tools_get_a_clear_error_with_a_hint() {
    let f = fixture(Policy::new()).await;
    let error = f.tree.call_tool("fetch", None).await.expect_err("unknown");
    assert_eq!(error.code(), -32602);
    assert_eq!(
        error.message(),
        "unknown tool 'fetch'; did you mean 'research__web__fetch'?"
    );
    let error = f
        .tree
        .call_tool("nothing_like_it", None)
        .await
        .expect_err("unknown");
    assert_eq!(error.message(), "unknown tool 'nothing_like_it'");
}

#[tokio::test]
async fn invalid_arguments_fail_only_that_call() {
    let f = fixture(Policy::new()).await;
    let result = f
        .tree
        .call_tool(
            "research__lab__crunch__analyze",
            args(json!({"steps": "many"})),
        )
        .await;
    let message = match result {
        Ok(result) => {
            assert_eq!(result.is_error, Some(true));
            text(&result)
        }
        Err(error) => error.message().to_owned(),
    };
    assert!(
        message.contains("invalid type: string \"many\", expected u32"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panicking_leaf_fails_only_its_own_call() {
    let f = fixture(Policy::new()).await;
    let slow = f.tree.start_call(
        "research__lab__crunch__analyze",
        args(json!({"steps": 3, "step_ms": 20})),
    );
    let error = f
        .tree
        .call_tool("faulty__explode", None)
        .await
        .expect_err("a panic is an error");
    assert_eq!(error.code(), -32603);
    assert_eq!(
        error.message(),
        "node 'faulty' panicked: the faulty tool exploded on purpose"
    );
    let failed = f
        .tree
        .call_tool("faulty__fail", None)
        .await
        .expect("a tool error is a result");
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(text(&failed), "this tool always fails");
    let broken = f
        .tree
        .call_tool("faulty__broken", None)
        .await
        .expect_err("protocol error");
    assert_eq!(broken.message(), "the broken tool is broken");
    assert_eq!(
        text(&slow.result().await.expect("the slow call is unaffected")),
        "analysis complete after 3 steps"
    );
    // The panicking node still serves later calls.
    assert_eq!(
        f.tree
            .call_tool("faulty__fail", None)
            .await
            .expect("ok")
            .is_error,
        Some(true)
    );
}

#[tokio::test]
async fn cancelling_a_call_cancels_the_leaf() {
    let f = fixture(Policy::new()).await;
    let mut call = f.tree.start_call("research__lab__crunch__wait", None);
    // Wait until the leaf started, then cancel.
    loop {
        let event = call.next_event().await.expect("events until started");
        if matches!(
            event.kind,
            EventKind::Status {
                state: NodeState::Started,
                ..
            }
        ) {
            break;
        }
    }
    call.cancel();
    let error = call.result().await.expect_err("cancelled");
    assert_eq!(error.message(), "the call was cancelled");
    for _ in 0..200 {
        if f.lab.cancelled.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the leaf never saw the cancellation");
}

#[tokio::test]
async fn many_concurrent_calls_each_get_their_own_progress() {
    let f = fixture(Policy::new()).await;
    let calls: Vec<_> = (1..=8)
        .map(|steps| {
            (
                steps,
                f.tree.start_call(
                    "research__lab__crunch__analyze",
                    args(json!({"steps": steps, "step_ms": 1})),
                ),
            )
        })
        .collect();
    for (steps, call) in calls {
        let (events, call) = collect(call, |_| Answer::Decline).await;
        let progress: Vec<f64> = events
            .iter()
            .filter_map(|e| {
                if let EventKind::Progress { progress, .. } = e.kind {
                    Some(progress)
                } else {
                    None
                }
            })
            .collect();
        let expected: Vec<f64> = (1..=steps).map(f64::from).collect();
        assert_eq!(progress, expected, "call with {steps} steps");
        assert_eq!(
            text(&call.result().await.expect("ok")),
            format!("analysis complete after {steps} steps")
        );
    }
}

#[tokio::test]
async fn resources_and_prompts_are_namespaced_and_routed() {
    let f = fixture(Policy::new()).await;
    f.tree
        .call_tool(
            "office__desk__notes__write_note",
            args(json!({"text": "remember"})),
        )
        .await
        .expect("ok");
    let resources = f.tree.resources();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].uri, "canopy://office/desk/notes/notes://all");
    let prompts = f.tree.prompts();
    assert_eq!(prompts[0].name, "office__desk__notes__summarize");
    let server = f.tree.server();
    let client = connect(server).await;
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "canopy://office/desk/notes/notes://all",
        ))
        .await
        .expect("read");
    let json = serde_json::to_value(&read).expect("json");
    assert_eq!(
        json["contents"][0]["uri"],
        "canopy://office/desk/notes/notes://all"
    );
    assert_eq!(json["contents"][0]["text"], "remember");
    let prompt = client
        .get_prompt(rmcp::model::GetPromptRequestParams::new(
            "office__desk__notes__summarize",
        ))
        .await
        .expect("prompt");
    let json = serde_json::to_value(&prompt).expect("json");
    assert_eq!(
        json["messages"][0]["content"]["text"],
        "Summarize these notes:\nremember"
    );
    let missing = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "canopy://nowhere/x",
        ))
        .await
        .expect_err("unknown resource");
    assert!(
        missing
            .to_string()
            .contains("no node of this tree owns the resource 'canopy://nowhere/x'"),
        "{missing}"
    );
}

#[tokio::test]
async fn lists_are_paginated_for_large_trees() {
    let children: Vec<Node> = (0..30)
        .map(|i| Node::server(format!("web{i}"), servers::Web::new()))
        .collect();
    let tree = Tree::builder(Node::new("hub").children(children))
        .page_size(7)
        .build()
        .await
        .expect("builds");
    let client = connect(tree.server()).await;
    let mut names = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_tools(Some(
                rmcp::model::PaginatedRequestParams::default().with_cursor(cursor),
            ))
            .await
            .expect("page");
        pages += 1;
        assert!(page.tools.len() <= 7);
        names.extend(page.tools.into_iter().map(|t| t.name.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 9);
    assert_eq!(names.len(), 60);
    assert_eq!(names[0], "web0__fetch");
    assert_eq!(names[59], "web29__search");
    let bad = client
        .list_tools(Some(
            rmcp::model::PaginatedRequestParams::default().with_cursor(Some("bogus".into())),
        ))
        .await
        .expect_err("bad cursor");
    assert!(bad.to_string().contains("invalid cursor 'bogus'"), "{bad}");
}

/// An rmcp client connected to `server` over an in-memory duplex.
async fn connect(
    server: canopy_node::CanopyServer,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    use rmcp::ServiceExt;
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(a).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(b).await.expect("client connects")
}

#[tokio::test]
async fn list_changes_logs_and_sampling_from_a_leaf() {
    struct Model;
    impl canopy_node::SamplingHandler for Model {
        #[allow(deprecated)]
        fn create_message(
            &self,
            path: &canopy_topology::NodePath,
            _params: rmcp::model::CreateMessageRequestParams,
        ) -> futures::future::BoxFuture<
            'static,
            Result<rmcp::model::CreateMessageResult, rmcp::ErrorData>,
        > {
            let text = format!("green (asked by {path})");
            Box::pin(async move {
                Ok(rmcp::model::CreateMessageResult::new(
                    rmcp::model::SamplingMessage::assistant_text(text),
                    "stub".into(),
                ))
            })
        }
    }
    let tree = Tree::builder(
        Node::new("hub")
            .child(Node::new("deep").child(Node::server("dyn", servers::Dynamic::new()))),
    )
    .sampling(Model)
    .build()
    .await
    .expect("builds");
    tree.call_tool("deep__dyn__add_tool", args(json!({"name": "later"})))
        .await
        .expect("add");
    let mut appeared = false;
    for _ in 0..300 {
        if tree.tools().iter().any(|t| t.name == "deep__dyn__later") {
            appeared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        appeared,
        "the route table was refreshed after the leaf's list_changed"
    );
    assert_eq!(
        text(&tree.call_tool("deep__dyn__later", None).await.expect("ok")),
        "later ran"
    );

    let (events, _) = collect(tree.start_call("deep__dyn__chatty", None), |_| {
        Answer::Decline
    })
    .await;
    let log = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Log { .. }))
        .expect("a log event");
    assert_eq!(log.path.to_string(), "deep/dyn");
    let json: Value = serde_json::from_str(&log.to_json_line()).expect("json");
    assert_eq!(json["type"], "log");
    assert_eq!(json["level"], "info");
    assert_eq!(json["logger"], "chatty");
    assert_eq!(json["data"], "chatty is working");

    let sampled = tree
        .call_tool("deep__dyn__ask_model", None)
        .await
        .expect("sampling");
    assert_eq!(text(&sampled), "model said: green (asked by deep/dyn)");
}

#[tokio::test]
async fn sampling_without_a_handler_is_a_clear_error() {
    let tree = Tree::builder(Node::new("hub").child(Node::server("dyn", servers::Dynamic::new())))
        .build()
        .await
        .expect("builds");
    let error = tree
        .call_tool("dyn__ask_model", None)
        .await
        .expect_err("no sampling handler");
    assert!(
        error
            .message()
            .contains("node 'dyn' asked for sampling, but the tree has no sampling handler"),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn hostile_tool_names_get_valid_stable_names_and_still_route() {
    let tree = Tree::builder(Node::new("hub").child(Node::server("dyn", servers::Dynamic::new())))
        .build()
        .await
        .expect("builds");
    let hostile = "ünï.côde tool/with__separators";
    tree.call_tool("dyn__add_tool", args(json!({ "name": hostile })))
        .await
        .expect("add");
    let mut exposed = None;
    for _ in 0..300 {
        let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
        if names.len() == 4 {
            exposed = names.into_iter().find(|n| {
                !["dyn__add_tool", "dyn__ask_model", "dyn__chatty"].contains(&n.as_str())
            });
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let exposed = exposed.expect("the hostile tool is listed");
    assert!(exposed.len() <= 64, "{exposed}");
    assert!(
        exposed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{exposed}"
    );
    assert!(exposed.starts_with("dyn_"), "{exposed}");
    let result = tree
        .call_tool(&exposed, None)
        .await
        .expect("routes to the leaf under its own name");
    assert_eq!(text(&result), format!("{hostile} ran"));
    let plan = tree.routes();
    let route = plan
        .lookup(canopy_topology::CapabilityKind::Tool, &exposed)
        .expect("route");
    assert_eq!(&*route.id.name, hostile);
}

#[tokio::test]
async fn the_tree_wide_stream_sees_every_call() {
    let f = fixture(Policy::new()).await;
    let mut events = f.tree.subscribe();
    let result = f
        .tree
        .call_tool(
            "research__lab__crunch__analyze",
            args(json!({"steps": 2, "step_ms": 1})),
        )
        .await
        .expect("ok");
    assert_eq!(text(&result), "analysis complete after 2 steps");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let event = events.recv().await.expect("an event");
        seen.push(
            serde_json::from_str::<Value>(&event.to_json_line()).expect("json")["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(seen, ["status", "progress", "progress", "status", "result"]);
}
