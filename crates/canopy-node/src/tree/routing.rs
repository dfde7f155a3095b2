//! Routing requests to the node that owns the capability: policy decisions and prompts,
//! name and URI translation both ways, and the errors a client sees.

use canopy_topology::{CapabilityKind, Decision, MountPath, NodeId, NodePath, OnUnanswerable};
use rmcp::{
    ErrorData as McpError,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, CompleteRequest,
        CompleteRequestParams, CompleteResult, ContentBlock, GetPromptRequest,
        GetPromptRequestParams, GetPromptResponse, ReadResourceRequest, ReadResourceRequestParams,
        ReadResourceResponse, Reference, ResourceContents, ServerResult, SubscribeRequestParams,
        UnsubscribeRequestParams,
    },
};

use super::{RouteState, TreeInner, is_denied};
use crate::{
    audit::display_path,
    call::{CallScope, status, status_with_usage},
    event::{Answer, NodeState, Question, QuestionKind, Verdict, empty_object_schema},
};

/// How a routed `tools/call` names its tool.
#[derive(Clone, Copy, Debug)]
enum ToolTarget<'a> {
    /// The name the root exposes.
    Exposed(&'a str),
    /// The canonical id.
    Id(&'a canopy_topology::CanonicalId),
}

impl TreeInner {
    /// Whether a call may go ahead for this caller: the route's decision (scope rules
    /// applied), the user asked for an `ask` one; `Ok(None)` = go ahead, `Ok(Some(result))` =
    /// refused, with the tool result saying so. Every decision goes to the audit trail.
    async fn permit(
        &self,
        route: &canopy_topology::Route,
        arguments: Option<&rmcp::model::JsonObject>,
        scope: &CallScope,
    ) -> Result<Option<CallToolResult>, McpError> {
        let id = &route.id;
        let decision = self.decision_for(route, scope.granted());
        match &*decision {
            Decision::Allow => {
                let rule = route.allowed_by.last().map(|(node, rule)| (node, rule));
                crate::audit::record(scope, Verdict::Allowed, id, rule);
                Ok(None)
            }
            Decision::Deny { by, rule } => {
                crate::audit::record(scope, Verdict::Denied, id, Some((by, rule)));
                Err(denied(id, by, rule))
            }
            Decision::Ask {
                by,
                on_unanswerable,
            } => {
                let asker = by.last().map(|(node, rule)| (node, rule));
                if scope.can_ask {
                    crate::audit::record(scope, Verdict::Asked, id, asker);
                    let refused = Box::pin(self.ask_permission(by, id, arguments, scope)).await?;
                    let verdict = match refused {
                        None => Verdict::Accepted,
                        Some(_) => Verdict::Declined,
                    };
                    crate::audit::record(scope, verdict, id, asker);
                    Ok(refused)
                } else {
                    let refused = unanswerable(by, *on_unanswerable, id, scope);
                    let verdict = match refused {
                        None => Verdict::AllowedUnasked,
                        Some(_) => Verdict::DeniedUnasked,
                    };
                    crate::audit::record(scope, verdict, id, asker);
                    Ok(refused)
                }
            }
        }
    }

    /// Asks the user about an `ask` decision (boxed by the caller: it is the rare path, and
    /// keeps every call's future small).
    async fn ask_permission(
        &self,
        by: &[(NodePath, canopy_topology::Rule)],
        id: &canopy_topology::CanonicalId,
        arguments: Option<&rmcp::model::JsonObject>,
        scope: &CallScope,
    ) -> Result<Option<CallToolResult>, McpError> {
        let asker = by.last().map(|(path, _)| path.clone()).unwrap_or_default();
        // The root is named as the tree is (`hub`), not `(root)`: that is the name the
        // person wrote in the tree file.
        let rules: Vec<String> = by
            .iter()
            .map(|(path, rule)| {
                let node = if path.is_root() {
                    self.name.to_string()
                } else {
                    path.to_string()
                };
                format!("the policy of '{node}' asks for '{}'", rule.glob)
            })
            .collect();
        let message = format!("Allow the call to '{id}'? ({})", rules.join("; "));
        let (prompt, answer) = Question::new(
            scope.next_prompt_id(),
            QuestionKind::Permission,
            message,
            empty_object_schema(),
        );
        let prompt = prompt.with_arguments(Some(serde_json::Value::Object(
            arguments.cloned().unwrap_or_default(),
        )));
        match scope.ask(&asker, prompt, answer).await {
            Answer::Accept(_) => Ok(None),
            Answer::Decline | Answer::Cancel => {
                Ok(Some(CallToolResult::error(vec![ContentBlock::text(
                    format!("The user did not allow the call to '{id}'."),
                )])))
            }
        }
    }

    /// Routes a `tools/call` to the node that owns the tool.
    pub(crate) async fn call_tool(
        &self,
        mut params: CallToolRequestParams,
        scope: &CallScope,
    ) -> Result<CallToolResponse, McpError> {
        let exposed = std::mem::take(&mut params.name);
        self.call_tool_named(&exposed, params, scope).await
    }

    /// Routes a `tools/call` of the tool the root exposes as `exposed`; `params.name` is
    /// replaced by the owning node's own name for the tool.
    pub(crate) fn call_tool_named<'a>(
        &'a self,
        exposed: &'a str,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> impl Future<Output = Result<CallToolResponse, McpError>> + Send + 'a {
        self.dispatch_tool(ToolTarget::Exposed(exposed), params, scope)
    }

    /// Calls the tool with canonical id `id` (a node calling into its own subtree does this:
    /// it knows the id, not the name the root exposes).
    pub(crate) fn call_tool_by_id<'a>(
        &'a self,
        id: &'a canopy_topology::CanonicalId,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> impl Future<Output = Result<CallToolResponse, McpError>> + Send + 'a {
        self.dispatch_tool(ToolTarget::Id(id), params, scope)
    }

    /// Runs a routed `tools/call`: the route, budget, policy, the owning node, status
    /// events, and the result's resource links rewritten to exposed URIs. (One async
    /// function from the lookup to the node: every layer would move the parameters and the
    /// result once more.)
    async fn dispatch_tool(
        &self,
        target: ToolTarget<'_>,
        mut params: CallToolRequestParams,
        scope: &CallScope,
    ) -> Result<CallToolResponse, McpError> {
        let mut routes = self.routes.load_full();
        if let ToolTarget::Exposed(exposed) = target
            && self.has_lazy_pending()
            && routes
                .plan
                .lookup_name(CapabilityKind::Tool, exposed)
                .is_none()
        {
            // The name may be a lazy child's: start them, then look again.
            Box::pin(self.start_lazy()).await;
            routes = self.routes.load_full();
        }
        let (index, route) = match target {
            ToolTarget::Exposed(exposed) => routes
                .plan
                .lookup_name(CapabilityKind::Tool, exposed)
                .ok_or_else(|| {
                    let visible = |route: &_| self.visible_to(route, scope.granted());
                    unknown("tool", exposed, &routes.plan, CapabilityKind::Tool, visible)
                })
                .map_err(|error| self.note_down_nodes(error))?,
            ToolTarget::Id(id) => routes.plan.by_id_indexed(id).ok_or_else(|| {
                McpError::invalid_params(format!("no tool '{id}' in the tree (any more)"), None)
            })?,
        };
        if let Some(budget) = &scope.budget {
            budget.charge_call().map_err(|spent| spent.to_error())?;
        }
        if let Some(refused) = self.permit(route, params.arguments.as_ref(), scope).await? {
            return Ok(CallToolResponse::Complete(refused));
        }
        let (node, backend) = self.node(route.node)?;
        params.name = routes.tool_name(index, route);
        let verbose = scope.listening;
        if verbose {
            status(scope, &node.path, NodeState::Started, &route.id.to_string());
        }
        let result = guarded(&node.path, backend.call_tool(params, scope)).await;
        if verbose {
            let failed = matches!(
                &result,
                Err(_)
                    | Ok(CallToolResponse::Complete(CallToolResult {
                        is_error: Some(true),
                        ..
                    }))
            );
            let usage = match &result {
                Ok(CallToolResponse::Complete(CallToolResult {
                    meta: Some(meta), ..
                })) => meta.0.get(crate::budget::USAGE_META_KEY).cloned(),
                _ => None,
            };
            status_with_usage(
                scope,
                &node.path,
                if failed {
                    NodeState::Failed
                } else {
                    NodeState::Finished
                },
                &route.id.to_string(),
                usage,
            );
        }
        let mut response = result?;
        match &mut response {
            CallToolResponse::Complete(result) => {
                self.rewrite_content(&node.mount, &mut result.content);
            }
            CallToolResponse::Task(task) => {
                self.tasks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(task.task.task_id.clone(), node.id);
            }
            _ => {}
        }
        Ok(response)
    }

    /// Sends a `tasks/get`, `tasks/update` or `tasks/cancel` to the node that started the
    /// task; an id no node started is invalid params (-32602).
    pub(crate) async fn task_request(
        &self,
        task_id: &str,
        request: ClientRequest,
        scope: &CallScope,
    ) -> Result<ServerResult, McpError> {
        let owner = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(task_id)
            .copied();
        let owner = owner
            .ok_or_else(|| McpError::invalid_params(format!("unknown task '{task_id}'"), None))?;
        let (node, backend) = self.node(owner)?;
        guarded(&node.path, backend.request(request, scope)).await
    }

    /// Routes a `prompts/get`.
    pub(crate) async fn get_prompt(
        &self,
        mut params: GetPromptRequestParams,
        scope: &CallScope,
    ) -> Result<GetPromptResponse, McpError> {
        let mut routes = self.routes.load_full();
        if self.has_lazy_pending()
            && routes
                .plan
                .lookup_name(CapabilityKind::Prompt, &params.name)
                .is_none()
        {
            Box::pin(self.start_lazy()).await;
            routes = self.routes.load_full();
        }
        let (_, route) = routes
            .plan
            .lookup_name(CapabilityKind::Prompt, &params.name)
            .ok_or_else(|| {
                let visible = |route: &_| self.visible_to(route, scope.granted());
                unknown(
                    "prompt",
                    &params.name,
                    &routes.plan,
                    CapabilityKind::Prompt,
                    visible,
                )
            })
            .map_err(|error| self.note_down_nodes(error))?;
        if let Some(refused) = self.permit(route, params.arguments.as_ref(), scope).await? {
            return Err(McpError::invalid_request(text_of(&refused), None));
        }
        let (node, backend) = self.node(route.node)?;
        params.name = String::from(&*route.id.name);
        match guarded(
            &node.path,
            backend.request(
                ClientRequest::GetPromptRequest(GetPromptRequest::new(params)),
                scope,
            ),
        )
        .await?
        {
            ServerResult::GetPromptResult(mut result) => {
                if node.mount.prefix_segments().next().is_some() {
                    for message in &mut result.messages {
                        self.rewrite_block(&node.mount, &mut message.content);
                    }
                }
                Ok(GetPromptResponse::Complete(result))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(GetPromptResponse::InputRequired(result))
            }
            other => Err(unexpected("prompts/get", &other)),
        }
    }

    /// Maps an exposed resource URI to its node and the node's own URI.
    /// A caller holding the scopes `granted` is refused a resource policies deny it.
    fn resolve_uri(
        &self,
        routes: &RouteState,
        uri: &str,
        granted: &[String],
    ) -> Result<(NodeId, String), McpError> {
        let visible = |route: &_| self.visible_to(route, granted);
        let (node, original) = routes.plan.resolve_uri(uri).ok_or_else(|| {
            let hint = did_you_mean(uri, &routes.plan, CapabilityKind::Resource, visible);
            McpError::resource_not_found(
                format!("no node of this tree owns the resource '{uri}'{hint}"),
                Some(serde_json::json!({ "uri": uri })),
            )
        })?;
        let denied = routes
            .plan
            .by_id(&canonical_resource(self, node, &original))
            .is_some_and(|route| !visible(route));
        if denied {
            return Err(McpError::invalid_params(
                format!("resource '{uri}' is denied by policy"),
                None,
            ));
        }
        Ok((node, original))
    }

    /// Routes a `resources/read`.
    pub(crate) async fn read_resource(
        &self,
        mut params: ReadResourceRequestParams,
        scope: &CallScope,
    ) -> Result<ReadResourceResponse, McpError> {
        let mut routes = self.routes.load_full();
        if self.has_lazy_pending() && routes.plan.resolve_uri(&params.uri).is_none() {
            Box::pin(self.start_lazy()).await;
            routes = self.routes.load_full();
        }
        let (node_id, original) = self.resolve_uri(&routes, &params.uri, scope.granted())?;
        let (node, backend) = self.node(node_id)?;
        params.uri = original;
        match guarded(
            &node.path,
            backend.request(
                ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params)),
                scope,
            ),
        )
        .await?
        {
            ServerResult::ReadResourceResult(mut result) => {
                for contents in &mut result.contents {
                    if let Some(uri) = contents_uri(contents) {
                        *uri = self.codec.encode_uri(&node.mount, uri);
                    }
                }
                Ok(ReadResourceResponse::Complete(result))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(ReadResourceResponse::InputRequired(result))
            }
            other => Err(unexpected("resources/read", &other)),
        }
    }

    /// Routes `resources/subscribe` (legacy callers), and the resource subscriptions of a
    /// 2026-07-28 caller's `subscriptions/listen`: each node's link subscribes the way its
    /// revision does (see [`crate::backend::Backend::subscribe`]).
    pub(crate) async fn subscribe(
        &self,
        params: SubscribeRequestParams,
        scope: &CallScope,
    ) -> Result<(), McpError> {
        let routes = self.routes.load_full();
        let (node_id, original) = self.resolve_uri(&routes, &params.uri, scope.granted())?;
        let (node, backend) = self.node(node_id)?;
        guarded(&node.path, backend.subscribe(original, scope)).await
    }

    /// Routes `resources/unsubscribe` (legacy callers), and the end of a listen stream's
    /// resource subscriptions.
    pub(crate) async fn unsubscribe(
        &self,
        params: UnsubscribeRequestParams,
        scope: &CallScope,
    ) -> Result<(), McpError> {
        let routes = self.routes.load_full();
        let (node_id, original) = self.resolve_uri(&routes, &params.uri, scope.granted())?;
        let (node, backend) = self.node(node_id)?;
        guarded(&node.path, backend.unsubscribe(original, scope)).await
    }

    /// Whether a node of the tree owns the exposed resource `uri` (and policy allows it).
    pub(crate) fn owns_resource(&self, uri: &str) -> bool {
        // The caller's own scopes are checked when the listen stream subscribes.
        let routes = self.routes.load();
        routes
            .plan
            .resolve_uri(uri)
            .is_some_and(|(node, original)| {
                routes
                    .plan
                    .by_id(&canonical_resource(self, node, &original))
                    .is_none_or(|route| !is_denied(&route.decision))
            })
    }

    /// Routes `completion/complete` to the node owning the prompt or template.
    pub(crate) async fn complete(
        &self,
        mut params: CompleteRequestParams,
        scope: &CallScope,
    ) -> Result<CompleteResult, McpError> {
        let routes = self.routes.load_full();
        let visible = |route: &_| self.visible_to(route, scope.granted());
        let route = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let (_, route) = routes
                    .plan
                    .lookup_name(CapabilityKind::Prompt, &prompt.name)
                    .ok_or_else(|| {
                        unknown(
                            "prompt",
                            &prompt.name,
                            &routes.plan,
                            CapabilityKind::Prompt,
                            visible,
                        )
                    })?;
                prompt.name = route.id.name.to_string();
                route
            }
            Reference::Resource(resource) => {
                let route = routes
                    .plan
                    .lookup(CapabilityKind::ResourceTemplate, &resource.uri)
                    .ok_or_else(|| {
                        unknown(
                            "resource template",
                            &resource.uri,
                            &routes.plan,
                            CapabilityKind::ResourceTemplate,
                            visible,
                        )
                    })?;
                resource.uri = route.id.name.to_string();
                route
            }
            _ => {
                return Err(McpError::invalid_params(
                    "unsupported completion reference",
                    None,
                ));
            }
        };
        if !visible(route) {
            return Err(McpError::invalid_params(
                format!("'{}' is denied by policy", route.id),
                None,
            ));
        }
        let (node, backend) = self.node(route.node)?;
        match guarded(
            &node.path,
            backend.request(
                ClientRequest::CompleteRequest(CompleteRequest::new(params)),
                scope,
            ),
        )
        .await?
        {
            ServerResult::CompleteResult(result) => Ok(result),
            other => Err(unexpected("completion/complete", &other)),
        }
    }

    /// Rewrites resource URIs in tool output to their exposed form, so a client can read them
    /// back through the tree.
    fn rewrite_content(&self, mount: &MountPath, content: &mut [ContentBlock]) {
        if mount.prefix_segments().next().is_none() {
            return;
        }
        for block in content {
            self.rewrite_block(mount, block);
        }
    }

    fn rewrite_block(&self, mount: &MountPath, block: &mut ContentBlock) {
        match block {
            ContentBlock::ResourceLink(link) => link.uri = self.codec.encode_uri(mount, &link.uri),
            ContentBlock::Resource(embedded) => {
                if let Some(uri) = contents_uri(&mut embedded.resource) {
                    *uri = self.codec.encode_uri(mount, uri);
                }
            }
            _ => {}
        }
    }
}

fn contents_uri(contents: &mut ResourceContents) -> Option<&mut String> {
    match contents {
        ResourceContents::TextResourceContents { uri, .. }
        | ResourceContents::BlobResourceContents { uri, .. } => Some(uri),
        _ => None,
    }
}

fn canonical_resource(tree: &TreeInner, node: NodeId, uri: &str) -> canopy_topology::CanonicalId {
    let path = tree
        .nodes
        .get(&node)
        .map(|n| n.path.clone())
        .unwrap_or_default();
    canopy_topology::CanonicalId::new(CapabilityKind::Resource, path, uri)
}

/// An `ask` decision for a caller that cannot answer permission prompts: refused with a
/// tool error saying so (`None` = go ahead, when every asking node's `on_unanswerable` is
/// `allow`; a warning log event says that nobody was asked).
fn unanswerable(
    by: &[(NodePath, canopy_topology::Rule)],
    fallback: OnUnanswerable,
    id: &canopy_topology::CanonicalId,
    scope: &CallScope,
) -> Option<CallToolResult> {
    let rules: Vec<String> = by
        .iter()
        .map(|(path, rule)| format!("'{}' asks for '{}'", display_path(path), rule.glob))
        .collect();
    let rules = rules.join("; ");
    let asker = by.last().map(|(path, _)| path.clone()).unwrap_or_default();
    match fallback {
        OnUnanswerable::Allow => {
            let message = format!(
                "the call to '{id}' needs approval ({rules}), but this client cannot answer \
                 permission prompts; it goes ahead unasked (on_unanswerable = \"allow\")"
            );
            tracing::info!(%id, "{message}");
            scope.emit(
                &asker,
                crate::event::EventKind::Log {
                    level: "warning".to_owned(),
                    logger: Some("canopy.policy".to_owned()),
                    data: serde_json::Value::String(message),
                },
            );
            None
        }
        OnUnanswerable::Deny => Some(CallToolResult::error(vec![ContentBlock::text(format!(
            "The call to '{id}' needs the user's approval ({rules}), but this client cannot \
             answer permission prompts (it has no elicitation support), so nobody was asked \
             and the call was not made. Use a client that supports elicitation, or set \
             on_unanswerable = \"allow\" in the [policy] of the asking node."
        ))])),
    }
}

/// The error for a call a policy denies (the rule is the tree file's spelling of it).
fn denied(
    id: &canopy_topology::CanonicalId,
    by: &NodePath,
    rule: &canopy_topology::Rule,
) -> McpError {
    let why = if rule.scopes.is_empty() {
        format!("deny '{}'", rule.glob)
    } else {
        format!(
            "require_scopes '{}' = {}: the caller lacks a scope",
            rule.glob,
            rule.scopes.join(" ")
        )
    };
    let mut data =
        serde_json::json!({ "reason": "denied", "node": by.to_string(), "rule": rule.glob });
    if !rule.scopes.is_empty() {
        data["scopes"] = serde_json::json!(rule.scopes);
    }
    McpError::invalid_params(
        format!(
            "'{id}' is denied by the policy of node '{}' ({why})",
            display_path(by)
        ),
        Some(data),
    )
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The error for a name no route has, with the closest exposed names as a hint.
fn unknown(
    what: &str,
    name: &str,
    plan: &canopy_topology::RoutePlan,
    kind: CapabilityKind,
    visible: impl Fn(&canopy_topology::Route) -> bool,
) -> McpError {
    McpError::invalid_params(
        format!(
            "unknown {what} '{name}'{}",
            did_you_mean(name, plan, kind, visible)
        ),
        Some(serde_json::json!({ "reason": "unknown", "name": name })),
    )
}

/// How many names a "did you mean" offers.
const HINTS: usize = 3;

/// `"; did you mean 'a' or 'b'?"` with the visible exposed names nearest to `name` (edit
/// distance to the exposed name, the canonical id, or the owning node's own name; the
/// nearest ones, up to three), or "".
/// Only names the caller may see (`visible`) are offered.
fn did_you_mean(
    name: &str,
    plan: &canopy_topology::RoutePlan,
    kind: CapabilityKind,
    visible: impl Fn(&canopy_topology::Route) -> bool,
) -> String {
    // Up to a quarter of the name may be wrong (at least one edit, at most four).
    let limit = (name.chars().count() / 4).clamp(1, 4);
    let mut near: Vec<(usize, usize, &str)> = plan
        .routes(kind)
        .iter()
        .enumerate()
        .filter(|(_, route)| visible(route))
        .filter_map(|(order, route)| {
            let exposed = strsim::levenshtein(name, &route.exposed);
            let own = strsim::levenshtein(name, &route.id.name);
            let canonical = strsim::levenshtein(name, &route.id.to_string());
            let distance = exposed.min(own).min(canonical);
            (distance <= limit).then_some((distance, order, &*route.exposed))
        })
        .collect();
    near.sort_unstable();
    let Some(&(best, _, _)) = near.first() else {
        return String::new();
    };
    // Only the nearest tier: a guess further off than the best one is noise.
    let hints: Vec<String> = near
        .iter()
        .take_while(|(distance, _, _)| *distance == best)
        .take(HINTS)
        .map(|(_, _, exposed)| format!("'{exposed}'"))
        .collect();
    format!("; did you mean {}?", hints.join(" or "))
}

/// Awaits a node's work, turning a panic into an error that names the node (the node's
/// slot was dropped while the panic unwound, so it is not reused).
async fn guarded<T>(
    path: &NodePath,
    work: futures::future::BoxFuture<'_, Result<T, McpError>>,
) -> Result<T, McpError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(McpError::internal_error(
                format!(
                    "node '{path}' panicked: {}",
                    crate::call::panic_message(&*panic)
                ),
                None,
            ))
        })
}

fn unexpected(method: &str, result: &ServerResult) -> McpError {
    let kind = serde_json::to_value(result)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
        })
        .unwrap_or_default();
    McpError::internal_error(
        format!("a node answered {method} with an unexpected result (fields: {kind})"),
        None,
    )
}
