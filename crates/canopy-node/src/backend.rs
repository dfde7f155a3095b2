//! The link from a node to whatever serves its own capabilities: an rmcp handler in the same
//! process today, a launched process or a remote server through the same trait later.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, ClientRequest,
        ListPromptsRequest, ListResourceTemplatesRequest, ListResourcesRequest, ListToolsRequest,
        PaginatedRequestParams, Prompt, RequestOptionalParam, Resource, ResourceTemplate,
        ServerResult, SubscribeRequest, SubscribeRequestParams, Tool, UnsubscribeRequest,
        UnsubscribeRequestParams,
    },
};

use crate::call::CallScope;

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
    fn start_mode(&self) -> crate::remote::StartMode {
        crate::remote::StartMode::Eager
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
