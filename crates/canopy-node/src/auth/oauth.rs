//! The OAuth 2.1 resource server of the MCP authorization specification: JWT access tokens of
//! an authorization server, checked against its JWKS, bound to this server's canonical URI
//! (RFC 8707), with the scopes this server requires; the Protected Resource Metadata
//! (RFC 9728) that tells clients where to get such a token.
//!
//! The cryptography is `jsonwebtoken`'s (on `ring`); nothing here signs or verifies by hand.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, JwkSet},
};
use serde::Deserialize;

use crate::Caller;

/// The algorithms an access token may be signed with: asymmetric ones only (never `none`,
/// never an HMAC, whose "key" would be the public key).
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How far `exp` and `nbf` may be off (clock skew between this server and the issuer).
const LEEWAY: Duration = Duration::from_secs(30);

/// The least time between two fetches of the JWKS for an unknown `kid` (a flood of tokens
/// with made-up key ids must not become a flood of requests to the authorization server).
const JWKS_REFETCH: Duration = Duration::from_secs(10);

/// What this server accepts: tokens of `issuer`, for `resource`, with every scope of `scopes`.
#[derive(Clone, Debug)]
pub struct OAuthResource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    resource: String,
    scopes: Vec<String>,
    jwks_uri: String,
    client: reqwest::Client,
    keys: Mutex<Keys>,
}

struct Keys {
    by_kid: KeyMap,
    fetched: Instant,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .field("fetched", &self.fetched)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AlgorithmFamily {
    Rsa,
    Ec,
    Okp,
}

/// The authorization server could not be discovered, or its keys could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthConfigError {
    /// No metadata document answered at the issuer's well-known URIs.
    #[error("cannot discover the authorization server {issuer}: {reason}")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// Why (each URI tried, with what it answered).
        reason: String,
    },
    /// The metadata names another issuer (RFC 8414 §3.3: it must be the same).
    #[error("the authorization server at {issuer} says its issuer is {found}")]
    IssuerMismatch {
        /// The issuer configured.
        issuer: String,
        /// The one its metadata names.
        found: String,
    },
    /// The JWKS could not be fetched or read.
    #[error("cannot read the authorization server's keys at {uri}: {reason}")]
    Jwks {
        /// The `jwks_uri`.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The resource is not an absolute `http(s)://` URI.
    #[error("the resource (audience) must be this server's canonical http(s):// URI, not '{0}'")]
    Resource(String),
}

/// Why a token was refused (for the `401`'s `error_description`; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No usable token: 401.
    Invalid(String),
    /// A valid token without a scope this server requires: 403.
    Scope,
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Vec<String>>,
}

impl OAuthResource {
    /// Discovers `issuer`'s metadata (RFC 8414's `oauth-authorization-server`, then OpenID
    /// Connect's `openid-configuration`, path-inserted for an issuer with a path), checks it
    /// names the same issuer, and fetches its JWKS. `resource` is this server's canonical URI
    /// (`http://127.0.0.1:3000/mcp`): the audience every token must carry. `scopes` are
    /// required of every request.
    pub async fn discover(
        issuer: &str,
        resource: &str,
        scopes: Vec<String>,
    ) -> Result<Self, OAuthConfigError> {
        if !(resource.starts_with("http://") || resource.starts_with("https://")) {
            return Err(OAuthConfigError::Resource(resource.to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OAuthConfigError::Discovery {
                issuer: issuer.to_owned(),
                reason: e.to_string(),
            })?;
        let issuer = issuer.trim_end_matches('/').to_owned();
        let metadata = discover_metadata(&client, &issuer).await?;
        let found = metadata
            .get("issuer")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        if found != issuer {
            return Err(OAuthConfigError::IssuerMismatch { issuer, found });
        }
        let jwks_uri = metadata
            .get("jwks_uri")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| OAuthConfigError::Discovery {
                issuer: issuer.clone(),
                reason: "its metadata has no jwks_uri".into(),
            })?
            .to_owned();
        let by_kid = fetch_keys(&client, &jwks_uri).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer,
                resource: resource.to_owned(),
                scopes,
                jwks_uri,
                client,
                keys: Mutex::new(Keys {
                    by_kid,
                    fetched: Instant::now(),
                }),
            }),
        })
    }

    /// This server's canonical URI (the audience).
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The Protected Resource Metadata document (RFC 9728).
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "resource": self.inner.resource,
            "authorization_servers": [self.inner.issuer],
            "scopes_supported": self.inner.scopes,
            "bearer_methods_supported": ["header"],
        })
    }

    /// Where the metadata is served: the path-inserted well-known URI of the resource
    /// (`http://host/.well-known/oauth-protected-resource/mcp`).
    pub fn metadata_url(&self) -> String {
        well_known(&self.inner.resource, "oauth-protected-resource")
    }

    /// Checks a bearer token; a valid one is the [`Caller`] it names.
    pub(crate) async fn check(&self, token: &str) -> Result<Caller, Refusal> {
        let invalid = |why: &str| Refusal::Invalid(why.to_owned());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the token is not a JWT with an accepted algorithm"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid("the token's algorithm is not accepted"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no key (kid)"))?;
        let found = self
            .key(&kid)
            .await
            .ok_or_else(|| invalid("the token's key is not one of the authorization server's"))?;
        let (key, family, key_alg) = &*found;
        if *family != family_of(header.alg) || key_alg.is_some_and(|alg| alg != header.alg) {
            return Err(invalid("the token's algorithm does not match its key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.inner.issuer]);
        validation.set_audience(&[&self.inner.resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            invalid(match error.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidAudience => "the token is for another resource",
                ErrorKind::InvalidIssuer => "the token is from another issuer",
                ErrorKind::InvalidSignature => "the token's signature is not valid",
                _ => "the token is not valid",
            })
        })?;
        let claims = data.claims;
        let granted: Vec<String> = match (claims.scope, claims.scp) {
            (Some(scope), _) => scope.split_whitespace().map(str::to_owned).collect(),
            (None, Some(scp)) => scp,
            (None, None) => Vec::new(),
        };
        let caller = Caller::new(
            claims.sub.as_deref(),
            claims.client_id.or(claims.azp).as_deref(),
            granted,
        )
        .with_issuer(&self.inner.issuer);
        if caller.has_scopes(&self.inner.scopes) {
            Ok(caller)
        } else {
            Err(Refusal::Scope)
        }
    }

    /// The key of `kid`, refetching the JWKS once (rate-limited) when it is unknown: the
    /// authorization server may have rotated its keys.
    async fn key(&self, kid: &str) -> Option<Key> {
        {
            let keys = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = keys.by_kid.get(kid) {
                return Some(Arc::clone(found));
            }
            if keys.fetched.elapsed() < JWKS_REFETCH {
                return None;
            }
        }
        let fetched = fetch_keys(&self.inner.client, &self.inner.jwks_uri).await;
        let mut keys = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.fetched = Instant::now();
        match fetched {
            Ok(by_kid) => keys.by_kid = by_kid,
            Err(error) => tracing::warn!(%error, "cannot refresh the authorization server's keys"),
        }
        keys.by_kid.get(kid).cloned()
    }

    /// The `WWW-Authenticate` challenge of a refusal.
    fn challenge(&self, refusal: Option<&Refusal>) -> String {
        let mut challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url(),
            self.inner.scopes.join(" ")
        );
        match refusal {
            Some(Refusal::Invalid(why)) => {
                challenge.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{why}\""
                ));
            }
            Some(Refusal::Scope) => challenge.push_str(", error=\"insufficient_scope\""),
            None => {}
        }
        challenge
    }
}

/// The well-known URI `name` of `uri`, inserted between its origin and its path (RFC 8414
/// §3.1, RFC 9728 §3.1): `http://h/mcp` → `http://h/.well-known/NAME/mcp`.
fn well_known(uri: &str, name: &str) -> String {
    let after_scheme = uri.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match uri[after_scheme..].find('/') {
        Some(i) => uri.split_at(after_scheme + i),
        None => (uri, ""),
    };
    format!("{origin}/.well-known/{name}{}", path.trim_end_matches('/'))
}

fn family_of(alg: Algorithm) -> AlgorithmFamily {
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => AlgorithmFamily::Ec,
        Algorithm::EdDSA => AlgorithmFamily::Okp,
        _ => AlgorithmFamily::Rsa,
    }
}

/// The issuer's metadata: RFC 8414 first, then OpenID Connect discovery.
async fn discover_metadata(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Value, OAuthConfigError> {
    let mut tried = Vec::new();
    for uri in [
        well_known(issuer, "oauth-authorization-server"),
        well_known(issuer, "openid-configuration"),
        format!("{issuer}/.well-known/openid-configuration"),
    ] {
        if tried.iter().any(|(u, _): &(String, String)| *u == uri) {
            continue;
        }
        match get_json(client, &uri).await {
            Ok(metadata) => return Ok(metadata),
            Err(reason) => tried.push((uri, reason)),
        }
    }
    Err(OAuthConfigError::Discovery {
        issuer: issuer.to_owned(),
        reason: tried
            .iter()
            .map(|(uri, reason)| format!("{uri}: {reason}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

async fn get_json(client: &reqwest::Client, uri: &str) -> Result<serde_json::Value, String> {
    let response = client.get(uri).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// A verification key with its type and the `alg` its JWK names, shared (a request takes a
/// reference, not a copy of the key).
type Key = Arc<(DecodingKey, AlgorithmFamily, Option<Algorithm>)>;
type KeyMap = HashMap<String, Key>;

/// The signing keys of a JWKS by `kid` (symmetric keys and keys without a `kid` left out).
async fn fetch_keys(client: &reqwest::Client, uri: &str) -> Result<KeyMap, OAuthConfigError> {
    let error = |reason: String| OAuthConfigError::Jwks {
        uri: uri.to_owned(),
        reason,
    };
    let json = get_json(client, uri).await.map_err(error)?;
    let set: JwkSet =
        serde_json::from_value(json).map_err(|e| error(format!("not a JWK set: {e}")))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Okp,
            // A shared secret is never a key a resource server may verify with.
            AlgorithmParameters::OctetKey(_) => continue,
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|alg| alg.to_string().parse::<Algorithm>().ok());
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.insert(kid, Arc::new((key, family, alg)));
        }
    }
    if keys.is_empty() {
        return Err(error("it holds no signing key with a kid".into()));
    }
    Ok(keys)
}

/// The axum middleware of [`HttpOptions::oauth`](crate::HttpOptions::oauth).
pub(crate) async fn require_access_token(
    State(resource): State<OAuthResource>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = super::bearer(&request).map(str::to_owned);
    let refusal = match &token {
        None => None,
        Some(token) => match resource.check(token).await {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                return next.run(request).await;
            }
            Err(refusal) => Some(refusal),
        },
    };
    let (status, message) = match &refusal {
        None => (
            StatusCode::UNAUTHORIZED,
            "this server needs an OAuth access token (Authorization: Bearer TOKEN)".to_owned(),
        ),
        Some(Refusal::Invalid(why)) => (StatusCode::UNAUTHORIZED, why.clone()),
        Some(Refusal::Scope) => (
            StatusCode::FORBIDDEN,
            format!(
                "the token lacks a scope this server needs: {}",
                resource.inner.scopes.join(" ")
            ),
        ),
    };
    let mut response = super::error_response(status, &message);
    if let Ok(value) = HeaderValue::from_str(&resource.challenge(refusal.as_ref())) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET` of the Protected Resource Metadata.
pub(crate) async fn metadata(State(resource): State<OAuthResource>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(resource.metadata().to_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_uris_are_inserted_before_the_path() {
        assert_eq!(
            well_known("http://127.0.0.1:3000/mcp", "oauth-protected-resource"),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known("https://auth.example.com", "oauth-authorization-server"),
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            well_known("https://example.com/tenant/a/", "openid-configuration"),
            "https://example.com/.well-known/openid-configuration/tenant/a"
        );
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(!ALGORITHMS.contains(&alg), "{alg:?}");
        }
        assert_eq!(family_of(Algorithm::ES256), AlgorithmFamily::Ec);
        assert_eq!(family_of(Algorithm::PS256), AlgorithmFamily::Rsa);
    }
}
