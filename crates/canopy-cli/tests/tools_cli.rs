//! `canopy tools`: every tool with its exposed name, canonical id, policy verdict and the rule
//! that decided it, description and arguments (text) or input schema (`--json`); `--check`;
//! and names at `canopy call`: canonical ids and "did you mean".

mod common;

use common::{run, stderr, stdout, tree};
use serde_json::Value;

#[test]
fn text_lists_every_tool_with_its_verdict() {
    let output = run(&["tools", &tree("demo.toml").display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for block in [
        "research__web__search  research/web/search  allow\n    \
         Search the corpus; returns matching URLs\n    args: query*\n",
        "research__lab__analyze  research/lab/analyze  allow\n    \
         Run a slow analysis, reporting progress after every step\n    args: step_ms, steps*\n",
        "notes__write_note  notes/write_note  ask (by /: ask \"notes/write_note\")\n    \
         Append a note\n    args: text*\n",
        // Denied tools are listed with their verdict (clients do not see them).
        "faulty__broken  faulty/broken  deny (by /: deny \"faulty/broken\")\n    \
         Fails with a protocol error\n    args: none\n",
    ] {
        assert!(text.contains(block), "missing:\n{block}\nin:\n{text}");
    }
    assert_eq!(
        text.lines().filter(|l| !l.starts_with(' ')).count(),
        13,
        "{text}"
    );
    assert_eq!(stderr(&output), "");
}

#[test]
fn json_has_the_rules_and_the_input_schemas() {
    let output = run(&["tools", &tree("demo.toml").display().to_string(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let tools: Vec<Value> = serde_json::from_str(&stdout(&output)).expect("a JSON array");
    let find = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {tools:?}"))
            .clone()
    };
    let write = find("notes__write_note");
    assert_eq!(write["id"], "notes/write_note");
    assert_eq!(write["node"], "notes");
    assert_eq!(write["verdict"], "ask");
    assert_eq!(write["on_unanswerable"], "deny");
    assert_eq!(
        write["rules"],
        serde_json::json!([{ "node": "", "kind": "ask", "glob": "notes/write_note" }])
    );
    assert_eq!(write["description"], "Append a note");
    assert_eq!(write["input_schema"]["type"], "object");
    assert_eq!(
        write["input_schema"]["required"],
        serde_json::json!(["text"])
    );
    assert_eq!(
        write["input_schema"]["properties"]["text"]["type"],
        "string"
    );
    let broken = find("faulty__broken");
    assert_eq!(broken["verdict"], "deny");
    assert_eq!(
        broken["rules"],
        serde_json::json!([{ "node": "", "kind": "deny", "glob": "faulty/broken" }])
    );
    let search = find("research__web__search");
    assert_eq!(search["verdict"], "allow");
    assert_eq!(search["rules"], serde_json::json!([]));
    assert!(search.get("on_unanswerable").is_none());
    assert_eq!(tools.len(), 13);
}

#[test]
fn check_fails_on_a_rule_that_matches_nothing() {
    let typo = tree("typo.toml").display().to_string();
    let output = run(&["tools", &typo, "--check"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "canopy: warning: {typo}: policy rule ask \"research/lab/analyse\" of the root node \
             matches no capability; nearest: 'research/lab/analyze'"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(
            "canopy: --check: 2 policy rules match no capability (see the warnings above)\n"
        ),
        "{err}"
    );
    // The typo leaves analyze unasked: the listing shows it.
    assert!(
        stdout(&output).contains("research__lab__analyze  research/lab/analyze  allow\n"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn call_accepts_canonical_ids_and_suggests_near_names() {
    let demo = tree("demo.toml").display().to_string();
    let found = run(&[
        "call",
        &demo,
        "research/web/search",
        "--args",
        r#"{"query":"rust"}"#,
    ]);
    assert_eq!(found.status.code(), Some(0), "{}", stderr(&found));
    assert_eq!(stdout(&found), "https://example.org/rust\n");
    // The policy applies by id as by name: denied.
    let denied = run(&["call", &demo, "faulty/broken"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied).contains("'faulty/broken' is denied by the policy"),
        "{}",
        stderr(&denied)
    );
    let unknown = run(&["call", &demo, "research__web__serch", "--args", "{}"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown)
            .contains("unknown tool 'research__web__serch'; did you mean 'research__web__search'?"),
        "{}",
        stderr(&unknown)
    );
}
