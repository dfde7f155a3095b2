//! What the HTTP providers share: the client with its timeouts, the retry policy, SSE
//! parsing, the mapping of HTTP errors to [`ModelError`], and the API key that never shows.

use std::{
    collections::hash_map::RandomState,
    fmt,
    future::Future,
    hash::{BuildHasher, Hasher},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, SystemTime},
};

use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sse_stream::{Sse, SseStream};

use crate::model::{DeltaSink, ModelDelta, ModelError};

/// How an HTTP provider retries a failed request: exponential backoff with jitter on rate
/// limits (429, Anthropic's 529 overload), server errors (5xx), transport errors and
/// timeouts, honouring the provider's `retry-after` and rate-limit reset headers.
///
/// A request is retried only while nothing of its answer has been streamed to the caller,
/// so a retry never repeats text the caller has already seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// How many times a request is retried after its first attempt (0: never).
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub base_delay: Duration,
    /// The longest wait. When the provider asks for a longer one, the error is returned
    /// instead (with its `retry_after`), so the caller decides.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three retries, starting at half a second, waiting at most 30 s.
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given number of retries and delays.
    pub fn new(max_retries: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_retries,
            base_delay,
            max_delay,
        }
    }

    /// Never retry.
    pub fn none() -> Self {
        Self::new(0, Duration::ZERO, Duration::ZERO)
    }

    /// The wait before retry number `retry` (0 for the first), or `None` when the provider
    /// asked for a wait longer than [`max_delay`](Self::max_delay).
    ///
    /// With `retry_after` from the provider, that wait exactly; otherwise
    /// `base_delay * 2^retry` capped at `max_delay`, of which the upper half is jittered.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_delay).then_some(after);
        }
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        let half = exp / 2;
        Some(half + half.mul_f64(jitter()))
    }
}

/// A random number in `[0, 1)` (std's randomly keyed hasher is enough for jitter).
fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// An API key: sent in a header, never printed (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced (error bodies may echo it).
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Extra headers: their names show in `Debug`, their values (which may be secrets) do not.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "[redacted]")))
            .finish()
    }
}

/// Connection settings shared by the HTTP providers: the key, extra headers, timeouts and
/// retries.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) headers: Headers,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Default for Transport {
    fn default() -> Self {
        Self {
            api_key: None,
            headers: Headers::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
        }
    }
}

/// How a provider sends its API key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Auth {
    /// `Authorization: Bearer KEY`.
    #[cfg_attr(not(feature = "openai"), allow(dead_code))]
    Bearer,
    /// The key as the value of this header.
    #[cfg_attr(not(feature = "anthropic"), allow(dead_code))]
    Header(&'static str),
}

/// The setters every HTTP provider's configuration has (it keeps a `transport` field).
macro_rules! transport_setters {
    () => {
        /// An extra header on every request; its value is treated as a secret.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.transport.headers.0.push((name.into(), value.into()));
            self
        }

        /// How long to wait for a connection (default 10 s).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.transport.connect_timeout = timeout;
            self
        }

        /// How long one attempt may take, streaming included (default 10 minutes).
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.transport.request_timeout = timeout;
            self
        }

        /// How failed requests are retried (default [`RetryPolicy::default`]).
        pub fn retry(mut self, policy: RetryPolicy) -> Self {
            self.transport.retry = policy;
            self
        }

        /// Whether a key is configured.
        pub fn has_api_key(&self) -> bool {
            self.transport.api_key.is_some()
        }
    };
}
pub(crate) use transport_setters;

impl Transport {
    /// A streaming POST of `body` to `url`, with the key (sent as `auth` says) and the
    /// extra headers.
    pub(crate) fn post(
        &self,
        client: &reqwest::Client,
        url: String,
        auth: Auth,
        body: &serde_json::Value,
    ) -> reqwest::RequestBuilder {
        let mut request = client
            .post(url)
            .header("accept", "text/event-stream")
            .json(body);
        if let Some(key) = &self.api_key {
            request = match auth {
                Auth::Bearer => request.bearer_auth(key.expose()),
                Auth::Header(name) => request.header(name, key.expose()),
            };
        }
        for (name, value) in &self.headers.0 {
            request = request.header(name, value);
        }
        request
    }

    /// The reqwest client (the overall per-request timeout is applied around each attempt,
    /// streaming included, by [`with_retries`]).
    pub(crate) fn client(&self) -> Result<reqwest::Client, ModelError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| ModelError::Transport(format!("cannot build the HTTP client: {e}")))
    }
}

/// The caller's delta sink, remembering whether anything went through it: once an attempt
/// has streamed, its failure is returned rather than retried.
pub(crate) struct Tracked<'a> {
    on_delta: DeltaSink<'a>,
    streamed: AtomicBool,
}

impl fmt::Debug for Tracked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("streamed", &self.streamed)
            .finish_non_exhaustive()
    }
}

impl<'a> Tracked<'a> {
    pub(crate) fn new(on_delta: DeltaSink<'a>) -> Self {
        Self {
            on_delta,
            streamed: AtomicBool::new(false),
        }
    }

    pub(crate) fn emit(&self, delta: ModelDelta) {
        self.streamed.store(true, Ordering::Relaxed);
        (self.on_delta)(delta);
    }

    fn streamed(&self) -> bool {
        self.streamed.load(Ordering::Relaxed)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy gives up; each attempt
/// is bounded by the transport's request timeout.
pub(crate) async fn with_retries<T, F, Fut>(
    transport: &Transport,
    what: &str,
    sink: &Tracked<'_>,
    mut attempt: F,
) -> Result<T, ModelError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ModelError>>,
{
    let mut retry = 0;
    loop {
        let outcome = match tokio::time::timeout(transport.request_timeout, attempt()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ModelError::Timeout(transport.request_timeout)),
        };
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !error.is_retryable() || retry >= transport.retry.max_retries || sink.streamed() {
            return Err(error);
        }
        let Some(delay) = transport.retry.delay(retry, retry_after(&error)) else {
            return Err(error);
        };
        tracing::warn!(model = what, retry = retry + 1, ?delay, %error, "model request failed; retrying");
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

fn retry_after(error: &ModelError) -> Option<Duration> {
    match error {
        ModelError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// A transport error from reqwest, without the URL's query (where some proxies put keys).
pub(crate) fn transport_error(error: reqwest::Error, timeout: Duration) -> ModelError {
    if error.is_timeout() {
        return ModelError::Timeout(timeout);
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ModelError::Transport(message)
}

/// Sends a request; a non-success status becomes the matching [`ModelError`].
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    key: Option<&ApiKey>,
    timeout: Duration,
) -> Result<reqwest::Response, ModelError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    let body = match key {
        Some(key) => key.scrub(&body),
        None => body,
    };
    Err(status_error(status.as_u16(), &headers, &body))
}

/// The events of an SSE response body.
pub(crate) fn sse(
    response: reqwest::Response,
    timeout: Duration,
) -> impl Stream<Item = Result<Sse, ModelError>> + Send + Unpin {
    SseStream::from_bytes_stream(response.bytes_stream()).map(move |event| {
        event.map_err(|e| match e {
            sse_stream::Error::Body(body) => match body.downcast::<reqwest::Error>() {
                Ok(e) => transport_error(*e, timeout),
                Err(e) => ModelError::Transport(e.to_string()),
            },
            other => ModelError::Malformed(format!("bad server-sent event: {other}")),
        })
    })
}

/// The error for an HTTP status and its body (OpenAI's `{"error": {message, type, code}}`
/// or Anthropic's `{"type": "error", "error": {type, message}}`, or plain text).
pub(crate) fn status_error(status: u16, headers: &HeaderMap, body: &str) -> ModelError {
    let (kind, message) = error_body(body);
    let lower = message.to_ascii_lowercase();
    match status {
        401 | 403 => ModelError::Auth(message),
        429 | 529 => ModelError::RateLimited {
            retry_after: retry_after_headers(headers, SystemTime::now()),
            message,
        },
        413 => ModelError::ContextTooLong(message),
        400..=499 if is_context_error(&kind, &lower) => ModelError::ContextTooLong(message),
        400..=499 => ModelError::InvalidRequest(message),
        _ => ModelError::Server { status, message },
    }
}

/// The error an error object inside a stream stands for (both providers can fail mid-answer:
/// OpenAI with `data: {"error": …}`, Anthropic with `event: error`).
pub(crate) fn stream_error(error: &Value) -> ModelError {
    let (kind, message) = error_object(error);
    let lower = message.to_ascii_lowercase();
    match kind.as_str() {
        "overloaded_error" | "rate_limit_error" | "rate_limit_exceeded" => {
            ModelError::RateLimited {
                retry_after: None,
                message,
            }
        }
        "authentication_error" | "permission_error" => ModelError::Auth(message),
        _ if is_context_error(&kind, &lower) => ModelError::ContextTooLong(message),
        "invalid_request_error" => ModelError::InvalidRequest(message),
        _ => ModelError::Server {
            status: 500,
            message,
        },
    }
}

fn is_context_error(kind: &str, lower_message: &str) -> bool {
    kind == "context_length_exceeded"
        || kind == "request_too_large"
        || lower_message.contains("context length")
        || lower_message.contains("context_length_exceeded")
        || lower_message.contains("context window")
        || lower_message.contains("prompt is too long")
        || lower_message.contains("maximum context")
}

/// (kind, message) from an error body; the kind is the error's `code` or `type`.
fn error_body(body: &str) -> (String, String) {
    match serde_json::from_str::<Value>(body) {
        Ok(value) => match value.get("error") {
            Some(error) => error_object(error),
            None => (String::new(), truncate(body)),
        },
        Err(_) if body.trim().is_empty() => (String::new(), "(no error message)".to_owned()),
        Err(_) => (String::new(), truncate(body.trim())),
    }
}

fn error_object(error: &Value) -> (String, String) {
    let field = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
    let kind = field("code").or_else(|| field("type")).unwrap_or_default();
    let message = field("message")
        .or_else(|| error.as_str().map(str::to_owned))
        .unwrap_or_else(|| truncate(&error.to_string()));
    let message = match (kind.is_empty(), message.contains(&kind)) {
        (false, false) => format!("{message} ({kind})"),
        _ => message,
    };
    (kind, message)
}

fn truncate(text: &str) -> String {
    const MAX: usize = 500;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// How long the provider asked to wait: `retry-after-ms`, `retry-after` (seconds or an HTTP
/// date), or else the latest reset time of an exhausted rate-limit bucket (OpenAI's
/// `x-ratelimit-reset-*` durations, Anthropic's `anthropic-ratelimit-*-reset` timestamps).
pub(crate) fn retry_after_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    if let Some(value) = header("retry-after") {
        if let Ok(secs) = value.parse::<f64>() {
            return Duration::try_from_secs_f64(secs).ok();
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or_default());
        }
    }
    let mut wait: Option<Duration> = None;
    for bucket in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let exhausted = |name: String| header(&name).is_some_and(|v| v == "0");
        let reset = if exhausted(format!("x-ratelimit-remaining-{bucket}")) {
            header(&format!("x-ratelimit-reset-{bucket}")).and_then(parse_go_duration)
        } else if exhausted(format!("anthropic-ratelimit-{bucket}-remaining")) {
            header(&format!("anthropic-ratelimit-{bucket}-reset"))
                .and_then(parse_rfc3339)
                .map(|at| at.duration_since(now).unwrap_or_default())
        } else {
            None
        };
        if let Some(reset) = reset {
            wait = Some(wait.map_or(reset, |w| w.max(reset)));
        }
    }
    wait
}

/// A duration as OpenAI writes it in rate-limit headers: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// An RFC 3339 timestamp (`2026-01-02T03:04:05Z`, fractions and offsets allowed).
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        fraction = format!("0.{}", &after_dot[..end]).parse().ok()?;
        rest = &after_dot[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_secs_f64(fraction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn retry_after_in_seconds_milliseconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            retry_after_headers(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after_headers(
                &headers(&[("retry-after-ms", "250"), ("retry-after", "7")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            retry_after_headers(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_after_headers(&headers(&[]), now), None);
    }

    #[test]
    fn rate_limit_reset_headers_of_exhausted_buckets() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let openai = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1m2.5s"),
            ("x-ratelimit-remaining-tokens", "100"),
            ("x-ratelimit-reset-tokens", "5m"),
        ]);
        assert_eq!(
            retry_after_headers(&openai, now),
            Some(Duration::from_millis(62_500))
        );
        let anthropic = headers(&[
            ("anthropic-ratelimit-tokens-remaining", "0"),
            ("anthropic-ratelimit-tokens-reset", "1994-11-06T08:50:07Z"),
        ]);
        assert_eq!(
            retry_after_headers(&anthropic, now),
            Some(Duration::from_secs(30))
        );
        let offset = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            (
                "anthropic-ratelimit-requests-reset",
                "1994-11-06T09:49:38+01:00",
            ),
        ]);
        assert_eq!(
            retry_after_headers(&offset, now),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_secs(1));
        for retry in 0..8 {
            let full = (Duration::from_millis(100) * 2u32.pow(retry)).min(Duration::from_secs(1));
            let delay = policy.delay(retry, None).expect("a delay");
            assert!(
                delay >= full / 2 && delay <= full,
                "retry {retry}: {delay:?}"
            );
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_millis(300))),
            Some(Duration::from_millis(300))
        );
        assert_eq!(policy.delay(0, Some(Duration::from_secs(60))), None);
    }

    #[test]
    fn statuses_map_to_errors() {
        let none = HeaderMap::new();
        let openai_context = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            status_error(400, &none, openai_context),
            ModelError::ContextTooLong(_)
        ));
        let anthropic_context = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#;
        assert!(matches!(
            status_error(400, &none, anthropic_context),
            ModelError::ContextTooLong(_)
        ));
        assert!(matches!(
            status_error(400, &none, r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#),
            ModelError::InvalidRequest(m) if m == "bad (invalid_request_error)"
        ));
        assert!(matches!(status_error(401, &none, ""), ModelError::Auth(_)));
        assert!(matches!(status_error(403, &none, ""), ModelError::Auth(_)));
        assert!(matches!(
            status_error(
                529,
                &none,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            ModelError::RateLimited { .. }
        ));
        assert!(matches!(
            status_error(429, &headers(&[("retry-after", "2")]), "slow down"),
            ModelError::RateLimited { retry_after: Some(d), message } if d == Duration::from_secs(2) && message == "slow down"
        ));
        assert!(matches!(
            status_error(503, &none, "<html>busy</html>"),
            ModelError::Server { status: 503, .. }
        ));
        assert!(matches!(
            status_error(404, &none, "no such model"),
            ModelError::InvalidRequest(_)
        ));
    }

    #[test]
    fn keys_never_show() {
        let key = ApiKey::new("sk-secret-1234");
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert_eq!(
            key.scrub("Incorrect API key provided: sk-secret-1234."),
            "Incorrect API key provided: [redacted]."
        );
        let headers = Headers(vec![("X-Token".into(), "t0k3n".into())]);
        assert!(!format!("{headers:?}").contains("t0k3n"));
    }
}
