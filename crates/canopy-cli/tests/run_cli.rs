//! `canopy run`: the root agent of `team.toml` (a scripted lead over a scripted researcher
//! agent over the web leaf, and a notes leaf whose `write_note` asks first) on a task —
//! the `--json` event lines checked line by line, the plain output with its answer and
//! usage table, prompts answered by flags, budgets, and the exit statuses.

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
    assert_eq!(cells(lines[3])[..3], ["(root)", "3", "2"]);
    assert_eq!(cells(lines[4])[..3], ["research", "2", "1"]);
    assert_eq!(cells(lines[5])[..3], ["total", "5", "3"]);
    assert_eq!(lines.len(), 6);

    // Without a terminal, the live view is plain lines on stderr.
    let err = stderr(&output);
    for expected in [
        "[(root)] says: I will ask the researcher.",
        "[(root)] calls research__run",
        "[research] progress 0/10 turn 1: thinking",
        "[research/web] finished research/web/search",
        "[research] finished research/run (",
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
