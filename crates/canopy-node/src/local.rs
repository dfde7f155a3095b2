//! In-process children: any rmcp [`ServerHandler`] mounted in the tree and called directly,
//! with no JSON and no channel hop on the request path.
//!
//! A handler talks back (progress, logs, elicitation, sampling, list changes) through the
//! `Peer` in its `RequestContext`. rmcp only makes peers for running services, so each
//! in-process child keeps a small pool of *slots*: a slot is the handler served over a
//! [`SlotTransport`] whose outgoing side Canopy reads itself. A call checks a slot out, so
//! everything the handler sends through that slot's peer belongs to that call: attribution
//! is exact even with many concurrent calls, and it needs no request association on the wire.

use std::{
    borrow::Cow,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicI64, Ordering},
    },
};

use canopy_topology::{LinkKind, NodePath};
use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError, Peer, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientNotification,
        ClientRequest, ClientResult, Implementation, InitializeRequestParams,
        InitializedNotification, JsonRpcMessage, NumberOrString, ProgressToken, ProtocolVersion,
        ServerJsonRpcMessage, ServerNotification, ServerRequest, ServerResult,
    },
    service::{
        NotificationContext, RequestContext, RunningService, RxJsonRpcMessage, Service,
        TxJsonRpcMessage, serve_directly,
    },
    transport::Transport,
};
use tokio::sync::mpsc;

use crate::{
    backend::{Backend, NodeNotices, elicit_from_answer, notification_event, sample},
    call::CallScope,
    event::{Answer, EventKind, Question},
};

/// The handler behind the discovery peer: it serves nothing; its peer only stands in the
/// request context of list requests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Discovery;

impl ServerHandler for Discovery {}

impl LocalBackend<Discovery> {
    /// The peer of the tree's discovery backend (its session, made on first use).
    pub(crate) fn peer(&self) -> Option<Peer<RoleServer>> {
        self.session_peer().ok()
    }
}

/// An rmcp handler shared between direct calls and the slots that serve it.
struct Shared<H>(Arc<H>);

impl<H: ServerHandler> Service<RoleServer> for Shared<H> {
    fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ServerResult, McpError>> + Send + '_ {
        Service::handle_request(&*self.0, request, context)
    }

    fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + Send + '_ {
        Service::handle_notification(&*self.0, notification, context)
    }

    fn get_info(&self) -> rmcp::model::ServerConfig {
        ServerHandler::get_info(&*self.0)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        ServerHandler::supported_protocol_versions(&*self.0)
    }
}

/// The call a slot currently works for.
#[derive(Clone)]
struct Attached {
    scope: CallScope,
}

/// State shared by a slot's transport and its owner.
struct SlotState {
    path: NodePath,
    current: Mutex<Option<Attached>>,
    replies: mpsc::UnboundedSender<RxJsonRpcMessage<RoleServer>>,
    notices: Weak<dyn NodeNotices>,
}

impl SlotState {
    fn attached(&self) -> Option<Attached> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, attached: Option<Attached>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = attached;
    }

    fn reply(&self, id: NumberOrString, result: Result<ClientResult, McpError>) {
        let message = match result {
            Ok(result) => JsonRpcMessage::response(result, id),
            Err(error) => JsonRpcMessage::error(error, Some(id)),
        };
        let _ = self.replies.send(message);
    }

    fn tree_event(&self, kind: EventKind) {
        if let Some(notices) = self.notices.upgrade() {
            notices.tree_event(&self.path, kind);
        }
    }

    /// Handles one message the handler sent through this slot's peer. Runs synchronously
    /// inside the service loop, so it is queued before the handler's send completes.
    fn on_message(self: &Arc<Self>, message: ServerJsonRpcMessage) {
        match message {
            JsonRpcMessage::Notification(notification) => {
                self.on_notification(notification.notification)
            }
            JsonRpcMessage::Request(request) => self.on_request(request.id, request.request),
            // We never send the handler requests, so responses and errors have no owner.
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) => {}
        }
    }

    fn on_notification(self: &Arc<Self>, notification: ServerNotification) {
        match notification_event(notification) {
            Ok(event) => match self.attached() {
                Some(attached) => attached.scope.emit(&self.path, event),
                None => self.tree_event(event),
            },
            Err(
                ServerNotification::ToolListChangedNotification(_)
                | ServerNotification::PromptListChangedNotification(_)
                | ServerNotification::ResourceListChangedNotification(_),
            ) => {
                if let Some(notices) = self.notices.upgrade() {
                    notices.list_changed(&self.path);
                }
            }
            Err(ServerNotification::ResourceUpdatedNotification(n)) => {
                if let Some(notices) = self.notices.upgrade() {
                    notices.resource_updated(&self.path, &n.params.uri);
                }
            }
            Err(_) => {}
        }
    }

    fn on_request(self: &Arc<Self>, id: NumberOrString, request: ServerRequest) {
        let attached = self.attached();
        match request {
            ServerRequest::PingRequest(_) => self.reply(id, Ok(ClientResult::empty(()))),
            ServerRequest::ElicitRequest(request) => {
                let Some(Attached { scope }) = attached else {
                    // A quiet call, or no call at all: nobody can answer.
                    self.reply(
                        id,
                        Ok(ClientResult::ElicitResult(elicit_from_answer(
                            Answer::Cancel,
                        ))),
                    );
                    return;
                };
                let (prompt, answer) =
                    Question::from_elicitation(scope.next_prompt_id(), request.params);
                let state = Arc::clone(self);
                tokio::spawn(async move {
                    let answer = scope.ask(&state.path, prompt, answer).await;
                    state.reply(
                        id,
                        Ok(ClientResult::ElicitResult(elicit_from_answer(answer))),
                    );
                });
            }
            ServerRequest::CreateMessageRequest(request) => {
                let state = Arc::clone(self);
                let scope = attached.map(|attached| attached.scope);
                tokio::spawn(async move {
                    let result =
                        sample(scope.as_ref(), &state.path, request.params, &state.notices).await;
                    state.reply(
                        id,
                        result.map(|r| ClientResult::CreateMessageResult(Box::new(r))),
                    );
                });
            }
            ServerRequest::ListRootsRequest(_) => {
                self.reply(id, Ok(ClientResult::ListRootsResult(Default::default())));
            }
            ServerRequest::CustomRequest(request) => {
                self.reply(
                    id,
                    Err(McpError::new(
                        rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                        request.method,
                        None,
                    )),
                );
            }
            _ => self.reply(
                id,
                Err(McpError::new(
                    rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                    "unsupported request",
                    None,
                )),
            ),
        }
    }
}

/// The transport of a slot: what the handler sends is handled synchronously by the
/// [`SlotState`]; what Canopy answers (elicitation results, …) comes back through `replies`.
struct SlotTransport {
    state: Arc<SlotState>,
    replies: mpsc::UnboundedReceiver<RxJsonRpcMessage<RoleServer>>,
}

impl Transport<RoleServer> for SlotTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.state.on_message(item);
        std::future::ready(Ok(()))
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.replies.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// One served copy of the handler, whose peer a call borrows.
struct Slot<H: ServerHandler> {
    state: Arc<SlotState>,
    service: RunningService<RoleServer, Shared<H>>,
}

/// What a request needs before the handler runs: its slot (none for a quiet call) and
/// the handler's context.
type Prepared<H> = (Option<Box<Slot<H>>>, RequestContext<RoleServer>);

/// An rmcp handler mounted in-process. Generic over the handler, so a call is one boxed
/// future around the handler's own.
pub(crate) struct LocalBackend<H: ServerHandler> {
    handler: Arc<H>,
    path: NodePath,
    notices: Weak<dyn NodeNotices>,
    /// Boxed, like the session: a call's future holds one across the handler's `.await`,
    /// and a pointer keeps that future small.
    #[allow(clippy::vec_box)]
    pool: Mutex<Vec<Box<Slot<H>>>>,
    /// The long-lived slot whose peer the handler got in `on_initialized`; quiet calls
    /// share it. Boxed: most in-process nodes of a large tree never start theirs.
    session: std::sync::OnceLock<Box<Slot<H>>>,
    next_id: AtomicI64,
}

/// The client identity an in-process handler sees: Canopy, able to relay elicitation,
/// sampling and roots from any caller.
fn canopy_client_info() -> InitializeRequestParams {
    let capabilities = ClientCapabilities::builder()
        .enable_elicitation()
        .enable_sampling()
        .enable_roots()
        .build();
    InitializeRequestParams::new(
        capabilities,
        Implementation::new("canopy", env!("CARGO_PKG_VERSION")),
    )
    .with_protocol_version(ProtocolVersion::V_2025_11_25)
}

/// The progress token an in-process handler gets: a slot serves one call at a time, so the
/// token needs no meaning.
fn slot_progress_token() -> ProgressToken {
    ProgressToken(NumberOrString::Number(0))
}

impl<H: ServerHandler> LocalBackend<H> {
    pub(crate) fn new(handler: H, path: NodePath, notices: Weak<dyn NodeNotices>) -> Self {
        Self {
            handler: Arc::new(handler),
            path,
            notices,
            pool: Mutex::new(Vec::new()),
            session: std::sync::OnceLock::new(),
            next_id: AtomicI64::new(1),
        }
    }

    fn new_slot(&self) -> Box<Slot<H>> {
        let (replies_tx, replies) = mpsc::unbounded_channel();
        let state = Arc::new(SlotState {
            path: self.path.clone(),
            current: Mutex::new(None),
            replies: replies_tx,
            notices: self.notices.clone(),
        });
        let transport = SlotTransport {
            state: Arc::clone(&state),
            replies,
        };
        let service = serve_directly(
            Shared(Arc::clone(&self.handler)),
            transport,
            Some(canopy_client_info()),
        );
        Box::new(Slot { state, service })
    }

    /// Gives the handler its session peer, as a real client's `notifications/initialized`
    /// would: handlers that keep that peer send list changes through it.
    ///
    /// Eager only for handlers that say they announce changes (list changes, resource
    /// subscriptions): they may keep that peer and send through it at any time. Other
    /// handlers get their session when a quiet call first needs it, which keeps a large
    /// tree of plain servers small.
    pub(crate) fn start(&self) {
        let capabilities = ServerHandler::get_info(&*self.handler).capabilities;
        let announces = capabilities
            .tools
            .as_ref()
            .is_some_and(|t| t.list_changed == Some(true))
            || capabilities
                .prompts
                .as_ref()
                .is_some_and(|p| p.list_changed == Some(true))
            || capabilities
                .resources
                .as_ref()
                .is_some_and(|r| r.list_changed == Some(true) || r.subscribe == Some(true))
            || capabilities.logging.is_some();
        if announces {
            self.session();
        }
    }

    /// The session slot, made (and told `initialized`) on first use.
    fn session(&self) -> &Slot<H> {
        self.session.get_or_init(|| {
            let slot = self.new_slot();
            let _ = slot.state.replies.send(JsonRpcMessage::notification(
                ClientNotification::InitializedNotification(InitializedNotification::default()),
            ));
            slot
        })
    }

    fn session_peer(&self) -> Result<Peer<RoleServer>, McpError> {
        Ok(self.session().service.peer().clone())
    }

    fn checkout(&self) -> Box<Slot<H>> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| self.new_slot())
    }

    fn give_back(&self, slot: Box<Slot<H>>) {
        slot.state.set(None);
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot);
    }

    /// Prepares the context of one request: a slot (none for quiet calls), a request id,
    /// the call's cancellation token and `_meta`.
    #[inline]
    fn context(&self, scope: &CallScope) -> Result<Prepared<H>, McpError> {
        // A quiet call (nobody reads its events or can answer its prompts) shares the session
        // slot: nothing it sends needs to be told apart from other calls'.
        let slot = if scope.quiet {
            None
        } else {
            Some(self.checkout())
        };
        let peer = match &slot {
            Some(slot) => {
                slot.state.set(Some(Attached {
                    scope: scope.clone(),
                }));
                slot.service.peer().clone()
            }
            None if scope.discovery => {
                match self.notices.upgrade().and_then(|n| n.discovery_peer()) {
                    Some(peer) => peer,
                    None => self.session_peer()?,
                }
            }
            None => self.session_peer()?,
        };
        let id = NumberOrString::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut context = RequestContext::new(id, peer);
        if let Some(ct) = &scope.ct {
            context.ct = ct.clone();
        }
        if let Some(meta) = &scope.caller.meta {
            context.meta = meta.clone();
        }
        if scope.wants_progress {
            context.meta.set_progress_token(slot_progress_token());
        }
        Ok((slot, context))
    }

    /// Ends a request: the slot goes back to the pool. (A handler that panics never gets
    /// here: its slot is dropped while the panic unwinds, and the tree reports the panic.)
    fn finish(&self, slot: Option<Box<Slot<H>>>) {
        if let Some(slot) = slot {
            self.give_back(slot);
        }
    }
}

impl<H: ServerHandler> Backend for LocalBackend<H> {
    fn request<'a>(
        &'a self,
        request: ClientRequest,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<ServerResult, McpError>> {
        Box::pin(async move {
            let (slot, context) = self.context(scope)?;
            let result = Service::handle_request(&*self.handler, request, context).await;
            self.finish(slot);
            result
        })
    }

    fn call_tool<'a>(
        &'a self,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<CallToolResponse, McpError>> {
        // Straight to the handler's `call_tool`, as a direct call would: no request enum,
        // the context made before the future (so the box holds the handler's future and
        // nothing else), and for a quiet call no wrapper at all. (A handler future of about
        // 1 KiB stays within the allocator's per-thread cache.)
        let (slot, context) = match self.context(scope) {
            Ok(prepared) => prepared,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        let call = ServerHandler::call_tool(&*self.handler, params, context);
        match slot {
            None => Box::pin(call),
            Some(slot) => Box::pin(async move {
                let result = call.await;
                self.finish(Some(slot));
                result
            }),
        }
    }

    fn link(&self) -> LinkKind {
        LinkKind::InProcess
    }

    fn protocol_version(&self) -> Option<String> {
        Some("in-process".to_owned())
    }
}
