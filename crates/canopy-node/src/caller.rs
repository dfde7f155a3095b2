//! Who is calling: the identity an authenticated request brings into the tree.
//!
//! The HTTP face's authentication ([`auth`](crate::auth)) turns a valid access token into a
//! [`Caller`]: the token's subject, client id, issuer and scopes — never the token itself.
//! The caller travels with the call to every node on its path: policies test its scopes
//! (`require_scopes`, `allow_scopes`), in-process nodes read it from
//! [`NodeContext::caller`](crate::NodeContext::caller), and every child (in-process or
//! remote) gets its claims in `_meta["io.canopy/caller"]`. A claim a client sends in that key
//! itself is dropped at the root: only the root's own authentication can set it.
//!
//! ```
//! use canopy_node::Caller;
//!
//! let caller = Caller::new(Some("alice"), Some("notes-app"), ["notes:read", "notes:write"]);
//! assert!(caller.has_scopes(&["notes:write"]));
//! assert!(!caller.has_scopes(&["db:read"]));
//! assert_eq!(caller.claims()["scope"], "notes:read notes:write");
//! ```

use std::sync::{Arc, OnceLock};

/// The `_meta` key under which every child gets the caller's claims.
pub const CALLER_META_KEY: &str = "io.canopy/caller";

/// An authenticated caller: cheap to clone, never holds the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    subject: Option<String>,
    client_id: Option<String>,
    issuer: Option<String>,
    scopes: Box<[String]>,
    /// [`Caller::claims`], made once: every request of a cached token forwards them.
    claims: OnceLock<serde_json::Value>,
    /// [`Caller::key`], made once.
    key: OnceLock<Arc<str>>,
}

impl PartialEq for Inner {
    fn eq(&self, other: &Self) -> bool {
        (&self.subject, &self.client_id, &self.issuer, &self.scopes)
            == (
                &other.subject,
                &other.client_id,
                &other.issuer,
                &other.scopes,
            )
    }
}

impl Eq for Inner {}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("subject", &self.inner.subject)
            .field("client_id", &self.inner.client_id)
            .field("issuer", &self.inner.issuer)
            .field("scopes", &self.inner.scopes)
            .finish()
    }
}

impl Caller {
    /// A caller with this subject (`sub`), client id and granted scopes.
    pub fn new<S: Into<String>>(
        subject: Option<&str>,
        client_id: Option<&str>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                subject: subject.map(str::to_owned),
                client_id: client_id.map(str::to_owned),
                issuer: None,
                scopes: scopes.into_iter().map(Into::into).collect(),
                claims: OnceLock::new(),
                key: OnceLock::new(),
            }),
        }
    }

    /// The same caller, saying which authorization server vouched for it.
    #[must_use]
    pub fn with_issuer(self, issuer: impl Into<String>) -> Self {
        let inner = Arc::unwrap_or_clone(self.inner);
        Self {
            inner: Arc::new(Inner {
                issuer: Some(issuer.into()),
                claims: OnceLock::new(),
                key: OnceLock::new(),
                ..inner
            }),
        }
    }

    /// The subject (`sub` of the token): who the caller is.
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// The OAuth client the caller uses (`client_id` or `azp` of the token).
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The authorization server that issued the token.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// The scopes the token grants.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Whether the token grants every scope of `needed`.
    pub fn has_scopes<S: AsRef<str>>(&self, needed: &[S]) -> bool {
        needed
            .iter()
            .all(|scope| self.inner.scopes.iter().any(|s| s == scope.as_ref()))
    }

    /// Who the caller is in one word, for logs and audit events: the subject, else the
    /// client id, else `anonymous`.
    pub fn name(&self) -> &str {
        self.subject()
            .or_else(|| self.client_id())
            .unwrap_or("anonymous")
    }

    /// The claims children get in `_meta["io.canopy/caller"]`: `sub`, `client_id`, `iss`
    /// (each when known) and `scope` (space-separated, as in a token).
    pub fn claims(&self) -> serde_json::Value {
        self.inner.claims.get_or_init(|| self.make_claims()).clone()
    }

    /// Who the caller is for the HTTP face's per-client limits: its issuer and name.
    pub(crate) fn key(&self) -> Arc<str> {
        self.inner
            .key
            .get_or_init(|| format!("{} {}", self.issuer().unwrap_or("-"), self.name()).into())
            .clone()
    }

    fn make_claims(&self) -> serde_json::Value {
        let mut claims = serde_json::Map::new();
        let mut put = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                claims.insert(key.to_owned(), value.into());
            }
        };
        put("sub", self.subject());
        put("client_id", self.client_id());
        put("iss", self.issuer());
        claims.insert("scope".to_owned(), self.inner.scopes.join(" ").into());
        serde_json::Value::Object(claims)
    }
}
