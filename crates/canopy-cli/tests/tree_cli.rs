//! `canopy tree`: the live topology as DOT and JSON, parsed back.

mod common;

use std::collections::BTreeSet;

use common::{run, stderr, stdout, tree};
use serde_json::Value;

const PATHS: [&str; 6] = [
    "/",
    "research",
    "research/web",
    "research/lab",
    "notes",
    "faulty",
];

#[test]
fn dot_has_every_node_and_every_edge() {
    let output = run(&[
        "tree",
        &tree("demo.toml").display().to_string(),
        "--format",
        "dot",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dot = stdout(&output);
    assert!(dot.starts_with("digraph canopy {"), "{dot}");
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for line in dot.lines().map(str::trim) {
        let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        if line.contains(" -> ") {
            edges.insert((quoted[0].to_owned(), quoted[1].to_owned()));
        } else if line.contains("[label=") {
            nodes.insert(quoted[0].to_owned());
        }
    }
    assert_eq!(nodes, PATHS.iter().map(|p| (*p).to_owned()).collect());
    let expected: BTreeSet<(String, String)> = [
        ("/", "research"),
        ("research", "research/web"),
        ("research", "research/lab"),
        ("/", "notes"),
        ("/", "faulty"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(edges, expected);
}

#[test]
fn json_is_the_nested_tree_with_live_counts() {
    let output = run(&[
        "tree",
        &tree("demo.toml").display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let root: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(root["path"], "");
    let children: Vec<&str> = root["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| c["path"].as_str().expect("path"))
        .collect();
    assert_eq!(children, ["research", "notes", "faulty"]);
    let web = &root["children"][0]["children"][0];
    assert_eq!(web["path"], "research/web");
    assert_eq!(web["link"], "stdio");
    assert_eq!(web["health"], "healthy");
    assert_eq!(web["counts"]["tools"], 2, "{web}");
}

#[test]
fn text_and_mermaid_render_a_tree_of_routers() {
    let routers = tree("routers.toml").display().to_string();
    let text = run(&["tree", &routers]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let lines: Vec<String> = stdout(&text).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[2].contains("web"), "{lines:?}");
    let mermaid = run(&["tree", &routers, "--format", "mermaid"]);
    assert!(stdout(&mermaid).starts_with("graph TD"));
}

/// The warnings `canopy` prints for `typo.toml` (relative to this crate's tests).
fn typo_warnings() -> String {
    let file = tree("typo.toml").display().to_string();
    format!(
        "canopy: warning: {file}: policy rule ask \"research/lab/analyse\" of the root node \
         matches no capability; nearest: 'research/lab/analyze', 'research/lab/wait', \
         'research/lab/was_cancelled'\n\
         canopy: warning: {file}: policy rule deny \"shell/*\" of the root node matches no \
         capability; nearest: 'research/lab/wait', 'research/lab/analyze', \
         'research/lab/was_cancelled'\n"
    )
}

#[test]
fn check_fails_when_a_policy_rule_matches_nothing() {
    let typo = tree("typo.toml").display().to_string();
    let checked = run(&["tree", &typo, "--check"]);
    assert_eq!(checked.status.code(), Some(2), "{}", stderr(&checked));
    assert_eq!(
        stderr(&checked),
        format!(
            "{}canopy: --check: 2 policy rules match no capability (see the warnings above)\n",
            typo_warnings()
        )
    );
    assert!(
        stdout(&checked).contains("└─ lab  [stdio, stdio"),
        "{}",
        stdout(&checked)
    );
    // Without --check the tree is printed, and the warnings once.
    let plain = run(&["tree", &typo]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(stderr(&plain), typo_warnings());
    // A tree whose rules all match passes the check.
    let demo = run(&["tree", &tree("demo.toml").display().to_string(), "--check"]);
    assert_eq!(demo.status.code(), Some(0), "{}", stderr(&demo));
    assert_eq!(stderr(&demo), "");
}

#[test]
fn text_counts_what_clients_see_and_shows_descriptions() {
    let output = run(&["tree", &tree("demo.toml").display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with("  — The CLI tests' demo tree"),
        "{lines:?}"
    );
    // faulty has 5 tools; `faulty/broken` is denied, so clients see 4.
    let faulty = lines.iter().find(|l| l.contains("faulty")).expect("faulty");
    assert!(faulty.contains(" tools=4 "), "{faulty}");
    let typo = run(&["tree", &tree("typo.toml").display().to_string()]);
    assert!(
        stdout(&typo).contains(
            "─ research  [router, in_process, -, healthy]  tools=0 prompts=0 \
                                resources=0 templates=0  — The research team\n"
        ),
        "{}",
        stdout(&typo)
    );
}
