//! A budget crosses a process boundary: the host starts a call with a tool-call limit on a
//! tree whose child is another Canopy tree (`canopy serve scribe.toml`, an agent over a
//! notes server). The link sends what is left of the budget in `_meta["canopy/budget"]`, and
//! the child tree enforces it on its own agent's loop.

mod common;

use canopy_node::{Limits, Node, StdioSpec, Tree};
use serde_json::{Value, json};

async fn hub() -> Tree {
    let spec = StdioSpec::new(common::canopy_binary().display().to_string())
        .args([
            "serve".to_owned(),
            common::tree("scribe.toml").display().to_string(),
        ])
        .env("LEAF_SERVER", common::leaf_server().display().to_string());
    Tree::builder(Node::new("hub").child(Node::stdio("scribe", spec)))
        .build()
        .await
        .expect("the tree builds")
}

fn task() -> Option<serde_json::Map<String, Value>> {
    match json!({ "task": "write the notes" }) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[tokio::test]
async fn the_remaining_budget_travels_to_a_child_tree_which_enforces_it() {
    let tree = hub().await;

    // Unlimited: the agent writes its three notes and answers.
    let result = tree
        .start_call("scribe__run", task())
        .result()
        .await
        .expect("a result");
    let summary = result.structured_content.expect("a run summary");
    assert_eq!(summary["outcome"], "answered", "{summary}");
    assert_eq!(summary["toolCalls"], 3);
    assert_eq!(summary["answer"], "Wrote three notes.");

    // Three calls in all: the hub routes one (to scribe__run), the child tree routes one
    // (to its agent's tool), which leaves the agent one note before its second is refused.
    let limits = Limits {
        calls: Some(3),
        ..Limits::none()
    };
    let result = tree
        .start_call_with("scribe__run", task(), limits)
        .result()
        .await
        .expect("a result");
    let summary = result.structured_content.expect("a run summary");
    assert_eq!(summary["outcome"], "budget_exhausted", "{summary}");
    assert_eq!(
        summary["toolCalls"], 2,
        "the second call was made and refused"
    );
    assert_eq!(
        summary["budget"], "the call budget is spent (2 tool calls)",
        "the child enforced what was left of the parent's budget: {summary}"
    );
    tree.shutdown().await;
}
