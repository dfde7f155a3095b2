//! Composing trees in Rust code: [`Node`] describes one node and its children,
//! [`TreeBuilder`] turns the root node into a running [`Tree`].

use std::{fmt, sync::Arc};

use canopy_topology::{
    CodecOptions, LinkKind, MountPath, NodeId, NodeInfo, NodeName, NodePath, Policy, Topology,
};
use rmcp::ServerHandler;

mod agent;

use self::agent::agent_backend;
pub use self::agent::{AgentDecl, AgentFactory, Setting};
use crate::{
    backend::{BackendContext, BackendFactory},
    error::{AgentError, BuildError},
    local::LocalBackend,
    remote::{HttpSpec, Remote, RemoteBackend, StdioSpec},
    sampling::SamplingHandler,
    tree::{NodeSeed, Tree, TreeSeed},
};

/// One node of a tree: a name, optionally a server for its own capabilities, a policy, and
/// children.
///
/// ```
/// # use canopy_node::Node;
/// # use canopy_topology::Policy;
/// # #[derive(Clone)] struct Search; impl rmcp::ServerHandler for Search {}
/// let research = Node::new("research")
///     .policy(Policy::new().ask("web/*post*"))
///     .child(Node::server("web", Search));
/// ```
#[must_use]
pub struct Node {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) backend: Option<BackendFactory>,
    pub(crate) kind: &'static str,
    pub(crate) children: Vec<Node>,
    pub(crate) policy: Policy,
    pub(crate) inline: bool,
    /// An agent declared in a tree file, made into a backend when the tree is built.
    pub(crate) agent: Option<Box<AgentDecl>>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("inline", &self.inline)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// An inner node that routes to its children and has no capabilities of its own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            backend: None,
            kind: "router",
            children: Vec::new(),
            policy: Policy::new(),
            inline: false,
            agent: None,
        }
    }

    /// A node whose capabilities are those of an rmcp server handler, called in-process
    /// (directly, with no serialization).
    pub fn server(name: impl Into<String>, handler: impl ServerHandler) -> Self {
        Self::new(name).with_server(handler)
    }

    /// Gives the node its own capabilities, served by `handler` in-process.
    pub fn with_server(mut self, handler: impl ServerHandler) -> Self {
        self.kind = "server";
        self.backend = Some(Box::new(move |cx: BackendContext| {
            let backend = LocalBackend::new(handler, cx.path, cx.notices);
            backend.start();
            Arc::new(backend)
        }));
        self
    }

    /// A node whose own tools are Rust code that can call the node's subtree (an agent, a
    /// planner): see [`NodeService`](crate::NodeService).
    pub fn service(name: impl Into<String>, service: impl crate::service::NodeService) -> Self {
        Self::new(name).with_service(service)
    }

    /// Gives the node its own tools, served by `service` (see [`Node::service`]).
    pub fn with_service(mut self, service: impl crate::service::NodeService) -> Self {
        self.kind = service.kind();
        let service: Arc<dyn crate::service::NodeService> = Arc::new(service);
        self.backend = Some(Box::new(move |cx| {
            Arc::new(crate::service::ServiceBackend::new(service, cx))
        }));
        self
    }

    /// Makes the node the agent a tree file declared; the program building the tree turns
    /// the declaration into a node with [`TreeBuilder::agents`].
    pub(crate) fn agent(mut self, decl: AgentDecl) -> Self {
        self.kind = "agent";
        self.agent = Some(Box::new(decl));
        self
    }

    /// A child server launched as a process (stdio).
    pub fn stdio(name: impl Into<String>, spec: StdioSpec) -> Self {
        let mut node = Self::new(name);
        node.kind = "stdio";
        node.backend = Some(Box::new(move |cx: BackendContext| {
            Arc::new(RemoteBackend::new(Remote::Stdio(spec), cx.path, cx.notices))
        }));
        node
    }

    /// A remote child server reached over Streamable HTTP.
    pub fn http(name: impl Into<String>, spec: HttpSpec) -> Self {
        let mut node = Self::new(name);
        node.kind = "http";
        node.backend = Some(Box::new(move |cx: BackendContext| {
            Arc::new(RemoteBackend::new(Remote::Http(spec), cx.path, cx.notices))
        }));
        node
    }

    /// Adds a child.
    pub fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    /// Adds several children.
    pub fn children(mut self, children: impl IntoIterator<Item = Node>) -> Self {
        self.children.extend(children);
        self
    }

    /// Sets the node's policy (rules relative to this node; they can only narrow what the
    /// node's descendants may do).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Changes the node's policy with `change` (e.g. adds a rule to what a tree file set).
    pub fn map_policy(mut self, change: impl FnOnce(Policy) -> Policy) -> Self {
        self.policy = change(std::mem::take(&mut self.policy));
        self
    }

    /// Mounts the node without a name prefix: its capabilities appear under their own names.
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// A human-readable description, shown in the topology.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Read-only views, for checking a node that was loaded (from a tree file, say) before it
/// is built.
impl Node {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What serves the node's own capabilities: `router` (nothing), `server` (in-process),
    /// `stdio` (a launched process) or `http` (a Streamable HTTP server).
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// The node's children, in the order they were added.
    pub fn child_nodes(&self) -> &[Node] {
        &self.children
    }

    /// Whether the node is mounted without a name prefix.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// The agent a tree file declared on this node, if any.
    pub fn agent_declaration(&self) -> Option<&AgentDecl> {
        self.agent.as_deref()
    }
}

/// Options for turning a root [`Node`] into a [`Tree`].
#[must_use]
pub struct TreeBuilder {
    pub(crate) root: Node,
    pub(crate) codec: CodecOptions,
    pub(crate) sampling: Option<Arc<dyn SamplingHandler>>,
    pub(crate) page_size: usize,
    pub(crate) agents: Option<Arc<AgentFactory>>,
    pub(crate) strict: bool,
}

impl fmt::Debug for TreeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeBuilder")
            .field("root", &self.root)
            .field("codec", &self.codec)
            .field("page_size", &self.page_size)
            .field("strict", &self.strict)
            .finish_non_exhaustive()
    }
}

/// The default number of items in one page of `tools/list` and the other lists.
pub const DEFAULT_PAGE_SIZE: usize = 500;

impl TreeBuilder {
    pub(crate) fn new(root: Node) -> Self {
        Self {
            root,
            codec: CodecOptions::default(),
            sampling: None,
            page_size: DEFAULT_PAGE_SIZE,
            agents: None,
            strict: false,
        }
    }

    /// How exposed names are formed (LLM-safe by default).
    pub fn codec(mut self, options: CodecOptions) -> Self {
        self.codec = options;
        self
    }

    /// Answers sampling requests of calls made by the Rust host.
    pub fn sampling(mut self, handler: impl SamplingHandler) -> Self {
        self.sampling = Some(Arc::new(handler));
        self
    }

    /// Makes the agents that tree files declare (`[agent]` tables). `canopy-agent` provides
    /// one: `canopy_agent::factory()`.
    pub fn agents(
        mut self,
        factory: impl Fn(
            &NodePath,
            &AgentDecl,
        ) -> Result<Arc<dyn crate::service::NodeService>, AgentError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.agents = Some(Arc::new(factory));
        self
    }

    /// Items per page in list results (at least 1).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Whether one child that cannot start fails the whole build.
    ///
    /// By default (`false`) the tree starts **degraded**: a child that fails to start or to
    /// say what it offers is marked [`Health::Down`](canopy_topology::Health::Down) in the
    /// topology with its error, its capabilities are absent, and it is retried in the
    /// background with backoff; when it comes up its capabilities appear and connected
    /// clients get `list_changed`. A tree is a server, and one broken child should not take
    /// the others down with it. With `strict(true)` the build fails with
    /// [`BuildError::Catalog`] instead (for CI, or a program that cannot do without every
    /// child). Lazy children are not started by the build either way.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Starts every node (but lazy ones), asks each what it offers, and compiles the
    /// routes. See [`TreeBuilder::strict`] for a node that fails to start.
    pub async fn build(self) -> Result<Tree, BuildError> {
        let Self {
            root,
            codec,
            sampling,
            page_size,
            agents,
            strict,
        } = self;
        let name = NodeName::new(&root.name).map_err(|source| BuildError::InvalidName {
            parent: String::new(),
            source,
        })?;
        let description = root.description.clone();
        let (topology, nodes) = flatten(root, agents.as_deref())?;
        Tree::start(TreeSeed {
            name,
            description,
            topology,
            nodes,
            codec,
            sampling,
            page_size,
            strict,
        })
        .await
    }
}

impl Tree {
    /// Starts describing a tree whose root is `root`.
    pub fn builder(root: Node) -> TreeBuilder {
        TreeBuilder::new(root)
    }
}

/// Flattens the builder's nodes into a topology, validating names and policies, with a seed
/// for each node (its backend factory, an agent's made by `agents`).
fn flatten(
    root: Node,
    agents: Option<&AgentFactory>,
) -> Result<(Topology, Vec<NodeSeed>), BuildError> {
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
    let mut topology = Topology::new(info);
    let root_id = topology.root();
    let root_backend = agent_backend(&NodePath::root(), root.agent.as_deref(), agents)?;
    let mut seeds = vec![NodeSeed {
        id: root_id,
        path: NodePath::root(),
        mount: MountPath::root(),
        backend: root_backend.or(root.backend),
    }];
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
        let id = topology.add_child(parent, info)?;
        for child in node.children.into_iter().rev() {
            stack.push((id, child));
        }
        let added = topology.node(id);
        let (path, mount) = (added.path.clone(), added.mount.clone());
        let backend = agent_backend(&path, node.agent.as_deref(), agents)?;
        seeds.push(NodeSeed {
            id,
            path,
            mount,
            backend: backend.or(node.backend),
        });
    }
    topology.shrink_to_fit();
    Ok((topology, seeds))
}
