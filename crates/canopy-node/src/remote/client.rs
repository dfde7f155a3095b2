//! The client side of a link: the rmcp `ClientHandler` a child talks back to, the transport
//! tap that forwards its notifications in wire order, and the transports themselves.

use std::{
    collections::{HashMap, VecDeque},
    process::Stdio,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use canopy_topology::NodePath;
use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequestParams, ElicitResult, Implementation, JsonRpcMessage, NumberOrString,
        ProgressToken, ProtocolVersion, ResourceUpdatedNotificationParam, ServerNotification,
    },
    service::{
        InboundStreamOrigin, NotificationContext, RequestContext, RxJsonRpcMessage,
        TxJsonRpcMessage,
    },
    transport::{TokioChildProcess, Transport},
};
use tokio::io::AsyncBufReadExt;

use super::{HttpSpec, StdioSpec};
use crate::{
    backend::{NodeNotices, elicit_from_answer, notification_event, sample},
    call::CallScope,
    event::{Answer, EventKind, Question},
};

/// The calls in flight on one link, for attributing what the child sends.
#[derive(Default)]
struct InFlight {
    by_id: HashMap<NumberOrString, (u64, CallScope)>,
    by_token: HashMap<ProgressToken, NumberOrString>,
    /// Progress that arrived before its request was registered (the request is registered
    /// right after rmcp sends it, so a fast child can beat it), delivered on registration.
    early: VecDeque<(ProgressToken, EventKind)>,
}

/// How many early progress notifications a link keeps for requests not registered yet.
const EARLY_PROGRESS_LIMIT: usize = 256;

/// How many of a child's last stderr lines a link keeps, to show why it failed.
pub(super) const STDERR_TAIL_LINES: usize = 10;

/// How long a kept stderr line may be (longer ones are cut, with `…`).
const STDERR_LINE_MAX: usize = 400;

/// The last lines a child wrote to stderr (a bounded ring), and whether its stderr closed.
#[derive(Default)]
struct StderrTail {
    lines: VecDeque<String>,
    /// Whether a reader was started (stdio links), so there is something to wait for.
    reading: bool,
    /// The child started printing a backtrace (Rust's `stack backtrace:` after a panic or
    /// an `anyhow` error with `RUST_BACKTRACE` set): the lines before it say what went
    /// wrong, the frames after it would push them out of the tail.
    in_backtrace: bool,
}

/// What a link's handler, tap and backend share.
pub(super) struct LinkState {
    path: NodePath,
    notices: Weak<dyn NodeNotices>,
    in_flight: Mutex<InFlight>,
    order: AtomicU64,
    stderr: Mutex<StderrTail>,
    /// Becomes `true` when the child's stderr reaches its end (the child exited).
    stderr_closed: tokio::sync::watch::Sender<bool>,
}

/// Unregisters a request when dropped.
pub(super) struct Registered {
    state: Arc<LinkState>,
    id: NumberOrString,
    token: ProgressToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut in_flight = self
            .state
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        in_flight.by_id.remove(&self.id);
        in_flight.by_token.remove(&self.token);
    }
}

impl LinkState {
    pub(super) fn new(path: NodePath, notices: Weak<dyn NodeNotices>) -> Self {
        Self {
            path,
            notices,
            in_flight: Mutex::default(),
            order: AtomicU64::new(0),
            stderr: Mutex::default(),
            stderr_closed: tokio::sync::watch::channel(false).0,
        }
    }

    /// The last lines the child wrote to stderr (at most [`STDERR_TAIL_LINES`]), oldest
    /// first. When the child's stderr is being read, waits up to `wait` for it to close
    /// first, so a child that printed why it failed and exited has its last words read.
    pub(super) async fn stderr_tail(&self, wait: std::time::Duration) -> Vec<String> {
        let reading = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reading;
        if reading {
            let mut closed = self.stderr_closed.subscribe();
            let _ = tokio::time::timeout(wait, closed.wait_for(|closed| *closed)).await;
        }
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lines
            .iter()
            .cloned()
            .collect()
    }

    /// Records a request in flight for `scope`.
    pub(super) fn register(
        self: &Arc<Self>,
        id: NumberOrString,
        token: ProgressToken,
        scope: CallScope,
    ) -> Registered {
        let order = self.order.fetch_add(1, Ordering::Relaxed);
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = VecDeque::new();
        for (early_token, event) in std::mem::take(&mut in_flight.early) {
            if early_token == token {
                scope.emit(&self.path, event);
            } else {
                kept.push_back((early_token, event));
            }
        }
        in_flight.early = kept;
        in_flight.by_id.insert(id.clone(), (order, scope));
        in_flight.by_token.insert(token.clone(), id.clone());
        Registered {
            state: Arc::clone(self),
            id,
            token,
        }
    }

    /// The call a message with no explicit association belongs to: the request whose
    /// response stream it came on (HTTP), else the most recent call in flight that someone
    /// listens to. Requests the tree makes on its own (re-reading a child's lists after a
    /// `list_changed`, which a child may send just as a call starts) have nobody to ask or
    /// tell, so they never take a call's elicitation or logs.
    fn attribute(&self, origin: Option<&InboundStreamOrigin>) -> Option<CallScope> {
        let in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(InboundStreamOrigin::OutboundRequest(id)) = origin
            && let Some((_, scope)) = in_flight.by_id.get(id)
        {
            return Some(scope.clone());
        }
        in_flight
            .by_id
            .values()
            .filter(|(_, scope)| scope.queue.is_some())
            .max_by_key(|(order, _)| *order)
            .map(|(_, scope)| scope.clone())
    }

    fn emit(&self, scope: Option<CallScope>, kind: EventKind) {
        match scope {
            Some(scope) => scope.emit(&self.path, kind),
            None => {
                if let Some(notices) = self.notices.upgrade() {
                    notices.tree_event(&self.path, kind);
                }
            }
        }
    }

    /// Forwards a notification the child sent, in the order it arrived.
    fn tap(&self, message: &RxJsonRpcMessage<RoleClient>) {
        let JsonRpcMessage::Notification(notification) = message else {
            return;
        };
        // Progress goes to the call its token names; a log line to the call it is attributed
        // to (see `attribute`); the rest reach the tree through the client handler.
        let token = match &notification.notification {
            ServerNotification::ProgressNotification(n) => Some(&n.params.progress_token),
            ServerNotification::LoggingMessageNotification(_) => None,
            _ => return,
        };
        let Ok(event) = notification_event(notification.notification.clone()) else {
            return;
        };
        let Some(token) = token else {
            self.emit(self.attribute(None), event);
            return;
        };
        // Look up and keep under one lock, so a registration cannot slip in between.
        let scope = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            let scope = in_flight
                .by_token
                .get(token)
                .and_then(|id| in_flight.by_id.get(id))
                .map(|(_, scope)| scope.clone());
            if scope.is_none() {
                if in_flight.early.len() == EARLY_PROGRESS_LIMIT {
                    in_flight.early.pop_front();
                }
                in_flight.early.push_back((token.clone(), event.clone()));
            }
            scope
        };
        if let Some(scope) = scope {
            scope.emit(&self.path, event);
        }
    }

    /// A line the child wrote to stderr: kept in the tail, and passed on as a log event.
    fn stderr_line(&self, line: String) {
        {
            let mut tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
            let trimmed = line.trim();
            if trimmed.eq_ignore_ascii_case("stack backtrace:") {
                tail.in_backtrace = true;
            }
            if !tail.in_backtrace && !trimmed.is_empty() {
                if tail.lines.len() == STDERR_TAIL_LINES {
                    tail.lines.pop_front();
                }
                tail.lines.push_back(truncate_line(&line));
            }
        }
        self.emit(
            self.attribute(None),
            EventKind::Log {
                level: "info".to_owned(),
                logger: Some("stderr".to_owned()),
                data: serde_json::Value::String(line),
            },
        );
    }
}

/// The handler a child talks back to.
#[derive(Clone)]
pub(super) struct LinkClient {
    state: Arc<LinkState>,
    /// The revision to offer in `initialize`, when the link pins one.
    protocol: Option<ProtocolVersion>,
}

impl LinkClient {
    pub(super) fn new(state: Arc<LinkState>, protocol: Option<ProtocolVersion>) -> Self {
        Self { state, protocol }
    }
}

impl ClientHandler for LinkClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .enable_roots()
            .build();
        let config = ClientConfig::new(
            capabilities,
            Implementation::new("canopy", env!("CARGO_PKG_VERSION")),
        );
        match &self.protocol {
            Some(version) => config.with_protocol_version(version.clone()),
            None => config,
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let origin = context.extensions.get::<InboundStreamOrigin>();
        let Some(scope) = self.state.attribute(origin) else {
            // Nobody can be asked: say so where the tree's host and logs will see it.
            let message = format!(
                "node '{}' asked for input while no call that can answer it was in flight; \
                 its request was cancelled",
                self.state.path
            );
            tracing::warn!(path = %self.state.path, "{message}");
            self.state.emit(
                None,
                EventKind::Log {
                    level: "warning".to_owned(),
                    logger: Some("canopy".to_owned()),
                    data: serde_json::Value::String(message),
                },
            );
            return Ok(elicit_from_answer(Answer::Cancel));
        };
        let (prompt, answer) = Question::from_elicitation(scope.next_prompt_id(), request);
        Ok(elicit_from_answer(
            scope.ask(&self.state.path, prompt, answer).await,
        ))
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let origin = context.extensions.get::<InboundStreamOrigin>();
        let scope = self.state.attribute(origin);
        sample(
            scope.as_ref(),
            &self.state.path,
            params,
            &self.state.notices,
        )
        .await
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(notices) = self.state.notices.upgrade() {
            notices.resource_updated(&self.state.path, &params.uri);
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed();
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed();
    }
}

impl LinkClient {
    fn list_changed(&self) {
        if let Some(notices) = self.state.notices.upgrade() {
            notices.list_changed(&self.state.path);
        }
    }
}

/// A transport that shows every incoming message to the link's state before rmcp handles it,
/// so progress and logs keep the order the child sent them in (rmcp handles each
/// notification on its own task).
pub(super) struct Tap<T> {
    inner: T,
    state: Arc<LinkState>,
}

/// A short name for a link's transport, for rmcp's messages (its default is the full Rust
/// type name, `canopy_node::remote::client::Tap<rmcp::transport::…>`).
pub(super) trait TransportLabel {
    const LABEL: &'static str;
}

impl TransportLabel for TokioChildProcess {
    const LABEL: &'static str = "stdio";
}

impl TransportLabel for rmcp::transport::StreamableHttpClientTransport<reqwest::Client> {
    const LABEL: &'static str = "Streamable HTTP";
}

impl<T: Transport<RoleClient> + TransportLabel> Transport<RoleClient> for Tap<T> {
    type Error = T::Error;

    fn name() -> std::borrow::Cow<'static, str> {
        T::LABEL.into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        let state = Arc::clone(&self.state);
        let next = self.inner.receive();
        async move {
            let message = next.await;
            if let Some(message) = &message {
                state.tap(message);
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// Launches a stdio child: piped stdin/stdout for MCP, stderr read line by line into log
/// events.
pub(super) fn spawn_child(
    spec: &StdioSpec,
    state: &Arc<LinkState>,
) -> std::io::Result<Tap<TokioChildProcess>> {
    let mut command = tokio::process::Command::new(&spec.command);
    command.args(&spec.args).envs(&spec.env).kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let (child, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(stderr) = stderr {
        state
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reading = true;
        let state = Arc::clone(state);
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                state.stderr_line(line);
            }
            state.stderr_closed.send_replace(true);
        });
    }
    Ok(Tap {
        inner: child,
        state: Arc::clone(state),
    })
}

/// A Streamable HTTP client transport with keep-alive and `TCP_NODELAY`.
pub(super) fn http_transport(
    spec: &HttpSpec,
    state: &Arc<LinkState>,
) -> Result<Tap<rmcp::transport::StreamableHttpClientTransport<reqwest::Client>>, String> {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .tcp_keepalive(std::time::Duration::from_secs(30))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))?;
    let mut headers = HashMap::new();
    for (name, value) in &spec.headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("invalid header name '{name}': {e}"))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| format!("invalid value for header '{name}': {e}"))?;
        headers.insert(name, value);
    }
    let config =
        StreamableHttpClientTransportConfig::with_uri(spec.url.clone()).custom_headers(headers);
    Ok(Tap {
        inner: rmcp::transport::StreamableHttpClientTransport::with_client(client, config),
        state: Arc::clone(state),
    })
}

/// A stderr line as kept in the tail: at most [`STDERR_LINE_MAX`] bytes (cut at a
/// character boundary), without trailing whitespace.
fn truncate_line(line: &str) -> String {
    let line = line.trim_end();
    if line.len() <= STDERR_LINE_MAX {
        return line.to_owned();
    }
    let mut end = STDERR_LINE_MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// What a link's errors say about a child's stderr: its last lines, indented under a
/// heading, or nothing when it wrote none.
pub(super) fn stderr_note(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut note = format!(
        "\n  its stderr ended with{}:",
        if lines.len() == STDERR_TAIL_LINES {
            format!(" (last {STDERR_TAIL_LINES} lines)")
        } else {
            String::new()
        }
    );
    for line in lines {
        note.push_str("\n    ");
        note.push_str(line);
    }
    note
}
