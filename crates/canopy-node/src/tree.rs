//! A running tree: its topology, its nodes' backends, the compiled route table, and the
//! operations every face of the tree (the Rust host API, the MCP server face) routes through.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use arc_swap::ArcSwap;
use canopy_topology::{
    CapabilityEntry, CapabilityKind, Decision, LinkKind, MountPath, NamespaceCodec, NodeId,
    NodeInfo, NodeName, NodePath, RoutePlan, Topology, TopologyFormat, plan_routes,
};
use rmcp::{
    ErrorData as McpError, Peer, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, CompleteRequest,
        CompleteRequestParams, CompleteResult, ContentBlock, GetPromptRequest,
        GetPromptRequestParams, GetPromptResponse, JsonObject, Prompt as McpPrompt,
        ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse, Reference, Resource,
        ResourceContents, ResourceTemplate, ServerResult, SubscribeRequest, SubscribeRequestParams,
        Tool, UnsubscribeRequest, UnsubscribeRequestParams,
    },
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    backend::{Backend, Catalog, fetch_catalog},
    builder::{BackendFactory, Node, TreeBuilder},
    call::{CallScope, CallerInfo, Driver, Step, status},
    error::{BuildError, CallError},
    event::{
        CallId, Event, EventHub, EventKind, NodeState, Prompt, PromptAnswer, PromptKind,
        TreeEvents, empty_object_schema,
    },
    local::NodeNotices,
    upstream::{SamplingHandler, Upstream},
};

/// Capacity of the tree-wide event stream; a subscriber that falls further behind loses the
/// oldest events (and is told so by `broadcast`).
const TREE_EVENT_CAPACITY: usize = 1024;

/// A tree of MCP servers that answers as one.
///
/// Build one with [`Tree::builder`]; call tools with [`Tree::call_tool`] or
/// [`Tree::start_call`] (which streams the call's events); serve it to MCP clients with
/// [`Tree::server`].
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) inner: Arc<TreeInner>,
}

/// One node at run time.
pub(crate) struct NodeRt {
    pub(crate) id: NodeId,
    pub(crate) path: NodePath,
    pub(crate) mount: MountPath,
    pub(crate) backend: Option<Arc<dyn Backend>>,
    catalog: Mutex<Catalog>,
}

/// The compiled routes and the namespaced lists, swapped as a whole when anything changes.
#[derive(Debug, Default)]
pub(crate) struct RouteState {
    pub(crate) plan: RoutePlan,
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<McpPrompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
}

pub(crate) struct TreeInner {
    pub(crate) name: NodeName,
    pub(crate) description: Option<String>,
    topology: RwLock<Topology>,
    nodes: foldhash::HashMap<NodeId, NodeRt>,
    by_path: HashMap<NodePath, NodeId>,
    codec: NamespaceCodec,
    pub(crate) routes: ArcSwap<RouteState>,
    pub(crate) events: Arc<EventHub>,
    next_call: AtomicU64,
    pub(crate) sampling: Option<Arc<dyn SamplingHandler>>,
    pub(crate) page_size: usize,
    /// MCP clients connected to the server face, told about list changes.
    pub(crate) peers: Mutex<Vec<Peer<RoleServer>>>,
    refreshing: tokio::sync::Mutex<()>,
    /// The `Arc` this tree lives in (nodes hold only weak references to it).
    this: Weak<TreeInner>,
    /// What every host call carries down: nothing, shared.
    host_caller: Arc<CallerInfo>,
    /// Where the events of host calls nobody listens to go (shared: they carry nothing).
    quiet_upstream: Arc<Upstream>,
}

impl std::fmt::Debug for TreeInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("name", &self.name)
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// A node flattened out of the builder, before the tree exists.
struct Pending {
    info: NodeInfo,
    backend: Option<BackendFactory>,
}

impl Tree {
    /// Starts describing a tree whose root is `root`.
    pub fn builder(root: Node) -> TreeBuilder {
        TreeBuilder::new(root)
    }

    pub(crate) async fn build(builder: TreeBuilder) -> Result<Self, BuildError> {
        let TreeBuilder {
            root,
            codec,
            sampling,
            page_size,
        } = builder;
        let root_name = NodeName::new(&root.name).map_err(|source| BuildError::InvalidName {
            parent: String::new(),
            source,
        })?;
        let description = root.description.clone();
        let (topology, pending) = flatten(root)?;
        let events = Arc::new(EventHub::new(TREE_EVENT_CAPACITY));
        let inner = Arc::new_cyclic(|weak: &Weak<TreeInner>| {
            let notices: Weak<dyn NodeNotices> = weak.clone();
            let mut nodes = foldhash::HashMap::default();
            let mut by_path = HashMap::new();
            for (id, pending) in pending {
                let path = pending.info.path.clone();
                let backend = pending
                    .backend
                    .map(|factory| factory(path.clone(), notices.clone()));
                by_path.insert(path.clone(), id);
                nodes.insert(
                    id,
                    NodeRt {
                        id,
                        path,
                        mount: pending.info.mount.clone(),
                        backend,
                        catalog: Mutex::new(Catalog::default()),
                    },
                );
            }
            TreeInner {
                name: root_name,
                description,
                topology: RwLock::new(topology),
                nodes,
                by_path,
                codec: NamespaceCodec::new(codec),
                routes: ArcSwap::from_pointee(RouteState::default()),
                next_call: AtomicU64::new(1),
                page_size,
                peers: Mutex::new(Vec::new()),
                refreshing: tokio::sync::Mutex::new(()),
                this: weak.clone(),
                host_caller: Arc::default(),
                quiet_upstream: Arc::new(Upstream::host(None, events.clone(), sampling.clone())),
                events,
                sampling,
            }
        });
        {
            // Routers have nothing to fail: they are healthy once built.
            let mut topology = inner.topology.write().unwrap_or_else(|p| p.into_inner());
            for node in inner.nodes.values().filter(|node| node.backend.is_none()) {
                topology.node_mut(node.id).health = canopy_topology::Health::Healthy;
            }
        }
        let is_lazy = |node: &NodeRt| {
            node.backend
                .as_ref()
                .is_some_and(|b| b.start_mode() == crate::remote::StartMode::Lazy)
        };
        let fetches = inner
            .nodes
            .values()
            .filter(|node| node.backend.is_some() && !is_lazy(node))
            .map(|node| inner.refresh_catalog(node));
        for result in futures::future::join_all(fetches).await {
            result?;
        }
        inner.recompile()?;
        // Lazy children start in the background; their capabilities appear when ready.
        for node in inner.nodes.values().filter(|node| is_lazy(node)) {
            tokio::spawn(Arc::clone(&inner).on_list_changed(node.path.clone()));
        }
        Ok(Self { inner })
    }

    /// Closes every link cleanly: child processes are asked to exit (and killed if they do
    /// not within a few seconds). Calls after this reconnect.
    pub async fn shutdown(&self) {
        let closing = self
            .inner
            .nodes
            .values()
            .filter_map(|node| node.backend.as_ref())
            .map(|backend| backend.shutdown());
        futures::future::join_all(closing).await;
    }

    /// The root node's name.
    pub fn name(&self) -> &str {
        self.inner.name.as_str()
    }

    /// The topology rendered as text, DOT, Mermaid or JSON.
    pub fn render(&self, format: TopologyFormat) -> String {
        self.inner
            .topology
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .render(format)
    }

    /// A snapshot of the topology graph.
    pub fn topology(&self) -> Topology {
        self.inner
            .topology
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every tool the tree exposes (denied ones hidden), with exposed names, in tree order.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner.routes.load().tools.clone()
    }

    /// Every prompt the tree exposes.
    pub fn prompts(&self) -> Vec<McpPrompt> {
        self.inner.routes.load().prompts.clone()
    }

    /// Every resource the tree exposes, with exposed URIs.
    pub fn resources(&self) -> Vec<Resource> {
        self.inner.routes.load().resources.clone()
    }

    /// Every resource template the tree exposes.
    pub fn resource_templates(&self) -> Vec<ResourceTemplate> {
        self.inner.routes.load().templates.clone()
    }

    /// The compiled route plan (exposed name ⇄ canonical id, policy decisions).
    pub fn routes(&self) -> RoutePlan {
        self.inner.routes.load().plan.clone()
    }

    /// Events of every call and every node of the tree, as they happen.
    pub fn subscribe(&self) -> TreeEvents {
        self.inner.events.subscribe()
    }

    /// Calls a tool by its exposed name and waits for the result. Prompts raised on the way
    /// are cancelled (nobody reads the events): use [`Tree::start_call`] to answer them.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, CallError> {
        let id = self.inner.next_call_id();
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        if !self.inner.quiet_upstream.is_listened_to() {
            // Nobody reads anything: run inline with no queue, driver or token (a panicking
            // node is caught where the tree calls it).
            let scope = CallScope::quiet(Some(id), Arc::clone(&self.inner.host_caller));
            return match self.inner.call_tool(params, &scope).await {
                Ok(CallToolResponse::Complete(result)) => Ok(result),
                Ok(_) => Err(CallError(not_complete())),
                Err(error) => Err(CallError(error)),
            };
        }
        Arc::clone(&self.inner)
            .host_call(id, params, None, CancellationToken::new())
            .await
    }

    /// Starts a call and returns its handle: read its events (progress, logs, prompts to
    /// answer…) with [`CallHandle::next_event`], then its result.
    pub fn start_call(&self, name: &str, arguments: Option<JsonObject>) -> CallHandle {
        let id = self.inner.next_call_id();
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        let (events_tx, events) = mpsc::unbounded_channel();
        let ct = CancellationToken::new();
        let (done_tx, done) = oneshot::channel();
        let call = Arc::clone(&self.inner).host_call(id, params, Some(events_tx), ct.clone());
        tokio::spawn(async move {
            let _ = done_tx.send(call.await);
        });
        CallHandle {
            id,
            events,
            done,
            ct,
        }
    }
}

impl TreeInner {
    /// Runs a call for the Rust host; `events` receives its events when given.
    async fn host_call(
        self: Arc<Self>,
        id: CallId,
        params: CallToolRequestParams,
        events: Option<mpsc::UnboundedSender<Event>>,
        ct: CancellationToken,
    ) -> Result<CallToolResult, CallError> {
        let upstream = match events {
            Some(events) => Arc::new(Upstream::host(
                Some(events),
                self.events.clone(),
                self.sampling.clone(),
            )),
            None => Arc::clone(&self.quiet_upstream),
        };
        let listening = upstream.is_listened_to();
        let (mut scope, queue) = CallScope::new(
            Some(id),
            ct.clone(),
            Arc::clone(&self.host_caller),
            listening,
        );
        scope.quiet = !listening && upstream.is_quiet_host();
        let work = {
            let inner = Arc::clone(&self);
            async move { inner.call_tool(params, &scope).await }
        };
        let outcome = match Driver::new(work, queue, ct.clone())
            .run(&upstream, &ct)
            .await
        {
            Step::Done(result) => result,
            Step::NeedsInput(_) => Err(McpError::internal_error(
                "a host call cannot return input_required",
                None,
            )),
        };
        let result = match outcome {
            Ok(CallToolResponse::Complete(result)) => Ok(result),
            Ok(_) => Err(not_complete()),
            Err(error) => Err(error),
        };
        if upstream.is_listened_to() {
            let kind = match &result {
                Ok(result) => EventKind::Result {
                    result: serde_json::to_value(result).unwrap_or_default(),
                },
                Err(error) => EventKind::Error {
                    code: error.code.0,
                    message: error.message.to_string(),
                },
            };
            upstream.publish(&Event::new(kind, NodePath::root(), Some(id)));
        }
        result.map_err(CallError)
    }
}

/// A call in flight, started by [`Tree::start_call`].
#[derive(Debug)]
pub struct CallHandle {
    id: CallId,
    events: mpsc::UnboundedReceiver<Event>,
    done: oneshot::Receiver<Result<CallToolResult, CallError>>,
    ct: CancellationToken,
}

impl CallHandle {
    /// The call's id (the `call` field of its events).
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The next event of the call, in order; `None` once the call is over and every event
    /// was read. The last events are `result` or `error`.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Cancels the call: every node working on it sees its cancellation token fire.
    pub fn cancel(&self) {
        self.ct.cancel();
    }

    /// A token that cancels the call when cancelled.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.ct.clone()
    }

    /// Waits for the call's result.
    pub async fn result(self) -> Result<CallToolResult, CallError> {
        self.done.await.unwrap_or_else(|_| {
            Err(CallError(McpError::internal_error(
                "the call's task ended without a result",
                None,
            )))
        })
    }
}

/// Flattens the builder's nodes into a topology, validating names and policies.
fn flatten(root: Node) -> Result<(Topology, Vec<(NodeId, Pending)>), BuildError> {
    root.policy
        .validate()
        .map_err(|source| BuildError::Policy {
            node: String::new(),
            source,
        })?;
    let mut info = NodeInfo::new(
        NodePath::root(),
        MountPath::root(),
        root.kind,
        LinkKind::Root,
    );
    info.description = root.description;
    info.policy = root.policy;
    let mut topology = Topology::new(info.clone());
    let root_id = topology.root();
    let mut pending = vec![(
        root_id,
        Pending {
            info,
            backend: root.backend,
        },
    )];
    let mut stack: Vec<(NodeId, Node)> = root
        .children
        .into_iter()
        .rev()
        .map(|child| (root_id, child))
        .collect();
    while let Some((parent, node)) = stack.pop() {
        let (parent_path, parent_mount) = {
            let parent_info = topology.node(parent);
            (parent_info.path.clone(), parent_info.mount.clone())
        };
        let name = NodeName::new(&node.name).map_err(|source| BuildError::InvalidName {
            parent: parent_path.to_string(),
            source,
        })?;
        let path = parent_path.child(name.clone());
        node.policy
            .validate()
            .map_err(|source| BuildError::Policy {
                node: path.to_string(),
                source,
            })?;
        let mut info = NodeInfo::new(
            path,
            parent_mount.child(name, node.inline),
            node.kind,
            LinkKind::InProcess,
        );
        info.inline = node.inline;
        info.description = node.description;
        info.policy = node.policy;
        let id = topology.add_child(parent, info.clone())?;
        for child in node.children.into_iter().rev() {
            stack.push((id, child));
        }
        pending.push((
            id,
            Pending {
                info,
                backend: node.backend,
            },
        ));
    }
    Ok((topology, pending))
}

impl TreeInner {
    pub(crate) fn next_call_id(&self) -> CallId {
        CallId(self.next_call.fetch_add(1, Ordering::Relaxed))
    }

    /// Asks one node for its capabilities and stores them.
    async fn refresh_catalog(&self, node: &NodeRt) -> Result<(), BuildError> {
        let Some(backend) = &node.backend else {
            return Ok(());
        };
        let (scope, _queue) = CallScope::new(
            None,
            CancellationToken::new(),
            Arc::clone(&self.host_caller),
            false,
        );
        let catalog =
            fetch_catalog(backend, &scope)
                .await
                .map_err(|error| BuildError::Catalog {
                    node: node.path.to_string(),
                    message: error.message.to_string(),
                })?;
        {
            let mut topology = self.topology.write().unwrap_or_else(|p| p.into_inner());
            let info = topology.node_mut(node.id);
            info.link = if node.path.is_root() {
                LinkKind::Root
            } else {
                backend.link()
            };
            info.protocol_version = backend.protocol_version();
            info.health = canopy_topology::Health::Healthy;
            info.counts = canopy_topology::CapabilityCounts {
                tools: catalog.tools.len(),
                prompts: catalog.prompts.len(),
                resources: catalog.resources.len(),
                resource_templates: catalog.templates.len(),
            };
        }
        *node.catalog.lock().unwrap_or_else(|p| p.into_inner()) = catalog;
        Ok(())
    }

    /// Compiles the routes from the nodes' catalogs and swaps them in.
    fn recompile(&self) -> Result<(), BuildError> {
        let catalogs: HashMap<NodeId, Catalog> = self
            .nodes
            .values()
            .map(|node| {
                (
                    node.id,
                    node.catalog
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone(),
                )
            })
            .collect();
        let entries = |id: NodeId| -> Vec<CapabilityEntry> {
            let Some(catalog) = catalogs.get(&id) else {
                return Vec::new();
            };
            let entry = |kind, name: &str| CapabilityEntry {
                kind,
                name: Arc::from(name),
            };
            let mut entries = Vec::new();
            entries.extend(
                catalog
                    .tools
                    .iter()
                    .map(|t| entry(CapabilityKind::Tool, &t.name)),
            );
            entries.extend(
                catalog
                    .prompts
                    .iter()
                    .map(|p| entry(CapabilityKind::Prompt, &p.name)),
            );
            entries.extend(
                catalog
                    .resources
                    .iter()
                    .map(|r| entry(CapabilityKind::Resource, &r.uri)),
            );
            entries.extend(
                catalog
                    .templates
                    .iter()
                    .map(|t| entry(CapabilityKind::ResourceTemplate, &t.uri_template)),
            );
            entries
        };
        let plan = {
            let topology = self.topology.read().unwrap_or_else(|p| p.into_inner());
            plan_routes(&topology, &self.codec, &entries)?
        };
        for collision in plan.collisions() {
            tracing::warn!(exposed = %collision.exposed, kept = %collision.kept, renamed = %collision.renamed,
                renamed_to = %collision.renamed_to, "exposed names collide; the later one was renamed");
        }
        let state = RouteState {
            tools: exposed_items(&plan, CapabilityKind::Tool, &catalogs, |c| &c.tools),
            prompts: exposed_items(&plan, CapabilityKind::Prompt, &catalogs, |c| &c.prompts),
            resources: exposed_items(&plan, CapabilityKind::Resource, &catalogs, |c| &c.resources),
            templates: exposed_items(&plan, CapabilityKind::ResourceTemplate, &catalogs, |c| {
                &c.templates
            }),
            plan,
        };
        self.routes.store(Arc::new(state));
        Ok(())
    }

    /// Re-reads a node's capabilities after it said they changed, and tells MCP clients.
    async fn on_list_changed(self: Arc<Self>, path: NodePath) {
        let _guard = self.refreshing.lock().await;
        let Some(node) = self.by_path.get(&path).and_then(|id| self.nodes.get(id)) else {
            return;
        };
        if let Err(error) = self
            .refresh_catalog(node)
            .await
            .and_then(|()| self.recompile())
        {
            tracing::warn!(%path, %error, "could not refresh the node's capabilities");
            return;
        }
        let peers: Vec<_> = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.retain(|peer| !peer.is_transport_closed());
            peers.clone()
        };
        for peer in peers {
            let _ = peer.notify_tool_list_changed().await;
            let _ = peer.notify_prompt_list_changed().await;
            let _ = peer.notify_resource_list_changed().await;
        }
    }

    fn node(&self, id: NodeId) -> Result<(&NodeRt, &Arc<dyn Backend>), McpError> {
        let node = self
            .nodes
            .get(&id)
            .ok_or_else(|| McpError::internal_error("route to a node that does not exist", None))?;
        let backend = node.backend.as_ref().ok_or_else(|| {
            McpError::internal_error(
                format!("node '{}' has no capabilities of its own", node.path),
                None,
            )
        })?;
        Ok((node, backend))
    }

    /// Asks the user whether a call may go ahead (an `ask` policy); `Ok(None)` = go ahead,
    /// `Ok(Some(result))` = refused, with the tool result saying so.
    async fn permit(
        &self,
        decision: &Decision,
        id: &canopy_topology::CanonicalId,
        scope: &CallScope,
    ) -> Result<Option<CallToolResult>, McpError> {
        match decision {
            Decision::Allow => Ok(None),
            Decision::Deny { by, rule } => Err(McpError::invalid_params(
                format!(
                    "'{id}' is denied by the policy of node '{}' (deny '{}')",
                    display_path(by),
                    rule.glob
                ),
                Some(
                    serde_json::json!({ "reason": "denied", "node": by.to_string(), "rule": rule.glob }),
                ),
            )),
            Decision::Ask { by } => Box::pin(self.ask_permission(by, id, scope)).await,
        }
    }

    /// Asks the user about an `ask` decision (boxed by the caller: it is the rare path, and
    /// keeps every call's future small).
    async fn ask_permission(
        &self,
        by: &[(NodePath, canopy_topology::Rule)],
        id: &canopy_topology::CanonicalId,
        scope: &CallScope,
    ) -> Result<Option<CallToolResult>, McpError> {
        let asker = by.last().map(|(path, _)| path.clone()).unwrap_or_default();
        let rules: Vec<String> = by
            .iter()
            .map(|(path, rule)| format!("'{}' asks for '{}'", display_path(path), rule.glob))
            .collect();
        let message = format!("Allow the call to '{id}'? ({})", rules.join("; "));
        let (prompt, answer) = Prompt::new(
            scope.next_prompt_id(),
            PromptKind::Permission,
            message,
            empty_object_schema(),
        );
        match scope.ask(&asker, prompt, answer).await {
            PromptAnswer::Accept(_) => Ok(None),
            PromptAnswer::Decline | PromptAnswer::Cancel => {
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
        let routes = self.routes.load_full();
        let route = routes
            .plan
            .lookup(CapabilityKind::Tool, &params.name)
            .ok_or_else(|| {
                unknown(
                    "tool",
                    &params.name,
                    &routes.tools.iter().map(|t| &*t.name).collect::<Vec<_>>(),
                )
            })?;
        if let Some(refused) = self.permit(&route.decision, &route.id, scope).await? {
            return Ok(CallToolResponse::Complete(refused));
        }
        let (node, backend) = self.node(route.node)?;
        params.name = reuse_for(params.name, &route.id.name).into();
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
            status(
                scope,
                &node.path,
                if failed {
                    NodeState::Failed
                } else {
                    NodeState::Finished
                },
                &route.id.to_string(),
            );
        }
        let mut response = result?;
        if let CallToolResponse::Complete(result) = &mut response {
            self.rewrite_content(&node.mount, &mut result.content);
        }
        Ok(response)
    }

    /// Routes a `prompts/get`.
    pub(crate) async fn get_prompt(
        &self,
        mut params: GetPromptRequestParams,
        scope: &CallScope,
    ) -> Result<GetPromptResponse, McpError> {
        let routes = self.routes.load_full();
        let route = routes
            .plan
            .lookup(CapabilityKind::Prompt, &params.name)
            .ok_or_else(|| {
                unknown(
                    "prompt",
                    &params.name,
                    &routes.prompts.iter().map(|p| &*p.name).collect::<Vec<_>>(),
                )
            })?;
        if let Some(refused) = self.permit(&route.decision, &route.id, scope).await? {
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
    fn resolve_uri(&self, routes: &RouteState, uri: &str) -> Result<(NodeId, String), McpError> {
        let (node, original) = routes.plan.resolve_uri(uri).ok_or_else(|| {
            McpError::resource_not_found(
                format!("no node of this tree owns the resource '{uri}'"),
                Some(serde_json::json!({ "uri": uri })),
            )
        })?;
        let denied = routes
            .plan
            .by_id(&canonical_resource(self, node, &original))
            .is_some_and(|route| is_denied(&route.decision));
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
        let routes = self.routes.load_full();
        let (node_id, original) = self.resolve_uri(&routes, &params.uri)?;
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

    /// Routes `resources/subscribe` (legacy revisions).
    pub(crate) async fn subscribe(
        &self,
        mut params: SubscribeRequestParams,
        scope: &CallScope,
    ) -> Result<(), McpError> {
        let uri = std::mem::take(&mut params.uri);
        self.route_uri(&uri, scope, |original| {
            params.uri = original;
            ClientRequest::SubscribeRequest(SubscribeRequest::new(params))
        })
        .await
        .map(|_| ())
    }

    /// Routes `resources/unsubscribe` (legacy revisions).
    pub(crate) async fn unsubscribe(
        &self,
        mut params: UnsubscribeRequestParams,
        scope: &CallScope,
    ) -> Result<(), McpError> {
        let uri = std::mem::take(&mut params.uri);
        self.route_uri(&uri, scope, |original| {
            params.uri = original;
            ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(params))
        })
        .await
        .map(|_| ())
    }

    /// Sends the request `make` builds (from the node's own URI) to the node owning `uri`.
    async fn route_uri(
        &self,
        uri: &str,
        scope: &CallScope,
        make: impl FnOnce(String) -> ClientRequest,
    ) -> Result<ServerResult, McpError> {
        let routes = self.routes.load_full();
        let (node_id, original) = self.resolve_uri(&routes, uri)?;
        let (node, backend) = self.node(node_id)?;
        guarded(&node.path, backend.request(make(original), scope)).await
    }

    /// Routes `completion/complete` to the node owning the prompt or template.
    pub(crate) async fn complete(
        &self,
        mut params: CompleteRequestParams,
        scope: &CallScope,
    ) -> Result<CompleteResult, McpError> {
        let routes = self.routes.load_full();
        let route = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let route = routes
                    .plan
                    .lookup(CapabilityKind::Prompt, &prompt.name)
                    .ok_or_else(|| unknown("prompt", &prompt.name, &[]))?;
                prompt.name = route.id.name.to_string();
                route
            }
            Reference::Resource(resource) => {
                let route = routes
                    .plan
                    .lookup(CapabilityKind::ResourceTemplate, &resource.uri)
                    .ok_or_else(|| unknown("resource template", &resource.uri, &[]))?;
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

impl NodeNotices for TreeInner {
    fn list_changed(&self, path: &NodePath) {
        // Called from inside a node's transport: do the refresh on its own task.
        if let Some(this) = self.this.upgrade() {
            tokio::spawn(this.on_list_changed(path.clone()));
        }
    }

    fn resource_updated(&self, path: &NodePath, uri: &str) {
        let Some(node) = self.by_path.get(path).and_then(|id| self.nodes.get(id)) else {
            return;
        };
        let exposed = self.codec.encode_uri(&node.mount, uri);
        let peers: Vec<_> = self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        tokio::spawn(async move {
            for peer in peers {
                let _ = peer
                    .notify_resource_updated(rmcp::model::ResourceUpdatedNotificationParam::new(
                        exposed.clone(),
                    ))
                    .await;
            }
        });
    }

    fn sample(
        &self,
        path: &NodePath,
        params: rmcp::model::CreateMessageRequestParams,
    ) -> futures::future::BoxFuture<'static, Result<rmcp::model::CreateMessageResult, McpError>>
    {
        let upstream = Arc::clone(&self.quiet_upstream);
        let path = path.clone();
        Box::pin(async move { upstream.sample(&path, params).await })
    }

    fn tree_event(&self, path: &NodePath, kind: EventKind) {
        if self.events.has_subscribers() {
            self.events.send(&Event::new(kind, path.clone(), None));
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

fn is_denied(decision: &Decision) -> bool {
    matches!(decision, Decision::Deny { .. })
}

/// A capability as a node lists it: keyed by its own name (or URI), renamable to the
/// exposed one.
trait Listed: Clone {
    fn key(&self) -> &str;
    fn expose(&mut self, exposed: &str);
}

impl Listed for Tool {
    fn key(&self) -> &str {
        &self.name
    }
    fn expose(&mut self, exposed: &str) {
        self.name = exposed.to_owned().into();
    }
}

impl Listed for McpPrompt {
    fn key(&self) -> &str {
        &self.name
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.name);
    }
}

impl Listed for Resource {
    fn key(&self) -> &str {
        &self.uri
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.uri);
    }
}

impl Listed for ResourceTemplate {
    fn key(&self) -> &str {
        &self.uri_template
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.uri_template);
    }
}

/// The exposed list of one kind: every route that is not denied, in plan order, with the
/// node's item renamed to its exposed name.
fn exposed_items<T: Listed>(
    plan: &RoutePlan,
    kind: CapabilityKind,
    catalogs: &HashMap<NodeId, Catalog>,
    list: impl Fn(&Catalog) -> &Vec<T>,
) -> Vec<T> {
    let index: HashMap<(NodeId, &str), &T> = catalogs
        .iter()
        .flat_map(|(id, catalog)| {
            list(catalog)
                .iter()
                .map(move |item| ((*id, item.key()), item))
        })
        .collect();
    plan.routes(kind)
        .iter()
        .filter(|route| !is_denied(&route.decision))
        .filter_map(|route| {
            let mut item = (*index.get(&(route.node, &*route.id.name))?).clone();
            item.expose(&route.exposed);
            Some(item)
        })
        .collect()
}

fn canonical_resource(tree: &TreeInner, node: NodeId, uri: &str) -> canopy_topology::CanonicalId {
    let path = tree
        .nodes
        .get(&node)
        .map(|n| n.path.clone())
        .unwrap_or_default();
    canopy_topology::CanonicalId::new(CapabilityKind::Resource, path, uri)
}

fn display_path(path: &NodePath) -> String {
    if path.is_root() {
        "(root)".to_owned()
    } else {
        path.to_string()
    }
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
fn unknown(what: &str, name: &str, exposed: &[&str]) -> McpError {
    let suffix = format!("__{name}");
    let hints: Vec<&str> = exposed
        .iter()
        .copied()
        .filter(|e| e.ends_with(&suffix))
        .take(3)
        .collect();
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!(
            "; did you mean {}?",
            hints
                .iter()
                .map(|h| format!("'{h}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    };
    McpError::invalid_params(
        format!("unknown {what} '{name}'{hint}"),
        Some(serde_json::json!({ "reason": "unknown", "name": name })),
    )
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

/// `name` as an owned string, reusing `old`'s buffer when it has one (an exposed name is
/// usually longer than the node's own name, so the hot path allocates nothing).
fn reuse_for(old: std::borrow::Cow<'static, str>, name: &str) -> String {
    let mut buffer = match old {
        std::borrow::Cow::Owned(buffer) => buffer,
        std::borrow::Cow::Borrowed(_) => String::new(),
    };
    buffer.clear();
    buffer.push_str(name);
    buffer
}

fn not_complete() -> McpError {
    McpError::internal_error(
        "the tool answered with a task or input request, which host calls do not support yet",
        None,
    )
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
