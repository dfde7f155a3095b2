//! `canopy serve`: the tree's root as one MCP server, over stdio or Streamable HTTP.
//!
//! HTTP is [`Tree::serve_http_with`] (rmcp's `StreamableHttpService` under axum at `/mcp`,
//! with rmcp's `Host`/`Origin` checks against DNS rebinding): this module only adds what
//! `--allow-host` / `--allow-origin` name, and stops the server on Ctrl-C or SIGTERM.

use std::{
    io::IsTerminal as _,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use canopy_node::{
    HttpLimits, HttpOptions, Tree,
    auth::{OAuthResource, StaticTokens},
    treefile::{ServeAuth, ServeLimits, ServeSettings},
};
use clap::Args;

use crate::{Failure, Outcome};

/// Arguments of `canopy serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy serve hub.toml                          stdio (what Claude Desktop and Cursor launch)
  canopy serve hub.toml --http 127.0.0.1:3000    Streamable HTTP at http://127.0.0.1:3000/mcp
  canopy serve hub.toml --http 3000              the same (a bare port binds 127.0.0.1)
  canopy serve hub.toml --http 0.0.0.0:3000 --allow-remote --allow-host mcp.example.com
  canopy serve hub.toml --http 3000 --auth-token-file tokens.txt   only callers with a token
  canopy serve hub.toml --http 3000 --auth-issuer https://auth.example.com \
      --auth-audience http://127.0.0.1:3000/mcp --auth-scope notes:write   OAuth 2.1

Over HTTP, requests whose Host is not a loopback name with the bound port, or whose Origin
is not a loopback origin, get 403 (DNS-rebinding protection); --allow-host and
--allow-origin add names. With --auth-token-file, a request without `Authorization: Bearer
TOKEN` for one of the file's tokens (one a line, at least 16 characters; # comments) gets 401;
--auth-token-env NAME takes them from an environment variable (separated by commas or spaces).
With --auth-issuer, the server is an OAuth 2.1 resource server: requests need a JWT access
token of that issuer for --auth-audience (this server's canonical URI) with every
--auth-scope; others get 401 (with resource_metadata) or 403 (insufficient_scope). With
--auth-client-id and --auth-client-secret-file, opaque tokens are checked at the issuer's
introspection endpoint. Valid tokens are remembered (by digest) until they expire, at most
--auth-cache-secs.
Every HTTP request is held to limits (docs/security.md): a body over --max-body-bytes gets
413, one nested deeper than --max-json-depth or a batch 400, a body slower than
--body-timeout 408; past --max-concurrent(-per-client) running requests or
--max-sessions(-per-client) open sessions, 429 or 503 with Retry-After. A client is the
authenticated caller, else the peer's IP address.
Ctrl-C or SIGTERM stops the server and closes the children.")]
pub(crate) struct ServeArgs {
    /// The tree file (TOML).
    #[arg(value_name = "TREE")]
    pub(crate) tree: PathBuf,
    /// How the tree is built (`--strict`).
    #[command(flatten)]
    pub(crate) build: crate::load::BuildArgs,
    /// Serve over stdin/stdout (the default, also over a tree file's [serve] http).
    #[arg(long, conflicts_with = "http")]
    pub(crate) stdio: bool,
    /// Serve Streamable HTTP at http://ADDR/mcp (ADDR: IP:PORT, localhost:PORT or PORT);
    /// over the tree file's [serve] http.
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<String>,
    /// Allow binding a non-loopback address (which also needs --auth-token-file or
    /// --auth-issuer).
    #[arg(long)]
    pub(crate) allow_remote: bool,
    /// Serve without authentication even where the tree file's [serve.auth] configures it
    /// (loopback addresses only).
    #[arg(long = "no-auth", conflicts_with_all = ["auth_token_file", "auth_token_env", "auth_issuer"])]
    pub(crate) no_auth: bool,
    /// Also accept this Host (a name, or name:port), e.g. the server's public name.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub(crate) allow_hosts: Vec<String>,
    /// Also accept this Origin (scheme://host[:port|:*]), e.g. a web app's origin.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub(crate) allow_origins: Vec<String>,
    /// Let in only requests with a static bearer token from this file (one a line).
    #[arg(long = "auth-token-file", value_name = "FILE")]
    pub(crate) auth_token_file: Option<PathBuf>,
    /// Let in only requests with a static bearer token from this environment variable
    /// (tokens separated by commas or spaces).
    #[arg(
        long = "auth-token-env",
        value_name = "NAME",
        conflicts_with = "auth_token_file"
    )]
    pub(crate) auth_token_env: Option<String>,
    /// Accept OAuth access tokens of this authorization server (its issuer URL).
    #[arg(
        long = "auth-issuer",
        value_name = "URL",
        requires = "auth_audience",
        conflicts_with_all = ["auth_token_file", "auth_token_env"]
    )]
    pub(crate) auth_issuer: Option<String>,
    /// This server's canonical URI, the audience every token must name (e.g.
    /// http://127.0.0.1:3000/mcp).
    #[arg(long = "auth-audience", value_name = "URL", requires = "auth_issuer")]
    pub(crate) auth_audience: Option<String>,
    /// Log every policy decision (who called what, allowed, denied, asked, answered) on
    /// stderr, as the `canopy::audit` target.
    #[arg(long)]
    pub(crate) audit: bool,
    /// A scope every request's token must have (repeat for more).
    #[arg(long = "auth-scope", value_name = "SCOPE", requires = "auth_issuer")]
    pub(crate) auth_scopes: Vec<String>,
    /// Hide and refuse what GLOB matches (from the root, e.g. 'db/*') unless the caller's
    /// token holds SCOPE: the root's `require_scopes` policy (repeat for more scopes or
    /// globs; one glob's scopes are all required).
    #[arg(long = "require-scope", value_name = "GLOB=SCOPE", value_parser = glob_scope)]
    pub(crate) require_scopes: Vec<(String, String)>,
    /// How far a token's `exp` and `nbf` may be off, in seconds (clock skew).
    #[arg(long = "auth-leeway", value_name = "SECS", default_value_t = 30)]
    pub(crate) auth_leeway: u64,
    /// The longest a validated token is remembered, in seconds (never past its expiry; 0:
    /// check every request again).
    #[arg(long = "auth-cache-secs", value_name = "SECS", default_value_t = 300)]
    pub(crate) auth_cache_secs: u64,
    /// Check opaque (non-JWT) tokens at the authorization server's introspection endpoint,
    /// as this client (RFC 7662; needs --auth-client-secret-file).
    #[arg(
        long = "auth-client-id",
        value_name = "ID",
        requires = "auth_client_secret_file"
    )]
    pub(crate) auth_client_id: Option<String>,
    /// The file holding the introspection client's secret (its first line).
    #[arg(
        long = "auth-client-secret-file",
        value_name = "FILE",
        requires = "auth_client_id"
    )]
    pub(crate) auth_client_secret_file: Option<PathBuf>,
    /// Introspect JWT access tokens too, instead of verifying them locally (the
    /// authorization server then also tells of revoked JWTs).
    #[arg(long = "auth-introspect-all", requires = "auth_client_id")]
    pub(crate) auth_introspect_all: bool,
    /// The largest request body, in bytes [default: 4194304, 4 MiB].
    #[arg(long, value_name = "BYTES", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_body_bytes: Option<usize>,
    /// The deepest nesting of arrays and objects in a message [default: 64].
    #[arg(long, value_name = "N", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_json_depth: Option<usize>,
    /// Requests running at once, from all clients [default: 1024].
    #[arg(long, value_name = "N", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_concurrent: Option<usize>,
    /// Requests one client may have running at once [default: 128].
    #[arg(long, value_name = "N", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_concurrent_per_client: Option<usize>,
    /// Legacy (2025-*) sessions open at once [default: 1024].
    #[arg(long, value_name = "N", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_sessions: Option<usize>,
    /// Legacy sessions one client may have open [default: 128].
    #[arg(long, value_name = "N", value_parser = positive, help_heading = "Limits")]
    pub(crate) max_sessions_per_client: Option<usize>,
    /// Seconds a session may be idle before it is closed [default: 600].
    #[arg(long, value_name = "SECS", value_parser = crate::call::parse_timeout,
          help_heading = "Limits")]
    pub(crate) session_idle_timeout: Option<Duration>,
    /// Seconds a client may take to send a request's headers [default: 10].
    #[arg(long, value_name = "SECS", value_parser = crate::call::parse_timeout,
          help_heading = "Limits")]
    pub(crate) header_timeout: Option<Duration>,
    /// Seconds a client may take to send a request's body [default: 30].
    #[arg(long, value_name = "SECS", value_parser = crate::call::parse_timeout,
          help_heading = "Limits")]
    pub(crate) body_timeout: Option<Duration>,
}

/// `GLOB=SCOPE` of `--require-scope` (split at the first `=`).
fn glob_scope(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((glob, scope)) if !glob.is_empty() && !scope.is_empty() && !scope.contains(' ') => {
            Ok((glob.to_owned(), scope.to_owned()))
        }
        _ => Err(format!(
            "'{text}' is not GLOB=SCOPE (e.g. 'db/*=db:read'; one scope, no spaces)"
        )),
    }
}

/// The root with the `--require-scope` rules added to its policy: one rule a glob, with
/// every scope given for it.
fn with_required_scopes(root: canopy_node::Node, rules: &[(String, String)]) -> canopy_node::Node {
    let mut globs: Vec<(&str, Vec<&str>)> = Vec::new();
    for (glob, scope) in rules {
        match globs.iter_mut().find(|(g, _)| g == glob) {
            Some((_, scopes)) => scopes.push(scope),
            None => globs.push((glob, vec![scope])),
        }
    }
    globs.into_iter().fold(root, |root, (glob, scopes)| {
        root.map_policy(|policy| policy.require_scopes(glob, scopes))
    })
}

/// A count of at least 1.
fn positive(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{text}' is not a positive integer"))
}

impl ServeArgs {
    /// The limit flags, as the tree file's `[serve.limits]` would say them.
    fn limit_flags(&self) -> ServeLimits {
        let mut flags = ServeLimits::default();
        flags.max_body_bytes = self.max_body_bytes;
        flags.max_json_depth = self.max_json_depth;
        flags.max_concurrent = self.max_concurrent;
        flags.max_concurrent_per_client = self.max_concurrent_per_client;
        flags.max_sessions = self.max_sessions;
        flags.max_sessions_per_client = self.max_sessions_per_client;
        flags.session_idle_timeout = self.session_idle_timeout;
        flags.header_timeout = self.header_timeout;
        flags.body_timeout = self.body_timeout;
        flags
    }
}

/// Who may call a tree served over HTTP, from the flags or the tree file's `[serve.auth]`.
enum Gate {
    Open,
    Tokens(PathBuf),
    TokenEnv(String),
    OAuth {
        issuer: String,
        audience: String,
        scopes: Vec<String>,
    },
}

/// How the tree is served: the flags, over the tree file's `[serve]` (flags win).
struct Serving {
    addr: Option<SocketAddr>,
    allow_hosts: Vec<String>,
    allow_origins: Vec<String>,
    auth: Gate,
    audit: bool,
    limits: HttpLimits,
}

impl Serving {
    /// The flags over the file's settings, checked: an address is parsed, auth and host
    /// flags need HTTP, and a non-loopback address needs `--allow-remote` and authentication.
    fn new(args: &ServeArgs, file: &ServeSettings) -> Result<Self, Failure> {
        let http = if args.stdio {
            None
        } else {
            args.http.as_ref().or(file.http.as_ref())
        };
        let addr = http
            .map(|http| parse_addr(http))
            .transpose()
            .map_err(Failure::Usage)?;
        let auth = match flag_gate(args) {
            Gate::Open if !args.no_auth => match &file.auth {
                Some(ServeAuth::Tokens { file }) => Gate::Tokens(file.clone()),
                Some(ServeAuth::TokenEnv { name }) => Gate::TokenEnv(name.clone()),
                Some(ServeAuth::OAuth {
                    issuer,
                    audience,
                    scopes,
                }) => Gate::OAuth {
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    scopes: scopes.clone(),
                },
                _ => Gate::Open,
            },
            gate => gate,
        };
        let flag_limits = args.limit_flags();
        let flags_need_http = args.auth_token_file.is_some()
            || args.auth_token_env.is_some()
            || !args.require_scopes.is_empty()
            || args.auth_issuer.is_some()
            || args.no_auth
            || args.allow_remote
            || !args.allow_hosts.is_empty()
            || !args.allow_origins.is_empty()
            || flag_limits != ServeLimits::default();
        if args.auth_client_id.is_some() && !matches!(auth, Gate::OAuth { .. }) {
            return Err(Failure::Usage(
                "canopy: --auth-client-id (introspection) needs an OAuth resource server: \
                 --auth-issuer URL --auth-audience URL, or issuer and audience in the tree \
                 file's [serve.auth]"
                    .into(),
            ));
        }
        if addr.is_none() && flags_need_http {
            return Err(Failure::Usage(
                "canopy: --auth-*, --require-scope, --no-auth, --allow-remote, --allow-host, \
                 --allow-origin and the limits (--max-*, --*-timeout) are for HTTP: add --http \
                 ADDR (or http = \"ADDR\" in the tree file's [serve])"
                    .into(),
            ));
        }
        if let Some(addr) = addr
            && !addr.ip().is_loopback()
        {
            if args.no_auth {
                return Err(Failure::Usage(format!(
                    "canopy: --no-auth is only for loopback addresses, and {addr} is not \
                     one: anyone who can reach it could use the tree."
                )));
            }
            if !args.allow_remote {
                return Err(Failure::Usage(format!(
                    "canopy: refusing to serve on {addr}, which is not a loopback address: \
                     anyone who can reach it could use the tree. Pass --allow-remote to do \
                     it, with authentication (--auth-token-file or --auth-issuer)."
                )));
            }
            if matches!(auth, Gate::Open) {
                return Err(Failure::Usage(format!(
                    "canopy: refusing to serve on {addr} without authentication: it is not \
                     a loopback address, so anyone who can reach it could use the tree. \
                     Let only known callers in with --auth-token-file FILE, --auth-token-env \
                     NAME or --auth-issuer URL --auth-audience URL (or [serve.auth] in the tree \
                     file)."
                )));
            }
        }
        let mut allow_hosts = file.allow_hosts.clone();
        allow_hosts.extend(args.allow_hosts.iter().cloned());
        let mut allow_origins = file.allow_origins.clone();
        allow_origins.extend(args.allow_origins.iter().cloned());
        Ok(Self {
            addr,
            allow_hosts,
            allow_origins,
            auth,
            audit: args.audit || file.audit,
            // The defaults, under the file's, under the flags'.
            limits: HttpLimits::default()
                .with_settings(&file.limits)
                .with_settings(&flag_limits),
        })
    }
}

/// Runs `canopy serve`.
pub(crate) async fn run(args: ServeArgs) -> Outcome {
    // Authentication the flags give is checked first, before anything else is read or
    // started: a bad token or secret file is bad usage, an issuer that cannot be discovered
    // a failure.
    let mut gate = check_gate(&args, &flag_gate(&args)).await?;
    // Then the flags over the file's [serve] and the address, before launching any child.
    let file = crate::load::read_tree_file(&args.tree)?;
    let serving = Serving::new(&args, &file.serve)?;
    if serving.audit {
        crate::enable_audit_log();
    }
    if serving.addr.is_some() && matches!(gate, (None, None)) {
        // The tree file's [serve.auth].
        gate = check_gate(&args, &serving.auth).await?;
    }
    let (tokens, oauth) = gate;
    let root = with_required_scopes(file.root, &args.require_scopes);
    let tree = crate::load::build_loaded_tree(&args.tree, root, args.build).await?;
    let outcome = match serving.addr {
        None => serve_stdio(&tree, &args.tree).await,
        Some(addr) => serve_http(&tree, addr, &serving, tokens, oauth).await,
    };
    // Close the links cleanly: launched children are asked to exit and reaped (killed if
    // they do not exit within a few seconds).
    tree.shutdown().await;
    outcome
}

/// The authentication the flags give (`Gate::Open` when they give none).
fn flag_gate(args: &ServeArgs) -> Gate {
    if let Some(file) = &args.auth_token_file {
        Gate::Tokens(file.clone())
    } else if let Some(name) = &args.auth_token_env {
        Gate::TokenEnv(name.clone())
    } else if let (Some(issuer), Some(audience)) = (&args.auth_issuer, &args.auth_audience) {
        Gate::OAuth {
            issuer: issuer.clone(),
            audience: audience.clone(),
            scopes: args.auth_scopes.clone(),
        }
    } else {
        Gate::Open
    }
}

/// What `gate` lets in, ready to serve: the static tokens read, or the OAuth resource
/// server discovered.
async fn check_gate(
    args: &ServeArgs,
    gate: &Gate,
) -> Result<(Option<StaticTokens>, Option<OAuthResource>), Failure> {
    Ok(match gate {
        Gate::Open => (None, None),
        Gate::Tokens(file) => {
            let tokens = StaticTokens::from_file(file)
                .map_err(|error| Failure::Usage(format!("canopy: --auth-token-file: {error}")))?;
            (Some(tokens), None)
        }
        Gate::TokenEnv(name) => {
            let tokens = StaticTokens::from_env(name)
                .map_err(|error| Failure::Usage(format!("canopy: --auth-token-env: {error}")))?;
            (Some(tokens), None)
        }
        // The authorization server: its metadata and keys, discovered before any child starts.
        Gate::OAuth {
            issuer,
            audience,
            scopes,
        } => (
            None,
            Some(oauth_resource(args, issuer, audience, scopes).await?),
        ),
    })
}

/// The OAuth resource server of `issuer` for `audience` with `scopes`, and the `--auth-*`
/// flags' settings: the introspection secret read (a bad file is bad usage), then the
/// authorization server discovered.
async fn oauth_resource(
    args: &ServeArgs,
    issuer: &str,
    audience: &str,
    scopes: &[String],
) -> Result<OAuthResource, Failure> {
    let mut builder = OAuthResource::builder(issuer, audience)
        .scopes(scopes.iter().cloned())
        .leeway(std::time::Duration::from_secs(args.auth_leeway))
        .cache_ttl(std::time::Duration::from_secs(args.auth_cache_secs));
    if let (Some(id), Some(file)) = (&args.auth_client_id, &args.auth_client_secret_file) {
        let text = std::fs::read_to_string(file).map_err(|error| {
            Failure::Usage(format!(
                "canopy: --auth-client-secret-file: cannot read {}: {error}",
                file.display()
            ))
        })?;
        let secret = text.lines().next().unwrap_or_default().trim();
        if secret.is_empty() {
            return Err(Failure::Usage(format!(
                "canopy: --auth-client-secret-file: {} holds no secret on its first line",
                file.display()
            )));
        }
        builder = builder
            .introspection(id.clone(), secret)
            .introspect_all(args.auth_introspect_all);
    }
    builder
        .discover()
        .await
        .map_err(|error| Failure::Failed(format!("canopy: --auth-issuer: {error}")))
}

async fn serve_stdio(tree: &Tree, path: &std::path::Path) -> Outcome {
    tracing::info!(tree = tree.name(), "serving over stdio");
    // Someone who runs this by hand sees what it waits for; an MCP client launching it (its
    // stderr a pipe or a log file) gets nothing extra.
    let stop = shutdown_signal();
    if std::io::stderr().is_terminal() {
        eprintln!("{}", stdio_banner(tree, path));
    }
    tokio::select! {
        served = tree.serve_stdio() => served.map_err(|error| Failure::Failed(format!("canopy: {error}"))),
        () = stop => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

async fn serve_http(
    tree: &Tree,
    addr: SocketAddr,
    args: &Serving,
    tokens: Option<StaticTokens>,
    oauth: Option<OAuthResource>,
) -> Outcome {
    let mut options = HttpOptions::new().limits(args.limits);
    if let Some(tokens) = tokens {
        options = options.bearer_tokens(tokens);
    }
    if let Some(oauth) = oauth {
        options = options.oauth(oauth);
    }
    for host in &args.allow_hosts {
        options = options.allow_host(host.clone());
    }
    for origin in &args.allow_origins {
        options = options.allow_origin(origin.clone());
    }
    let server = tree
        .serve_http_with(addr, options)
        .await
        .map_err(|error| Failure::Failed(format!("canopy: {error}")))?;
    let local = server.local_addr();
    let signal = shutdown_signal();
    // Tests and scripts read this line to learn the port when ADDR ends in :0.
    eprintln!(
        "canopy: serving tree '{}' at http://{local}/mcp",
        tree.name()
    );
    if std::io::stderr().is_terminal() {
        eprintln!(
            "  MCP clients connect to that URL (Streamable HTTP). Try it: canopy connect \
             http://{local}/mcp\n  Ctrl-C stops the server."
        );
    }
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down");
        stop.cancel();
    });
    server
        .wait()
        .await
        .map_err(|error| Failure::Failed(format!("canopy: the HTTP server failed: {error}")))
}

/// What `canopy serve` over stdio says on a terminal: what it is, what it waits for, how to
/// stop it and how to use it.
fn stdio_banner(tree: &Tree, path: &std::path::Path) -> String {
    let tools = tree.tools().len();
    let path = path.display();
    format!(
        "canopy: serving tree '{name}' ({tools} tool{s}) over stdio: it speaks MCP (JSON-RPC) \
         on stdin/stdout and is waiting for a client to send `initialize`.\n  \
         MCP clients launch it themselves. For Claude Desktop: canopy config claude {path} \
         --write\n  \
         To try it by hand: canopy connect -- canopy serve {path}\n  \
         Ctrl-C (or closing stdin) stops it.",
        name = tree.name(),
        s = if tools == 1 { "" } else { "s" },
    )
}

/// Parses `IP:PORT`, `localhost:PORT` or a bare `PORT` (which binds 127.0.0.1).
pub(crate) fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    Err(format!(
        "canopy: invalid --http address '{text}': expected IP:PORT (127.0.0.1:3000, \
         [::1]:3000), localhost:PORT or PORT"
    ))
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: from then on the signal is caught (and
/// no longer ends the process), so call it before telling anyone that Ctrl-C stops us.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn next(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = next(signal(SignalKind::interrupt()).ok());
        let terminate = next(signal(SignalKind::terminate()).ok());
        async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_default_to_loopback() {
        assert_eq!(
            parse_addr("127.0.0.1:3000"),
            Ok("127.0.0.1:3000".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("[::1]:80"),
            Ok("[::1]:80".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("3000"),
            Ok("127.0.0.1:3000".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("localhost:9"),
            Ok("127.0.0.1:9".parse().expect("addr"))
        );
        assert!(parse_addr("example.com:80").is_err());
    }
}
