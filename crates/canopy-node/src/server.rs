//! The tree's MCP server face: the root answers any MCP client (2025-06-18, 2025-11-25,
//! 2026-07-28) as one server, with namespaced, paginated lists and routed calls.
//!
//! Prompts raised at any depth reach the client as `elicitation/create` on session-based
//! revisions. A 2026-07-28 client cannot be asked mid-call, so the call is *parked*: the
//! client gets an `input_required` result whose `requestState` names the parked call, and its
//! retry with `inputResponses` resumes the very same call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
        CreateMessageResult, ElicitResult, GetPromptRequestParams, GetPromptResponse,
        Implementation, InputRequest, InputRequests, InputRequiredResult, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        Prompt, ReadResourceRequestParams, ReadResourceResponse, Resource, ResourceTemplate,
        ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
        SubscriptionFilter, Tool, UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, SubscriptionContext},
};
use tokio_util::sync::CancellationToken;

use rmcp::model::ResultType;

use crate::{
    call::{CallScope, CallerInfo, CallerRequest, Driver, PendingInput, Step},
    tree::{Listed, ListenNotice, RouteState, Tree, TreeInner},
    upstream::{Upstream, answer_from_elicit, elicit_params},
};

/// The caller the HTTP face's authentication found for this request (it puts a
/// [`Caller`](crate::Caller) in the HTTP request's extensions, which rmcp hands on).
fn caller_of(context: &RequestContext<RoleServer>) -> Option<crate::Caller> {
    context
        .extensions
        .get::<axum::http::request::Parts>()?
        .extensions
        .get::<crate::Caller>()
        .cloned()
}

/// How long a parked call waits for the client's retry before it is cancelled.
pub const DEFAULT_PARK_TIMEOUT: Duration = Duration::from_secs(600);

/// The prefix of the `requestState` of calls Canopy parked (other states belong to nodes).
const PARKED_PREFIX: &str = "canopy.parked.";

/// A call waiting for a 2026-07-28 client's answers.
struct Parked {
    driver: Driver<CallToolResponse>,
    inputs: Vec<(String, PendingInput)>,
}

/// The root of a tree as an rmcp [`ServerHandler`]: serve it over any rmcp transport.
#[derive(Clone)]
pub struct CanopyServer {
    tree: Arc<TreeInner>,
    parked: Arc<Mutex<HashMap<String, Parked>>>,
    park_timeout: Duration,
}

impl std::fmt::Debug for CanopyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanopyServer")
            .field("tree", &self.tree)
            .field("parked", &self.parked.lock().map(|p| p.len()).unwrap_or(0))
            .finish()
    }
}

impl Tree {
    /// The tree's MCP server face.
    pub fn server(&self) -> CanopyServer {
        CanopyServer {
            tree: Arc::clone(&self.inner),
            parked: Arc::default(),
            park_timeout: DEFAULT_PARK_TIMEOUT,
        }
    }
}

impl CanopyServer {
    /// How long a call parked for a 2026-07-28 client's answers may wait.
    #[must_use]
    pub fn park_timeout(mut self, timeout: Duration) -> Self {
        self.park_timeout = timeout;
        self
    }

    fn scope(
        &self,
        context: &RequestContext<RoleServer>,
        ct: CancellationToken,
    ) -> (CallScope, Arc<crate::call::CallQueue>) {
        let mut meta = context.meta.clone();
        meta.0.remove("progressToken");
        // A budget the caller sent is enforced here (and what is left of it is sent on to
        // remote children by their links), not passed down as it is.
        let budget = crate::budget::Budget::from_meta(&meta.0);
        meta.0.remove(crate::budget::BUDGET_META_KEY);
        // Only the server face's own authentication says who calls: a claim the client sent
        // itself is dropped.
        meta.0.remove(crate::CALLER_META_KEY);
        let identity = caller_of(context);
        if let Some(identity) = &identity {
            meta.0
                .insert(crate::CALLER_META_KEY.to_owned(), identity.claims());
        }
        let caller = CallerInfo {
            meta: (!meta.0.is_empty()).then_some(meta),
            identity,
        };
        let listening = self.tree.events.has_subscribers();
        let (mut scope, queue) = CallScope::new(
            Some(self.tree.next_call_id()),
            ct,
            Arc::new(caller),
            listening,
        );
        scope.wants_progress = listening || context.meta.get_progress_token().is_some();
        scope.budget = budget;
        // Per request at 2026-07-28, from `initialize` before: without elicitation the
        // client can neither take `elicitation/create` nor an elicitation `input_required`.
        scope.can_ask = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.elicitation.is_some());
        (scope, queue)
    }

    fn upstream(&self, context: &RequestContext<RoleServer>) -> Arc<Upstream> {
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str());
        Arc::new(Upstream::mcp(
            context.peer.clone(),
            context.meta.get_progress_token(),
            stateless,
            self.tree.events.clone(),
        ))
    }

    /// Drives a call; parks it if it needs a stateless client's answers.
    async fn step(
        &self,
        mut driver: Driver<CallToolResponse>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let upstream = self.upstream(context);
        match driver.run(&upstream, &context.ct).await {
            Step::Done(result) => result,
            Step::NeedsInput(pending) => {
                let mut requests = InputRequests::new();
                let mut inputs = Vec::new();
                for (index, input) in pending.into_iter().enumerate() {
                    // A child's own key goes up unchanged when no other request of this
                    // round has it; Canopy mints one otherwise.
                    let key = match input.child_key() {
                        Some(key) if !requests.contains_key(key) => key.to_owned(),
                        _ => (index + 1..)
                            .map(|n| format!("canopy-{n}"))
                            .find(|key| !requests.contains_key(key))
                            .unwrap_or_default(),
                    };
                    let request = match &input {
                        PendingInput::Question { path, prompt } => InputRequest::Elicitation(
                            rmcp::model::ElicitRequest::new(elicit_params(path, prompt)),
                        ),
                        PendingInput::Request(CallerRequest::Sample { params, .. }) => {
                            InputRequest::CreateMessage(rmcp::model::CreateMessageRequest::new(
                                (**params).clone(),
                            ))
                        }
                        PendingInput::Request(CallerRequest::Roots { .. }) => {
                            InputRequest::ListRoots(rmcp::model::ListRootsRequest::default())
                        }
                    };
                    requests.insert(key.clone(), request);
                    inputs.push((key, input));
                }
                let state = format!("{PARKED_PREFIX}{}", uuid::Uuid::new_v4().simple());
                self.parked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(state.clone(), Parked { driver, inputs });
                let (parked, timeout, key) =
                    (Arc::clone(&self.parked), self.park_timeout, state.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    let abandoned = parked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    if let Some(abandoned) = abandoned {
                        abandoned.driver.ct.cancel();
                    }
                });
                Ok(CallToolResponse::InputRequired(InputRequiredResult::new(
                    Some(requests),
                    Some(state),
                )))
            }
        }
    }

    /// Resumes a parked call with the answers of the client's retry.
    async fn resume(
        &self,
        state: &str,
        params: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let parked = self
            .parked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state);
        let parked = parked.ok_or_else(|| {
            McpError::invalid_params(format!("unknown or expired requestState '{state}': the call it named is over; call the tool again"), None)
        })?;
        let mut responses = params.input_responses.unwrap_or_default();
        for (key, input) in parked.inputs {
            let response = responses.remove(&key);
            match input {
                PendingInput::Question { prompt, .. } => {
                    let answer = response
                        .and_then(|value| serde_json::from_value::<ElicitResult>(value).ok())
                        .map_or(crate::event::Answer::Cancel, |result| {
                            answer_from_elicit(&result)
                        });
                    prompt.respond(answer);
                }
                PendingInput::Request(CallerRequest::Roots { reply, .. }) => {
                    let roots = response
                        .filter(|value| value.get("roots").is_some_and(serde_json::Value::is_array))
                        .ok_or_else(|| {
                            McpError::invalid_params(
                                format!("inputResponses has no roots/list result for '{key}'"),
                                None,
                            )
                        });
                    let _ = reply.send(roots);
                }
                PendingInput::Request(CallerRequest::Sample { reply, .. }) => {
                    let result = response
                        .and_then(|value| serde_json::from_value::<CreateMessageResult>(value).ok())
                        .ok_or_else(|| {
                            McpError::invalid_params(
                                format!("inputResponses has no sampling result for '{key}'"),
                                None,
                            )
                        });
                    let _ = reply.send(result);
                }
            }
        }
        self.step(parked.driver, context).await
    }

    /// Starts a new `tools/call` (not a retry of a parked one).
    async fn start_tool_call(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let ct = CancellationToken::new();
        let (scope, queue) = self.scope(context, ct.clone());
        let tree = Arc::clone(&self.tree);
        let work = async move { tree.call_tool(request, &scope).await };
        self.step(Driver::new(work, queue, ct), context).await
    }

    /// One page of a namespaced list (`items` picks it from the current routes), from the
    /// request's cursor on.
    async fn list<T: Listed, R: Paged<T>>(
        &self,
        request: Option<PaginatedRequestParams>,
        context: &RequestContext<RoleServer>,
        items: impl FnOnce(&RouteState) -> &[T],
    ) -> Result<R, McpError> {
        self.tree.start_lazy().await;
        let routes = self.tree.routes.load();
        // Scope rules hide capabilities from callers without the scopes.
        let identity = caller_of(context);
        let granted = identity.as_ref().map_or(&[][..], crate::Caller::scopes);
        let items = self.tree.visible_items(&routes, items(&routes), granted);
        let start = match request.as_ref().and_then(|p| p.cursor.as_deref()) {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix('o')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= items.len())
                .ok_or_else(|| {
                    McpError::invalid_params(format!("invalid cursor '{cursor}'"), None)
                })?,
        };
        let end = (start + self.tree.page_size).min(items.len());
        let next = (end < items.len()).then(|| format!("o{end}"));
        Ok(R::paged(items[start..end].to_vec(), next))
    }

    /// Runs one routed request that cannot be parked (lists, reads, prompts) with events
    /// forwarded.
    async fn run<T: Send + 'static>(
        &self,
        context: &RequestContext<RoleServer>,
        work: impl FnOnce(
            Arc<TreeInner>,
            CallScope,
        ) -> futures::future::BoxFuture<'static, Result<T, McpError>>,
    ) -> Result<T, McpError> {
        let ct = CancellationToken::new();
        let (scope, queue) = self.scope(context, ct.clone());
        let mut driver = Driver::new(work(Arc::clone(&self.tree), scope), queue, ct);
        match driver.run(&self.upstream(context), &context.ct).await {
            Step::Done(result) => result,
            Step::NeedsInput(_) => Err(McpError::invalid_request(
                "a node needs the user's input for this request, which Canopy can only relay for tools/call at 2026-07-28",
                None,
            )),
        }
    }
}

impl ServerHandler for CanopyServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_completions()
            .enable_logging()
            .enable_tasks()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new(self.tree.name.as_str(), env!("CARGO_PKG_VERSION"));
        info.instructions = self.tree.description.clone();
        info
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, McpError> {
        let (scope, _queue) = self.scope(&context, context.ct.clone());
        let task_id = request.task_id.clone();
        match self
            .tree
            .task_request(
                &task_id,
                rmcp::model::ClientRequest::GetTaskRequest(rmcp::model::Request::new(request)),
                &scope,
            )
            .await?
        {
            rmcp::model::ServerResult::GetTaskResult(result) => Ok(result),
            _ => Err(unexpected_task_answer(&task_id)),
        }
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (scope, _queue) = self.scope(&context, context.ct.clone());
        let task_id = request.task_id.clone();
        self.tree
            .task_request(
                &task_id,
                rmcp::model::ClientRequest::UpdateTaskRequest(rmcp::model::Request::new(request)),
                &scope,
            )
            .await
            .map(drop)
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (scope, _queue) = self.scope(&context, context.ct.clone());
        let task_id = request.task_id.clone();
        self.tree
            .task_request(
                &task_id,
                rmcp::model::ClientRequest::CancelTaskRequest(rmcp::model::Request::new(request)),
                &scope,
            )
            .await
            .map(drop)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.tree
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(context.peer);
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.list(request, &context, |routes| &routes.tools).await
    }

    /// The exposed tool named `name`, as `tools/list` shows it: rmcp's Streamable HTTP server
    /// validates a call's `Mcp-Param-*` headers against its `x-mcp-header` annotations.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tree
            .routes
            .load()
            .tools
            .iter()
            .find(|tool| tool.name == name)
            .cloned()
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.list(request, &context, |routes| &routes.prompts).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.list(request, &context, |routes| &routes.resources)
            .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.list(request, &context, |routes| &routes.templates)
            .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let response = match request
            .request_state
            .clone()
            .filter(|s| s.starts_with(PARKED_PREFIX))
        {
            Some(state) => self.resume(&state, request, &context).await,
            None => self.start_tool_call(request, &context).await,
        };
        response.map(Completed::completed)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let response = self
            .run(&context, |tree, scope| {
                Box::pin(async move { tree.get_prompt(request, &scope).await })
            })
            .await?;
        Ok(response.completed())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let response = self
            .run(&context, |tree, scope| {
                Box::pin(async move { tree.read_resource(request, &scope).await })
            })
            .await?;
        Ok(response.completed())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.run(&context, |tree, scope| {
            Box::pin(async move { tree.complete(request, &scope).await })
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.run(&context, |tree, scope| {
            Box::pin(async move { tree.subscribe(request, &scope).await })
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.run(&context, |tree, scope| {
            Box::pin(async move { tree.unsubscribe(request, &scope).await })
        })
        .await
    }

    /// 2026-07-28 `subscriptions/listen`: list changes are accepted as asked (rmcp keeps only
    /// what `get_info` advertises), resource subscriptions for the URIs a node of the tree
    /// owns.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        if let Some(uris) = &mut accepted.resource_subscriptions {
            uris.retain(|uri| self.tree.owns_resource(uri));
        }
        Some(accepted)
    }

    /// Runs one listen stream: subscribes to its resources at the nodes that own them, then
    /// forwards the tree's list changes and resource updates into it (rmcp's sink tags each
    /// with the subscription id and drops what the filter did not accept) until the caller
    /// cancels it.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        use tokio::sync::broadcast::error::RecvError;
        let mut notices = self.tree.listen.subscribe();
        let scope = self.tree.background_scope();
        let mut held = Vec::new();
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        for uri in uris {
            match self
                .tree
                .subscribe(SubscribeRequestParams::new(uri.clone()), &scope)
                .await
            {
                Ok(()) => held.push(uri),
                Err(error) => {
                    tracing::warn!(%uri, %error, "a listen stream's resource subscription failed");
                }
            }
        }
        let sink = context.sink().clone();
        loop {
            tokio::select! {
                () = context.cancelled() => break,
                notice = notices.recv() => match notice {
                    Ok(ListenNotice::Lists { tools, prompts, resources }) => {
                        if tools {
                            let _ = sink.notify_tool_list_changed().await;
                        }
                        if prompts {
                            let _ = sink.notify_prompt_list_changed().await;
                        }
                        if resources {
                            let _ = sink.notify_resource_list_changed().await;
                        }
                    }
                    Ok(ListenNotice::ResourceUpdated(uri)) => {
                        let _ = sink.notify_resource_updated(uri).await;
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
            }
        }
        for uri in held {
            let _ = self
                .tree
                .unsubscribe(UnsubscribeRequestParams::new(uri), &scope)
                .await;
        }
        Ok(())
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Ok(())
    }
}

/// A child answered a `tasks/*` request with something else.
fn unexpected_task_answer(task_id: &str) -> McpError {
    McpError::internal_error(
        format!("the node that owns task '{task_id}' answered with an unexpected result"),
        None,
    )
}

/// A list result made from one page of items and the next page's cursor.
trait Paged<T> {
    fn paged(items: Vec<T>, next_cursor: Option<String>) -> Self;
}

/// A response that may be complete: its `resultType` is set to `complete` when the node left
/// it out (nodes on older revisions do; 2026-07-28 requires it, and rmcp strips it again for
/// older callers).
trait Completed {
    fn completed(self) -> Self;
}

macro_rules! list_results {
    ($($result:ident of $item:ty),* $(,)?) => {$(
        impl Paged<$item> for $result {
            fn paged(items: Vec<$item>, next_cursor: Option<String>) -> Self {
                let mut result = Self::with_all_items(items);
                result.next_cursor = next_cursor;
                result
            }
        }
    )*};
}

macro_rules! complete_responses {
    ($($response:ident),* $(,)?) => {$(
        impl Completed for $response {
            fn completed(self) -> Self {
                match self {
                    Self::Complete(mut result) => {
                        result.result_type.get_or_insert(ResultType::COMPLETE);
                        Self::Complete(result)
                    }
                    other => other,
                }
            }
        }
    )*};
}

list_results!(
    ListToolsResult of Tool,
    ListPromptsResult of Prompt,
    ListResourcesResult of Resource,
    ListResourceTemplatesResult of ResourceTemplate,
);
complete_responses!(CallToolResponse, GetPromptResponse, ReadResourceResponse);
