//! Quick start: a three-level tree of rmcp servers, called through its root.
//!
//! ```text
//! hub
//! ├─ research
//! │  ├─ web        search, fetch
//! │  └─ lab
//! │     └─ crunch  analyze (slow, reports progress)
//! └─ notes         write_note, read_notes (inline: no prefix)
//! ```
//!
//! It prints the topology, the exposed tool names, then calls `research__lab__crunch__analyze`
//! and prints the call's event stream: progress tagged with the depth-3 path
//! `research/lab/crunch`, the node's status, and the result.
//!
//! Run: `cargo run --example quickstart`

use canopy::{
    node::{EventKind, Node, Tree},
    topology::TopologyFormat,
};
use canopy_fixtures::servers;
use serde_json::json;

const USAGE: &str = "\
usage: quickstart

Builds a three-level tree of rmcp servers, prints its topology and exposed tools, then
calls research__lab__crunch__analyze and prints the call's events.

Options:
  -h, --help  print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let tree = Tree::builder(
        Node::new("hub")
            .description("Front door of a small research team")
            .child(
                Node::new("research")
                    .child(Node::server("web", servers::Web::new()))
                    .child(Node::new("lab").child(Node::server("crunch", servers::Lab::new()))),
            )
            .child(Node::server("notes", servers::Notes::new()).inline()),
    )
    .build()
    .await?;

    println!("{}", tree.render(TopologyFormat::Text));
    println!("exposed tools:");
    for tool in tree.tools() {
        println!("  {}", tool.name);
    }
    println!();

    let args = json!({ "steps": 5, "step_ms": 100 });
    let mut call = tree.start_call("research__lab__crunch__analyze", args.as_object().cloned());
    println!("call {} — events:", call.id());
    while let Some(event) = call.next_event().await {
        let path = if event.path.is_root() {
            "(root)".to_owned()
        } else {
            event.path.to_string()
        };
        match &event.kind {
            EventKind::Progress {
                progress,
                total,
                message,
            } => {
                println!(
                    "  [{path}] progress {progress}/{} {}",
                    total.unwrap_or(0.0),
                    message.as_deref().unwrap_or("")
                );
            }
            EventKind::Status {
                state, capability, ..
            } => {
                println!(
                    "  [{path}] {state:?} {}",
                    capability.as_deref().unwrap_or("")
                );
            }
            EventKind::Result { result } => println!("  [{path}] result {result}"),
            _ => println!("  {}", event.to_json_line()),
        }
    }
    let result = call.result().await?;
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    println!("\nanalysis said: {text}");
    Ok(())
}
