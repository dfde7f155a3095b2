//! A running tree: its topology, its nodes' backends, the compiled route table, and the
//! operations every face of the tree (the Rust host API, the MCP server face) routes through.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

mod catalog;
mod routing;

pub(crate) use self::catalog::Listed;
pub use self::catalog::ToolRoute;

use arc_swap::ArcSwap;
use canopy_topology::{
    CanonicalId, CapabilityKind, CodecOptions, Decision, MountPath, NamespaceCodec, NodeId,
    NodeName, NodePath, RoutePlan, Topology, TopologyFormat,
};
use rmcp::{
    ErrorData as McpError, Peer, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, Prompt, Resource,
        ResourceTemplate, Tool,
    },
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    arguments::Arguments,
    backend::{
        Backend, BackendContext, BackendFactory, Catalog, NodeNotices, Subtree, SubtreeTool,
    },
    call::{CallScope, CallerInfo, Driver, Step},
    error::{BuildError, CallError},
    event::{CallId, Event, EventHub, EventKind, TreeEvents},
    sampling::SamplingHandler,
    upstream::Upstream,
};

/// Capacity of the tree-wide event stream; a subscriber that falls further behind loses the
/// oldest events (and is told so by `broadcast`).
const TREE_EVENT_CAPACITY: usize = 1024;

/// Capacity of the channel feeding the listen streams; a stream that falls further behind
/// skips what it missed.
const LISTEN_CAPACITY: usize = 256;

/// A change the `subscriptions/listen` streams of 2026-07-28 callers may want to hear of
/// (each stream's filter decides).
#[derive(Clone, Debug)]
pub(crate) enum ListenNotice {
    /// Which exposed lists changed.
    Lists {
        tools: bool,
        prompts: bool,
        resources: bool,
    },
    /// An exposed resource was updated.
    ResourceUpdated(String),
}

/// A tree of MCP servers that answers as one.
///
/// Build one with [`Tree::builder`]; call tools with [`Tree::call_tool`] or
/// [`Tree::start_call`] (which streams the call's events); serve it to MCP clients with
/// [`Tree::serve_stdio`], [`Tree::serve_http`], or [`Tree::server`] on any rmcp transport.
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
    /// For each tool route (by index in `plan.routes(Tool)`): the owning node's own name for
    /// the tool, as its handler reported it. A `#[tool]` name is a `&'static str`, so
    /// calls pass it on without allocating.
    pub(crate) tool_names: Vec<std::borrow::Cow<'static, str>>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
}

impl RouteState {
    /// The owning node's own name for the tool of route `index`.
    pub(crate) fn tool_name(
        &self,
        index: usize,
        route: &canopy_topology::Route,
    ) -> std::borrow::Cow<'static, str> {
        match self.tool_names.get(index) {
            Some(name) => name.clone(),
            None => route.id.name.to_string().into(),
        }
    }
}

/// The tree's nodes by [`NodeId`]: ids are dense (the topology numbers nodes in the order
/// it adds them, which is the order `flatten` lists them), so a vector.
#[derive(Default)]
pub(crate) struct NodeTable(Vec<NodeRt>);

impl NodeTable {
    fn new(mut nodes: Vec<NodeRt>) -> Self {
        nodes.sort_by_key(|node| node.id.index());
        Self(nodes)
    }

    pub(crate) fn get(&self, id: &NodeId) -> Option<&NodeRt> {
        self.0.get(id.index()).filter(|node| node.id == *id)
    }

    pub(crate) fn values(&self) -> std::slice::Iter<'_, NodeRt> {
        self.0.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

pub(crate) struct TreeInner {
    pub(crate) name: NodeName,
    pub(crate) description: Option<String>,
    topology: RwLock<Topology>,
    nodes: NodeTable,
    codec: NamespaceCodec,
    pub(crate) routes: ArcSwap<RouteState>,
    pub(crate) events: Arc<EventHub>,
    next_call: AtomicU64,
    pub(crate) sampling: Option<Arc<dyn SamplingHandler>>,
    pub(crate) page_size: usize,
    /// MCP clients connected to the server face, told about list changes.
    pub(crate) peers: Mutex<Vec<Peer<RoleServer>>>,
    /// Which node owns each task a `tools/call` started (tasks extension), so `tasks/*`
    /// requests reach it.
    pub(crate) tasks: Mutex<HashMap<String, NodeId>>,
    /// The peer in-process nodes answer list requests through while the tree is built.
    discovery: std::sync::OnceLock<crate::local::LocalBackend<crate::local::Discovery>>,
    /// What the `subscriptions/listen` streams of 2026-07-28 callers are told.
    pub(crate) listen: tokio::sync::broadcast::Sender<ListenNotice>,
    refreshing: tokio::sync::Mutex<()>,
    /// The `Arc` this tree lives in (nodes hold only weak references to it).
    this: Weak<TreeInner>,
    /// Whether some lazy child has not been started yet (checked on every name the routes
    /// do not know, so an atomic).
    lazy_pending: std::sync::atomic::AtomicBool,
    /// Cancelled by [`Tree::shutdown`]: the background retries of down nodes stop.
    closing: CancellationToken,
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

/// What the builder hands over to make a running tree (see [`Tree::start`]).
pub(crate) struct TreeSeed {
    /// The root's name.
    pub(crate) name: NodeName,
    /// The root's description.
    pub(crate) description: Option<String>,
    /// The flattened, validated topology.
    pub(crate) topology: Topology,
    /// Every node of the topology, in its order.
    pub(crate) nodes: Vec<NodeSeed>,
    pub(crate) codec: CodecOptions,
    pub(crate) sampling: Option<Arc<dyn SamplingHandler>>,
    pub(crate) page_size: usize,
    /// Whether a node that fails to start fails the build (or is marked down).
    pub(crate) strict: bool,
}

/// One node of a [`TreeSeed`]: where it is, and what makes its backend (none for a router).
pub(crate) struct NodeSeed {
    pub(crate) id: NodeId,
    pub(crate) path: NodePath,
    pub(crate) mount: MountPath,
    pub(crate) backend: Option<BackendFactory>,
}

impl Tree {
    /// Makes the running tree the builder described: every node gets its backend, every
    /// one but the lazy ones is started and listed, and the routes are compiled.
    pub(crate) async fn start(seed: TreeSeed) -> Result<Self, BuildError> {
        let TreeSeed {
            name: root_name,
            description,
            topology,
            nodes: pending,
            codec,
            sampling,
            page_size,
            strict,
        } = seed;
        let events = Arc::new(EventHub::new(TREE_EVENT_CAPACITY));
        let inner = Arc::new_cyclic(|weak: &Weak<TreeInner>| {
            let notices: Weak<dyn NodeNotices> = weak.clone();
            let subtree: Weak<dyn Subtree> = weak.clone();
            let mut nodes = Vec::with_capacity(pending.len());
            for seed in pending {
                let path = seed.path;
                let backend = seed.backend.map(|factory| {
                    factory(BackendContext {
                        path: path.clone(),
                        notices: notices.clone(),
                        subtree: subtree.clone(),
                    })
                });
                nodes.push(NodeRt {
                    id: seed.id,
                    path,
                    mount: seed.mount,
                    backend,
                    catalog: Mutex::new(Catalog::default()),
                });
            }
            let nodes = NodeTable::new(nodes);
            TreeInner {
                name: root_name,
                description,
                topology: RwLock::new(topology),
                nodes,
                codec: NamespaceCodec::new(codec),
                routes: ArcSwap::from_pointee(RouteState::default()),
                next_call: AtomicU64::new(1),
                page_size,
                peers: Mutex::new(Vec::new()),
                tasks: Mutex::new(HashMap::new()),
                discovery: std::sync::OnceLock::new(),
                listen: tokio::sync::broadcast::channel(LISTEN_CAPACITY).0,
                refreshing: tokio::sync::Mutex::new(()),
                this: weak.clone(),
                lazy_pending: std::sync::atomic::AtomicBool::new(false),
                closing: CancellationToken::new(),
                host_caller: Arc::default(),
                quiet_upstream: Arc::new(Upstream::host(None, events.clone(), sampling.clone())),
                events,
                sampling,
            }
        });
        {
            // Routers have nothing to fail: they are healthy once built. Every other node
            // shows how it is reached from the start (a lazy or down child too).
            let mut topology = inner.topology.write().unwrap_or_else(|p| p.into_inner());
            for node in inner.nodes.values() {
                let info = topology.node_mut(node.id);
                match &node.backend {
                    None => info.health = canopy_topology::Health::Healthy,
                    Some(backend) => {
                        if !node.path.is_root() {
                            info.link = backend.link();
                        }
                        if is_lazy(node) {
                            info.health = canopy_topology::Health::NotStarted;
                        }
                    }
                }
            }
        }
        inner.lazy_pending.store(
            inner.nodes.values().any(is_lazy),
            std::sync::atomic::Ordering::Release,
        );
        let eager: Vec<&NodeRt> = inner
            .nodes
            .values()
            .filter(|node| node.backend.is_some() && !is_lazy(node))
            .collect();
        let fetches = eager.iter().map(|node| inner.refresh_catalog(node));
        let results = futures::future::join_all(fetches).await;
        for (node, result) in eager.iter().zip(results) {
            if let Err(error) = result {
                if strict {
                    return Err(error);
                }
                inner.mark_down(node, &error);
                Arc::clone(&inner).retry_in_background(node.id);
            }
        }
        inner.recompile()?;
        Ok(Self { inner })
    }

    /// Starts every lazy child that has not started yet and lists what it offers (one that
    /// fails is marked down and retried in the background). The tree does this on its own
    /// when it needs them: a list at the server face, or a call to a name it does not know;
    /// [`Tree::tools`] and the other snapshots show a lazy child's capabilities only after.
    pub async fn start_lazy(&self) {
        self.inner.start_lazy().await;
    }

    /// Closes every link cleanly: child processes are asked to exit (and killed if they do
    /// not within a few seconds). Calls after this reconnect.
    pub async fn shutdown(&self) {
        self.inner.closing.cancel();
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
    pub fn prompts(&self) -> Vec<Prompt> {
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
    ///
    /// `arguments` is anything that converts into [`Arguments`]: a `serde_json::Value`
    /// object, a [`JsonObject`](rmcp::model::JsonObject), `()` for none, or an
    /// `Option<JsonObject>`. A value that is not an object fails the call with an
    /// `invalid params` error.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: impl Into<Arguments>,
    ) -> Result<CallToolResult, CallError> {
        let arguments = arguments.into().into_object()?;
        let id = self.inner.next_call_id();
        if !self.inner.quiet_upstream.is_listened_to() {
            // Nobody reads anything: run inline with no queue, driver or token (a panicking
            // node is caught where the tree calls it). Routing sets the name.
            let mut params = CallToolRequestParams::new("");
            params.arguments = arguments;
            let scope = CallScope::quiet(Some(id), Arc::clone(&self.inner.host_caller));
            return match self.inner.call_tool_named(name, params, &scope).await {
                Ok(CallToolResponse::Complete(result)) => Ok(result),
                Ok(_) => Err(CallError(not_complete())),
                Err(error) => Err(CallError(error)),
            };
        }
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        // Boxed: the driven path's future is several times the quiet path's, and would
        // make every quiet call's future as large.
        Box::pin(Arc::clone(&self.inner).host_call(
            id,
            params,
            None,
            CancellationToken::new(),
            None,
        ))
        .await
    }

    /// Starts a call and returns its handle: read its events (progress, logs, prompts to
    /// answer…) with [`CallHandle::next_event`], then its result.
    ///
    /// `arguments` converts into [`Arguments`] as for [`Tree::call_tool`]; a value that is
    /// not an object ends the call at once with an `error` event and an `invalid params`
    /// error.
    pub fn start_call(&self, name: &str, arguments: impl Into<Arguments>) -> CallHandle {
        self.start_call_with(name, arguments, crate::budget::Limits::none())
    }

    /// Starts a call that must stay within `limits` (tool calls, model tokens, wall time):
    /// every node on the way charges the call's budget and refuses work once it is spent.
    pub fn start_call_with(
        &self,
        name: &str,
        arguments: impl Into<Arguments>,
        limits: crate::budget::Limits,
    ) -> CallHandle {
        let id = self.inner.next_call_id();
        let (events_tx, events) = mpsc::unbounded_channel();
        let ct = CancellationToken::new();
        let (done_tx, done) = oneshot::channel();
        let arguments = match arguments.into().into_object() {
            Ok(arguments) => arguments,
            Err(error) => {
                // Refused before it starts: the handle reads as a call that failed at once.
                let error = CallError::from(error);
                let _ = events_tx.send(Event::new(
                    EventKind::Error {
                        code: error.code(),
                        message: error.message().to_owned(),
                    },
                    NodePath::root(),
                    Some(id),
                ));
                let _ = done_tx.send(Err(error));
                return CallHandle {
                    id,
                    events,
                    done,
                    ct,
                };
            }
        };
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        let budget = (!limits.is_unlimited()).then(|| crate::budget::Budget::new(limits));
        let call =
            Arc::clone(&self.inner).host_call(id, params, Some(events_tx), ct.clone(), budget);
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
        budget: Option<Arc<crate::budget::Budget>>,
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
        scope.can_ask = !upstream.is_quiet_host();
        scope.budget = budget;
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

impl TreeInner {
    /// The mount of node `id`.
    pub(crate) fn mount_of(&self, id: NodeId) -> Option<&MountPath> {
        self.nodes.get(&id).map(|node| &node.mount)
    }

    /// The mount of the node at `path`.
    pub(crate) fn mount_of_path(&self, path: &NodePath) -> Option<MountPath> {
        self.node_at(path).map(|node| node.mount.clone())
    }

    /// The node at `path`.
    pub(crate) fn node_at(&self, path: &NodePath) -> Option<&NodeRt> {
        let id = self
            .topology
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .find(path)?;
        self.nodes.get(&id)
    }

    pub(crate) fn next_call_id(&self) -> CallId {
        CallId(self.next_call.fetch_add(1, Ordering::Relaxed))
    }

    /// A scope for requests the tree makes on its own behalf (the resource subscriptions of
    /// listen streams): no caller, nobody listening.
    pub(crate) fn background_scope(&self) -> CallScope {
        CallScope::quiet(None, Arc::clone(&self.host_caller))
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
}

impl NodeNotices for TreeInner {
    fn list_changed(&self, path: &NodePath) {
        // Called from inside a node's transport: do the refresh on its own task.
        if let Some(this) = self.this.upgrade() {
            tokio::spawn(this.on_list_changed(path.clone()));
        }
    }

    fn resource_updated(&self, path: &NodePath, uri: &str) {
        let Some(node) = self.node_at(path) else {
            return;
        };
        let exposed = self.codec.encode_uri(&node.mount, uri);
        let _ = self
            .listen
            .send(ListenNotice::ResourceUpdated(exposed.clone()));
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

    fn discovery_peer(&self) -> Option<Peer<RoleServer>> {
        self.discovery
            .get_or_init(|| {
                let notices: Weak<dyn NodeNotices> = self.this.clone();
                crate::local::LocalBackend::new(crate::local::Discovery, NodePath::root(), notices)
            })
            .peer()
    }

    fn tree_event(&self, path: &NodePath, kind: EventKind) {
        if self.events.has_subscribers() {
            self.events.send(&Event::new(kind, path.clone(), None));
        }
    }
}

impl Subtree for TreeInner {
    fn mount_of_path(&self, path: &NodePath) -> Option<MountPath> {
        TreeInner::mount_of_path(self, path)
    }

    fn tools_below(
        &self,
        path: &NodePath,
        mount: &MountPath,
        granted: &[String],
    ) -> Vec<SubtreeTool> {
        let routes = self.routes.load();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for tool in &routes.tools {
            let Some(route) = routes.plan.lookup(CapabilityKind::Tool, &tool.name) else {
                continue;
            };
            if route.id.node == *path || !route.id.node.starts_with(path) {
                continue;
            }
            let decision = self.decision_for(route, granted);
            if is_denied(&decision) {
                continue;
            }
            let Some(node_mount) = self.mount_of(route.node) else {
                continue;
            };
            let relative = relative_mount(mount, node_mount);
            let mut name = self.codec.encode_name(&relative, &route.id.name);
            if !seen.insert(name.clone()) {
                name = self
                    .codec
                    .encode_name_disambiguated(&relative, &route.id.name);
                seen.insert(name.clone());
            }
            let mut tool = tool.clone();
            tool.name = name.into();
            out.push(SubtreeTool {
                tool,
                id: route.id.clone(),
                asks: matches!(*decision, Decision::Ask { .. }),
            });
        }
        out
    }

    fn call_tool_by_id<'a>(
        &'a self,
        id: &'a CanonicalId,
        params: CallToolRequestParams,
        scope: &'a CallScope,
    ) -> futures::future::BoxFuture<'a, Result<CallToolResponse, McpError>> {
        Box::pin(TreeInner::call_tool_by_id(self, id, params, scope))
    }
}

/// `mount` seen from `ancestor`: the prefix segments below it.
fn relative_mount(ancestor: &MountPath, mount: &MountPath) -> MountPath {
    let skip = ancestor.prefix_segments().count();
    mount
        .prefix_segments()
        .skip(skip)
        .fold(MountPath::root(), |relative, segment| {
            relative.child(segment.clone(), false)
        })
}

/// Whether a node is a lazy child (started when first needed).
fn is_lazy(node: &NodeRt) -> bool {
    node.backend
        .as_ref()
        .is_some_and(|b| b.start_mode() == crate::backend::StartMode::Lazy)
}

/// The first wait before retrying a node that is down; doubles up to the max. (Longer
/// than a link's own backoff after the same number of failures, so a retry never meets
/// the link still refusing to try.)
const RETRY_START: std::time::Duration = std::time::Duration::from_secs(1);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

impl TreeInner {
    /// Whether some lazy child has not been started yet.
    pub(crate) fn has_lazy_pending(&self) -> bool {
        self.lazy_pending.load(Ordering::Acquire)
    }

    /// Starts the lazy children not started yet (see [`Tree::start_lazy`]); concurrent
    /// callers wait for the one that starts them.
    pub(crate) async fn start_lazy(&self) {
        if !self.has_lazy_pending() {
            return;
        }
        let before = {
            let _guard = self.refreshing.lock().await;
            if !self.has_lazy_pending() {
                return;
            }
            let before = self.routes.load_full();
            let lazy: Vec<&NodeRt> = self.nodes.values().filter(|node| is_lazy(node)).collect();
            let results =
                futures::future::join_all(lazy.iter().map(|node| self.refresh_catalog(node))).await;
            for (node, result) in lazy.iter().zip(results) {
                if let Err(error) = result {
                    self.mark_down(node, &error);
                    if let Some(this) = self.this.upgrade() {
                        this.retry_in_background(node.id);
                    }
                }
            }
            if let Err(error) = self.recompile() {
                tracing::warn!(%error, "could not route the capabilities of the lazy children");
            }
            self.lazy_pending.store(false, Ordering::Release);
            before
        };
        self.announce_changes(&before).await;
    }

    /// Marks a node down with the error that keeps it from starting, and says so.
    fn mark_down(&self, node: &NodeRt, error: &BuildError) {
        let message = match error {
            BuildError::Catalog { source, .. } => source.message.to_string(),
            other => other.to_string(),
        };
        tracing::warn!(
            "node '{}' is down (the tree starts without it and retries it in the background): {message}",
            node.path
        );
        let mut topology = self.topology.write().unwrap_or_else(|p| p.into_inner());
        let info = topology.node_mut(node.id);
        info.health = canopy_topology::Health::Down;
        info.error = Some(message);
    }

    /// Retries a down node with backoff until it comes up (its capabilities are routed and
    /// connected clients get `list_changed`), the tree shuts down, or the tree is dropped.
    fn retry_in_background(self: Arc<Self>, id: NodeId) {
        let tree = Arc::downgrade(&self);
        let closing = self.closing.clone();
        drop(self);
        tokio::spawn(async move {
            let mut wait = RETRY_START;
            loop {
                tokio::select! {
                    () = closing.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                let Some(inner) = tree.upgrade() else { return };
                let Some(node) = inner.nodes.get(&id) else {
                    return;
                };
                let before = inner.routes.load_full();
                let outcome = {
                    let _guard = inner.refreshing.lock().await;
                    inner
                        .refresh_catalog(node)
                        .await
                        .and_then(|()| inner.recompile())
                };
                match outcome {
                    Ok(()) => {
                        tracing::info!(path = %node.path, "node is up");
                        inner.announce_changes(&before).await;
                        return;
                    }
                    Err(error) => {
                        let message = match &error {
                            BuildError::Catalog { source, .. } => source.message.to_string(),
                            other => other.to_string(),
                        };
                        tracing::debug!(path = %node.path, %message, "node is still down");
                        let mut topology = inner.topology_mut();
                        let info = topology.node_mut(id);
                        info.health = canopy_topology::Health::Down;
                        info.error = Some(message);
                    }
                }
                wait = (wait * 2).min(RETRY_MAX);
            }
        });
    }

    fn topology_mut(&self) -> std::sync::RwLockWriteGuard<'_, Topology> {
        self.topology.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds to an unknown-name error which nodes are down (their capabilities are missing
    /// from the lists), so a caller sees why a name it expected is not there.
    pub(crate) fn note_down_nodes(&self, mut error: McpError) -> McpError {
        let topology = self.topology.read().unwrap_or_else(|p| p.into_inner());
        let down: Vec<String> = topology
            .iter()
            .into_iter()
            .map(|id| topology.node(id))
            .filter(|info| info.health == canopy_topology::Health::Down)
            .map(|info| {
                let first = info
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("(no error)");
                format!("node '{}' is down: {first}", info.path)
            })
            .collect();
        if !down.is_empty() {
            error.message = format!("{} ({})", error.message, down.join("; ")).into();
        }
        error
    }
}

impl TreeInner {
    /// A route's decision for a caller holding the scopes `granted`: the planned one unless
    /// a scope rule on its path matches.
    pub(super) fn decision_for<'r>(
        &self,
        route: &'r canopy_topology::Route,
        granted: &[String],
    ) -> std::borrow::Cow<'r, Decision> {
        if !route.scoped {
            return std::borrow::Cow::Borrowed(&route.decision);
        }
        let topology = self.topology.read().unwrap_or_else(|p| p.into_inner());
        route.decision_for(&topology, granted)
    }

    /// Whether a caller holding `granted` may see the route (its decision is not a deny).
    pub(super) fn visible_to(&self, route: &canopy_topology::Route, granted: &[String]) -> bool {
        !is_denied(&self.decision_for(route, granted))
    }
}

fn is_denied(decision: &Decision) -> bool {
    matches!(decision, Decision::Deny { .. })
}

fn not_complete() -> McpError {
    McpError::internal_error(
        "the tool answered with a task or input request, which host calls do not support yet",
        None,
    )
}
