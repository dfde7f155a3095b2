//! Serves a tree of rmcp servers over stdio, as one MCP server, to any MCP client
//! (Claude Desktop, the MCP Inspector, the Python and TypeScript SDKs).
//!
//! ```text
//! hub                       policy: ask "notes/write_note", deny "faulty/broken"
//! ├─ research
//! │  ├─ web                 search, fetch
//! │  └─ lab
//! │     └─ crunch           analyze (progress), wait (until cancelled), was_cancelled
//! ├─ notes                  write_note (asks first), read_notes, greet (elicits a name),
//! │                         resource notes://all, prompt summarize
//! ├─ faulty                 explode (panics), fail (tool error); broken is denied
//! └─ dynamic                add_tool (announces a list change), chatty (logs),
//!                           ask_model (sampling through the client)
//! ```
//!
//! Try it: `npx @modelcontextprotocol/inspector --cli cargo run -q --example serve_tree --method tools/list`
//! Logs go to stderr (`RUST_LOG=debug` for more); stdout carries only MCP messages.

#[path = "common/servers.rs"]
mod servers;

use canopy::{
    node::{Node, Tree},
    topology::Policy,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let tree = Tree::builder(
        Node::new("hub")
            .description("A demo tree: research leaves, a notebook that asks before writing, and a faulty server")
            .policy(Policy::new().ask("notes/write_note").deny("faulty/broken"))
            .child(
                Node::new("research")
                    .child(Node::server("web", servers::Web::new()))
                    .child(Node::new("lab").child(Node::server("crunch", servers::Lab::new()))),
            )
            .child(Node::server("notes", servers::Notes::new()))
            .child(Node::server("faulty", servers::Faulty::new()))
            .child(Node::server("dynamic", servers::Dynamic::new())),
    )
    .build()
    .await?;
    tree.serve_stdio().await?;
    Ok(())
}
