//! `canopy connect`: the reference client's one-shot subcommands against a `leaf_server`
//! over stdio (a launched command) and over Streamable HTTP, at each protocol revision.

mod common;

use std::process::Stdio;

use common::{canopy, leaf_server, stderr, stdout, wait_for_url};
use serde_json::Value;

/// `canopy connect ARGS -- leaf_server SERVER`.
fn over_stdio(args: &[&str], server: &str) -> std::process::Output {
    let leaf = leaf_server().display().to_string();
    let mut all: Vec<&str> = vec!["connect"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", &leaf, server]);
    canopy(&all).output().expect("canopy runs")
}

#[test]
fn stdio_one_shot_commands() {
    let tools = over_stdio(&["tools"], "notes");
    assert_eq!(tools.status.code(), Some(0), "{}", stderr(&tools));
    assert_eq!(
        stdout(&tools),
        "greet — Ask the user for their name, then greet them\n\
         read_notes — Read every note\n\
         write_note — Append a note\n"
    );

    let call = over_stdio(&["call", "search", "--args", r#"{"query":"rust"}"#], "web");
    assert_eq!(call.status.code(), Some(0), "{}", stderr(&call));
    assert_eq!(stdout(&call), "https://example.org/rust\n");
    let words = over_stdio(&["call", "search", "query=rust"], "web");
    assert_eq!(words.status.code(), Some(0), "{}", stderr(&words));
    assert_eq!(stdout(&words), "https://example.org/rust\n");

    let resources = over_stdio(&["resources"], "notes");
    assert_eq!(stdout(&resources), "notes://all — all notes\n");

    let prompts = over_stdio(&["prompts"], "notes");
    assert_eq!(stdout(&prompts), "summarize() — Summarize the notes\n");

    let prompt = over_stdio(&["prompt", "summarize"], "notes");
    assert_eq!(stdout(&prompt), "user: Summarize these notes:\n\n");

    let read = over_stdio(&["read", "notes://all", "--json"], "notes");
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
    let json: Value = serde_json::from_str(&stdout(&read)).expect("JSON");
    assert_eq!(json["contents"][0]["uri"], "notes://all");
}

#[test]
fn stdio_failures_have_exit_statuses() {
    let failed = over_stdio(&["call", "fail"], "faulty");
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(stdout(&failed), "this tool always fails\n");

    let unknown = over_stdio(&["call", "nope"], "web");
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown),
        "canopy connect: no tool 'nope' on the server (its tools: fetch, search)\n"
    );
    let typo = over_stdio(&["call", "serch", "query=rust"], "web");
    assert_eq!(typo.status.code(), Some(1));
    assert_eq!(
        stderr(&typo),
        "canopy connect: no tool 'serch' on the server; did you mean 'search'?\n"
    );

    // Bad arguments: the server's message (no raw error data), then the tool's schema.
    let missing = over_stdio(&["call", "search", "--args", "{}"], "web");
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stdout(&missing),
        "failed to deserialize parameters: missing field `query`\n"
    );
    let err = stderr(&missing);
    assert!(
        err.starts_with(
            "canopy connect: the tool 'search' refused its arguments\n\
             the input schema of 'search':\n{"
        ),
        "{err}"
    );
    let unknown_key = over_stdio(&["call", "search", "qeury=rust"], "web");
    assert_eq!(unknown_key.status.code(), Some(2));
    assert!(
        stderr(&unknown_key).starts_with(
            "canopy connect: the tool 'search' has no argument 'qeury' (its arguments: query)\n"
        ),
        "{}",
        stderr(&unknown_key)
    );

    let bad_args = over_stdio(&["call", "search", "--args", "nope"], "web");
    assert_eq!(bad_args.status.code(), Some(2));

    let no_target = canopy(&["connect", "tools"]).output().expect("runs");
    assert_eq!(no_target.status.code(), Some(2));
}

#[test]
fn every_protocol_revision_over_stdio() {
    for protocol in ["2025-06-18", "2025-11-25", "2026-07-28"] {
        let call = over_stdio(
            &[
                "--protocol",
                protocol,
                "call",
                "search",
                "--args",
                r#"{"query":"trees"}"#,
            ],
            "web",
        );
        assert_eq!(call.status.code(), Some(0), "{protocol}: {}", stderr(&call));
        assert_eq!(stdout(&call), "https://example.org/trees\n", "{protocol}");
    }
}

#[test]
fn the_repl_reads_commands_from_stdin() {
    use std::io::Write;
    let leaf = leaf_server().display().to_string();
    let mut child = canopy(&["connect", "--", &leaf, "web"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"call search {\"query\": \"mcp\"}\nbogus\ncall search query=\"no such\"\n\
              call search\nhelp\nquit\n",
        )
        .expect("writes");
    let output = child.wait_with_output().expect("ends");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "https://example.org/mcp\nno results for 'no such'\n\
         failed to deserialize parameters: missing field `query`\n"
    );
    let err = stderr(&output);
    assert!(err.contains("unknown command 'bogus'"), "{err}");
    assert!(
        err.contains("the tool 'search' refused its arguments\nthe input schema of 'search':"),
        "{err}"
    );
    assert!(
        err.contains("call NAME [key=value ...]"),
        "the help shows key=value: {err}"
    );
    assert!(
        !err.contains("--args") && !err.contains("Mcp error"),
        "no --args and no raw errors in the REPL: {err}"
    );
}

#[tokio::test]
async fn http_one_shot_commands() {
    let mut server = tokio::process::Command::new(leaf_server())
        .args(["lab", "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("leaf_server starts");
    let url = wait_for_url(&mut server, "serving on").await;
    for protocol in [None, Some("2025-11-25"), Some("2026-07-28")] {
        let url = url.clone();
        let output = tokio::task::spawn_blocking(move || {
            let mut args = vec!["connect", url.as_str()];
            if let Some(protocol) = protocol {
                args.extend(["--protocol", protocol]);
            }
            args.extend(["call", "analyze", "--args", r#"{"steps":2}"#]);
            canopy(&args).output().expect("runs")
        })
        .await
        .expect("joined");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{protocol:?}: {}",
            stderr(&output)
        );
        assert_eq!(
            stdout(&output),
            "analysis complete after 2 steps\n",
            "{protocol:?}"
        );
    }
    let url2 = url.clone();
    let tools = tokio::task::spawn_blocking(move || {
        canopy(&["connect", &url2, "tools", "--json"])
            .output()
            .expect("runs")
    })
    .await
    .expect("joined");
    let json: Value = serde_json::from_str(&stdout(&tools)).expect("JSON");
    let names: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["analyze", "wait", "was_cancelled"]);
}
