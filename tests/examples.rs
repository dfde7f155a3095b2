//! Runs the examples as a user would, so they cannot rot.

mod common;

use std::{
    io::Write,
    process::{Command, Stdio},
};

fn run(name: &str, stdin: &str) -> String {
    run_with(name, &[], stdin)
}

fn run_with(name: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(common::example_binary(name))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("the example ends");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn quickstart_shows_depth_three_progress_and_a_result() {
    let out = run("quickstart", "");
    for step in 1..=5 {
        let line = format!("[research/lab/crunch] progress {step}/5 step {step} of 5");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("research__lab__crunch__analyze"), "{out}");
    assert!(
        out.contains("analysis said: analysis complete after 5 steps"),
        "{out}"
    );
}

#[test]
fn permission_prompt_goes_ahead_when_allowed() {
    let out = run("permission_prompt", "y\n");
    assert!(
        out.contains("[office] Allow the call to 'office/desk/notes/write_note'?"),
        "{out}"
    );
    assert!(
        out.contains(
            "the call went ahead; notes now: \"Canopy routes permission prompts from any depth\""
        ),
        "{out}"
    );
}

#[test]
fn permission_prompt_is_refused_when_declined() {
    let out = run("permission_prompt", "n\n");
    assert!(
        out.contains("the call was refused; notes now: \"\""),
        "{out}"
    );
}

#[test]
fn research_team_runs_nested_agents_offline() {
    let out = run_with("research_team", &["--yes"], "");
    for line in [
        "[lead] calls ecology__run",
        "[lead] calls forestry__run",
        "[ecology] calls library__search",
        "[ecology/library] Finished ecology/library/read",
        "[forestry] says: Reading 'forest-management'.",
        "accepted (--yes)",
        "[notes] Finished notes/write_note",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let answer = out
        .split("Answer:\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default();
    assert!(
        answer.starts_with("In short: Carbon moving between trees:")
            && answer.contains("Also: Forest management:"),
        "{answer}"
    );
    let lead_row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("lead "))
        .expect("a usage row for the lead")
        .split_whitespace()
        .collect();
    assert_eq!(
        lead_row[1..3],
        ["9", "7"],
        "model and tool calls of the whole team"
    );
}

#[test]
fn research_team_declines_the_note_without_a_terminal() {
    let out = run_with("research_team", &[], "");
    assert!(
        out.contains("declined (no terminal; pass --yes to accept)"),
        "{out}"
    );
    assert!(!out.contains("[notes] Finished"), "{out}");
}

#[test]
fn data_analyst_answers_from_the_sample_database() {
    let out = run_with("data_analyst", &["Revenue per product category?"], "");
    for line in [
        "[analyst] calls shop__list_tables",
        "[analyst] calls shop__query",
        "[shop] Finished shop/query",
        "| kitchen     |",
        "3 turns, 2 tool calls",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
