//! `Tree::call_tool` and `Tree::start_call` take `impl Into<Arguments>`: every form reaches
//! the tool, and a value that is not an object is refused with a clear error.

mod common;

use std::collections::{BTreeMap, HashMap};

use canopy_node::{CallError, EventKind, Node, Tree};
use common::servers;
use serde_json::json;

async fn tree() -> Tree {
    Tree::builder(
        Node::new("hub")
            .child(Node::server("web", servers::Web::new()))
            .child(Node::server("notes", servers::Notes::new())),
    )
    .build()
    .await
    .expect("the tree builds")
}

#[tokio::test]
async fn every_form_of_arguments_reaches_the_tool() {
    let tree = tree().await;
    let search = |result: Result<rmcp::model::CallToolResult, CallError>| {
        common::text(&result.expect("a result"))
    };
    let value = json!({ "query": "rust" });
    assert_eq!(
        search(tree.call_tool("web__search", value.clone()).await),
        "https://example.org/rust"
    );
    assert_eq!(
        search(tree.call_tool("web__search", &value).await),
        "https://example.org/rust"
    );
    assert_eq!(
        search(
            tree.call_tool("web__search", common::args(value.clone()))
                .await
        ),
        "https://example.org/rust"
    );
    let map = common::args(value).expect("an object");
    assert_eq!(
        search(tree.call_tool("web__search", map).await),
        "https://example.org/rust"
    );
    let hash: HashMap<&str, &str> = [("query", "mcp")].into();
    assert_eq!(
        search(tree.call_tool("web__search", hash).await),
        "https://example.org/mcp"
    );
    let btree: BTreeMap<String, String> = [("query".to_owned(), "trees".to_owned())].into();
    assert_eq!(
        search(tree.call_tool("web__search", btree).await),
        "https://example.org/trees"
    );
    // No arguments: `()` and `None` alike.
    assert_eq!(search(tree.call_tool("notes__read_notes", ()).await), "");
    assert_eq!(search(tree.call_tool("notes__read_notes", None).await), "");
    tree.shutdown().await;
}

#[tokio::test]
async fn a_value_that_is_not_an_object_is_refused_before_the_call_runs() {
    let tree = tree().await;
    let error = tree
        .call_tool("notes__write_note", json!(["not", "an", "object"]))
        .await
        .expect_err("refused");
    assert_eq!(error.code(), -32602);
    assert_eq!(
        error.message(),
        r#"tool arguments must be a JSON object, not an array: ["not","an","object"]"#
    );

    // start_call: one `error` event, then the end of the stream, then the same error.
    let mut call = tree.start_call("notes__write_note", json!("a note"));
    let event = call.next_event().await.expect("an error event");
    assert!(event.path.is_root());
    assert_eq!(event.call, Some(call.id()));
    match &event.kind {
        EventKind::Error { code, message } => {
            assert_eq!(*code, -32602);
            assert_eq!(
                message,
                "tool arguments must be a JSON object, not a string: \"a note\""
            );
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    assert!(call.next_event().await.is_none());
    let error = call.result().await.expect_err("refused");
    assert_eq!(error.code(), -32602);

    // Nothing ran: the notebook is still empty.
    let notes = tree
        .call_tool("notes__read_notes", ())
        .await
        .expect("read_notes");
    assert_eq!(common::text(&notes), "");
    tree.shutdown().await;
}
