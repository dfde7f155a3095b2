//! The topology: the tree of nodes as a petgraph graph (edges parent → child, in mount
//! order) with per-node metadata, path lookup, and printing as text, DOT, Mermaid or JSON.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::codec::MountPath;
use crate::error::RouteError;
use crate::path::{NodeName, NodePath};
use crate::policy::Policy;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

/// A copyable handle to a node of one [`Topology`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(NodeIndex);

impl NodeId {
    /// The node's position in the order nodes were added (the root is 0): dense, so
    /// tables beside a topology can be vectors.
    pub fn index(self) -> usize {
        self.0.index()
    }
}

/// How a node is connected to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The root: no parent.
    Root,
    /// Direct calls in the same process.
    InProcess,
    /// A launched command speaking MCP over stdio.
    Stdio,
    /// A Streamable HTTP server.
    Http,
}

impl LinkKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::InProcess => "in_process",
            Self::Stdio => "stdio",
            Self::Http => "http",
        }
    }
}

/// A node's last known health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Not checked yet.
    #[default]
    Unknown,
    /// Working.
    Healthy,
    /// Working with errors.
    Degraded,
    /// Not reachable: it failed to start or to say what it offers (see
    /// [`NodeInfo::error`]); the tree retries it in the background.
    Down,
    /// A lazy child that has not been needed yet, so not started.
    NotStarted,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::NotStarted => "not_started",
        }
    }
}

/// How many capabilities of each kind a node reports itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CapabilityCounts {
    /// Tools.
    pub tools: usize,
    /// Prompts.
    pub prompts: usize,
    /// Concrete resources.
    pub resources: usize,
    /// Resource templates.
    pub resource_templates: usize,
}

/// What the topology knows about one node.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The canonical path.
    pub path: NodePath,
    /// The mount, as the codec sees it.
    #[serde(skip)]
    pub mount: MountPath,
    /// Free text the runtime sets: "router", "server", "agent", …
    pub kind: String,
    /// How the node is connected to its parent.
    pub link: LinkKind,
    /// Whether the node is mounted without a name prefix.
    pub inline: bool,
    /// A human description.
    pub description: Option<String>,
    /// The MCP protocol revision spoken on the link.
    pub protocol_version: Option<String>,
    /// Last known health.
    pub health: Health,
    /// Why the node is [`Health::Down`]: the last error of starting it.
    pub error: Option<String>,
    /// The node's own capability counts.
    pub counts: CapabilityCounts,
    /// The node's policy.
    #[serde(skip)]
    pub policy: Policy,
}

impl NodeInfo {
    /// Metadata for a node; `inline` is taken from `mount`, everything else starts empty.
    pub fn new(path: NodePath, mount: MountPath, kind: impl Into<String>, link: LinkKind) -> Self {
        Self {
            inline: mount.is_inline(),
            path,
            mount,
            kind: kind.into(),
            link,
            description: None,
            protocol_version: None,
            health: Health::default(),
            error: None,
            counts: CapabilityCounts::default(),
            policy: Policy::default(),
        }
    }
}

/// The output formats of [`Topology::render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TopologyFormat {
    /// An indented tree, one line per node.
    #[default]
    Text,
    /// Graphviz `digraph`.
    Dot,
    /// Mermaid `graph TD`.
    Mermaid,
    /// A nested, pretty-printed JSON object.
    Json,
}

/// The tree as a petgraph graph (edges parent → child, in mount order).
#[derive(Debug, Clone)]
pub struct Topology {
    graph: DiGraph<NodeInfo, ()>,
    root: NodeId,
    by_path: HashMap<NodePath, NodeId>,
}

impl Topology {
    /// A topology with just the root node; its path, mount and link are forced to the root's.
    pub fn new(mut root: NodeInfo) -> Self {
        root.path = NodePath::root();
        root.mount = MountPath::root();
        root.link = LinkKind::Root;
        root.inline = false;
        let mut graph = DiGraph::new();
        let root = NodeId(graph.add_node(root));
        let by_path = HashMap::from([(NodePath::root(), root)]);
        Self {
            graph,
            root,
            by_path,
        }
    }

    /// Gives back spare capacity, once a topology is complete (a large tree's node list
    /// would otherwise keep up to half its length unused).
    pub fn shrink_to_fit(&mut self) {
        self.graph.shrink_to_fit();
        self.by_path.shrink_to_fit();
    }

    /// The root node.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// Adds `info` as the last child of `parent`. `info.path` must be `parent`'s path plus
    /// one name; the mount is rebuilt from the parent's and `info.inline`.
    ///
    /// # Panics
    /// If `parent` is not a node of this topology.
    pub fn add_child(&mut self, parent: NodeId, mut info: NodeInfo) -> Result<NodeId, RouteError> {
        let parent_info = self.node(parent);
        let name = match info.path.name() {
            Some(name) if info.path.parent().as_ref() == Some(&parent_info.path) => name.clone(),
            _ => {
                return Err(RouteError::NotAChild {
                    parent: parent_info.path.to_string(),
                    path: info.path.to_string(),
                });
            }
        };
        if self.by_path.contains_key(&info.path) {
            return Err(RouteError::DuplicateChild {
                parent: parent_info.path.to_string(),
                name: name.to_string(),
            });
        }
        info.mount = parent_info.mount.child(name, info.inline);
        let path = info.path.clone();
        let child = NodeId(self.graph.add_node(info));
        self.graph.add_edge(parent.0, child.0, ());
        self.by_path.insert(path, child);
        Ok(child)
    }

    /// The node's metadata.
    ///
    /// # Panics
    /// If `id` is not a node of this topology.
    pub fn node(&self, id: NodeId) -> &NodeInfo {
        &self.graph[id.0]
    }

    /// The node's metadata, to update health, counts and the like.
    ///
    /// # Panics
    /// If `id` is not a node of this topology.
    pub fn node_mut(&mut self, id: NodeId) -> &mut NodeInfo {
        &mut self.graph[id.0]
    }

    /// The node at `path`, by hash lookup.
    pub fn find(&self, path: &NodePath) -> Option<NodeId> {
        self.by_path.get(path).copied()
    }

    /// The node's parent; `None` for the root.
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.graph
            .neighbors_directed(id.0, Direction::Incoming)
            .next()
            .map(NodeId)
    }

    /// The node's children, in mount order.
    pub fn children(&self, id: NodeId) -> Vec<NodeId> {
        // Nodes are only ever appended, so index order is mount order.
        let mut children: Vec<NodeId> = self
            .graph
            .neighbors_directed(id.0, Direction::Outgoing)
            .map(NodeId)
            .collect();
        children.sort();
        children
    }

    /// Depth-first, parents before children, children in mount order.
    pub fn iter(&self) -> Vec<NodeId> {
        let mut order = Vec::with_capacity(self.len());
        let mut stack = vec![self.root];
        while let Some(id) = stack.pop() {
            order.push(id);
            stack.extend(self.children(id).into_iter().rev());
        }
        order
    }

    /// The number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether the topology has no nodes (never: it always has a root).
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The ids from the root down to `id` (inclusive).
    pub fn path_ids(&self, id: NodeId) -> Vec<NodeId> {
        let mut ids = vec![id];
        let mut current = id;
        while let Some(parent) = self.parent(current) {
            ids.push(parent);
            current = parent;
        }
        ids.reverse();
        ids
    }

    /// Prints the topology in `format`.
    pub fn render(&self, format: TopologyFormat) -> String {
        match format {
            TopologyFormat::Text => self.render_text(),
            TopologyFormat::Dot => self.render_dot(),
            TopologyFormat::Mermaid => self.render_mermaid(),
            // Plain data with string keys: serializing cannot fail.
            TopologyFormat::Json => {
                serde_json::to_string_pretty(&self.json(self.root)).unwrap_or_default()
            }
        }
    }

    /// The name shown for a node: its own name, `/` for the root.
    fn display_name(&self, id: NodeId) -> String {
        self.node(id)
            .path
            .name()
            .map_or_else(|| "/".to_owned(), ToString::to_string)
    }

    fn render_text(&self) -> String {
        let mut out = String::new();
        self.text_lines(self.root, "", "", &mut out);
        out
    }

    fn text_lines(&self, id: NodeId, lead: &str, indent: &str, out: &mut String) {
        let info = self.node(id);
        let counts = info.counts;
        let _ = writeln!(
            out,
            "{lead}{}  [{}, {}, {}, {}]  tools={} prompts={} resources={} templates={}",
            self.display_name(id),
            info.kind,
            info.link.as_str(),
            info.protocol_version.as_deref().unwrap_or("-"),
            info.health.as_str(),
            counts.tools,
            counts.prompts,
            counts.resources,
            counts.resource_templates,
        );
        if let Some(description) = info.description.as_deref().and_then(|d| d.lines().next()) {
            // One line per node: the description's first line, after the counts.
            out.pop();
            let _ = writeln!(out, "  — {}", description.trim());
        }
        if let Some(error) = &info.error {
            // Under the node's line, indented like its children would be.
            let more = if self.children(id).is_empty() {
                "   "
            } else {
                "│  "
            };
            for (i, line) in error.lines().enumerate() {
                let label = if i == 0 { "error: " } else { "       " };
                let _ = writeln!(out, "{indent}{more}{label}{}", line.trim_end());
            }
        }
        let children = self.children(id);
        let last = children.len().saturating_sub(1);
        for (i, child) in children.into_iter().enumerate() {
            let (branch, more) = if i == last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            self.text_lines(
                child,
                &format!("{indent}{branch}"),
                &format!("{indent}{more}"),
                out,
            );
        }
    }

    fn render_dot(&self) -> String {
        let dot_id = |id: NodeId| {
            let path = &self.node(id).path;
            if path.is_root() {
                "/".to_owned()
            } else {
                path.to_string()
            }
        };
        let mut out = String::from("digraph canopy {\n");
        for id in self.iter() {
            let info = self.node(id);
            let mut label = format!(
                "{}\\n{} ({})",
                escape_dot(&self.display_name(id)),
                escape_dot(&info.kind),
                info.link.as_str()
            );
            if let Some(error) = &info.error {
                let _ = write!(
                    label,
                    "\\n{}: {}",
                    info.health.as_str(),
                    escape_dot(&one_line(error))
                );
            }
            let _ = writeln!(out, "  \"{}\" [label=\"{label}\"];", dot_id(id));
        }
        for id in self.iter() {
            for child in self.children(id) {
                let _ = writeln!(out, "  \"{}\" -> \"{}\";", dot_id(id), dot_id(child));
            }
        }
        out.push_str("}\n");
        out
    }

    fn render_mermaid(&self) -> String {
        let mermaid_id = |id: NodeId| format!("n{}", id.0.index());
        let mut out = String::from("graph TD\n");
        for id in self.iter() {
            let info = self.node(id);
            let mut label = format!(
                "{} ({}, {})",
                self.display_name(id),
                info.kind,
                info.link.as_str()
            );
            if let Some(error) = &info.error {
                let _ = write!(label, "<br/>{}: {}", info.health.as_str(), one_line(error));
            }
            let _ = writeln!(
                out,
                "  {}[\"{}\"]",
                mermaid_id(id),
                label.replace('"', "#quot;")
            );
        }
        for id in self.iter() {
            for child in self.children(id) {
                let _ = writeln!(out, "  {} --> {}", mermaid_id(id), mermaid_id(child));
            }
        }
        out
    }

    fn json(&self, id: NodeId) -> JsonNode<'_> {
        let info = self.node(id);
        JsonNode {
            path: &info.path,
            name: info.path.name().map(NodeName::as_str),
            kind: &info.kind,
            link: info.link,
            inline: info.inline,
            protocol_version: info.protocol_version.as_deref(),
            health: info.health,
            error: info.error.as_deref(),
            counts: info.counts,
            description: info.description.as_deref(),
            children: self
                .children(id)
                .into_iter()
                .map(|c| self.json(c))
                .collect(),
        }
    }
}

/// One node of the JSON rendering; a struct so the keys keep this order.
#[derive(serde::Serialize)]
struct JsonNode<'a> {
    path: &'a NodePath,
    name: Option<&'a str>,
    kind: &'a str,
    link: LinkKind,
    inline: bool,
    protocol_version: Option<&'a str>,
    health: Health,
    error: Option<&'a str>,
    counts: CapabilityCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    children: Vec<JsonNode<'a>>,
}

/// An error on one line (a node's error may carry a child's stderr lines), for labels.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn info(
        topology: &Topology,
        parent: NodeId,
        name: &str,
        kind: &str,
        link: LinkKind,
    ) -> NodeInfo {
        let parent = topology.node(parent);
        let name = NodeName::new(name).expect("valid name");
        NodeInfo::new(
            parent.path.child(name.clone()),
            parent.mount.child(name, false),
            kind,
            link,
        )
    }

    /// hub → research (in-process) → web (stdio), plus db (http).
    fn sample() -> (Topology, [NodeId; 4]) {
        let mut root = NodeInfo::new(
            NodePath::root(),
            MountPath::root(),
            "router",
            LinkKind::Root,
        );
        root.protocol_version = Some("2025-11-25".into());
        root.health = Health::Healthy;
        let mut t = Topology::new(root);
        let root = t.root();
        let research = t
            .add_child(
                root,
                info(&t, root, "research", "router", LinkKind::InProcess),
            )
            .expect("added");
        let mut web = info(&t, research, "web", "server", LinkKind::Stdio);
        web.protocol_version = Some("2025-06-18".into());
        web.counts.tools = 2;
        web.counts.resources = 1;
        let web = t.add_child(research, web).expect("added");
        let mut db = info(&t, root, "db", "server", LinkKind::Http);
        db.health = Health::Down;
        let db = t.add_child(root, db).expect("added");
        (t, [root, research, web, db])
    }

    #[test]
    fn structure_queries() {
        let (t, [root, research, web, db]) = sample();
        assert_eq!(t.len(), 4);
        assert!(!t.is_empty());
        assert_eq!(t.children(root), [research, db]);
        assert_eq!(t.parent(web), Some(research));
        assert_eq!(t.parent(root), None);
        assert_eq!(t.iter(), [root, research, web, db]);
        assert_eq!(t.path_ids(web), [root, research, web]);
        let web_path = NodePath::parse("research/web").expect("valid");
        assert_eq!(t.find(&web_path), Some(web));
        assert_eq!(t.find(&NodePath::root()), Some(root));
        assert_eq!(t.node(web).mount.path(), &web_path);
    }

    #[test]
    fn duplicate_children_are_refused() {
        let (mut t, [_, research, ..]) = sample();
        let again = info(&t, research, "web", "server", LinkKind::Stdio);
        let err = t.add_child(research, again).expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "duplicate child name 'web' under node 'research'"
        );
    }

    #[test]
    fn children_must_be_direct() {
        let (mut t, [root, research, ..]) = sample();
        let misplaced = info(&t, root, "other", "server", LinkKind::Stdio);
        let err = t.add_child(research, misplaced).expect_err("not a child");
        assert_eq!(
            err.to_string(),
            "node path 'other' is not a direct child of node 'research'"
        );
        let rootish = NodeInfo::new(NodePath::root(), MountPath::root(), "x", LinkKind::Stdio);
        assert!(t.add_child(root, rootish).is_err());
    }

    #[test]
    fn inline_is_taken_from_info() {
        let (mut t, [root, ..]) = sample();
        let mut conf = info(&t, root, "conf", "server", LinkKind::Http);
        conf.inline = true;
        let conf = t.add_child(root, conf).expect("added");
        assert_eq!(t.node(conf).mount.prefix_segments().count(), 0);
        let name = NodeName::new("conf2").expect("valid");
        let by_mount = NodeInfo::new(
            NodePath::root().child(name.clone()),
            MountPath::root().child(name, true),
            "server",
            LinkKind::Http,
        );
        assert!(by_mount.inline);
    }

    #[test]
    fn renders_text() {
        let (t, _) = sample();
        assert_eq!(
            t.render(TopologyFormat::Text),
            "/  [router, root, 2025-11-25, healthy]  tools=0 prompts=0 resources=0 templates=0\n\
             ├─ research  [router, in_process, -, unknown]  tools=0 prompts=0 resources=0 templates=0\n\
             │  └─ web  [server, stdio, 2025-06-18, unknown]  tools=2 prompts=0 resources=1 templates=0\n\
             └─ db  [server, http, -, down]  tools=0 prompts=0 resources=0 templates=0\n"
        );
    }

    #[test]
    fn renders_dot() {
        let (t, _) = sample();
        let dot = t.render(TopologyFormat::Dot);
        assert!(dot.starts_with("digraph canopy {\n"), "{dot}");
        assert!(dot.ends_with("}\n"), "{dot}");
        assert!(
            dot.contains("  \"/\" [label=\"/\\nrouter (root)\"];\n"),
            "{dot}"
        );
        assert!(dot.contains("  \"/\" -> \"research\";\n"), "{dot}");
        assert!(
            dot.contains("  \"research\" -> \"research/web\";\n"),
            "{dot}"
        );
        assert!(dot.contains("  \"/\" -> \"db\";\n"), "{dot}");
        assert_eq!(dot.matches("->").count(), 3);
    }

    #[test]
    fn renders_mermaid() {
        let (t, _) = sample();
        assert_eq!(
            t.render(TopologyFormat::Mermaid),
            "graph TD\n  n0[\"/ (router, root)\"]\n  n1[\"research (router, in_process)\"]\n  \
             n2[\"web (server, stdio)\"]\n  n3[\"db (server, http)\"]\n  n0 --> n1\n  n0 --> n3\n  \
             n1 --> n2\n"
        );
    }

    #[test]
    fn renders_json() {
        let (t, _) = sample();
        let value: Value =
            serde_json::from_str(&t.render(TopologyFormat::Json)).expect("valid json");
        assert_eq!(value["path"], "");
        assert_eq!(value["name"], Value::Null);
        assert_eq!(value["link"], "root");
        assert_eq!(value["protocol_version"], "2025-11-25");
        let research = &value["children"][0];
        assert_eq!(research["path"], "research");
        assert_eq!(research["name"], "research");
        assert_eq!(research["link"], "in_process");
        assert_eq!(research["inline"], false);
        assert_eq!(research["health"], "unknown");
        let web = &research["children"][0];
        assert_eq!(
            web["counts"],
            json!({"tools": 2, "prompts": 0, "resources": 1, "resource_templates": 0})
        );
        assert_eq!(web["children"], json!([]));
        assert_eq!(value["children"][1]["health"], "down");
        let mut keys: Vec<&str> = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        let mut expected = [
            "children",
            "counts",
            "error",
            "health",
            "inline",
            "kind",
            "link",
            "name",
            "path",
            "protocol_version",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn a_down_nodes_error_shows_in_every_format() {
        let (mut t, _) = sample();
        let db = t
            .find(&NodePath::parse("db").expect("valid path"))
            .expect("db");
        t.node_mut(db).error = Some(
            "node 'db' did not complete the MCP handshake\n  its stderr ended with:\n    no such database"
                .into(),
        );
        let text = t.render(TopologyFormat::Text);
        assert!(
            text.ends_with(
                "└─ db  [server, http, -, down]  tools=0 prompts=0 resources=0 templates=0\n      \
                 error: node 'db' did not complete the MCP handshake\n               \
                 its stderr ended with:\n                 no such database\n"
            ),
            "{text}"
        );
        let one_line = "down: node 'db' did not complete the MCP handshake | its stderr ended \
                        with: | no such database";
        assert!(t.render(TopologyFormat::Dot).contains(one_line));
        assert!(t.render(TopologyFormat::Mermaid).contains(one_line));
        let json: Value =
            serde_json::from_str(&t.render(TopologyFormat::Json)).expect("valid json");
        assert_eq!(json["children"][1]["health"], "down");
        assert_eq!(
            json["children"][1]["error"],
            "node 'db' did not complete the MCP handshake\n  its stderr ended with:\n    no such database"
        );
        assert_eq!(json["children"][0]["error"], Value::Null);
    }
}
