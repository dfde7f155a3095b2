//! `canopy run`: the root agent of `team.toml` (a scripted lead over a scripted researcher
//! agent over the web leaf, and a notes leaf whose `write_note` asks first) on a task —
//! the `--json` event lines checked line by line, the plain output with its answer and
//! usage table, prompts answered by flags, budgets, and the exit statuses. `slow.toml` (an
//! agent over the lab leaf's slow analysis) shows a leaf's progress and the deadline;
//! `stubborn.toml` an agent stopped at its turn limit.

mod common;

use common::{events, run, stderr, stdout, tree};
use serde_json::Value;

fn team() -> String {
    tree("team.toml").display().to_string()
}

/// `(type, path, detail)` for the events a reader of the stream cares about.
fn outline(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter_map(|event| {
            let kind = event["type"].as_str()?.to_owned();
            let path = event["path"].as_str()?.to_owned();
            let detail = match kind.as_str() {
                "partial" if event["data"]["toolCall"].is_string() => {
                    format!("calls {}", event["data"]["toolCall"].as_str()?)
                }
                "partial" => return None,
                "progress" => return None,
                "status" => format!(
                    "{} {}",
                    event["state"].as_str()?,
                    event["capability"].as_str()?
                ),
                "prompt" => event["kind"].as_str()?.to_owned(),
                "result" => event["result"]["structuredContent"]["outcome"]
                    .as_str()?
                    .to_owned(),
                _ => String::new(),
            };
            Some((kind, path, detail))
        })
        .collect()
}

fn row(kind: &str, path: &str, detail: &str) -> (String, String, String) {
    (kind.to_owned(), path.to_owned(), detail.to_owned())
}

#[test]
fn json_lines_show_every_agent_and_tool_of_the_run_in_order() {
    let output = run(&["run", &team(), "rust", "--json", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    let call = events[0]["call"].clone();
    assert!(events.iter().all(|e| e["call"] == call), "one call id");
    assert_eq!(
        outline(&events),
        [
            row("status", "", "started run"),
            row("partial", "", "calls research__run"),
            row("status", "research", "started research/run"),
            row("partial", "research", "calls web__search"),
            row("status", "research/web", "started research/web/search"),
            row("status", "research/web", "finished research/web/search"),
            row("status", "research", "finished research/run"),
            row("partial", "", "calls notes__write_note"),
            row("prompt", "", "permission"),
            row("status", "notes", "started notes/write_note"),
            row("status", "notes", "finished notes/write_note"),
            row("status", "", "finished run"),
            row("result", "", "answered"),
        ]
    );

    // The agents' streamed text, per agent, in order.
    let said = |path: &str| -> String {
        events
            .iter()
            .filter(|e| e["type"] == "partial" && e["path"] == path)
            .filter_map(|e| e["data"]["text"].as_str())
            .collect()
    };
    assert_eq!(
        said(""),
        "I will ask the researcher.Noting the finding.Final answer: Found https://example.org/rust"
    );
    assert_eq!(
        said("research"),
        "Searching the web for rust.Found https://example.org/rust"
    );

    // Agents report progress per turn.
    assert!(events.iter().any(|e| e["type"] == "progress"
        && e["path"] == "research"
        && e["message"] == "turn 1: thinking"));

    // The researcher's usage rides on its status event; the root's result rolls it up.
    let research_usage = events
        .iter()
        .find(|e| e["type"] == "status" && e["path"] == "research" && e["state"] == "finished")
        .map(|e| e["usage"].clone())
        .expect("the researcher's finished status");
    assert_eq!(research_usage["agents"], 1);
    assert_eq!(research_usage["modelCalls"], 2);
    let result = &events.last().expect("a last event")["result"];
    assert_eq!(
        result["content"][0]["text"],
        "Final answer: Found https://example.org/rust"
    );
    let summary = &result["structuredContent"];
    assert_eq!(summary["turns"], 3);
    assert_eq!(summary["toolCalls"], 2);
    assert_eq!(summary["own"]["agents"], 1);
    assert_eq!(summary["total"]["agents"], 2);
    assert_eq!(summary["total"]["modelCalls"], 5);
    assert_eq!(
        summary["total"]["inputTokens"].as_u64().expect("a number"),
        summary["own"]["inputTokens"].as_u64().expect("a number")
            + research_usage["inputTokens"].as_u64().expect("a number"),
        "the total is the lead's own usage plus the researcher's"
    );
    assert_eq!(result["_meta"]["canopy/usage"], summary["total"]);
}

#[test]
fn the_plain_output_ends_with_the_answer_and_a_usage_table() {
    let output = run(&["run", &team(), "rust", "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Final answer: Found https://example.org/rust");
    assert_eq!(lines[1], "");
    let header: Vec<&str> = lines[2]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "agent",
            "model calls",
            "tool calls",
            "input tokens",
            "output tokens",
            "cost (USD)"
        ]
    );
    let cells =
        |line: &str| -> Vec<String> { line.split_whitespace().map(str::to_owned).collect() };
    assert_eq!(
        cells(lines[3])[..3],
        ["lead", "3", "2"],
        "the root is named as the tree is"
    );
    assert_eq!(cells(lines[4])[..3], ["research", "2", "1"]);
    assert_eq!(cells(lines[5])[..3], ["total", "5", "3"]);
    assert_eq!(lines.len(), 6);

    // Without a terminal, the live view is plain lines on stderr.
    let err = stderr(&output);
    for expected in [
        "[lead] says: I will ask the researcher.",
        "[lead] calls research__run",
        "[research] progress 0/10 turn 1: thinking",
        "[research/web] finished research/web/search",
        "[research] finished research/run (",
        "[lead] permission prompt: Allow the call to 'notes/write_note'? (the policy of 'lead' asks for 'notes/write_note')",
        "(accepted: --yes)",
    ] {
        assert!(err.contains(expected), "no '{expected}' in:\n{err}");
    }
    assert!(
        !err.contains('\u{1b}'),
        "no control codes without a terminal"
    );
}

#[test]
fn a_declined_prompt_is_seen_by_the_agent_which_still_answers() {
    let output = run(&["run", &team(), "rust", "--json", "--no"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "status" && e["path"] == "notes"),
        "the declined call never reached the notes server"
    );
    let result = &events.last().expect("a last event")["result"];
    assert_eq!(result["structuredContent"]["outcome"], "answered");
}

#[test]
fn a_run_out_of_budget_stops_and_exits_1() {
    // One call for the root agent's tool, one for the researcher's: its search is refused.
    let output = run(&["run", &team(), "rust", "--max-calls", "2", "--yes"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output)
            .contains("canopy: the run stopped: the call budget is spent (2 tool calls)"),
        "{}",
        stderr(&output)
    );
    let out = stdout(&output);
    assert!(out.contains("total"), "the usage table is printed: {out}");
}

#[test]
fn the_root_must_be_an_agent() {
    let demo = tree("demo.toml").display().to_string();
    let output = run(&["run", &demo, "anything"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(
            "the root node 'hub' is a router, not an agent; `canopy run` needs a root with an [agent] table"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_run_with_one_call_stops_before_delegating_and_exits_1() {
    // The root agent's own tool is the one call: its call to the researcher is refused.
    let output = run(&["run", &team(), "rust", "--max-calls", "1", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = events(&output);
    assert!(
        events.iter().any(|e| e["type"] == "partial"
            && e["path"] == ""
            && e["data"]["toolCall"] == "research__run"),
        "the lead tried to delegate"
    );
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "status" && e["path"] == "research"),
        "the refused call never reached the researcher"
    );
    let summary = &events.last().expect("a last event")["result"]["structuredContent"];
    assert_eq!(summary["outcome"], "budget_exhausted");
    assert_eq!(summary["budget"], "the call budget is spent (1 tool call)");
    assert_eq!(summary["answer"], "I will ask the researcher.");
    assert!(
        stderr(&output).contains("canopy: the run stopped: the call budget is spent"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_token_budget_stops_the_run_and_exits_1() {
    let output = run(&["run", &team(), "rust", "--max-tokens", "100", "--yes"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("canopy: the run stopped: the token budget is spent"),
        "{}",
        stderr(&output)
    );
    // What the agent had, and the table, are still printed.
    let out = stdout(&output);
    assert!(out.starts_with("I will ask the researcher.\n"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("total")), "{out}");
}

#[test]
fn an_agent_at_its_turn_limit_exits_1() {
    let stubborn = tree("stubborn.toml").display().to_string();
    let output = run(&["run", &stubborn, "write three notes", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = events(&output);
    let writes = events
        .iter()
        .filter(|e| e["type"] == "status" && e["path"] == "notes" && e["state"] == "finished")
        .count();
    assert_eq!(writes, 2, "one note per turn, two turns");
    let summary = &events.last().expect("a last event")["result"]["structuredContent"];
    assert_eq!(summary["outcome"], "max_turns");
    assert_eq!(summary["turns"], 2);
    assert!(
        stderr(&output).contains(
            "canopy: the root agent stopped at its turn limit (2 turns) without a final answer"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_leafs_progress_is_part_of_the_run() {
    let slow = tree("slow.toml").display().to_string();
    let output = run(&["run", &slow, "a short analysis", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    let steps: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e["type"] == "progress" && e["path"] == "lab")
        .map(|e| {
            (
                e["progress"].as_f64().expect("progress"),
                e["total"].as_f64().expect("total"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [(1.0, 5.0), (2.0, 5.0), (3.0, 5.0), (4.0, 5.0), (5.0, 5.0)]
    );
    let result = &events.last().expect("a last event")["result"];
    assert_eq!(
        result["content"][0]["text"],
        "Done: analysis complete after 5 steps"
    );

    let plain = run(&["run", &slow, "a short analysis"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    let err = stderr(&plain);
    for expected in [
        "[analyst] calls lab__analyze",
        "[lab] started lab/analyze",
        "[lab] progress 3/5 step 3 of 5",
        "[lab] finished lab/analyze",
    ] {
        assert!(err.contains(expected), "no '{expected}' in:\n{err}");
    }
    assert!(stdout(&plain).starts_with("Done: analysis complete after 5 steps\n"));
}

#[test]
fn a_run_past_its_deadline_is_cancelled_and_exits_1() {
    // The long analysis takes 30 s; the deadline is 1 s, and the run is cancelled when the
    // analysis has not finished 5 s later.
    let slow = tree("slow.toml").display().to_string();
    let started = std::time::Instant::now();
    let output = run(&["run", &slow, "a long analysis", "--timeout", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the run was not cut short: {:?}",
        started.elapsed()
    );
    let err = stderr(&output);
    assert!(err.contains("[lab] progress 1/300 step 1 of 300"), "{err}");
    assert!(
        err.contains(
            "canopy: the run passed its deadline (1 s) and had not stopped 5 s later, so it was cancelled"
        ),
        "{err}"
    );
}

#[test]
fn tool_picks_the_root_agents_tool() {
    let output = run(&["run", &team(), "rust", "--tool", "run", "--no"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let unknown = run(&["run", &team(), "rust", "--tool", "research__run"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("the root agent has no tool 'research__run' (it has: run)"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn bad_usage_and_bad_tree_files_exit_2() {
    let bad = tree("bad.toml").display().to_string();
    let output = run(&["run", &bad, "anything"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown key 'comand'"),
        "{}",
        stderr(&output)
    );
    let missing_task = run(&["run", &team()]);
    assert_eq!(missing_task.status.code(), Some(2));
    let both = run(&["run", &team(), "rust", "--yes", "--no"]);
    assert_eq!(both.status.code(), Some(2));
    let zero = run(&["run", &team(), "rust", "--timeout", "0"]);
    assert_eq!(zero.status.code(), Some(2));
}

#[test]
fn agent_trees_work_with_tree_and_call_too() {
    let topology = run(&["tree", &team(), "--format", "json"]);
    assert_eq!(topology.status.code(), Some(0), "{}", stderr(&topology));
    let topology: Value = serde_json::from_str(&stdout(&topology)).expect("JSON");
    assert_eq!(topology["kind"], "agent");
    assert_eq!(topology["children"][0]["kind"], "agent");

    let output = run(&[
        "call",
        &team(),
        "research__run",
        "--args",
        r#"{"task":"rust"}"#,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    let result = &events.last().expect("a last event")["result"];
    assert_eq!(
        result["content"][0]["text"],
        "Found https://example.org/rust"
    );
    assert_eq!(result["structuredContent"]["outcome"], "answered");
}
