//! The root's `[serve]` and `[serve.auth]` tables: how `canopy serve` serves the tree when
//! its flags do not say otherwise (flags win).
//!
//! ```toml
//! [serve]
//! http = "127.0.0.1:3000"                 # serve Streamable HTTP here (else stdio)
//! allow_hosts = ["mcp.example.com"]       # extra Host values (DNS-rebinding protection)
//! allow_origins = ["https://app.example.com"]
//! audit = true                            # log every policy decision (canopy::audit)
//!
//! [serve.auth]                            # an OAuth 2.1 resource server…
//! issuer = "https://auth.example.com"
//! audience = "http://127.0.0.1:3000/mcp"
//! scopes = ["mcp:call"]
//! # …or static bearer tokens (one a line), instead of issuer/audience:
//! # token_file = "tokens.txt"
//! # …or from an environment variable (separated by commas or spaces):
//! # token_env = "CANOPY_TOKENS"
//!
//! [serve.limits]                          # each key optional; these are the defaults
//! max_body_bytes = 4194304
//! max_json_depth = 64
//! max_concurrent = 1024
//! max_concurrent_per_client = 128
//! max_sessions = 1024
//! max_sessions_per_client = 128
//! session_idle_timeout = 600              # seconds
//! header_timeout = 10
//! body_timeout = 30
//! ```

use std::{path::PathBuf, time::Duration};

use toml::de::DeValue;

use super::read::{Entry, Reader, Result, Table};

/// The keys of `[serve]`.
pub const SERVE_KEYS: &[&str] = &[
    "http",
    "allow_hosts",
    "allow_origins",
    "audit",
    "auth",
    "limits",
];

/// The keys of `[serve.auth]`.
pub const SERVE_AUTH_KEYS: &[&str] = &["issuer", "audience", "scopes", "token_file", "token_env"];

/// The keys of `[serve.limits]`: the counts, then the timeouts (in seconds).
pub const SERVE_LIMITS_KEYS: &[&str] = &[
    "max_body_bytes",
    "max_json_depth",
    "max_concurrent",
    "max_concurrent_per_client",
    "max_sessions",
    "max_sessions_per_client",
    "session_idle_timeout",
    "header_timeout",
    "body_timeout",
];

/// How a tree file asks to be served (`[serve]`); empty when it has no such table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeSettings {
    /// `http`: the address to serve Streamable HTTP at (`IP:PORT`, `localhost:PORT`, `PORT`).
    pub http: Option<String>,
    /// `allow_hosts`: extra `Host` values to accept.
    pub allow_hosts: Vec<String>,
    /// `allow_origins`: extra `Origin` values to accept.
    pub allow_origins: Vec<String>,
    /// `audit`: log every policy decision.
    pub audit: bool,
    /// `[serve.auth]`: who may call.
    pub auth: Option<ServeAuth>,
    /// `[serve.limits]`: the limits every request is held to (unset: the defaults).
    pub limits: ServeLimits,
}

/// `[serve.limits]`, each `None` where the file does not set it (see
/// [`HttpLimits`](crate::HttpLimits) for what each means and its default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// `max_body_bytes`.
    pub max_body_bytes: Option<usize>,
    /// `max_json_depth`.
    pub max_json_depth: Option<usize>,
    /// `max_concurrent`.
    pub max_concurrent: Option<usize>,
    /// `max_concurrent_per_client`.
    pub max_concurrent_per_client: Option<usize>,
    /// `max_sessions`.
    pub max_sessions: Option<usize>,
    /// `max_sessions_per_client`.
    pub max_sessions_per_client: Option<usize>,
    /// `session_idle_timeout`, in seconds.
    pub session_idle_timeout: Option<Duration>,
    /// `header_timeout`, in seconds.
    pub header_timeout: Option<Duration>,
    /// `body_timeout`, in seconds.
    pub body_timeout: Option<Duration>,
}

/// `[serve.auth]`: an OAuth 2.1 resource server, or static bearer tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeAuth {
    /// `issuer`, `audience` and `scopes`: JWT access tokens of `issuer` for `audience`.
    OAuth {
        /// The authorization server's issuer URL.
        issuer: String,
        /// This server's canonical URI.
        audience: String,
        /// Scopes every request's token must have.
        scopes: Vec<String>,
    },
    /// `token_file`: static bearer tokens, one a line (resolved against the tree file's
    /// folder).
    Tokens {
        /// The token file.
        file: PathBuf,
    },
    /// `token_env`: static bearer tokens from an environment variable, separated by commas
    /// or spaces (read when the server starts, never written to the file).
    TokenEnv {
        /// The variable's name.
        name: String,
    },
}

impl Reader<'_> {
    /// The root's `[serve]` table (`${VAR}` expanded in every string).
    pub(super) fn serve(&self, entry: &Entry<'_, '_>) -> Result<ServeSettings> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, SERVE_KEYS)?;
        let serve = Table {
            table,
            prefix: &entry.path,
        };
        let strings = |key: &str| -> Result<Vec<String>> {
            serve
                .get(key)
                .map(|e| self.string_array(e.value, &e.path, true))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        Ok(ServeSettings {
            http: serve
                .get("http")
                .map(|e| self.expanded(e.value, &e.path))
                .transpose()?,
            allow_hosts: strings("allow_hosts")?,
            allow_origins: strings("allow_origins")?,
            audit: serve
                .get("audit")
                .map(|e| self.boolean(e.value, &e.path))
                .transpose()?
                .unwrap_or(false),
            auth: serve.get("auth").map(|e| self.serve_auth(&e)).transpose()?,
            limits: serve
                .get("limits")
                .map(|e| self.serve_limits(&e))
                .transpose()?
                .unwrap_or_default(),
        })
    }

    fn serve_limits(&self, entry: &Entry<'_, '_>) -> Result<ServeLimits> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, SERVE_LIMITS_KEYS)?;
        let limits = Table {
            table,
            prefix: &entry.path,
        };
        let count = |key: &str| -> Result<Option<usize>> {
            let Some(e) = limits.get(key) else {
                return Ok(None);
            };
            const EXPECTED: &str = "a positive integer";
            let DeValue::Integer(integer) = e.value.get_ref() else {
                return Err(self.wrong_type(e.value, &e.path, EXPECTED));
            };
            match usize::from_str_radix(integer.as_str(), integer.radix()) {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(self.error(
                    &e.value.span(),
                    &e.path,
                    format!("expected {EXPECTED}, found {integer}"),
                )),
            }
        };
        let seconds = |key: &str| {
            limits
                .get(key)
                .map(|e| self.timeout(e.value, &e.path))
                .transpose()
        };
        Ok(ServeLimits {
            max_body_bytes: count("max_body_bytes")?,
            max_json_depth: count("max_json_depth")?,
            max_concurrent: count("max_concurrent")?,
            max_concurrent_per_client: count("max_concurrent_per_client")?,
            max_sessions: count("max_sessions")?,
            max_sessions_per_client: count("max_sessions_per_client")?,
            session_idle_timeout: seconds("session_idle_timeout")?,
            header_timeout: seconds("header_timeout")?,
            body_timeout: seconds("body_timeout")?,
        })
    }

    fn serve_auth(&self, entry: &Entry<'_, '_>) -> Result<ServeAuth> {
        let table = self.table(entry.value, &entry.path)?;
        self.known_keys(table, &entry.path, SERVE_AUTH_KEYS)?;
        let auth = Table {
            table,
            prefix: &entry.path,
        };
        let text = |key: &str| {
            auth.get(key)
                .map(|e| self.expanded(e.value, &e.path))
                .transpose()
        };
        let (issuer, audience, token_file, token_env) = (
            text("issuer")?,
            text("audience")?,
            text("token_file")?,
            text("token_env")?,
        );
        let scopes = auth
            .get("scopes")
            .map(|e| self.string_array(e.value, &e.path, true))
            .transpose()?
            .unwrap_or_default();
        let static_tokens = match (token_file, token_env) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &entry.value.span(),
                    &entry.path,
                    "token_file and token_env both give static tokens: use one or the other",
                ));
            }
            (file, None) => file.map(|file| ServeAuth::Tokens {
                file: self.base_dir.join(file),
            }),
            (None, Some(name)) => Some(ServeAuth::TokenEnv { name }),
        };
        match (issuer, audience, static_tokens) {
            (Some(issuer), Some(audience), None) => Ok(ServeAuth::OAuth {
                issuer,
                audience,
                scopes,
            }),
            (None, None, Some(tokens)) if scopes.is_empty() => Ok(tokens),
            (Some(_), None, None) => Err(self.error(
                &entry.value.span(),
                &entry.path,
                "issuer needs audience: this server's canonical URI, the audience every token \
                 must name (e.g. \"http://127.0.0.1:3000/mcp\")",
            )),
            (None, Some(_), None) => Err(self.error(
                &entry.value.span(),
                &entry.path,
                "audience needs issuer: the authorization server's URL",
            )),
            (None, None, None) => Err(self.error(
                &entry.value.span(),
                &entry.path,
                "say who may call: issuer and audience (OAuth), or token_file or token_env \
                 (static tokens)",
            )),
            _ => Err(self.error(
                &entry.value.span(),
                &entry.path,
                "token_file and token_env are static bearer tokens, issuer/audience/scopes \
                 OAuth: use one or the other",
            )),
        }
    }
}
