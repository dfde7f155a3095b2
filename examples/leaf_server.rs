//! One of the demo servers, alone, as a process: what tree files mount as stdio or HTTP
//! children in the examples and tests.
//!
//! Run: `cargo run --example leaf_server -- web` (stdio), or
//! `cargo run --example leaf_server -- lab --http 127.0.0.1:3001` (Streamable HTTP at /mcp).
//! Servers: web, lab, notes, faulty, dynamic, watched, witness.

use anyhow::{Context, bail};
use canopy_fixtures::{serve, servers};

const USAGE: &str = "\
usage: leaf_server SERVER [--http ADDR]

Serves one of the demo MCP servers over stdio, or over Streamable HTTP at http://ADDR/mcp.

Servers:
  web      search, fetch (a tiny fixed corpus)
  lab      analyze (slow, reports progress), wait, was_cancelled
  notes    write_note, read_notes, greet (elicits a name), a resource and a prompt
  faulty   explode (panics), fail (tool error), broken (protocol error), shout, die
  dynamic  add_tool (announces a list change), chatty (logs), ask_model (sampling)
  watched  the resource watch://counter: touch (bumps it), status
  witness  witness (answers with the request's _meta and, over HTTP, its headers)

Options:
  --http ADDR  serve Streamable HTTP at http://ADDR/mcp (e.g. 127.0.0.1:3001)
  -h, --help   print this help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .with_context(|| format!("no server named\n\n{USAGE}"))?;
    let http = match (args.next().as_deref(), args.next()) {
        (Some("--http"), Some(addr)) => Some(addr),
        (None, _) => None,
        _ => bail!("{USAGE}"),
    };
    match which.as_str() {
        "web" => serve::stdio_or_http(servers::Web::new(), http).await,
        "lab" => serve::stdio_or_http(servers::Lab::new(), http).await,
        "notes" => serve::stdio_or_http(servers::Notes::new(), http).await,
        "faulty" => serve::stdio_or_http(servers::Faulty::new(), http).await,
        "dynamic" => serve::stdio_or_http(servers::Dynamic::new(), http).await,
        "watched" => serve::stdio_or_http(servers::Watched::new(), http).await,
        "witness" => serve::stdio_or_http(servers::Witness::new(), http).await,
        other => {
            bail!("unknown server '{other}' (web, lab, notes, faulty, dynamic, watched, witness)")
        }
    }
}
