//! Serving a tree's [server face](crate::CanopyServer) on a transport: over stdin/stdout
//! ([`Tree::serve_stdio`], what MCP clients launch) or Streamable HTTP ([`Tree::serve_http`]:
//! rmcp's `StreamableHttpService` under axum at `/mcp`).
//!
//! [`Tree::serve_http`] binds the address, starts serving in the background and returns an
//! [`HttpServer`]: the bound address (useful with port 0), and a graceful shutdown that
//! stops accepting connections, closes the sessions and their open SSE streams, and waits
//! until every connection has closed. Sessions serve 2025-06-18 / 2025-11-25 clients; a request carrying the
//! 2026-07-28 per-request `_meta` takes rmcp's stateless path on the same service.
//!
//! rmcp checks `Host` and `Origin` (DNS-rebinding protection): by default only loopback
//! names with the bound port, and loopback origins, are accepted; [`HttpOptions`] adds more.
//! [`HttpOptions::bearer_tokens`] lets in only callers with a static bearer token, and
//! [`HttpOptions::oauth`] only callers with an OAuth access token ([`auth`](crate::auth)).
//! A non-loopback address is refused unless one of them is configured.
//!
//! Every request is held to [`HttpLimits`] ([`HttpOptions::limits`]): body size, JSON
//! depth, slow clients, concurrent requests and open sessions, in total and per client.
//!
//! ```no_run
//! # async fn demo(tree: canopy_node::Tree) -> std::io::Result<()> {
//! let server = tree.serve_http("127.0.0.1:0").await?;
//! println!("serving at {}", server.url()); // http://127.0.0.1:PORT/mcp
//! // … later:
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

use std::{net::SocketAddr, sync::Arc};

use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{
    Tree,
    auth::{OAuthResource, StaticTokens},
};

mod accept;
mod limits;
mod sessions;

pub use self::limits::HttpLimits;

/// Options of [`Tree::serve_http_with`]: which extra `Host` and `Origin` values to accept,
/// who may call ([`HttpOptions::bearer_tokens`], [`HttpOptions::oauth`]) and the limits
/// every request is held to ([`HttpOptions::limits`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HttpOptions {
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    bearer_tokens: Option<StaticTokens>,
    oauth: Option<OAuthResource>,
    limits: HttpLimits,
}

impl HttpOptions {
    /// The defaults: loopback hosts with the bound port, loopback origins.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts this `Host` (a name, or `name:port`), e.g. the server's public name.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Also accepts this `Origin` (`scheme://host[:port|:*]`), e.g. a web app's origin.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Lets in only requests with `Authorization: Bearer TOKEN` for one of `tokens`; any
    /// other gets `401` with a `WWW-Authenticate: Bearer` challenge and never reaches the
    /// tree (see [`auth`](crate::auth)).
    #[must_use]
    pub fn bearer_tokens(mut self, tokens: StaticTokens) -> Self {
        self.bearer_tokens = Some(tokens);
        self
    }

    /// Serves as an OAuth 2.1 resource server: only requests with a valid access token of
    /// `resource`'s authorization server get through, and the Protected Resource Metadata is
    /// served at `/.well-known/oauth-protected-resource/mcp` and
    /// `/.well-known/oauth-protected-resource` (see [`auth`](crate::auth)). Takes the place of
    /// [`HttpOptions::bearer_tokens`] when both are given.
    #[must_use]
    pub fn oauth(mut self, resource: OAuthResource) -> Self {
        self.oauth = Some(resource);
        self
    }

    /// Holds every request to `limits` instead of [`HttpLimits::default`].
    #[must_use]
    pub fn limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// A tree served over Streamable HTTP, started by [`Tree::serve_http`].
///
/// Dropping it stops the server too (without waiting); [`HttpServer::shutdown`] stops it
/// and waits until it has stopped.
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _guard: DropGuard,
}

impl HttpServer {
    /// The address the server is bound to (the real port when it was asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The MCP endpoint: `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.local_addr)
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler), while
    /// another task waits in [`HttpServer::wait`].
    pub fn shutdown_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops the server gracefully: no new connections, sessions and open SSE streams
    /// closed. Resolves once every connection has closed.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.stop.cancel();
        self.wait().await
    }

    /// Waits until the server stops: after its [`shutdown_token`](Self::shutdown_token) is
    /// cancelled, or when serving fails.
    pub async fn wait(mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(served) => served,
            Err(error) => Err(std::io::Error::other(format!(
                "the HTTP server's task ended abnormally: {error}"
            ))),
        }
    }
}

impl Tree {
    /// Serves the tree over stdin/stdout until the client disconnects.
    pub async fn serve_stdio(&self) -> Result<(), std::io::Error> {
        use rmcp::ServiceExt;
        let running = self
            .server()
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|error| {
                std::io::Error::other(format!("MCP session failed to start: {error}"))
            })?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    }

    /// Serves the tree over Streamable HTTP at `http://ADDR/mcp`, in the background, with
    /// the default [`HttpOptions`]. Pass port 0 to get a free port
    /// ([`HttpServer::local_addr`] tells which).
    pub async fn serve_http(&self, addr: impl ToSocketAddrs) -> std::io::Result<HttpServer> {
        self.serve_http_with(addr, HttpOptions::default()).await
    }

    /// Serves the tree over Streamable HTTP at `http://ADDR/mcp`, accepting the extra
    /// hosts and origins of `options`.
    pub async fn serve_http_with(
        &self,
        addr: impl ToSocketAddrs,
        options: HttpOptions,
    ) -> std::io::Result<HttpServer> {
        let authenticated = options.oauth.is_some() || options.bearer_tokens.is_some();
        let listener = bind(addr, authenticated).await?;
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let mut config = StreamableHttpServerConfig::default()
            // Closes the open SSE streams on shutdown, which graceful shutdown waits for.
            .with_cancellation_token(stop.child_token())
            .with_allowed_origins(allowed_origins(&options.allowed_origins))
            .enforce_origin_validation();
        config = match allowed_hosts(local_addr, &options.allowed_hosts) {
            Some(hosts) => config.with_allowed_hosts(hosts),
            None => {
                tracing::warn!(
                    "bound to {local_addr} with no allowed host: any Host header is accepted \
                     (no DNS-rebinding protection)"
                );
                config.disable_allowed_hosts()
            }
        };
        let server = self.server();
        let limits = options.limits;
        let book = Arc::new(sessions::SessionBook::new(&limits));
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(sessions::Booked::new(&limits, book.clone())),
            config,
        );
        // Layers run outside in: the caller is authenticated first (cheap, headers only),
        // then held to the limits (which count per caller), then served by rmcp.
        let gate = Arc::new(limits::Gate::new(limits, book));
        let mut router = axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn_with_state(gate, limits::enforce));
        match (options.oauth, options.bearer_tokens) {
            (Some(resource), _) => {
                router = router.layer(axum::middleware::from_fn_with_state(
                    resource.clone(),
                    crate::auth::require_access_token,
                ));
                let metadata = axum::routing::get(crate::auth::metadata);
                router = router.merge(
                    axum::Router::new()
                        .route(
                            "/.well-known/oauth-protected-resource/mcp",
                            metadata.clone(),
                        )
                        .route("/.well-known/oauth-protected-resource", metadata)
                        .with_state(resource),
                );
            }
            (None, Some(tokens)) => {
                router = router.layer(axum::middleware::from_fn_with_state(
                    tokens,
                    crate::auth::require_static_token,
                ));
            }
            (None, None) => {}
        }
        let task = tokio::spawn(accept::serve(
            listener,
            router,
            limits.header_time(),
            stop.clone(),
        ));
        Ok(HttpServer {
            local_addr,
            _guard: stop.clone().drop_guard(),
            stop,
            task,
        })
    }
}

/// Binds the first address `addr` resolves to that can be bound; the error names the
/// address. A non-loopback address is refused unless the server authenticates its callers
/// (`authenticated`): anyone who can reach it could use every tool of the tree.
async fn bind(addr: impl ToSocketAddrs, authenticated: bool) -> std::io::Result<TcpListener> {
    let mut failure = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        if !authenticated && !candidate.ip().is_loopback() {
            failure = Some(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to serve on {candidate} without authentication: it is not a \
                     loopback address, so anyone who can reach it could use the tree \
                     (configure HttpOptions::oauth or HttpOptions::bearer_tokens)"
                ),
            ));
            continue;
        }
        match TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(error) => {
                failure = Some(std::io::Error::new(
                    error.kind(),
                    format!("cannot listen on {candidate}: {error}"),
                ));
            }
        }
    }
    Err(failure.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// The `Host` values the server accepts: loopback names with the bound port, the bound IP
/// itself when it is a specific one, and the extra ones. `None` when bound to an unspecified
/// address (0.0.0.0, ::) with no extra names: the host cannot be known.
fn allowed_hosts(local: SocketAddr, extra: &[String]) -> Option<Vec<String>> {
    let port = local.port();
    if local.ip().is_unspecified() && extra.is_empty() {
        return None;
    }
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !local.ip().is_loopback() && !local.ip().is_unspecified() {
        hosts.push(local.to_string());
    }
    hosts.extend(extra.iter().cloned());
    Some(hosts)
}

/// The `Origin` values the server accepts (a request without `Origin` is always accepted:
/// it does not come from a browser page).
fn allowed_origins(extra: &[String]) -> Vec<String> {
    let mut origins: Vec<String> = ["http", "https"]
        .iter()
        .flat_map(|scheme| {
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(move |host| format!("{scheme}://{host}:*"))
        })
        .collect();
    origins.extend(extra.iter().cloned());
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_loopback_names_with_the_bound_port() {
        let local: SocketAddr = "127.0.0.1:4242".parse().expect("addr");
        assert_eq!(
            allowed_hosts(local, &[]),
            Some(vec![
                "127.0.0.1:4242".to_owned(),
                "localhost:4242".to_owned(),
                "[::1]:4242".to_owned()
            ])
        );
        let any: SocketAddr = "0.0.0.0:80".parse().expect("addr");
        assert_eq!(allowed_hosts(any, &[]), None);
        let named = allowed_hosts(any, &["mcp.example.com".into()]).expect("hosts");
        assert_eq!(named.last().map(String::as_str), Some("mcp.example.com"));
    }

    #[test]
    fn origins_are_loopback_on_any_port_plus_the_extra_ones() {
        let origins = allowed_origins(&["https://app.example.com".into()]);
        assert!(origins.contains(&"http://localhost:*".to_owned()));
        assert!(origins.contains(&"https://[::1]:*".to_owned()));
        assert_eq!(
            origins.last().map(String::as_str),
            Some("https://app.example.com")
        );
    }
}
