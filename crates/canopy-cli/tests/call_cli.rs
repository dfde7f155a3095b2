//! `canopy call`: the `--json` event lines of the contract, prompts answered by flags, and
//! the exit statuses (0 success, 1 failed call or `isError`, 2 bad usage or bad tree file).
//! The tree's leaves are `leaf_server` processes (stdio links).

mod common;

use common::{events, run, stderr, stdout, tree};
use serde_json::{Value, json};

fn demo() -> String {
    tree("demo.toml").display().to_string()
}

/// Drops the `call` field after checking every event has the same one.
fn without_call(events: Vec<Value>) -> Vec<Value> {
    let call = events[0]["call"].clone();
    events
        .into_iter()
        .map(|mut event| {
            assert_eq!(event["call"], call, "one call id for the whole call");
            event.as_object_mut().expect("object").remove("call");
            event
        })
        .collect()
}

#[test]
fn json_lines_follow_the_call_in_order() {
    let output = run(&[
        "call",
        &demo(),
        "research__lab__analyze",
        "--args",
        r#"{"steps":3,"step_ms":1}"#,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        without_call(events(&output)),
        [
            json!({"type":"status","state":"started","capability":"research/lab/analyze","path":"research/lab"}),
            json!({"type":"progress","progress":1.0,"total":3.0,"message":"step 1 of 3","path":"research/lab"}),
            json!({"type":"progress","progress":2.0,"total":3.0,"message":"step 2 of 3","path":"research/lab"}),
            json!({"type":"progress","progress":3.0,"total":3.0,"message":"step 3 of 3","path":"research/lab"}),
            json!({"type":"status","state":"finished","capability":"research/lab/analyze","path":"research/lab"}),
            json!({"type":"result","result":{"content":[{"type":"text","text":"analysis complete after 3 steps"}],
                   "isError":false,"resultType":"complete"},"path":""}),
        ]
    );
}

#[test]
fn a_plain_call_prints_the_result_text() {
    let output = run(&[
        "call",
        &demo(),
        "research__web__search",
        "--args",
        r#"{"query":"rust"}"#,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "https://example.org/rust\n");
}

#[test]
fn an_unknown_tool_fails_with_its_message() {
    let output = run(&["call", &demo(), "nope", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["code"], -32602);
    assert_eq!(events[0]["message"], "unknown tool 'nope'");
    assert!(
        stderr(&output).contains("unknown tool 'nope'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_tool_error_exits_1() {
    let output = run(&["call", &demo(), "faulty__fail"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "this tool always fails\n");
    assert!(stderr(&output).contains("the tool 'faulty__fail' reported an error"));
}

#[test]
fn permission_prompts_follow_the_flags() {
    // No terminal and no flag: declined, with a note.
    let declined = run(&[
        "call",
        &demo(),
        "notes__write_note",
        "--args",
        r#"{"text":"a"}"#,
        "--json",
    ]);
    assert_eq!(
        declined.status.code(),
        Some(1),
        "a refused call is a tool error"
    );
    let events = events(&declined);
    assert_eq!(events[0]["type"], "prompt");
    assert_eq!(events[0]["kind"], "permission");
    assert_eq!(events[0]["path"], "");
    assert!(events[0]["id"].is_string());
    assert_eq!(
        events[0]["message"],
        "Allow the call to 'notes/write_note'? (the policy of 'hub' asks for 'notes/write_note')"
    );
    assert_eq!(
        events[0]["arguments"],
        json!({"text": "a"}),
        "the prompt carries the call's arguments"
    );
    let last = events.last().expect("a result");
    assert_eq!(last["type"], "result");
    assert_eq!(last["result"]["isError"], true);
    assert!(stderr(&declined).contains("the permission prompt was declined"));
    assert!(
        stderr(&declined).ends_with(
            "canopy: the call to 'notes__write_note' was declined: there was no terminal to ask\n"
        ),
        "a decline, not a tool error: {}",
        stderr(&declined)
    );

    let accepted = run(&[
        "call",
        &demo(),
        "notes__write_note",
        "--args",
        r#"{"text":"a"}"#,
        "--yes",
    ]);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert_eq!(stdout(&accepted), "1 notes\n");

    let refused = run(&[
        "call",
        &demo(),
        "notes__write_note",
        "--args",
        r#"{"text":"a"}"#,
        "--no",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        "[hub] permission prompt: Allow the call to 'notes/write_note'? (the policy of 'hub' \
         asks for 'notes/write_note') (declined: --no)\n\
         canopy: the call to 'notes__write_note' was declined (--no)\n"
    );
}

#[test]
fn key_value_arguments_are_typed_by_the_tools_schema() {
    let typed = run(&[
        "call",
        &demo(),
        "research__lab__analyze",
        "steps=2",
        "step_ms=1",
        "--json",
    ]);
    assert_eq!(typed.status.code(), Some(0), "{}", stderr(&typed));
    let last = events(&typed).pop().expect("a result");
    assert_eq!(
        last["result"]["content"][0]["text"],
        "analysis complete after 2 steps"
    );

    let text = run(&[
        "call",
        &demo(),
        "research__web__search",
        "query=no such page",
    ]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert_eq!(stdout(&text), "no results for 'no such page'\n");

    let unknown = run(&["call", &demo(), "research__web__search", "qeury=rust"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = stderr(&unknown);
    assert!(
        err.starts_with(
            "canopy: the tool 'research__web__search' has no argument 'qeury' (its arguments: query)\n\
             the input schema of 'research__web__search':\n{"
        ),
        "{err}"
    );

    let badly_typed = run(&["call", &demo(), "research__lab__analyze", "steps=many"]);
    assert_eq!(badly_typed.status.code(), Some(2));
    assert!(
        stderr(&badly_typed)
            .starts_with("canopy: argument 'steps' must be an integer, not 'many'\n"),
        "{}",
        stderr(&badly_typed)
    );

    let both = run(&[
        "call",
        &demo(),
        "research__web__search",
        "query=x",
        "--args",
        "{}",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_call_with_bad_arguments_shows_the_input_schema() {
    let missing = run(&[
        "call",
        &demo(),
        "notes__write_note",
        "--args",
        "{}",
        "--yes",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(
        err.contains("the input schema of 'notes__write_note':\n{"),
        "{err}"
    );
    assert!(err.contains("\"text\""), "{err}");
}

#[test]
fn input_prompts_without_a_terminal_are_cancelled() {
    let output = run(&["call", &demo(), "notes__greet", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    let prompt = events
        .iter()
        .find(|e| e["type"] == "prompt")
        .expect("a prompt event");
    assert_eq!(prompt["kind"], "input");
    assert_eq!(prompt["path"], "notes");
    assert_eq!(prompt["message"], "What is your name?");
    assert_eq!(prompt["schema"]["required"], json!(["name"]));
    let last = events.last().expect("a result");
    assert_eq!(last["result"]["content"][0]["text"], "No name given.");
    assert!(stderr(&output).contains("information request, so it was cancelled"));
}

#[test]
fn a_bad_tree_file_exits_2_with_the_loaders_message() {
    let bad = tree("bad.toml");
    let output = run(&["call", &bad.display().to_string(), "web__search"]);
    assert_eq!(output.status.code(), Some(2));
    let loader = canopy_node::treefile::load(&bad).expect_err("bad.toml does not load");
    assert_eq!(
        stderr(&output),
        format!("{loader}\n"),
        "printed as the loader wrote it"
    );
    assert!(
        stderr(&output).starts_with(&format!(
            "{}:5:1: children[0].comand: unknown key 'comand'",
            bad.display()
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn bad_usage_exits_2() {
    let not_an_object = run(&["call", &demo(), "research__web__search", "--args", "[1]"]);
    assert_eq!(not_an_object.status.code(), Some(2));
    assert_eq!(
        stderr(&not_an_object),
        "canopy: --args must be a JSON object, not an array\n"
    );
    let missing_tool = run(&["call", &demo()]);
    assert_eq!(missing_tool.status.code(), Some(2));
    let both = run(&["call", &demo(), "x", "--yes", "--no"]);
    assert_eq!(both.status.code(), Some(2));
    let missing_file = run(&["tree", "/nonexistent/tree.toml"]);
    assert_eq!(missing_file.status.code(), Some(2));
    assert!(
        stderr(&missing_file).starts_with("/nonexistent/tree.toml: cannot read the tree file"),
        "{}",
        stderr(&missing_file)
    );
}

#[test]
fn a_timeout_cancels_the_call() {
    let output = run(&[
        "call",
        &demo(),
        "research__lab__wait",
        "--timeout",
        "0.5",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert_eq!(events.last().expect("an event")["type"], "error");
    assert!(
        stderr(&output).contains("timed out after 0.5 s"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_shows_examples_and_completions_are_generated() {
    for command in ["serve", "tree", "call", "connect", "completions"] {
        let output = run(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        assert!(stdout(&output).contains("Examples:"), "{command}");
    }
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    assert!(
        stdout(&bash).contains("canopy__subcmd__connect"),
        "{}",
        stdout(&bash)
    );
}
