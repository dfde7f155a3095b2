//! Who may call a tree served over HTTP: the checks the HTTP face runs on every request
//! before it reaches rmcp. A room of the faces: it imports nothing of the tree.
//!
//! Two ways:
//! - **static bearer tokens** ([`StaticTokens`]), for simple setups: a request to `/mcp` must
//!   carry `Authorization: Bearer TOKEN` with one of the configured tokens (compared in
//!   constant time), or it gets `401 Unauthorized` with a `WWW-Authenticate: Bearer`
//!   challenge (RFC 6750) and never reaches the tree;
//! - **an OAuth 2.1 resource server** ([`OAuthResource`], the MCP authorization
//!   specification): JWT access tokens of an authorization server, verified against its
//!   JWKS, bound to this server's canonical URI, with the scopes it requires; `401` with
//!   `resource_metadata` (RFC 9728) or `403 insufficient_scope` otherwise.
//!
//! ```
//! use canopy_node::auth::StaticTokens;
//!
//! let tokens = StaticTokens::parse("# the team's tokens\nalpha-0123456789abcdef\n\nbeta-0123456789abcdef\n")?;
//! assert_eq!(tokens.len(), 2);
//! assert!(tokens.accepts("beta-0123456789abcdef"));
//! assert!(!tokens.accepts("beta"));
//! # Ok::<(), canopy_node::auth::AuthConfigError>(())
//! ```

use std::{fmt, path::Path, sync::Arc};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

mod oauth;

pub use self::oauth::{
    DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL, DEFAULT_LEEWAY, OAuthConfigError, OAuthResource,
    OAuthResourceBuilder,
};
pub(crate) use self::oauth::{metadata, require_access_token};

/// The fewest characters a static token may have (a guessable token is no protection).
pub const MIN_TOKEN_LEN: usize = 16;

/// A set of static bearer tokens, any of which lets a request in. `Debug` never shows them.
#[derive(Clone)]
pub struct StaticTokens {
    tokens: Arc<[Box<[u8]>]>,
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokens")
            .field("tokens", &format_args!("<{} redacted>", self.tokens.len()))
            .finish()
    }
}

/// A token file or token list that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// There is no token (only blank lines and comments).
    #[error(
        "{origin}: no token (one token a line; blank lines and lines starting with # are skipped)"
    )]
    Empty {
        /// The file, or `tokens` for a list given in code.
        origin: String,
    },
    /// The environment variable that should hold the tokens is not set (or not UTF-8).
    #[error(
        "the environment variable {name} is not set (it should hold the tokens, separated by commas or spaces)"
    )]
    Env {
        /// The variable.
        name: String,
    },
    /// A token is too short, or has characters a bearer token cannot have.
    #[error("{origin}:{line}: {problem}")]
    BadToken {
        /// The file, or `tokens` for a list given in code.
        origin: String,
        /// The 1-based line (the position in the list for tokens given in code).
        line: usize,
        /// What is wrong (the token itself is never shown).
        problem: String,
    },
}

impl StaticTokens {
    /// The tokens of a file: one a line; blank lines and lines starting with `#` are
    /// skipped; surrounding spaces are trimmed.
    pub fn from_file(path: &Path) -> Result<Self, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::read(&text, &path.display().to_string())
    }

    /// The tokens of the environment variable `name`, separated by commas, spaces or
    /// newlines (a token cannot hold any of them). A bad token is named by its position in
    /// the list, never shown.
    ///
    /// ```
    /// use canopy_node::auth::StaticTokens;
    ///
    /// let error = StaticTokens::from_env("CANOPY_DOC_UNSET_TOKENS").unwrap_err();
    /// assert!(error.to_string().contains("CANOPY_DOC_UNSET_TOKENS is not set"));
    /// ```
    pub fn from_env(name: &str) -> Result<Self, AuthConfigError> {
        let value = std::env::var(name).map_err(|_| AuthConfigError::Env {
            name: name.to_owned(),
        })?;
        Self::from_list(&value, &format!("environment variable {name}"))
    }

    /// Tokens separated by commas, spaces or newlines.
    fn from_list(value: &str, origin: &str) -> Result<Self, AuthConfigError> {
        let list: Vec<&str> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        Self::read(&list.join("\n"), origin)
    }

    /// The tokens of a text in the token file's format (see [`StaticTokens::from_file`]).
    pub fn parse(text: &str) -> Result<Self, AuthConfigError> {
        Self::read(text, "tokens")
    }

    /// These tokens.
    pub fn new<S: AsRef<str>>(
        tokens: impl IntoIterator<Item = S>,
    ) -> Result<Self, AuthConfigError> {
        let lines: Vec<String> = tokens.into_iter().map(|t| t.as_ref().to_owned()).collect();
        Self::read(&lines.join("\n"), "tokens")
    }

    fn read(text: &str, origin: &str) -> Result<Self, AuthConfigError> {
        let mut tokens = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            let bad = |problem: String| AuthConfigError::BadToken {
                origin: origin.to_owned(),
                line: index + 1,
                problem,
            };
            // RFC 6750's b64token: what may follow "Bearer ".
            let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
            if let Some(c) = token.chars().find(|&c| !b64token(c)) {
                return Err(bad(format!(
                    "a token may hold only A-Z a-z 0-9 - . _ ~ + / = (found {c:?})"
                )));
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(bad(format!(
                    "a token must have at least {MIN_TOKEN_LEN} characters (this one has {})",
                    token.len()
                )));
            }
            tokens.push(token.as_bytes().into());
        }
        if tokens.is_empty() {
            return Err(AuthConfigError::Empty {
                origin: origin.to_owned(),
            });
        }
        Ok(Self {
            tokens: tokens.into(),
        })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there is none (never, for a value made by this type's constructors).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `token` is one of them. Every token is compared, each in constant time, so
    /// the time taken does not tell how much of a guess was right.
    pub fn accepts(&self, token: &str) -> bool {
        self.position(token).is_some()
    }

    /// Which of them `token` is (0-based, in the file's order), compared as
    /// [`StaticTokens::accepts`] does.
    pub fn position(&self, token: &str) -> Option<usize> {
        let token = token.as_bytes();
        let mut found = None;
        for (index, known) in self.tokens.iter().enumerate() {
            if bool::from(known.as_ref().ct_eq(token)) {
                found = Some(index);
            }
        }
        found
    }
}

/// The bearer token of a request's `Authorization` header (the scheme is case-insensitive).
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The axum middleware of [`HttpOptions::bearer_tokens`](crate::HttpOptions::bearer_tokens):
/// a request without one of the tokens gets `401` with a `WWW-Authenticate: Bearer`
/// challenge (`error="invalid_token"` when a token was sent but is not one of them).
pub(crate) async fn require_static_token(
    State(tokens): State<StaticTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    match bearer(&request).map(|token| tokens.position(token)) {
        Some(Some(index)) => {
            // A static token names no one: the caller is the token's place in the list.
            let subject = format!("static-token-{}", index + 1);
            let caller = crate::Caller::new(Some(&subject), None, std::iter::empty::<String>());
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Some(None) => unauthorized(
            r#"Bearer realm="canopy", error="invalid_token", error_description="the token is not valid here""#,
            "the bearer token is not valid for this server",
        ),
        None => unauthorized(
            r#"Bearer realm="canopy""#,
            "this server needs a bearer token (Authorization: Bearer TOKEN)",
        ),
    }
}

/// A `401` with its challenge and a JSON-RPC error body that says why.
fn unauthorized(challenge: &'static str, message: &str) -> Response {
    let mut response = error_response(StatusCode::UNAUTHORIZED, UNAUTHORIZED_CODE, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// The JSON-RPC error code of an authentication refusal.
const UNAUTHORIZED_CODE: i64 = -32001;

/// An HTTP error of the HTTP face with a JSON-RPC error body that says why (`id` null: the
/// request was not read, or could not be). The limits' refusals use it too.
pub(crate) fn error_response(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body.to_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_list_splits_on_commas_and_spaces_and_names_a_bad_token_by_position() {
        let origin = "environment variable T";
        let tokens = StaticTokens::from_list(
            " alpha-0123456789abcdef,beta-0123456789abcdef\n gamma-0123456789abcdef ",
            origin,
        )
        .expect("three tokens");
        assert_eq!(tokens.len(), 3);
        assert!(tokens.accepts("gamma-0123456789abcdef"));
        let error = StaticTokens::from_list("alpha-0123456789abcdef, short", origin)
            .expect_err("a short token");
        assert_eq!(
            error.to_string(),
            "environment variable T:2: a token must have at least 16 characters (this one has 5)"
        );
        assert!(matches!(
            StaticTokens::from_list(" , ", origin),
            Err(AuthConfigError::Empty { .. })
        ));
    }

    #[test]
    fn the_file_format_skips_blanks_and_comments_and_checks_each_token() {
        let tokens = StaticTokens::parse("  # ops\n\n tok-0123456789abcdef \n").expect("one");
        assert_eq!(tokens.len(), 1);
        assert!(tokens.accepts("tok-0123456789abcdef"));
        assert!(!tokens.accepts("tok-0123456789abcdeF"));
        assert!(!tokens.accepts(""));
        assert_eq!(
            StaticTokens::parse("# nothing\n\n")
                .expect_err("refused")
                .to_string(),
            "tokens: no token (one token a line; blank lines and lines starting with # are skipped)"
        );
        assert_eq!(
            StaticTokens::parse("ok-0123456789abcdef\nshort\n")
                .expect_err("refused")
                .to_string(),
            "tokens:2: a token must have at least 16 characters (this one has 5)"
        );
        assert_eq!(
            StaticTokens::parse("with space 0123456789")
                .expect_err("refused")
                .to_string(),
            "tokens:1: a token may hold only A-Z a-z 0-9 - . _ ~ + / = (found ' ')"
        );
    }

    #[test]
    fn debug_never_shows_a_token() {
        let tokens = StaticTokens::new(["secret-0123456789abcdef"]).expect("valid");
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("1 redacted"), "{shown}");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let request = |value: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(Body::empty())
                .expect("a request")
        };
        assert_eq!(bearer(&request("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&request("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&request("Basic abc")), None);
        assert_eq!(bearer(&request("Bearer ")), None);
    }
}
