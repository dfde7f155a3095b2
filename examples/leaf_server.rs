//! One of the demo servers, alone, as a process: what tree files mount as stdio or HTTP
//! children in the examples and tests.
//!
//! Run: `cargo run --example leaf_server -- web` (stdio), or
//! `cargo run --example leaf_server -- lab --http 127.0.0.1:3001` (Streamable HTTP at /mcp).
//! Servers: web, lab, notes, faulty, dynamic.

#[path = "common/servers.rs"]
mod servers;

use anyhow::{Context, bail};
use rmcp::{ServerHandler, ServiceExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .context("usage: leaf_server (web|lab|notes|faulty|dynamic) [--http ADDR]")?;
    let http = match (args.next().as_deref(), args.next()) {
        (Some("--http"), Some(addr)) => Some(addr),
        (None, _) => None,
        _ => bail!("usage: leaf_server (web|lab|notes|faulty|dynamic) [--http ADDR]"),
    };
    match which.as_str() {
        "web" => serve(servers::Web::new(), http).await,
        "lab" => serve(servers::Lab::new(), http).await,
        "notes" => serve(servers::Notes::new(), http).await,
        "faulty" => serve(servers::Faulty::new(), http).await,
        "dynamic" => serve(servers::Dynamic::new(), http).await,
        other => bail!("unknown server '{other}' (web, lab, notes, faulty, dynamic)"),
    }
}

async fn serve<H: ServerHandler + Clone>(handler: H, http: Option<String>) -> anyhow::Result<()> {
    match http {
        None => {
            let running = handler.serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
        Some(addr) => {
            use rmcp::transport::streamable_http_server::{
                StreamableHttpServerConfig, StreamableHttpService,
                session::local::LocalSessionManager,
            };
            let service = StreamableHttpService::new(
                move || Ok(handler.clone()),
                LocalSessionManager::default().into(),
                StreamableHttpServerConfig::default(),
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            eprintln!("serving on http://{}/mcp", listener.local_addr()?);
            // TCP_NODELAY: small responses on a kept-alive connection must not wait for
            // delayed ACKs.
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|stream| {
                let _ = stream.set_nodelay(true);
            });
            axum::serve(listener, router).await?;
        }
    }
    Ok(())
}
