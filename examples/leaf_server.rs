//! One of the demo servers, alone, as a process: what tree files mount as stdio or HTTP
//! children in the examples and tests.
//!
//! Run: `cargo run --example leaf_server -- web` (stdio), or
//! `cargo run --example leaf_server -- lab --http 127.0.0.1:3001` (Streamable HTTP at /mcp).
//! Servers: web, lab, notes, faulty, dynamic, watched.

#[path = "common/serve.rs"]
mod serve;
#[path = "common/servers.rs"]
mod servers;

use anyhow::{Context, bail};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .context("usage: leaf_server (web|lab|notes|faulty|dynamic|watched) [--http ADDR]")?;
    let http = match (args.next().as_deref(), args.next()) {
        (Some("--http"), Some(addr)) => Some(addr),
        (None, _) => None,
        _ => bail!("usage: leaf_server (web|lab|notes|faulty|dynamic|watched) [--http ADDR]"),
    };
    match which.as_str() {
        "web" => serve::stdio_or_http(servers::Web::new(), http).await,
        "lab" => serve::stdio_or_http(servers::Lab::new(), http).await,
        "notes" => serve::stdio_or_http(servers::Notes::new(), http).await,
        "faulty" => serve::stdio_or_http(servers::Faulty::new(), http).await,
        "dynamic" => serve::stdio_or_http(servers::Dynamic::new(), http).await,
        "watched" => serve::stdio_or_http(servers::Watched::new(), http).await,
        other => bail!("unknown server '{other}' (web, lab, notes, faulty, dynamic, watched)"),
    }
}
