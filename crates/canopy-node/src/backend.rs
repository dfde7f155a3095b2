//! The contract between the tree and its children: what every kind of child (in-process
//! handler, launched process, remote server, service node) implements ([`Backend`]) and is
//! given ([`BackendContext`]: its notice sink and, for service nodes, the [`Subtree`]), and
//! the helpers they share (sampling, elicitation answers, notification → event). The
//! children's rooms import this one, never the tree above them.

use std::sync::{Arc, Weak};

use canopy_topology::{CanonicalId, MountPath, NodePath};
use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError, Peer, RoleServer,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, ClientRequest,
        CreateMessageRequestParams, CreateMessageResult, ElicitResult, ElicitationAction,
        ListPromptsRequest, ListResourceTemplatesRequest, ListResourcesRequest, ListToolsRequest,
        PaginatedRequestParams, Prompt, RequestOptionalParam, Resource, ResourceTemplate,
        ServerNotification, ServerResult, SubscribeRequest, SubscribeRequestParams, Tool,
        UnsubscribeRequest, UnsubscribeRequestParams,
    },
};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::{
    call::{CallMsg, CallScope, CallerRequest},
    event::{Answer, EventKind},
};

/// When a launched child starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartMode {
    /// When the tree is built (the default): its capabilities are known from the start.
    #[default]
    Eager,
    /// On the first call that needs it. The tree lists nothing for it until then.
    Lazy,
}

/// What serves a node's own capabilities. Object-safe, so a tree can hold any mix.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Sends one MCP request on behalf of a call and waits for its result. Progress, logs
    /// and prompts the request causes arrive in the call's event queue (see [`CallScope`]).
    fn request<'a>(
        &'a self,
        request: ClientRequest,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<ServerResult, McpError>>;

    /// Sends a `tools/call` (the hot path: backends may serve it with a smaller future than
    /// the general [`Backend::request`]).
    fn call_tool<'a>(
        &'a self,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<CallToolResponse, McpError>> {
        Box::pin(async move {
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
            match self.request(request, scope).await? {
                ServerResult::CallToolResult(result) => Ok(CallToolResponse::Complete(result)),
                ServerResult::InputRequiredResult(result) => {
                    Ok(CallToolResponse::InputRequired(result))
                }
                ServerResult::CreateTaskResult(result) => Ok(CallToolResponse::Task(result)),
                _ => Err(McpError::internal_error(
                    "a node answered tools/call with an unexpected result",
                    None,
                )),
            }
        })
    }

    /// Subscribes to updates of the node's resource `uri` (its own URI): a legacy
    /// `resources/subscribe` by default; links whose revision replaced it do what it has
    /// instead. Updates come back through the node's notices (`resource_updated`).
    fn subscribe<'a>(
        &'a self,
        uri: String,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(async move {
            let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(
                SubscribeRequestParams::new(uri),
            ));
            self.request(request, scope).await.map(|_| ())
        })
    }

    /// Ends a subscription made with [`Backend::subscribe`].
    fn unsubscribe<'a>(
        &'a self,
        uri: String,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(async move {
            let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
                UnsubscribeRequestParams::new(uri),
            ));
            self.request(request, scope).await.map(|_| ())
        })
    }

    /// When the node should start (eager nodes are started and listed when the tree is
    /// built; lazy ones in the background).
    fn start_mode(&self) -> StartMode {
        StartMode::Eager
    }

    /// Closes the link cleanly (child processes are asked to exit).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// How the node is reached: `in_process`, `stdio`, `http`.
    fn link(&self) -> canopy_topology::LinkKind;

    /// The protocol revision spoken on the link, when known.
    fn protocol_version(&self) -> Option<String>;
}

/// Everything a node offers, as it reported it (names not yet namespaced).
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
}

/// Upper bound on list pages fetched from one node, so a child that keeps returning cursors
/// cannot hang the tree.
const MAX_PAGES: usize = 10_000;

macro_rules! fetch_all {
    ($backend:expr, $scope:expr, $Req:ident, $Variant:ident, $Res:ident, $field:ident) => {{
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor
                .take()
                .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
            let request = ClientRequest::$Variant($Req::new_with(params));
            match $backend.request(request, $scope).await {
                Ok(ServerResult::$Res(page)) => {
                    items.extend(page.$field);
                    match page.next_cursor {
                        Some(next) if !next.is_empty() => cursor = Some(next),
                        _ => break,
                    }
                }
                Ok(_) => {
                    return Err(McpError::internal_error(
                        concat!("unexpected result type for ", stringify!($Req)),
                        None,
                    ));
                }
                Err(error) if error.code == rmcp::model::ErrorCode::METHOD_NOT_FOUND => break,
                Err(error) => return Err(error),
            }
        }
        // Kept for the tree's life: no spare capacity (a one-tool leaf's list would hold 4).
        items.shrink_to_fit();
        items
    }};
}

/// Builds list requests with optional pagination params.
trait NewWith {
    fn new_with(params: Option<PaginatedRequestParams>) -> Self;
}

macro_rules! impl_new_with {
    ($($Req:ident),*) => {$(
        impl NewWith for $Req {
            fn new_with(params: Option<PaginatedRequestParams>) -> Self {
                let mut request = RequestOptionalParam::default();
                request.params = params;
                request
            }
        }
    )*};
}
impl_new_with!(
    ListToolsRequest,
    ListPromptsRequest,
    ListResourcesRequest,
    ListResourceTemplatesRequest
);

/// Asks a node for everything it offers, following pagination cursors.
pub(crate) async fn fetch_catalog(
    backend: &Arc<dyn Backend>,
    scope: &CallScope,
) -> Result<Catalog, McpError> {
    let tools = fetch_all!(
        backend,
        scope,
        ListToolsRequest,
        ListToolsRequest,
        ListToolsResult,
        tools
    );
    let prompts = fetch_all!(
        backend,
        scope,
        ListPromptsRequest,
        ListPromptsRequest,
        ListPromptsResult,
        prompts
    );
    let resources = fetch_all!(
        backend,
        scope,
        ListResourcesRequest,
        ListResourcesRequest,
        ListResourcesResult,
        resources
    );
    let templates = fetch_all!(
        backend,
        scope,
        ListResourceTemplatesRequest,
        ListResourceTemplatesRequest,
        ListResourceTemplatesResult,
        resource_templates
    );
    Ok(Catalog {
        tools,
        prompts,
        resources,
        templates,
    })
}

/// Notices a node sends that concern the tree rather than one call.
pub(crate) trait NodeNotices: Send + Sync + 'static {
    /// The node's tools, prompts or resources changed.
    fn list_changed(&self, path: &NodePath);
    /// A resource the node owns changed (`uri` as the node knows it).
    fn resource_updated(&self, path: &NodePath, uri: &str);
    /// An event that belongs to no call (a log line between calls).
    fn tree_event(&self, path: &NodePath, kind: EventKind);
    /// Runs a sampling request that belongs to no listening call through the tree's own
    /// sampling handler.
    fn sample(
        &self,
        path: &NodePath,
        params: CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<CreateMessageResult, McpError>>;
    /// A peer shared by the tree's in-process nodes while they list what they offer, so
    /// discovery needs no session per node.
    fn discovery_peer(&self) -> Option<Peer<RoleServer>>;
}

/// Runs a node's sampling request: through the caller of the call it belongs to, or, for a
/// quiet call or none, through the tree's own sampling handler.
pub(crate) async fn sample(
    scope: Option<&CallScope>,
    path: &NodePath,
    params: CreateMessageRequestParams,
    notices: &Weak<dyn NodeNotices>,
) -> Result<CreateMessageResult, McpError> {
    sample_keyed(scope, path, params, notices, None).await
}

/// [`sample`], for a request a child made under `key` in its own `input_required`.
pub(crate) async fn sample_keyed(
    scope: Option<&CallScope>,
    path: &NodePath,
    params: CreateMessageRequestParams,
    notices: &Weak<dyn NodeNotices>,
    key: Option<String>,
) -> Result<CreateMessageResult, McpError> {
    if let Some(queue) = scope.and_then(|scope| scope.queue.as_ref()) {
        let (reply, result) = oneshot::channel();
        queue.send(CallMsg::Ask(CallerRequest::Sample {
            path: path.clone(),
            params: Box::new(params),
            key,
            reply,
        }));
        return result.await.unwrap_or_else(|_| {
            Err(McpError::internal_error(
                "the call ended before sampling finished",
                None,
            ))
        });
    }
    match notices.upgrade() {
        Some(notices) => notices.sample(path, params).await,
        None => Err(McpError::internal_error("the tree is gone", None)),
    }
}

/// Converts a prompt answer into an MCP elicitation result.
pub(crate) fn elicit_from_answer(answer: Answer) -> ElicitResult {
    match answer {
        Answer::Accept(content) => {
            ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
        }
        Answer::Decline => ElicitResult::new(ElicitationAction::Decline),
        Answer::Cancel => ElicitResult::new(ElicitationAction::Cancel),
    }
}

/// Makes a node's backend once the tree (and so the node's path and notice sink) exists.
pub(crate) type BackendFactory = Box<dyn FnOnce(BackendContext) -> Arc<dyn Backend> + Send>;

/// What a node's backend is given when the tree it belongs to is made: where the node is,
/// where its notices go, and (for a node that works with its subtree) the running tree.
pub(crate) struct BackendContext {
    /// The node's canonical path.
    pub(crate) path: NodePath,
    /// Where the node's tree-level notices go.
    pub(crate) notices: Weak<dyn NodeNotices>,
    /// The running tree, as a service node sees it.
    pub(crate) subtree: Weak<dyn Subtree>,
}

/// The running tree, as a node that works with its own subtree (a service node) sees it.
/// The tree implements it; the builder hands it to the service backends it makes.
pub(crate) trait Subtree: Send + Sync + 'static {
    /// The mount of the node at `path`.
    fn mount_of_path(&self, path: &NodePath) -> Option<MountPath>;

    /// The tools below the node at `path` (mounted at `mount`) that policies do not deny to
    /// a caller holding the scopes `granted`, in tree order, named relative to the node.
    fn tools_below(
        &self,
        path: &NodePath,
        mount: &MountPath,
        granted: &[String],
    ) -> Vec<SubtreeTool>;

    /// Calls the tool `id` as part of the call `scope` (the policies on its path apply).
    fn call_tool_by_id<'a>(
        &'a self,
        id: &'a CanonicalId,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<CallToolResponse, McpError>>;
}

/// A tool below a service node, as the node sees it.
#[derive(Clone, Debug)]
pub struct SubtreeTool {
    /// The tool with its name relative to the node (codec-encoded, LLM-safe by default),
    /// description and schema.
    pub tool: Tool,
    /// Its canonical id (what [`NodeContext::call_tool`](crate::NodeContext::call_tool)
    /// takes).
    pub id: CanonicalId,
    /// Whether a policy asks the user before each call.
    pub asks: bool,
}

/// The event a child's progress or log notification stands for, whatever the link it came
/// over; the other notifications (list changes, resource updates, …) concern the tree, not
/// a call, and come back as they are.
// The `Err` is the notification itself, moved back to the caller once (never stored): boxing
// it would allocate for every list change an in-process child sends.
#[allow(clippy::result_large_err)]
pub(crate) fn notification_event(
    notification: ServerNotification,
) -> Result<EventKind, ServerNotification> {
    match notification {
        ServerNotification::ProgressNotification(n) => Ok(EventKind::Progress {
            progress: n.params.progress,
            total: n.params.total,
            message: n.params.message,
        }),
        ServerNotification::LoggingMessageNotification(n) => Ok(EventKind::Log {
            level: serde_json::to_value(n.params.level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "info".to_owned()),
            logger: n.params.logger,
            data: n.params.data,
        }),
        other => Err(other),
    }
}
