//! Local stand-ins for the providers' HTTP APIs, on 127.0.0.1: they check requests the way
//! the real APIs do (auth, required fields, tool-call ordering) and answer with the
//! documented SSE shapes, or with the errors a test asks for.

pub(crate) mod anthropic;
pub(crate) mod openai;

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::Notify;

/// A tool call a stand-in answers with.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The arguments as the model writes them (JSON text, or not).
    pub(crate) arguments: String,
}

impl Call {
    pub(crate) fn new(id: &str, name: &str, arguments: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// What a stand-in answers the next request with.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// Text in these deltas, then the normal end of a turn.
    Text(Vec<String>),
    /// Optional text, then tool calls whose arguments arrive `fragment` characters at a time.
    Tools {
        text: Vec<String>,
        calls: Vec<Call>,
        fragment: usize,
    },
    /// Text ending with this wire stop reason (`length`, `max_tokens`, `refusal`…).
    Stop { text: String, reason: String },
    /// An HTTP error with this JSON body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// A 200 stream whose first event is this error object (`error` event for Anthropic,
    /// `data: {"error": …}` for OpenAI).
    StreamError(Value),
    /// Never answers.
    Hang,
    /// Streams this text delta, then only keep-alive comments, until the client goes away.
    Stall(String),
}

impl Reply {
    pub(crate) fn text(deltas: &[&str]) -> Self {
        Self::Text(deltas.iter().map(|d| (*d).to_owned()).collect())
    }

    pub(crate) fn status(status: u16, body: Value) -> Self {
        Self::Status {
            status,
            headers: Vec::new(),
            body,
        }
    }
}

/// One request a stand-in received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Value,
}

pub(crate) struct Shared {
    key: Option<String>,
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    rate_limited: AtomicUsize,
    retry_after: Mutex<String>,
    disconnected: AtomicBool,
    disconnect: Notify,
}

impl Shared {
    fn record(&self, headers: &HeaderMap, body: &Bytes) -> Recorded {
        let recorded = Recorded {
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        };
        self.requests.lock().expect("lock").push(recorded.clone());
        recorded
    }

    /// Whether this request is one of the first N to be rate limited.
    fn take_rate_limit(&self) -> Option<String> {
        self.rate_limited
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .ok()
            .map(|_| self.retry_after.lock().expect("lock").clone())
    }

    fn next_reply(&self) -> Reply {
        self.replies
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(|| Reply::text(&["ok"]))
    }
}

/// A running stand-in.
pub(crate) struct StandIn {
    /// The base URL to configure the provider with.
    pub(crate) base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StandIn {
    async fn start(
        key: Option<&str>,
        router: impl FnOnce(Arc<Shared>) -> Router,
        path: &str,
    ) -> Self {
        let shared = Arc::new(Shared {
            key: key.map(str::to_owned),
            replies: Mutex::default(),
            requests: Mutex::default(),
            rate_limited: AtomicUsize::new(0),
            retry_after: Mutex::default(),
            disconnected: AtomicBool::new(false),
            disconnect: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("address");
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base_url: format!("http://{addr}{path}"),
            shared,
            server,
        }
    }

    /// Answer the next request (after any queued before) with `reply`.
    pub(crate) fn reply(&self, reply: Reply) -> &Self {
        self.shared.replies.lock().expect("lock").push_back(reply);
        self
    }

    /// Answer the first `n` requests from now with 429 and this `retry-after`.
    pub(crate) fn rate_limit_first(&self, n: usize, retry_after: &str) {
        *self.shared.retry_after.lock().expect("lock") = retry_after.to_owned();
        self.shared.rate_limited.store(n, Ordering::SeqCst);
    }

    /// The requests received so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// Waits until a stalled stream's client went away (false after 30 s without).
    pub(crate) async fn saw_disconnect(&self) -> bool {
        let wait = async {
            loop {
                let notified = self.shared.disconnect.notified();
                if self.shared.disconnected.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_ok()
    }
}

/// Records, when dropped, that the stream's client went away.
struct DisconnectGuard(Arc<Shared>);

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        self.0.disconnected.store(true, Ordering::SeqCst);
        self.0.disconnect.notify_waiters();
    }
}

/// A JSON error response.
pub(crate) fn json_response(status: u16, headers: &[(String, String)], body: &Value) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// An SSE response of these frames (each already ends in a blank line).
pub(crate) fn sse_response(frames: Vec<String>) -> Response {
    let stream = futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>));
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("response")
}

/// An SSE response of these frames followed by keep-alive comments forever; when the client
/// goes away (the server drops the body), the stand-in records it.
pub(crate) fn stalled_response(shared: Arc<Shared>, frames: Vec<String>) -> Response {
    let guard = DisconnectGuard(shared);
    let keep_alive = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Some((": keep-alive\n\n".to_owned(), ()))
    });
    let stream = futures::stream::iter(frames)
        .chain(keep_alive)
        .map(move |frame| {
            let _alive = &guard;
            Ok::<_, Infallible>(frame)
        });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("response")
}

/// `text` in pieces of `size` characters.
pub(crate) fn fragments(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// Whether `name` is a valid tool name for the providers: `^[a-zA-Z0-9_-]{1,64}$`.
pub(crate) fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
