//! Serving one rmcp handler, as the example servers do: over stdio, or over Streamable HTTP
//! at `http://ADDR/mcp` (announced on stderr as `serving on URL`, which tests read).

use anyhow::Context;
use rmcp::{ServerHandler, ServiceExt};

/// Serves `handler` over stdio, or over Streamable HTTP when `http` names an address.
pub async fn stdio_or_http<H: ServerHandler + Clone>(
    handler: H,
    http: Option<String>,
) -> anyhow::Result<()> {
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
