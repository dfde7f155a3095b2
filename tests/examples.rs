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

/// `docs/first-leaf.md`'s program: the leaf's tools through the tree, in-process and as a
/// stdio child, with the permission prompt answered.
#[test]
fn first_leaf_mounts_its_leaf_in_process_and_as_a_stdio_child() {
    let out = run("first_leaf", "");
    for line in [
        "  local__greet",
        "  local__add",
        "  remote__greet",
        "  remote__add",
        "local__add 2 + 3 = 5",
        "local__greet: Hello, Ada! (greeting #1)",
        "  -> allowed",
        "remote__greet: Hello, Grace! (greeting #1)",
        "local__add [2, 3]: tool arguments must be a JSON object, not an array: [2,3]",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
    let prompt = out
        .lines()
        .find(|l| l.starts_with("permission prompt: "))
        .unwrap_or_else(|| panic!("no permission prompt in:\n{out}"));
    assert!(prompt.contains("remote/greet"), "{prompt}");
}

/// The guide shows the example's source as it is: the code block in `docs/first-leaf.md`
/// is `examples/first_leaf.rs`, byte for byte, so the guide cannot drift from what runs.
#[test]
fn the_first_leaf_guide_shows_the_example_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/first-leaf.md")).expect("the guide");
    let source = std::fs::read_to_string(root.join("examples/first_leaf.rs")).expect("the example");
    let block = format!("```rust\n{source}```\n");
    assert!(
        guide.contains(&block),
        "docs/first-leaf.md does not show examples/first_leaf.rs as it is"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    assert!(
        readme.contains("(docs/first-leaf.md)"),
        "README links the guide"
    );
}

/// Every example binary answers `--help` with its usage (and does not take `--help` for a
/// server name, a question or a tree to serve).
#[test]
fn every_example_binary_has_help() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|entry| {
            let path = entry.expect("entry").path();
            (path.extension().is_some_and(|e| e == "rs"))
                .then(|| path.file_stem()?.to_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in &names {
        for flag in ["--help", "-h"] {
            let output = Command::new(common::example_binary(name))
                .arg(flag)
                .stdin(Stdio::null())
                .output()
                .expect("the example starts");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{name} {flag} exited with {}:\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(
                stdout.starts_with(&format!("usage: {name}")),
                "{name} {flag} printed no usage line:\n{stdout}"
            );
            assert!(stdout.contains("-h, --help"), "{name} {flag}:\n{stdout}");
        }
    }
}

/// `leaf_server` with no server, or an unknown one, says how to use it.
#[test]
fn leaf_server_explains_a_bad_server_name() {
    for (args, expected) in [
        (&[][..], "usage: leaf_server SERVER [--http ADDR]"),
        (
            &["labb"][..],
            "unknown server 'labb' (web, lab, notes, faulty, dynamic, watched, witness)",
        ),
    ] {
        let output = Command::new(common::example_binary("leaf_server"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("leaf_server starts");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
