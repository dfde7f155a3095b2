//! Serving a [`SqlServer`] over stdio or Streamable HTTP.

use std::net::SocketAddr;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tokio_util::sync::CancellationToken;

use crate::SqlServer;

/// Serves one client over stdin/stdout until it disconnects.
pub async fn serve_stdio(server: SqlServer) -> anyhow::Result<()> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

/// Serves Streamable HTTP at `http://ADDR/mcp` until `shutdown` is cancelled. Only loopback
/// addresses are accepted: the server has no authentication.
///
/// `on_bound` receives the bound address (useful with port 0).
pub async fn serve_http(
    server: SqlServer,
    addr: SocketAddr,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        anyhow::bail!(
            "--http must be a loopback address (127.0.0.1 or [::1]), not {addr}: the server has no authentication"
        );
    }
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = shutdown.child_token();
    let service: StreamableHttpService<SqlServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await?;
    Ok(())
}
