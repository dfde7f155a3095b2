//! The OAuth 2.1 resource server of the MCP authorization specification: access tokens of an
//! authorization server — JWTs checked against its JWKS, or opaque tokens asked about at its
//! introspection endpoint (RFC 7662) where configured — bound to this server's canonical URI
//! (RFC 8707), with the scopes this server requires; the Protected Resource Metadata
//! (RFC 9728) that tells clients where to get such a token.
//!
//! A token that passed is remembered by its SHA-256 digest (never the token itself) until
//! it would be refused (its `exp` and the leeway) and at most [`DEFAULT_CACHE_TTL`], in a
//! cache of bounded size: a client that sends the same token on every request costs one
//! signature check (or one introspection), not one per request. Refusals are not remembered.
//!
//! The cryptography is `jsonwebtoken`'s (on `ring`) and `sha2`'s; nothing here signs or
//! verifies by hand.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
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
use sha2::{Digest, Sha256};

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

/// How far `exp` and `nbf` may be off by default (clock skew between this server and the
/// issuer); [`OAuthResourceBuilder::leeway`] changes it.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The longest a validated token is remembered by default, however far its `exp`;
/// [`OAuthResourceBuilder::cache_ttl`] changes it.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How many validated tokens are remembered at most by default (the oldest go first);
/// [`OAuthResourceBuilder::cache_capacity`] changes it.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// The least time between two fetches of the JWKS for an unknown `kid` (a flood of tokens
/// with made-up key ids must not become a flood of requests to the authorization server).
const JWKS_REFETCH: Duration = Duration::from_secs(10);

/// The most introspection requests in flight at once (a flood of made-up opaque tokens
/// waits here instead of becoming a flood of requests to the authorization server).
const INTROSPECTION_CONCURRENCY: usize = 16;

/// The longest token looked at (a JWT of an authorization server is a few KiB at most).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What this server accepts: tokens of `issuer`, for `resource`, with every scope of `scopes`.
/// Made by [`OAuthResource::builder`] (or [`OAuthResource::discover`]).
#[derive(Clone, Debug)]
pub struct OAuthResource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    resource: String,
    scopes: Vec<String>,
    leeway: Duration,
    /// One validation per accepted algorithm, built once.
    validations: Vec<(Algorithm, Validation)>,
    jwks_uri: String,
    client: reqwest::Client,
    keys: Mutex<Keys>,
    cache: TokenCache,
    introspection: Option<Introspection>,
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

/// The introspection endpoint and this server's credentials there. `Debug` never shows the
/// secret.
struct Introspection {
    endpoint: String,
    client_id: String,
    client_secret: String,
    /// Every token, JWTs too, is introspected (not only opaque ones).
    all: bool,
    in_flight: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("all", &self.all)
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
    /// Introspection was asked for, but the metadata names no `introspection_endpoint`.
    #[error(
        "the authorization server {issuer} names no introspection_endpoint in its metadata, so \
         opaque tokens cannot be checked"
    )]
    NoIntrospection {
        /// The issuer.
        issuer: String,
    },
    /// A setting is out of range (a cache of no entries, an empty client id).
    #[error("{0}")]
    Setting(String),
}

/// Why a token was refused (for the `401`'s `error_description`; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No usable token: 401.
    Invalid(String),
    /// A valid token without a scope this server requires: 403.
    Scope,
}

fn invalid(why: &str) -> Refusal {
    Refusal::Invalid(why.to_owned())
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: u64,
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

/// An RFC 7662 introspection response (the members this server looks at).
#[derive(Debug, Deserialize)]
struct IntrospectionResponse {
    active: bool,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<OneOrMany>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(one) => one == wanted,
            Self::Many(many) => many.iter().any(|one| one == wanted),
        }
    }
}

/// How an [`OAuthResource`] is set up: [`OAuthResource::builder`], then
/// [`discover`](Self::discover).
#[derive(Clone)]
#[must_use]
pub struct OAuthResourceBuilder {
    issuer: String,
    resource: String,
    scopes: Vec<String>,
    leeway: Duration,
    cache_ttl: Duration,
    cache_capacity: usize,
    introspection: Option<(String, String)>,
    introspect_all: bool,
}

impl std::fmt::Debug for OAuthResourceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthResourceBuilder")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .field("scopes", &self.scopes)
            .field("leeway", &self.leeway)
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_capacity", &self.cache_capacity)
            .field(
                "introspection_client_id",
                &self.introspection.as_ref().map(|(id, _)| id),
            )
            .field("introspect_all", &self.introspect_all)
            .finish()
    }
}

impl OAuthResourceBuilder {
    /// Scopes every request's token must have (added to those already set).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// How far `exp` and `nbf` may be off (clock skew); [`DEFAULT_LEEWAY`] unless set.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest a validated token is remembered ([`DEFAULT_CACHE_TTL`] unless set; never
    /// past the moment it would be refused). `Duration::ZERO` remembers nothing: every
    /// request is checked again (and, for an opaque token, introspected again).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many validated tokens are remembered at most ([`DEFAULT_CACHE_CAPACITY`] unless
    /// set; at least 1).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Checks tokens that are not JWTs at the authorization server's
    /// `introspection_endpoint` (RFC 7662), authenticated as the client `client_id` with
    /// `client_secret` (`client_secret_basic`).
    pub fn introspection(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some((client_id.into(), client_secret.into()));
        self
    }

    /// With [`introspection`](Self::introspection): introspect JWTs too, instead of
    /// verifying them here (the authorization server then also says whether a JWT was
    /// revoked).
    pub fn introspect_all(mut self, all: bool) -> Self {
        self.introspect_all = all;
        self
    }

    /// Discovers the issuer's metadata (RFC 8414's `oauth-authorization-server`, then OpenID
    /// Connect's `openid-configuration`, path-inserted for an issuer with a path), checks it
    /// names the same issuer, fetches its JWKS, and (with introspection) finds its
    /// `introspection_endpoint`.
    pub async fn discover(self) -> Result<OAuthResource, OAuthConfigError> {
        let resource = self.resource;
        if !(resource.starts_with("http://") || resource.starts_with("https://")) {
            return Err(OAuthConfigError::Resource(resource));
        }
        if self.cache_capacity == 0 {
            return Err(OAuthConfigError::Setting(
                "the token cache must hold at least one token".into(),
            ));
        }
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OAuthConfigError::Discovery {
                issuer: issuer.clone(),
                reason: e.to_string(),
            })?;
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
        let introspection = match self.introspection {
            None => None,
            Some((client_id, client_secret)) => {
                if client_id.is_empty() {
                    return Err(OAuthConfigError::Setting(
                        "the introspection client id is empty".into(),
                    ));
                }
                let endpoint = metadata
                    .get("introspection_endpoint")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| OAuthConfigError::NoIntrospection {
                        issuer: issuer.clone(),
                    })?
                    .to_owned();
                Some(Introspection {
                    endpoint,
                    client_id,
                    client_secret,
                    all: self.introspect_all,
                    in_flight: tokio::sync::Semaphore::new(INTROSPECTION_CONCURRENCY),
                })
            }
        };
        let by_kid = fetch_keys(&client, &jwks_uri).await?;
        Ok(OAuthResource::from_parts(
            Parts {
                issuer,
                resource,
                scopes: self.scopes,
                leeway: self.leeway,
                cache_ttl: self.cache_ttl,
                cache_capacity: self.cache_capacity,
                jwks_uri,
                client,
                by_kid,
            },
            introspection,
        ))
    }
}

/// What an [`OAuthResource`] is made of once its authorization server is known.
struct Parts {
    issuer: String,
    resource: String,
    scopes: Vec<String>,
    leeway: Duration,
    cache_ttl: Duration,
    cache_capacity: usize,
    jwks_uri: String,
    client: reqwest::Client,
    by_kid: KeyMap,
}

impl OAuthResource {
    /// Accepts tokens of `issuer` (its URL) for `resource`, this server's canonical URI
    /// (`http://127.0.0.1:3000/mcp`): the audience every token must carry. Set the rest,
    /// then [`discover`](OAuthResourceBuilder::discover).
    pub fn builder(issuer: impl Into<String>, resource: impl Into<String>) -> OAuthResourceBuilder {
        OAuthResourceBuilder {
            issuer: issuer.into(),
            resource: resource.into(),
            scopes: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            cache_ttl: DEFAULT_CACHE_TTL,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            introspection: None,
            introspect_all: false,
        }
    }

    /// [`builder`](Self::builder)`(issuer, resource).scopes(scopes).discover()`: JWT access
    /// tokens only, the default leeway and cache.
    pub async fn discover(
        issuer: &str,
        resource: &str,
        scopes: Vec<String>,
    ) -> Result<Self, OAuthConfigError> {
        Self::builder(issuer, resource)
            .scopes(scopes)
            .discover()
            .await
    }

    fn from_parts(parts: Parts, introspection: Option<Introspection>) -> Self {
        let validations = ALGORITHMS
            .iter()
            .map(|&alg| {
                let mut validation = Validation::new(alg);
                validation.leeway = parts.leeway.as_secs();
                validation.validate_nbf = true;
                validation.set_issuer(&[&parts.issuer]);
                validation.set_audience(&[&parts.resource]);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                (alg, validation)
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                issuer: parts.issuer,
                resource: parts.resource,
                scopes: parts.scopes,
                leeway: parts.leeway,
                validations,
                jwks_uri: parts.jwks_uri,
                client: parts.client,
                keys: Mutex::new(Keys {
                    by_kid: parts.by_kid,
                    fetched: Instant::now(),
                }),
                cache: TokenCache::new(parts.cache_capacity, parts.cache_ttl),
                introspection,
            }),
        }
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

    /// Checks a bearer token; a valid one is the [`Caller`] it names. A token validated
    /// before is found by its digest in the cache (until it would be refused); the required
    /// scopes are checked on every request.
    pub(crate) async fn check(&self, token: &str) -> Result<Caller, Refusal> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("the token is too long"));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let caller = match self.inner.cache.get(&digest) {
            Some(caller) => caller,
            None => {
                let (caller, valid_until) = self.validate(token).await?;
                self.inner.cache.insert(digest, caller.clone(), valid_until);
                caller
            }
        };
        if caller.has_scopes(&self.inner.scopes) {
            Ok(caller)
        } else {
            Err(Refusal::Scope)
        }
    }

    /// Validates a token not in the cache: the caller it names and the Unix time (seconds)
    /// until which it stays valid (its `exp` plus the leeway).
    async fn validate(&self, token: &str) -> Result<(Caller, u64), Refusal> {
        if let Some(introspection) = &self.inner.introspection
            && (introspection.all || !looks_like_jwt(token))
        {
            return self.introspect(introspection, token).await;
        }
        self.verify_jwt(token).await
    }

    /// A JWT: its signature with the issuer's key, `exp`/`nbf`, `iss`, `aud`.
    async fn verify_jwt(&self, token: &str) -> Result<(Caller, u64), Refusal> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the token is not a JWT with an accepted algorithm"))?;
        let Some((_, validation)) = self
            .inner
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
        else {
            return Err(invalid("the token's algorithm is not accepted"));
        };
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
        let data = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|error| {
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
        Ok((
            caller,
            claims.exp.saturating_add(self.inner.leeway.as_secs()),
        ))
    }

    /// An opaque token (or any token, with `introspect_all`): RFC 7662 introspection, then
    /// the same checks as a JWT's claims (`active`, `iss`, `aud`, `exp`/`nbf`).
    async fn introspect(
        &self,
        introspection: &Introspection,
        token: &str,
    ) -> Result<(Caller, u64), Refusal> {
        const UNAVAILABLE: &str = "the token could not be checked (introspection failed)";
        let _permit = introspection
            .in_flight
            .acquire()
            .await
            .map_err(|_| invalid(UNAVAILABLE))?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        // client_secret_basic: the id and secret are form-encoded before base64 (RFC 6749
        // §2.3.1).
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let response = self
            .inner
            .client
            .post(&introspection.endpoint)
            .basic_auth(
                encode(&introspection.client_id),
                Some(encode(&introspection.client_secret)),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot reach the introspection endpoint");
                invalid(UNAVAILABLE)
            })?;
        if !response.status().is_success() {
            // An OAuth error answer (RFC 6749 §5.2) says why, e.g. an authorization server
            // that cannot introspect JWTs answers `unsupported_token_type`.
            let status = response.status();
            let answer: Option<serde_json::Value> = response
                .bytes()
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let field = |key: &str| {
                answer
                    .as_ref()
                    .and_then(|a| a.get(key))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            let (error, description) = (field("error"), field("error_description"));
            tracing::warn!(
                %status,
                error = error.as_deref(),
                description = description.as_deref(),
                "the introspection endpoint refused this server's request"
            );
            return Err(Refusal::Invalid(match error {
                Some(error) => format!(
                    "the token could not be checked: the authorization server's introspection \
                     answered {status} {error}{}",
                    description.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
                None => UNAVAILABLE.to_owned(),
            }));
        }
        let bytes = response.bytes().await.map_err(|_| invalid(UNAVAILABLE))?;
        let answer: IntrospectionResponse = serde_json::from_slice(&bytes).map_err(|error| {
            tracing::warn!(%error, "the introspection endpoint answered no introspection response");
            invalid(UNAVAILABLE)
        })?;
        self.accept_introspected(&answer, unix_now())
    }

    /// The checks of an introspection response, at `now` (Unix seconds).
    fn accept_introspected(
        &self,
        answer: &IntrospectionResponse,
        now: u64,
    ) -> Result<(Caller, u64), Refusal> {
        let leeway = self.inner.leeway.as_secs();
        if !answer.active {
            return Err(invalid(
                "the token is not active (revoked, expired or unknown to the authorization server)",
            ));
        }
        if answer
            .iss
            .as_deref()
            .is_some_and(|iss| iss.trim_end_matches('/') != self.inner.issuer)
        {
            return Err(invalid("the token is from another issuer"));
        }
        if !answer
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(&self.inner.resource))
        {
            return Err(invalid("the token is for another resource"));
        }
        if answer
            .token_type
            .as_deref()
            .is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer"))
        {
            return Err(invalid("the token is not a bearer token"));
        }
        let valid_until = match answer.exp {
            Some(exp) if exp.saturating_add(leeway) <= now => {
                return Err(invalid("the token has expired"));
            }
            Some(exp) => exp.saturating_add(leeway),
            // No `exp`: valid as long as the authorization server says so; remembered for
            // the cache's time at most.
            None => u64::MAX,
        };
        if answer
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(invalid("the token is not valid yet"));
        }
        let granted: Vec<String> = answer
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let caller = Caller::new(answer.sub.as_deref(), answer.client_id.as_deref(), granted)
            .with_issuer(&self.inner.issuer);
        Ok((caller, valid_until))
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

    /// The `WWW-Authenticate` challenge of a refusal (no `scope` parameter when this server
    /// requires none).
    fn challenge(&self, refusal: Option<&Refusal>) -> String {
        let mut challenge = format!("Bearer resource_metadata=\"{}\"", self.metadata_url());
        if !self.inner.scopes.is_empty() {
            challenge.push_str(&format!(", scope=\"{}\"", self.inner.scopes.join(" ")));
        }
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

/// A compact JWS has three parts and a header that decodes; anything else is opaque.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2 && jsonwebtoken::decode_header(token).is_ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Validated tokens by the SHA-256 digest of the token, each until it would be refused and at
/// most `ttl`; at most `capacity` of them, the oldest evicted first.
#[derive(Debug)]
struct TokenCache {
    capacity: usize,
    ttl: Duration,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<[u8; 32], (Caller, Instant)>,
    /// Digests in the order they were inserted, with the deadline they were inserted with
    /// (an entry replaced since has another deadline: its old place is skipped).
    order: VecDeque<([u8; 32], Instant)>,
}

impl TokenCache {
    fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The caller of a remembered token, unless its time has passed.
    fn get(&self, digest: &[u8; 32]) -> Option<Caller> {
        self.get_at(digest, Instant::now())
    }

    fn get_at(&self, digest: &[u8; 32], now: Instant) -> Option<Caller> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (caller, deadline) = state.entries.get(digest)?;
        if *deadline > now {
            return Some(caller.clone());
        }
        state.entries.remove(digest);
        None
    }

    /// Remembers a token valid until `valid_until` (Unix seconds), for `ttl` at most.
    fn insert(&self, digest: [u8; 32], caller: Caller, valid_until: u64) {
        let left = Duration::from_secs(valid_until.saturating_sub(unix_now()));
        self.insert_at(digest, caller, left.min(self.ttl), Instant::now());
    }

    fn insert_at(&self, digest: [u8; 32], caller: Caller, keep: Duration, now: Instant) {
        if keep.is_zero() {
            return;
        }
        let deadline = now + keep;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.entries.insert(digest, (caller, deadline));
        state.order.push_back((digest, deadline));
        // Drop the expired at the front, then the oldest while over capacity; `order` keeps
        // at most twice the capacity (places of replaced entries are dropped as they come).
        while let Some(&(front, inserted)) = state.order.front() {
            let current = state.entries.get(&front).map(|(_, d)| *d);
            let stale = current != Some(inserted);
            let expired = inserted <= now;
            let over = state.entries.len() > self.capacity || state.order.len() > 2 * self.capacity;
            if !(stale || expired || over) {
                break;
            }
            state.order.pop_front();
            if !stale {
                state.entries.remove(&front);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
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
    let checked = match super::bearer(&request) {
        None => None,
        Some(token) => Some(resource.check(token).await),
    };
    let refusal = match checked {
        None => None,
        Some(Ok(caller)) => {
            request.extensions_mut().insert(caller);
            return next.run(request).await;
        }
        Some(Err(refusal)) => Some(refusal),
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
    let mut response = super::error_response(status, super::UNAUTHORIZED_CODE, &message);
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

    /// A P-256 key of ring's making, and a resource that trusts it as `k1` with `scopes`.
    fn signer(
        leeway: Duration,
        capacity: usize,
        scopes: &[&str],
    ) -> (jsonwebtoken::EncodingKey, OAuthResource) {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key reads back");
        let decoding = DecodingKey::from_ec_der(pair.public_key().as_ref());
        let mut by_kid = KeyMap::new();
        by_kid.insert(
            "k1".to_owned(),
            Arc::new((decoding, AlgorithmFamily::Ec, Some(Algorithm::ES256))),
        );
        let resource = OAuthResource::from_parts(
            Parts {
                issuer: "https://as.example".into(),
                resource: "https://rs.example/mcp".into(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                leeway,
                cache_ttl: DEFAULT_CACHE_TTL,
                cache_capacity: capacity,
                jwks_uri: "https://as.example/jwks".into(),
                client: reqwest::Client::new(),
                by_kid,
            },
            None,
        );
        (
            jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
            resource,
        )
    }

    fn mint(key: &jsonwebtoken::EncodingKey, claims: &serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, key).expect("signed")
    }

    fn claims(sub: &str, exp: u64) -> serde_json::Value {
        serde_json::json!({
            "iss": "https://as.example",
            "aud": "https://rs.example/mcp",
            "sub": sub,
            "scope": "notes:write",
            "exp": exp,
        })
    }

    #[test]
    fn the_cache_keeps_an_entry_until_its_deadline() {
        let cache = TokenCache::new(10, DEFAULT_CACHE_TTL);
        let now = Instant::now();
        let caller = Caller::new(Some("alice"), None, ["a"]);
        cache.insert_at([1; 32], caller.clone(), Duration::from_secs(5), now);
        assert_eq!(cache.get_at(&[1; 32], now), Some(caller.clone()));
        assert_eq!(
            cache.get_at(&[1; 32], now + Duration::from_secs(4)),
            Some(caller.clone())
        );
        assert_eq!(cache.get_at(&[1; 32], now + Duration::from_secs(5)), None);
        assert_eq!(cache.len(), 0, "an expired entry is dropped when found");
        assert_eq!(cache.get_at(&[2; 32], now), None);
        // Nothing is kept for no time.
        cache.insert_at([3; 32], caller, Duration::ZERO, now);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest_and_the_expired() {
        let cache = TokenCache::new(100, DEFAULT_CACHE_TTL);
        let now = Instant::now();
        let caller = Caller::new(Some("alice"), None, ["a"]);
        for i in 0..10_000u32 {
            let mut digest = [0; 32];
            digest[..4].copy_from_slice(&i.to_be_bytes());
            cache.insert_at(digest, caller.clone(), Duration::from_secs(60), now);
            assert!(cache.len() <= 100);
        }
        let state = cache.state.lock().expect("lock");
        assert!(state.order.len() <= 200, "{}", state.order.len());
        let mut newest = [0; 32];
        newest[..4].copy_from_slice(&9_999u32.to_be_bytes());
        let mut oldest = [0; 32];
        oldest[..4].copy_from_slice(&0u32.to_be_bytes());
        assert!(state.entries.contains_key(&newest));
        assert!(!state.entries.contains_key(&oldest));
        drop(state);
        // Entries whose time has passed go when the next one comes.
        let later = now + Duration::from_secs(61);
        cache.insert_at([9; 32], caller.clone(), Duration::from_secs(60), later);
        assert_eq!(cache.len(), 1);
        // The same token again replaces its entry (its old place is skipped, not evicted).
        for _ in 0..1_000 {
            cache.insert_at([9; 32], caller.clone(), Duration::from_secs(60), later);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.state.lock().expect("lock").order.len() <= 200);
    }

    #[tokio::test]
    async fn a_validated_token_is_cached_by_digest_and_refused_once_it_has_expired() {
        let (key, resource) = signer(Duration::ZERO, 10, &["notes:write"]);
        let token = mint(&key, &claims("alice", unix_now() + 2));
        let caller = resource.check(&token).await.expect("valid");
        assert_eq!(caller.subject(), Some("alice"));
        assert_eq!(resource.inner.cache.len(), 1);
        {
            let state = resource.inner.cache.state.lock().expect("lock");
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            assert!(state.entries.contains_key(&digest), "keyed by the digest");
        }
        assert_eq!(resource.check(&token).await, Ok(caller));
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        assert_eq!(
            resource.check(&token).await,
            Err(invalid("the token has expired"))
        );
        assert_eq!(resource.inner.cache.len(), 0);
    }

    #[tokio::test]
    async fn refusals_are_not_cached_and_scopes_are_checked_on_every_request() {
        let (key, resource) = signer(Duration::ZERO, 10, &["notes:write"]);
        for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
            assert!(resource.check(garbage).await.is_err());
        }
        let other = mint(
            &key,
            &serde_json::json!({
                "iss": "https://as.example", "aud": "https://other.example/mcp",
                "sub": "x", "exp": unix_now() + 60,
            }),
        );
        assert_eq!(
            resource.check(&other).await,
            Err(invalid("the token is for another resource"))
        );
        let future = mint(
            &key,
            &serde_json::json!({
                "iss": "https://as.example", "aud": "https://rs.example/mcp",
                "sub": "x", "exp": unix_now() + 600, "nbf": unix_now() + 300,
            }),
        );
        assert_eq!(
            resource.check(&future).await,
            Err(invalid("the token is not valid yet"))
        );
        assert_eq!(resource.inner.cache.len(), 0);
        // A token without the scope is remembered (it is valid) but refused each time.
        let reader = mint(
            &key,
            &serde_json::json!({
                "iss": "https://as.example", "aud": "https://rs.example/mcp",
                "sub": "x", "scope": "db:read", "exp": unix_now() + 60,
            }),
        );
        assert_eq!(resource.check(&reader).await, Err(Refusal::Scope));
        assert_eq!(resource.check(&reader).await, Err(Refusal::Scope));
        assert_eq!(resource.inner.cache.len(), 1);
    }

    #[tokio::test]
    async fn a_flood_of_distinct_valid_tokens_stays_within_the_capacity() {
        let (key, resource) = signer(Duration::ZERO, 50, &[]);
        for i in 0..500 {
            let token = mint(&key, &claims(&format!("user-{i}"), unix_now() + 60));
            resource.check(&token).await.expect("valid");
        }
        assert_eq!(resource.inner.cache.len(), 50);
    }

    #[test]
    fn a_challenge_without_required_scopes_has_no_scope_parameter() {
        let (_, resource) = signer(Duration::ZERO, 10, &[]);
        assert_eq!(
            resource.challenge(None),
            "Bearer resource_metadata=\"https://rs.example/.well-known/oauth-protected-resource/mcp\""
        );
        let (_, scoped) = signer(Duration::ZERO, 10, &["a", "b"]);
        assert!(scoped.challenge(None).ends_with(", scope=\"a b\""));
    }

    #[test]
    fn introspection_answers_are_checked_like_claims() {
        let (_, resource) = signer(Duration::from_secs(5), 10, &[]);
        let now = 1_000_000;
        let answer = |json: serde_json::Value| {
            let answer: IntrospectionResponse = serde_json::from_value(json).expect("parses");
            resource.accept_introspected(&answer, now)
        };
        let good = serde_json::json!({
            "active": true, "iss": "https://as.example", "aud": "https://rs.example/mcp",
            "exp": now + 60, "scope": "a b", "client_id": "app", "sub": "alice",
            "token_type": "Bearer",
        });
        let (caller, until) = answer(good.clone()).expect("accepted");
        assert_eq!(until, now + 65);
        assert_eq!(caller.subject(), Some("alice"));
        assert_eq!(caller.client_id(), Some("app"));
        assert_eq!(caller.scopes(), ["a", "b"]);
        let with = |key: &str, value: serde_json::Value| {
            let mut json = good.clone();
            json[key] = value;
            answer(json).map(|_| ()).map_err(|refusal| match refusal {
                Refusal::Invalid(why) => why,
                Refusal::Scope => "scope".into(),
            })
        };
        assert!(
            with("active", false.into())
                .expect_err("refused")
                .contains("not active")
        );
        assert!(
            with("iss", "https://evil.example".into())
                .expect_err("refused")
                .contains("another issuer")
        );
        assert!(
            with("aud", "https://other.example/mcp".into())
                .expect_err("refused")
                .contains("another resource")
        );
        assert_eq!(
            with("aud", serde_json::json!(["x", "https://rs.example/mcp"])),
            Ok(())
        );
        assert!(with("aud", serde_json::Value::Null).is_err());
        assert!(
            with("exp", (now - 6).into())
                .expect_err("refused")
                .contains("expired")
        );
        assert_eq!(with("exp", (now - 4).into()), Ok(()), "within the leeway");
        assert!(
            with("nbf", (now + 6).into())
                .expect_err("refused")
                .contains("not valid yet")
        );
        assert!(
            with("token_type", "DPoP".into())
                .expect_err("refused")
                .contains("bearer")
        );
    }
}
