//! What a tree file declares, checked and resolved but not yet turned into [`Node`]s: the
//! step between the TOML and the builder, kept so tests can look at every field.

use canopy_topology::{OnUnanswerable, Policy};

use crate::{HttpSpec, Node, StdioSpec};

/// One node as declared.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NodeDecl {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) policy: PolicyDecl,
    pub(super) link: LinkDecl,
    pub(super) inline: bool,
    pub(super) agent: Option<crate::AgentDecl>,
    /// The root's `[serve]` (empty for every other node).
    pub(super) serve: super::ServeSettings,
    pub(super) children: Vec<NodeDecl>,
}

/// What serves a node's own capabilities.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LinkDecl {
    /// None: the node only routes to its children.
    Router,
    /// A launched process.
    Stdio(StdioSpec),
    /// A Streamable HTTP server.
    Http(HttpSpec),
}

/// A node's policy globs (each already checked to compile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PolicyDecl {
    pub(super) allow: Vec<String>,
    pub(super) ask: Vec<String>,
    pub(super) deny: Vec<String>,
    /// `require_scopes`: glob → the scopes a caller must hold (`[policy]` only).
    pub(super) require_scopes: Vec<(String, Vec<String>)>,
    /// `allow_scopes`: glob → the scopes that spare a caller the `ask` (`[policy]` only).
    pub(super) allow_scopes: Vec<(String, Vec<String>)>,
    /// What the node's `ask` rules do for a caller that cannot answer (`[policy]` only).
    pub(super) on_unanswerable: OnUnanswerable,
}

impl PolicyDecl {
    fn to_policy(&self) -> Policy {
        let policy = Policy::new().on_unanswerable(self.on_unanswerable);
        let policy = self.allow.iter().fold(policy, |p, g| p.allow(g));
        let policy = self.ask.iter().fold(policy, |p, g| p.ask(g));
        let policy = self.deny.iter().fold(policy, |p, g| p.deny(g));
        let policy = self
            .require_scopes
            .iter()
            .fold(policy, |p, (g, scopes)| p.require_scopes(g, scopes.clone()));
        self.allow_scopes
            .iter()
            .fold(policy, |p, (g, scopes)| p.allow_scopes(g, scopes.clone()))
    }
}

impl NodeDecl {
    /// The builder's node for this declaration and its children.
    pub(super) fn into_node(self) -> Node {
        let policy = self.policy.to_policy();
        let mut node = match self.link {
            LinkDecl::Router => Node::new(self.name),
            LinkDecl::Stdio(spec) => Node::stdio(self.name, spec),
            LinkDecl::Http(spec) => Node::http(self.name, spec),
        };
        if let Some(description) = self.description {
            node = node.description(description);
        }
        if !policy.is_empty() {
            node = node.policy(policy);
        }
        if self.inline {
            node = node.inline();
        }
        if let Some(agent) = self.agent {
            node = node.agent(agent);
        }
        node.children(self.children.into_iter().map(Self::into_node))
    }
}
