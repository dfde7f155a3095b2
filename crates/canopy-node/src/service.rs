//! Nodes whose own tools are Rust code that works *with the node's subtree*: an agent that
//! plans calls over its children, a fan-out, a planner.
//!
//! A [`NodeService`] lists its tools and runs them. Each run gets a [`NodeContext`] for the
//! call it serves: the tools of the node's descendants (named relative to the node, with the
//! LLM-safe codec), a way to call them that stays inside the same root call (events tagged
//! with the callee's path, the same cancellation, the same budget, the policies of every node
//! on the path, `ask` prompts to the user), and ways to report progress, partial output and
//! logs, ask the caller's model for a completion, or ask the user a question.

use std::sync::{Arc, Weak};

use canopy_topology::{CanonicalId, CapabilityKind, LinkKind, MountPath, NodePath};
use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest,
        CreateMessageRequestParams, CreateMessageResult, JsonObject, ListToolsResult, ServerResult,
        Tool,
    },
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    backend::{Backend, BackendContext, NodeNotices, Subtree, SubtreeTool},
    budget::{Budget, Limits},
    call::CallScope,
    event::{Answer, CallId, EventKind, Question, QuestionKind},
};

/// Rust code serving a node's own tools, with access to the node's subtree.
///
/// ```
/// use canopy_node::{NodeContext, NodeService, Node};
/// use futures::future::BoxFuture;
/// use rmcp::{ErrorData, model::{CallToolResult, ContentBlock, JsonObject, Tool}};
///
/// /// Calls every tool below it and reports how many answered.
/// struct Census;
///
/// impl NodeService for Census {
///     fn tools(&self) -> Vec<Tool> {
///         vec![Tool::new("census", "Call every tool below", JsonObject::new())]
///     }
///     fn call_tool(&self, _name: String, _args: Option<JsonObject>, cx: NodeContext)
///         -> BoxFuture<'static, Result<CallToolResult, ErrorData>> {
///         Box::pin(async move {
///             let mut ok = 0;
///             for tool in cx.tools() {
///                 if cx.call_tool(&tool.id, None).await.is_ok() { ok += 1; }
///             }
///             Ok(CallToolResult::success(vec![ContentBlock::text(format!("{ok} answered"))]))
///         })
///     }
/// }
/// let node = Node::service("census", Census);
/// ```
pub trait NodeService: Send + Sync + 'static {
    /// The node's own tools (asked when the tree is built).
    fn tools(&self) -> Vec<Tool>;

    /// Runs one of the node's tools for the call `cx` belongs to.
    fn call_tool(
        &self,
        name: String,
        arguments: Option<JsonObject>,
        cx: NodeContext,
    ) -> BoxFuture<'static, Result<CallToolResult, McpError>>;

    /// What the topology calls the node (`agent`, `planner`, …).
    fn kind(&self) -> &'static str {
        "service"
    }
}

/// What a [`NodeService`] may do for the call it serves. Cheap to clone.
#[derive(Clone)]
pub struct NodeContext {
    tree: Arc<dyn Subtree>,
    path: NodePath,
    mount: MountPath,
    scope: CallScope,
    notices: Weak<dyn NodeNotices>,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("path", &self.path)
            .field("call", &self.scope.call)
            .finish_non_exhaustive()
    }
}

impl NodeContext {
    /// The node's canonical path.
    pub fn path(&self) -> &NodePath {
        &self.path
    }

    /// The root call this work belongs to (`None` for work outside any call).
    pub fn call_id(&self) -> Option<CallId> {
        self.scope.call
    }

    /// The tools of the node's descendants that policies do not deny, in tree order, named
    /// relative to the node.
    pub fn tools(&self) -> Vec<SubtreeTool> {
        self.tree
            .tools_below(&self.path, &self.mount, self.scope.granted())
    }

    /// Calls a tool of the node's subtree as part of this call: the callee's events carry
    /// its own path, cancelling the call cancels it, the budget is charged, and the
    /// policies of every node on the path apply (an `ask` prompts the user and waits).
    pub async fn call_tool(
        &self,
        id: &CanonicalId,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, McpError> {
        if id.kind != CapabilityKind::Tool
            || id.node == self.path
            || !id.node.starts_with(&self.path)
        {
            return Err(McpError::invalid_params(
                format!(
                    "node '{}' may only call tools below it, not '{id}'",
                    self.path
                ),
                None,
            ));
        }
        let mut params = CallToolRequestParams::new(id.name.to_string());
        params.arguments = arguments;
        match self.tree.call_tool_by_id(id, params, &self.scope).await? {
            CallToolResponse::Complete(result) => Ok(result),
            CallToolResponse::InputRequired(_) => Err(McpError::internal_error(
                format!("'{id}' asked for input in a form a nested call cannot answer"),
                None,
            )),
            CallToolResponse::Task(_) => Err(McpError::internal_error(
                format!("'{id}' answered with a task, which nested calls do not poll yet"),
                None,
            )),
            _ => Err(McpError::internal_error(
                format!("'{id}' answered tools/call with an unknown kind of result"),
                None,
            )),
        }
    }

    /// Reports progress of the node's work (an MCP progress notification to the caller).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        self.scope.emit(
            &self.path,
            EventKind::Progress {
                progress,
                total,
                message,
            },
        );
    }

    /// Streams partial output (a `partial` event).
    pub fn partial(&self, data: Value) {
        self.scope.emit(&self.path, EventKind::Partial { data });
    }

    /// Logs a message at `level` (`debug`, `info`, `warning`, `error`, …).
    pub fn log(&self, level: &str, data: Value) {
        self.scope.emit(
            &self.path,
            EventKind::Log {
                level: level.to_owned(),
                logger: None,
                data,
            },
        );
    }

    /// Whether anyone reads this call's events beyond its result (skip building expensive
    /// events when nobody does).
    pub fn is_listened_to(&self) -> bool {
        self.scope.listening
    }

    /// Asks the caller's model for a completion (MCP sampling; for 2026-07-28 callers an
    /// `input_required` round trip, handled by the tree).
    pub async fn sample(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, McpError> {
        crate::backend::sample(Some(&self.scope), &self.path, params, &self.notices).await
    }

    /// Asks the user for information (`schema`: a JSON object schema of what to answer).
    pub async fn ask(&self, message: impl Into<String>, schema: Value) -> Answer {
        let (prompt, answer) = Question::new(
            self.scope.next_prompt_id(),
            QuestionKind::Input,
            message.into(),
            schema,
        );
        self.scope.ask(&self.path, prompt, answer).await
    }

    /// A token cancelled when the call is (never, for a call nobody can cancel).
    pub fn cancellation(&self) -> CancellationToken {
        self.scope.ct.clone().unwrap_or_default()
    }

    /// Who is calling, when the tree is served with authentication (the subject, client id
    /// and scopes of the caller's access token; never the token). `None` for callers the
    /// server face did not authenticate: stdio clients, hosts calling from Rust.
    pub fn caller(&self) -> Option<&crate::Caller> {
        self.scope.caller.identity.as_ref()
    }

    /// The call's budget, when it has one.
    pub fn budget(&self) -> Option<&Arc<Budget>> {
        self.scope.budget.as_ref()
    }

    /// The same context with a budget nested in the call's (or a new one when the call has
    /// none): calls made through the returned context count against both.
    pub fn with_limits(&self, limits: Limits) -> Self {
        let mut cx = self.clone();
        if limits.is_unlimited() {
            return cx;
        }
        cx.scope.budget = Some(match &self.scope.budget {
            Some(budget) => budget.child(limits),
            None => Budget::new(limits),
        });
        cx
    }
}

/// The backend of a service node.
pub(crate) struct ServiceBackend {
    service: Arc<dyn NodeService>,
    path: NodePath,
    notices: Weak<dyn NodeNotices>,
    subtree: Weak<dyn Subtree>,
}

impl ServiceBackend {
    pub(crate) fn new(service: Arc<dyn NodeService>, cx: BackendContext) -> Self {
        Self {
            service,
            path: cx.path,
            notices: cx.notices,
            subtree: cx.subtree,
        }
    }

    fn context(&self, scope: &CallScope) -> Result<NodeContext, McpError> {
        let tree = self
            .subtree
            .upgrade()
            .ok_or_else(|| McpError::internal_error("the tree is gone", None))?;
        let mount = tree
            .mount_of_path(&self.path)
            .ok_or_else(|| McpError::internal_error("the node is not in the tree", None))?;
        Ok(NodeContext {
            tree,
            path: self.path.clone(),
            mount,
            scope: scope.clone(),
            notices: self.notices.clone(),
        })
    }
}

impl Backend for ServiceBackend {
    fn request<'a>(
        &'a self,
        request: ClientRequest,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<ServerResult, McpError>> {
        Box::pin(async move {
            match request {
                ClientRequest::ListToolsRequest(_) => Ok(ServerResult::ListToolsResult(
                    ListToolsResult::with_all_items(self.service.tools()),
                )),
                ClientRequest::CallToolRequest(call) => {
                    match self.call_tool(call.params, scope).await? {
                        CallToolResponse::Complete(result) => {
                            Ok(ServerResult::CallToolResult(result))
                        }
                        _ => Err(McpError::internal_error(
                            "a service answered with something other than a result",
                            None,
                        )),
                    }
                }
                other => Err(McpError::new(
                    rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                    format!("{} is not served by this node", method_name(&other)),
                    None,
                )),
            }
        })
    }

    fn call_tool<'a>(
        &'a self,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> BoxFuture<'a, Result<CallToolResponse, McpError>> {
        Box::pin(async move {
            let cx = self.context(scope)?;
            let result = self
                .service
                .call_tool(params.name.into_owned(), params.arguments, cx)
                .await?;
            Ok(CallToolResponse::Complete(result))
        })
    }

    fn link(&self) -> LinkKind {
        LinkKind::InProcess
    }

    fn protocol_version(&self) -> Option<String> {
        None
    }
}

fn method_name(request: &ClientRequest) -> String {
    serde_json::to_value(request)
        .ok()
        .and_then(|value| {
            value
                .get("method")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
