//! Children in other processes: launched stdio servers and remote Streamable HTTP servers,
//! reached through rmcp's client.
//!
//! A [`RemoteBackend`] owns one link: it connects on first use (negotiating 2026-07-28 through
//! `server/discover` when the child speaks it, else `initialize`), reconnects after the child
//! exits or the connection drops (with backoff after failed starts), bounds every request by
//! a timeout, and forwards what the child sends back — progress, logs, elicitation, sampling,
//! list changes — to the call it belongs to. A child's `input_required` results are answered
//! through the call's prompts and the request is retried, so a 2026-07-28 child works under
//! any caller.

mod client;
mod spec;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use canopy_topology::{LinkKind, NodePath};
use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError, RoleClient,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, CancelledNotificationParam,
        ClientRequest, InputRequest, InputRequests, InputResponses, ProtocolVersion,
        ServerNotification, ServerResult, SubscribeRequest, SubscribeRequestParams,
        SubscriptionFilter, UnsubscribeRequest, UnsubscribeRequestParams,
    },
    service::{
        ClientLifecycleMode, ClientServiceExt, PeerRequestOptions, RunningService, ServiceError,
        Subscription,
    },
};
use tokio_util::sync::CancellationToken;

use self::client::{LinkClient, LinkState};
pub use self::spec::{DEFAULT_TIMEOUT, HttpSpec, StdioSpec};
use crate::{
    backend::{Backend, NodeNotices, StartMode, elicit_from_answer, sample_keyed},
    call::{CallMsg, CallScope, CallerRequest},
    event::Question,
};

/// The tasks extension (SEP-2663): the one extension Canopy routes (`tasks/*` go back to
/// the node that started the task).
const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// The caller's roots, for a child's `roots/list` input request (none when nobody can be
/// asked).
async fn roots(scope: &CallScope, key: String) -> Result<serde_json::Value, McpError> {
    let Some(queue) = &scope.queue else {
        return Ok(serde_json::json!({ "roots": [] }));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    queue.send(CallMsg::Ask(CallerRequest::Roots {
        key: Some(key),
        reply,
    }));
    answer.await.unwrap_or_else(|_| {
        Err(McpError::internal_error(
            "the call ended before the roots were listed",
            None,
        ))
    })
}

/// Which kind of remote child.
#[derive(Debug)]
pub(crate) enum Remote {
    Stdio(StdioSpec),
    Http(HttpSpec),
}

/// How many `input_required` rounds one request may take before Canopy gives up.
const MAX_INPUT_ROUNDS: usize = 10;

/// The first wait before restarting a child that failed to start; doubles up to the max.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A live connection to the child.
struct Connection {
    service: RunningService<RoleClient, LinkClient>,
    state: Arc<LinkState>,
    /// The listen stream for list changes (2026-07-28 links whose child announces them).
    lists: Option<ListWatch>,
}

/// A listen stream held for the life of a connection, cancelled with `stop`.
struct ListWatch {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl ListWatch {
    /// Cancels the stream on the child and waits until the cancellation was sent.
    async fn close(self, guard: Duration) {
        self.stop.cancel();
        let _ = tokio::time::timeout(guard, self.task).await;
    }
}

/// How long a failed start waits for the child's stderr to end, so its last lines are
/// read (the child is being killed: this only bounds one that will not die).
const STDERR_WAIT: Duration = Duration::from_secs(2);

/// How long shutdown waits for each step (cancelling listen streams, closing the
/// transport) of a link that does not answer: a hang guard, not a pause.
const CLOSE_GUARD: Duration = Duration::from_secs(3);

/// Why one connection attempt failed.
enum Failed {
    /// The process could not be launched or the transport made; the message says it all.
    Start(String),
    /// The MCP handshake failed, for this reason; `unreachable` when nothing answered.
    Handshake { reason: String, unreachable: bool },
}

/// A failed connection attempt: what went wrong, and the child's last stderr lines.
struct HandshakeError {
    message: String,
    stderr: Vec<String>,
    /// Nothing answered at all (an HTTP child with no server listening): trying another
    /// lifecycle cannot help.
    unreachable: bool,
}

/// An rmcp initialization error in words: its message and its causes, without the Rust
/// type names rmcp puts into transport errors; `unreachable` when the HTTP request could
/// not even connect (no server listens there).
fn describe_init_error(error: &rmcp::service::ClientInitializeError) -> (String, bool) {
    use rmcp::service::ClientInitializeError as E;
    match error {
        E::TransportError { error, context } => {
            let inner = error.error.as_ref();
            if let Some(rmcp::transport::streamable_http_client::StreamableHttpError::Client(
                client,
            )) = inner
                .downcast_ref::<rmcp::transport::streamable_http_client::StreamableHttpError<
                    reqwest::Error,
                >>()
            {
                let unreachable = client.is_connect();
                return (
                    format!("{} (when it tried to {context})", error_chain(client)),
                    unreachable,
                );
            }
            (
                format!("{} (when it tried to {context})", error_chain(inner)),
                false,
            )
        }
        E::ConnectionClosed(context) => (
            format!(
                "the connection closed before the {}",
                context.replace(" response", " answer")
            ),
            false,
        ),
        other => (other.to_string(), false),
    }
}

/// An error and its sources, each once: `a: b: c`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The link's state between calls.
#[derive(Default)]
struct LinkSlot {
    connection: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

/// A resource subscription held on a 2026-07-28 child, which has no `resources/subscribe`:
/// a `subscriptions/listen` stream whose filter names the URI, shared by every subscriber.
struct Watch {
    subscribers: usize,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// A child in another process.
pub(crate) struct RemoteBackend {
    remote: Remote,
    path: NodePath,
    notices: Weak<dyn NodeNotices>,
    slot: tokio::sync::Mutex<LinkSlot>,
    protocol: Mutex<Option<String>>,
    timeout: Duration,
    /// Resource subscriptions held as listen streams, by the child's URI.
    watches: tokio::sync::Mutex<HashMap<String, Watch>>,
}

impl RemoteBackend {
    pub(crate) fn new(remote: Remote, path: NodePath, notices: Weak<dyn NodeNotices>) -> Self {
        let timeout = match &remote {
            Remote::Stdio(spec) => spec.timeout,
            Remote::Http(spec) => spec.timeout,
        }
        .unwrap_or(DEFAULT_TIMEOUT);
        Self {
            remote,
            path,
            notices,
            slot: tokio::sync::Mutex::default(),
            protocol: Mutex::new(None),
            timeout,
            watches: tokio::sync::Mutex::default(),
        }
    }

    /// When the child should start.
    pub(crate) fn start_mode(&self) -> StartMode {
        match &self.remote {
            Remote::Stdio(spec) => spec.start,
            Remote::Http(_) => StartMode::Eager,
        }
    }

    /// The live connection, made (or remade) if needed.
    async fn connection(&self) -> Result<Arc<Connection>, McpError> {
        let mut slot = self.slot.lock().await;
        if let Some(connection) = &slot.connection {
            if !connection.service.is_closed() {
                return Ok(Arc::clone(connection));
            }
            slot.connection = None;
        }
        if let Some(retry_at) = slot.retry_at.filter(|at| *at > Instant::now()) {
            let wait = retry_at.saturating_duration_since(Instant::now());
            return Err(McpError::internal_error(
                format!(
                    "node '{}' failed to start {} time(s) and is retried in {:.1}s: {}",
                    self.path,
                    slot.failures,
                    wait.as_secs_f64(),
                    slot.last_error.as_deref().unwrap_or("(no error)")
                ),
                None,
            ));
        }
        match self.connect().await {
            Ok(connection) => {
                *slot = LinkSlot {
                    connection: Some(Arc::clone(&connection)),
                    ..LinkSlot::default()
                };
                Ok(connection)
            }
            Err(message) => {
                slot.failures += 1;
                let backoff = BACKOFF_START
                    .saturating_mul(1 << slot.failures.min(8))
                    .min(BACKOFF_MAX);
                slot.retry_at = Some(Instant::now() + backoff);
                slot.last_error = Some(message.clone());
                Err(McpError::internal_error(message, None))
            }
        }
    }

    /// Starts the child (or opens the HTTP session) and negotiates the protocol revision:
    /// the pinned one, else 2026-07-28 through `server/discover`, falling back to
    /// `initialize` (in a fresh process or session) when the child rejects discovery.
    ///
    /// rmcp's own `Auto` mode gives up on discovery after 10 seconds, which breaks children
    /// that start slowly (`npx` fetching a package, `cargo run` building one); here discovery
    /// waits as long as any request may (the link's timeout).
    ///
    /// A failure says why, with the last lines the child wrote to stderr.
    async fn connect(&self) -> Result<Arc<Connection>, String> {
        let pinned = match &self.remote {
            Remote::Stdio(spec) => spec.protocol.clone(),
            Remote::Http(spec) => spec.protocol.clone(),
        };
        let attempt = match pinned {
            Some(version) if version >= ProtocolVersion::V_2026_07_28 => {
                self.handshake(
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![version],
                    },
                    None,
                )
                .await
            }
            Some(version) => {
                self.handshake(ClientLifecycleMode::Initialize, Some(version))
                    .await
            }
            None => {
                let discover = ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                };
                match self.handshake(discover, None).await {
                    Ok(connection) => Ok(connection),
                    Err(discovery) if discovery.unreachable => Err(discovery),
                    Err(discovery) => self
                        .handshake(ClientLifecycleMode::Initialize, None)
                        .await
                        .map_err(|mut error| {
                            let same = discovery.message.replace("discover", "initialize")
                                == error.message;
                            error.message = if same {
                                format!("{} (as server/discover did before it)", error.message)
                            } else {
                                format!(
                                    "{} (and before that, server/discover failed: {})",
                                    error.message, discovery.message
                                )
                            };
                            if error.stderr.is_empty() {
                                error.stderr = discovery.stderr;
                            }
                            error
                        }),
                }
            }
        };
        attempt.map_err(|error| format!("{}{}", error.message, client::stderr_note(&error.stderr)))
    }

    /// One connection attempt with one lifecycle.
    async fn handshake(
        &self,
        lifecycle: ClientLifecycleMode,
        protocol: Option<ProtocolVersion>,
    ) -> Result<Arc<Connection>, HandshakeError> {
        let state = Arc::new(LinkState::new(self.path.clone(), self.notices.clone()));
        let client = LinkClient::new(Arc::clone(&state), protocol);
        let serving = async {
            match &self.remote {
                Remote::Stdio(spec) => {
                    let transport = client::spawn_child(spec, &state).map_err(|error| {
                        Failed::Start(format!(
                            "node '{}': could not start '{}': {error}",
                            self.path, spec.command
                        ))
                    })?;
                    client
                        .serve_with_lifecycle(transport, lifecycle)
                        .await
                        .map_err(|error| {
                            let (reason, unreachable) = describe_init_error(&error);
                            Failed::Handshake {
                                reason,
                                unreachable,
                            }
                        })
                }
                Remote::Http(spec) => {
                    let transport = client::http_transport(spec, &state)
                        .map_err(|error| Failed::Start(format!("node '{}': {error}", self.path)))?;
                    client
                        .serve_with_lifecycle(transport, lifecycle)
                        .await
                        .map_err(|error| {
                            let (reason, unreachable) = describe_init_error(&error);
                            Failed::Handshake {
                                reason: if unreachable {
                                    format!("nothing answers at {}: {reason}", spec.url)
                                } else {
                                    reason
                                },
                                unreachable,
                            }
                        })
                }
            }
        };
        let (message, unreachable) = match tokio::time::timeout(self.timeout, serving).await {
            Ok(Ok(service)) => {
                let version = service
                    .peer_info()
                    .map(|info| info.protocol_version.to_string());
                *self.protocol.lock().unwrap_or_else(|p| p.into_inner()) = version;
                let lists = self.watch_lists(&service);
                return Ok(Arc::new(Connection {
                    service,
                    state,
                    lists,
                }));
            }
            Ok(Err(Failed::Start(message))) => (message, true),
            Ok(Err(Failed::Handshake {
                reason,
                unreachable,
            })) => (
                format!(
                    "node '{}' did not complete the MCP handshake: {reason}",
                    self.path
                ),
                unreachable,
            ),
            Err(_) => (
                format!(
                    "node '{}' did not complete the MCP handshake within {:.0}s",
                    self.path,
                    self.timeout.as_secs_f64()
                ),
                false,
            ),
        };
        // The failed attempt's process is gone (or going: dropping its transport kills it),
        // so its stderr ends soon; the guard only bounds a child that ignores the kill.
        let stderr = state.stderr_tail(STDERR_WAIT).await;
        Err(HandshakeError {
            message,
            stderr,
            unreachable,
        })
    }

    /// Whether the link speaks 2026-07-28 or later, where notifications come on
    /// `subscriptions/listen` streams.
    fn speaks_listen(&self) -> bool {
        self.protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
    }

    /// On a 2026-07-28 link, a child announces list changes only on listen streams: opens
    /// one for the lists the child says can change, for the connection's lifetime, so the
    /// tree refreshes when they do. The stream is cancelled before the connection closes
    /// (a child keeps a listen stream open, and would wait for it before exiting).
    fn watch_lists(&self, service: &RunningService<RoleClient, LinkClient>) -> Option<ListWatch> {
        if !self.speaks_listen() {
            return None;
        }
        let info = service.peer_info()?;
        let filter = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build()
            .supported_by(&info.capabilities);
        if filter == SubscriptionFilter::default() {
            return None;
        }
        let (peer, path, notices, timeout) = (
            service.peer().clone(),
            self.path.clone(),
            self.notices.clone(),
            self.timeout,
        );
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let listening = tokio::select! {
                () = stopped.cancelled() => return,
                listening = tokio::time::timeout(timeout, peer.listen(filter)) => listening,
            };
            match listening {
                Ok(Ok(subscription)) => pump(subscription, stopped, path, notices).await,
                Ok(Err(error)) => {
                    tracing::debug!(%path, %error, "the child refused a listen stream for list changes");
                }
                Err(_) => {
                    tracing::debug!(%path, "the child did not acknowledge a listen stream for list changes");
                }
            }
        });
        Some(ListWatch { stop, task })
    }

    /// Subscribes to the child's resource `uri`: `resources/subscribe` on a legacy link, a
    /// `subscriptions/listen` stream naming the URI on a 2026-07-28 one (shared by all the
    /// subscribers of the URI, its updates delivered as the node's `resource_updated`).
    async fn subscribe_resource(&self, uri: String, scope: &CallScope) -> Result<(), McpError> {
        let connection = self.connection().await?;
        if !self.speaks_listen() {
            let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(
                SubscribeRequestParams::new(uri),
            ));
            return self.send(request, scope).await.map(|_| ());
        }
        let mut watches = self.watches.lock().await;
        if let Some(watch) = watches.get_mut(&uri)
            && !watch.task.is_finished()
        {
            watch.subscribers += 1;
            return Ok(());
        }
        let filter = SubscriptionFilter::builder()
            .resource_subscription(uri.clone())
            .build();
        let listening =
            tokio::time::timeout(self.timeout, connection.service.peer().listen(filter)).await;
        let mut subscription = match listening {
            Ok(Ok(subscription)) => subscription,
            Ok(Err(error)) => return Err(self.link_error(&connection, error).await),
            Err(_) => {
                return Err(McpError::internal_error(
                    format!(
                        "node '{}' did not acknowledge a subscription to '{uri}' within {:.1}s",
                        self.path,
                        self.timeout.as_secs_f64()
                    ),
                    None,
                ));
            }
        };
        let accepted = subscription
            .acknowledged()
            .resource_subscriptions
            .as_ref()
            .is_some_and(|uris| uris.contains(&uri));
        if !accepted {
            let _ = subscription.cancel().await;
            return Err(McpError::invalid_params(
                format!(
                    "node '{}' does not accept subscriptions to '{uri}'",
                    self.path
                ),
                None,
            ));
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(pump(
            subscription,
            stop.clone(),
            self.path.clone(),
            self.notices.clone(),
        ));
        watches.insert(
            uri,
            Watch {
                subscribers: 1,
                stop,
                task,
            },
        );
        Ok(())
    }

    /// Ends a subscription made with [`Self::subscribe_resource`]: the listen stream closes
    /// with its last subscriber.
    async fn unsubscribe_resource(&self, uri: String, scope: &CallScope) -> Result<(), McpError> {
        {
            let mut watches = self.watches.lock().await;
            if let Some(watch) = watches.get_mut(&uri) {
                watch.subscribers = watch.subscribers.saturating_sub(1);
                if watch.subscribers == 0
                    && let Some(watch) = watches.remove(&uri)
                {
                    watch.stop.cancel();
                }
                return Ok(());
            }
        }
        if self.speaks_listen() {
            // Nothing is held for this URI: unsubscribing is idempotent.
            return Ok(());
        }
        let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
            UnsubscribeRequestParams::new(uri),
        ));
        self.send(request, scope).await.map(|_| ())
    }

    /// Forgets a connection that failed, so the next call reconnects.
    async fn drop_connection(&self, connection: &Arc<Connection>) {
        let mut slot = self.slot.lock().await;
        if slot
            .connection
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, connection))
        {
            slot.connection = None;
        }
    }

    /// Sends one request and waits for its answer, attributing what the child sends
    /// meanwhile to `scope`, honouring the call's cancellation and the link's timeout.
    async fn send(
        &self,
        request: ClientRequest,
        scope: &CallScope,
    ) -> Result<ServerResult, McpError> {
        let connection = self.connection().await?;
        let peer = connection.service.peer().clone();
        let mut options =
            PeerRequestOptions::with_timeout(self.timeout).reset_timeout_on_progress();
        options.meta = self.caller_capabilities(scope);
        if let Some(identity) = &scope.caller.identity {
            // Who calls goes along as claims, never as the caller's token.
            options
                .meta
                .get_or_insert_with(Default::default)
                .0
                .0
                .insert(crate::CALLER_META_KEY.to_owned(), identity.claims());
        }
        let handle = match peer.send_request_with_option(request, options).await {
            Ok(handle) => handle,
            Err(error) => return Err(self.link_error(&connection, error).await),
        };
        let id = handle.id.clone();
        let _registered =
            connection
                .state
                .register(id.clone(), handle.progress_token.clone(), scope.clone());
        let response = match &scope.ct {
            Some(ct) => tokio::select! {
                response = handle.await_response() => response,
                () = ct.cancelled() => {
                    let cancel = CancelledNotificationParam::new(Some(id), Some("cancelled by the caller".to_owned()));
                    let _ = peer.notify_cancelled(cancel).await;
                    return Err(McpError::internal_error("the call was cancelled", None));
                }
            },
            None => handle.await_response().await,
        };
        match response {
            Ok(result) => Ok(result),
            Err(error) => Err(self.link_error(&connection, error).await),
        }
    }

    /// For a 2026-07-28 link: the capabilities the caller declared on its own request
    /// (`_meta["io.modelcontextprotocol/clientCapabilities"]`), sent on instead of the link's,
    /// so the child sees what the real client can do and can refuse with -32021 (which goes
    /// back up unchanged). Of the extensions only tasks go along (Canopy routes `tasks/*`
    /// back to the node that started the task). Callers
    /// that declared nothing per request (2025 sessions, Rust hosts) get the link's own
    /// capabilities, which Canopy bridges.
    fn caller_capabilities(&self, scope: &CallScope) -> Option<rmcp::model::RequestMetaObject> {
        const KEY: &str = "io.modelcontextprotocol/clientCapabilities";
        let stateless = self
            .protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28.as_str());
        if !stateless {
            return None;
        }
        let mut capabilities = scope.caller.meta.as_ref()?.0.0.get(KEY)?.clone();
        if let Some(extensions) = capabilities
            .get_mut("extensions")
            .and_then(|e| e.as_object_mut())
        {
            // Tasks are routed back to their node (`tasks/*`); other extensions are not.
            extensions.retain(|name, _| name == TASKS_EXTENSION);
        }
        let mut meta = rmcp::model::RequestMetaObject::default();
        meta.0.0.insert(KEY.to_owned(), capabilities);
        Some(meta)
    }

    /// Turns a link failure into the error the caller sees.
    async fn link_error(&self, connection: &Arc<Connection>, error: ServiceError) -> McpError {
        match error {
            ServiceError::McpError(error) => error,
            ServiceError::Timeout { timeout } => McpError::internal_error(
                format!(
                    "node '{}' did not answer within {:.1}s",
                    self.path,
                    timeout.as_secs_f64()
                ),
                None,
            ),
            other => {
                self.drop_connection(connection).await;
                McpError::internal_error(
                    format!(
                        "node '{}' closed its connection (it exited or crashed: {other}); it is restarted on the next call",
                        self.path
                    ),
                    None,
                )
            }
        }
    }

    /// Answers a child's `input_required` requests through the call's prompts, sampling
    /// and roots — all at once, under the child's own keys, so a 2026-07-28 caller is asked
    /// everything in one round with the same keys.
    async fn fulfil(
        &self,
        requests: InputRequests,
        scope: &CallScope,
    ) -> Result<InputResponses, McpError> {
        let answers = requests.into_iter().map(|(key, request)| async move {
            let response = match request {
                InputRequest::Elicitation(request) => {
                    let (mut prompt, answer) =
                        Question::from_elicitation(scope.next_prompt_id(), request.params);
                    prompt.input_key = Some(key.clone());
                    let answer = scope.ask(&self.path, prompt, answer).await;
                    serde_json::to_value(elicit_from_answer(answer))
                }
                InputRequest::CreateMessage(request) => {
                    let result = sample_keyed(
                        Some(scope),
                        &self.path,
                        request.params,
                        &self.notices,
                        Some(key.clone()),
                    )
                    .await?;
                    serde_json::to_value(result)
                }
                InputRequest::ListRoots(_) => Ok(roots(scope, key.clone()).await?),
                _ => Ok(serde_json::json!({})),
            };
            let response = response.map_err(|e| {
                McpError::internal_error(format!("unserializable answer: {e}"), None)
            })?;
            Ok::<_, McpError>((key, response))
        });
        let mut responses = InputResponses::new();
        for answer in futures::future::join_all(answers).await {
            let (key, response) = answer?;
            responses.insert(key, response);
        }
        Ok(responses)
    }

    /// Closes the link cleanly and promptly: listen streams are cancelled on the child
    /// first (a child waits for its open streams before it exits), then the transport is
    /// closed (a stdio child gets its stdin closed, and is killed if it does not exit).
    pub(crate) async fn shutdown(&self) {
        let watches: Vec<Watch> = self.watches.lock().await.drain().map(|(_, w)| w).collect();
        let stopping = watches.into_iter().map(|watch| async move {
            watch.stop.cancel();
            let _ = tokio::time::timeout(CLOSE_GUARD, watch.task).await;
        });
        futures::future::join_all(stopping).await;
        let connection = self.slot.lock().await.connection.take();
        let Some(connection) = connection else {
            return;
        };
        let connection = match Arc::try_unwrap(connection) {
            Ok(connection) => connection,
            Err(shared) => {
                // A call still holds it: end its streams and the connection now (the call
                // fails); the last holder's drop kills the child.
                if let Some(lists) = &shared.lists {
                    lists.stop.cancel();
                }
                shared.service.cancellation_token().cancel();
                return;
            }
        };
        let Connection {
            mut service, lists, ..
        } = connection;
        if let Some(lists) = lists {
            lists.close(CLOSE_GUARD).await;
        }
        let _ = service.close_with_timeout(CLOSE_GUARD).await;
    }
}

impl Backend for RemoteBackend {
    fn request<'a>(
        &'a self,
        request: ClientRequest,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<ServerResult, McpError>> {
        Box::pin(self.send(request, scope))
    }

    fn call_tool<'a>(
        &'a self,
        mut params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<CallToolResponse, McpError>> {
        Box::pin(async move {
            if let Some(budget) = &scope.budget {
                // What is left of the call's budget goes along, so a Canopy tree served as
                // this child enforces it too.
                let meta = params.meta.get_or_insert_with(Default::default);
                meta.0
                    .0
                    .insert(crate::budget::BUDGET_META_KEY.to_owned(), budget.to_meta());
            }
            for _ in 0..MAX_INPUT_ROUNDS {
                let request = ClientRequest::CallToolRequest(CallToolRequest::new(params.clone()));
                match self.send(request, scope).await? {
                    ServerResult::CallToolResult(result) => {
                        return Ok(CallToolResponse::Complete(result));
                    }
                    ServerResult::CreateTaskResult(task) => {
                        return Ok(CallToolResponse::Task(task));
                    }
                    ServerResult::InputRequiredResult(input) => {
                        let responses = self
                            .fulfil(input.input_requests.unwrap_or_default(), scope)
                            .await?;
                        params.input_responses = Some(responses);
                        params.request_state = input.request_state;
                    }
                    _ => {
                        return Err(McpError::internal_error(
                            format!(
                                "node '{}' answered tools/call with an unexpected result",
                                self.path
                            ),
                            None,
                        ));
                    }
                }
            }
            Err(McpError::internal_error(
                format!(
                    "node '{}' asked for input more than {MAX_INPUT_ROUNDS} times in one call",
                    self.path
                ),
                None,
            ))
        })
    }

    fn subscribe<'a>(
        &'a self,
        uri: String,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(self.subscribe_resource(uri, scope))
    }

    fn unsubscribe<'a>(
        &'a self,
        uri: String,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(self.unsubscribe_resource(uri, scope))
    }

    fn link(&self) -> LinkKind {
        match self.remote {
            Remote::Stdio(_) => LinkKind::Stdio,
            Remote::Http(_) => LinkKind::Http,
        }
    }

    fn protocol_version(&self) -> Option<String> {
        self.protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn start_mode(&self) -> StartMode {
        RemoteBackend::start_mode(self)
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(RemoteBackend::shutdown(self))
    }
}

/// Carries what a child sends on a listen stream to the tree, until `stop` (which cancels
/// the stream on the child) or the stream's end.
async fn pump(
    mut subscription: Subscription,
    stop: CancellationToken,
    path: NodePath,
    notices: Weak<dyn NodeNotices>,
) {
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => None,
            next = subscription.next() => Some(next),
        };
        let Some(next) = next else {
            let _ = subscription.cancel().await;
            return;
        };
        let (Ok(Some(notification)), Some(notices)) = (next, notices.upgrade()) else {
            return;
        };
        match notification {
            ServerNotification::ResourceUpdatedNotification(update) => {
                notices.resource_updated(&path, &update.params.uri);
            }
            ServerNotification::ToolListChangedNotification(_)
            | ServerNotification::PromptListChangedNotification(_)
            | ServerNotification::ResourceListChangedNotification(_) => {
                notices.list_changed(&path);
            }
            _ => {}
        }
    }
}
