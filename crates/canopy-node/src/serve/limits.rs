//! The limits the HTTP face puts on every request before rmcp sees it ([`HttpLimits`]): how
//! large and how deeply nested a message may be, how long a client may take to send it, how
//! many requests run at once (in total and per client), how many legacy sessions may be
//! open (in total and per client) and how long an idle one lives.
//!
//! Each refusal is a clear HTTP status with a JSON-RPC error body (`id` null: the request
//! was not read, or could not be), and never disturbs the other calls in flight:
//!
//! | limit | default | refusal |
//! |---|---|---|
//! | body size | 4 MiB | `413`, JSON-RPC `-32600` |
//! | JSON nesting depth | 64 | `400`, `-32600` |
//! | JSON-RPC batches | refused (MCP 2025-06-18 removed them) | `400`, `-32600` |
//! | time to send the body | 30 s | `408`, `-32600` |
//! | time to send the headers | 10 s | the connection is closed |
//! | concurrent requests, in total | 1024 | `429` + `Retry-After`, `-32000` |
//! | concurrent requests, per client | 128 | `429` + `Retry-After`, `-32000` |
//! | open sessions, in total | 1024 | `503` + `Retry-After`, `-32000` |
//! | open sessions, per client | 128 | `429` + `Retry-After`, `-32000` |
//! | idle session | 10 min | closed; its id then gets `404` |
//!
//! A client is the authenticated caller (its issuer and subject) when the server
//! authenticates, else the peer's IP address.

use std::{
    collections::HashMap,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;

use crate::Caller;

/// The limits of a tree served over HTTP ([`HttpOptions::limits`](super::HttpOptions::limits)).
/// Every setter takes the new value; [`HttpLimits::default`] gives the table's defaults.
///
/// ```
/// use std::time::Duration;
/// use canopy_node::HttpLimits;
///
/// let limits = HttpLimits::default()
///     .max_body_bytes(1 << 20)
///     .max_concurrent_per_client(8)
///     .session_idle_timeout(Duration::from_secs(60));
/// assert_eq!(limits.body_bytes(), 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    max_body_bytes: usize,
    max_json_depth: usize,
    body_timeout: Duration,
    header_timeout: Duration,
    max_concurrent: usize,
    max_concurrent_per_client: usize,
    max_sessions: usize,
    max_sessions_per_client: usize,
    session_idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::DEFAULT_BODY_BYTES,
            max_json_depth: 64,
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_concurrent: 1024,
            max_concurrent_per_client: 128,
            max_sessions: 1024,
            max_sessions_per_client: 128,
            session_idle_timeout: Duration::from_secs(600),
        }
    }
}

macro_rules! limit {
    ($(#[$doc:meta])* $field:ident, $getter:ident: $ty:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, value: $ty) -> Self {
            self.$field = value;
            self
        }

        #[doc = concat!("The value [`HttpLimits::", stringify!($field), "`] set.")]
        pub fn $getter(&self) -> $ty {
            self.$field
        }
    };
}

impl HttpLimits {
    /// The default largest request body: 4 MiB.
    pub const DEFAULT_BODY_BYTES: usize = 4 << 20;

    limit!(
        /// The largest request body, in bytes; a larger one gets `413`.
        max_body_bytes, body_bytes: usize
    );
    limit!(
        /// The deepest nesting of arrays and objects in a message; a deeper one gets `400`.
        max_json_depth, json_depth: usize
    );
    limit!(
        /// How long a client may take to send a request's body once its headers are in;
        /// a slower one gets `408`.
        body_timeout, body_time: Duration
    );
    limit!(
        /// How long a client may take to send a request's headers (also how long a
        /// kept-alive connection may wait for its next request); then the connection is
        /// closed.
        header_timeout, header_time: Duration
    );
    limit!(
        /// How many requests may run at once, from all clients together; more get `429`.
        max_concurrent, concurrent: usize
    );
    limit!(
        /// How many requests one client may have running at once; more get `429`.
        max_concurrent_per_client, concurrent_per_client: usize
    );
    limit!(
        /// How many legacy (2025-*) sessions may be open at once; more get `503`.
        max_sessions, sessions: usize
    );
    limit!(
        /// How many legacy sessions one client may have open at once; more get `429`.
        max_sessions_per_client, sessions_per_client: usize
    );
    limit!(
        /// How long a session may go without a message before it is closed.
        session_idle_timeout, session_idle: Duration
    );
}

impl HttpLimits {
    /// These limits with every value `settings` sets (a tree file's `[serve.limits]`, or
    /// flags that say the same) put in place; the unset ones stay.
    #[must_use]
    pub fn with_settings(mut self, settings: &crate::treefile::ServeLimits) -> Self {
        macro_rules! apply {
            ($($key:ident),*) => {$(
                if let Some(value) = settings.$key {
                    self.$key = value;
                }
            )*};
        }
        apply!(
            max_body_bytes,
            max_json_depth,
            max_concurrent,
            max_concurrent_per_client,
            max_sessions,
            max_sessions_per_client,
            session_idle_timeout,
            header_timeout,
            body_timeout
        );
        self
    }
}

/// Who a request is from, for the per-client limits: the authenticated caller, else the
/// peer's IP address.
pub(super) fn client_key(request: &Request) -> Arc<str> {
    if let Some(caller) = request.extensions().get::<Caller>() {
        return caller.key();
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => peer.ip().to_string().into(),
        None => "unknown".into(),
    }
}

/// What the limits share across requests: the running requests per client.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) limits: HttpLimits,
    running: Mutex<Running>,
    pub(super) sessions: Arc<super::sessions::SessionBook>,
}

#[derive(Debug, Default)]
struct Running {
    total: usize,
    per_client: HashMap<Arc<str>, usize>,
}

impl Gate {
    pub(super) fn new(limits: HttpLimits, sessions: Arc<super::sessions::SessionBook>) -> Self {
        Self {
            limits,
            running: Mutex::new(Running::default()),
            sessions,
        }
    }

    /// A slot for one more running request of `client`, or why not.
    fn admit(self: &Arc<Self>, client: &Arc<str>) -> Result<Slot, Refusal> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.total >= self.limits.max_concurrent {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                -32000,
                format!(
                    "the server is busy: {} requests are running, its limit; retry later",
                    self.limits.max_concurrent
                ),
                Some(1),
            ));
        }
        let mine = running.per_client.entry(client.clone()).or_default();
        if *mine >= self.limits.max_concurrent_per_client {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                -32000,
                format!(
                    "too many concurrent requests from this client: {} are running, its \
                     limit; wait for one to finish",
                    self.limits.max_concurrent_per_client
                ),
                Some(1),
            ));
        }
        *mine += 1;
        running.total += 1;
        Ok(Slot {
            gate: self.clone(),
            client: client.clone(),
        })
    }
}

/// One running request: freed when the response's body is done (or dropped).
struct Slot {
    gate: Arc<Gate>,
    client: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self
            .gate
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        running.total = running.total.saturating_sub(1);
        if let Some(mine) = running.per_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                running.per_client.remove(&self.client);
            }
        }
    }
}

/// The middleware: the concurrency slot, the body read under its limits and checked, and
/// the session limits for an `initialize` that would open a session.
pub(super) async fn enforce(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    // A GET is a session's standalone SSE stream (or a resumption): it lasts as long as
    // the session, which the session limits bound; a DELETE closes one.
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let client = client_key(&request);
    let slot = match gate.admit(&client) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&gate.limits, &parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused.into_response(),
    };
    if let Err(refused) = check_json(&bytes, gate.limits.max_json_depth) {
        return refused.into_response();
    }
    let opens_session = !parts.headers.contains_key("mcp-session-id") && is_initialize(&bytes);
    if opens_session && let Err(refused) = gate.sessions.may_open(&client) {
        return refused.into_response();
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let response = if opens_session {
        super::sessions::opening_for(client, next.run(request)).await
    } else {
        next.run(request).await
    };
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Held { body, _slot: slot }))
}

/// The body, read whole within the size and time limits.
async fn read_body(
    limits: &HttpLimits,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            format!(
                "the request body is larger than the limit of {} bytes",
                limits.max_body_bytes
            ),
            None,
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            -32600,
            format!(
                "the request body did not arrive within {} s",
                limits.body_timeout.as_secs_f64()
            ),
            None,
        )),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(error)) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            -32600,
            format!("the request body could not be read: {error}"),
            None,
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Refuses a batch, and a message nested deeper than `max_depth` (before any parser
/// recurses into it).
fn check_json(bytes: &[u8], max_depth: usize) -> Result<(), Refusal> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            -32600,
            "JSON-RPC batches are not accepted (MCP 2025-06-18 removed them): send one \
             message per request"
                .into(),
            None,
        ));
    }
    let depth = nesting_depth(bytes);
    if depth > max_depth {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            -32600,
            format!("the message nests {depth} levels deep; the limit is {max_depth}"),
            None,
        ));
    }
    Ok(())
}

/// The deepest nesting of arrays and objects in `bytes` (strings skipped, escapes too).
pub(super) fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether the message is an `initialize` request (which opens a legacy session).
fn is_initialize(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Head<'_>>(bytes)
        .ok()
        .and_then(|head| head.method)
        .is_some_and(|method| method == "initialize")
}

/// A request refused by a limit: the status, and the JSON-RPC error its body carries
/// (`Retry-After` too when retrying may help).
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    code: i64,
    message: String,
    retry_after: Option<u64>,
}

impl Refusal {
    pub(super) fn new(
        status: StatusCode,
        code: i64,
        message: String,
        retry_after: Option<u64>,
    ) -> Self {
        Self {
            status,
            code,
            message,
            retry_after,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = crate::auth::error_response(self.status, self.code, &self.message);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A response body that holds something (the request's slot) until it is done.
struct Held<T> {
    body: Body,
    _slot: T,
}

impl<T: Send + Unpin + 'static> http_body::Body for Held<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects_but_not_strings() {
        assert_eq!(nesting_depth(br#"{"a":1}"#), 1);
        assert_eq!(nesting_depth(br#"{"a":[{"b":[]}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a":"[[[[{{{{"}"#), 1);
        assert_eq!(nesting_depth(br#"{"a":"\"[[[[\\"}"#), 1);
        assert_eq!(nesting_depth(b"42"), 0);
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(nesting_depth(deep.as_bytes()), 100);
    }

    #[test]
    fn batches_and_deep_messages_are_refused_with_their_reason() {
        let batch =
            check_json(br#" [{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, 64).expect_err("a batch");
        assert_eq!(batch.status, StatusCode::BAD_REQUEST);
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{}1{}}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        let refused = check_json(deep.as_bytes(), 64).expect_err("too deep");
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(check_json(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, 64).is_ok());
    }

    #[test]
    fn only_initialize_opens_a_session() {
        assert!(is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(!is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!is_initialize(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(!is_initialize(b"not json"));
    }

    #[test]
    fn settings_replace_only_what_they_set() {
        let settings = crate::treefile::ServeLimits {
            max_json_depth: Some(8),
            body_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let limits = HttpLimits::default().with_settings(&settings);
        assert_eq!(limits.json_depth(), 8);
        assert_eq!(limits.body_time(), Duration::from_secs(2));
        assert_eq!(limits.body_bytes(), HttpLimits::DEFAULT_BODY_BYTES);
        assert_eq!(
            HttpLimits::default().with_settings(&crate::treefile::ServeLimits::default()),
            HttpLimits::default()
        );
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let limits = HttpLimits::default();
        assert_eq!(limits.body_bytes(), 4 * 1024 * 1024);
        assert_eq!(limits.json_depth(), 64);
        assert_eq!(limits.concurrent(), 1024);
        assert_eq!(limits.concurrent_per_client(), 128);
        assert_eq!(limits.sessions(), 1024);
        assert_eq!(limits.sessions_per_client(), 128);
        assert_eq!(limits.session_idle(), Duration::from_secs(600));
        assert_eq!(limits.header_time(), Duration::from_secs(10));
        assert_eq!(limits.body_time(), Duration::from_secs(30));
    }
}
