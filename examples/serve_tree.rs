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
//!
//! `cargo run --example serve_tree -- --http 127.0.0.1:3000` serves Streamable HTTP at
//! `http://127.0.0.1:3000/mcp` instead (`Tree::serve_http`), until Ctrl-C.

use canopy::{
    node::{Node, Tree},
    topology::Policy,
};
use canopy_fixtures::servers;

const USAGE: &str = "\
usage: serve_tree [--http ADDR]

Serves a demo tree (research leaves, a notebook that asks before writing, a faulty server)
as one MCP server over stdio, or over Streamable HTTP at http://ADDR/mcp until Ctrl-C.

Options:
  --http ADDR  serve Streamable HTTP at http://ADDR/mcp (e.g. 127.0.0.1:3000)
  -h, --help   print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let http = match args.as_slice() {
        [] => None,
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return Ok(());
        }
        [flag, addr] if flag == "--http" => Some(addr.clone()),
        _ => anyhow::bail!("{USAGE}"),
    };
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
    match http {
        None => tree.serve_stdio().await?,
        Some(addr) => {
            let server = tree.serve_http(addr.as_str()).await?;
            // Tests read this line to learn the port when ADDR ends in :0.
            eprintln!("serving on {}", server.url());
            tokio::signal::ctrl_c().await?;
            server.shutdown().await?;
        }
    }
    tree.shutdown().await;
    Ok(())
}
