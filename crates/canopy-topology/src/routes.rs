//! Route compilation: from a [`Topology`] and every node's own capabilities, one
//! [`RoutePlan`] holding each capability's exposed name, owning node and policy decision,
//! with hash tables from exposed names and canonical ids back to routes.
//!
//! Exposed names come from the [`NamespaceCodec`]. When two capabilities of one kind would
//! get the same name (only possible through `inline` mounts, or a node reporting a name
//! that equals another node's encoded name), the one whose node was mounted first keeps it
//! and the later one gets the codec's disambiguated form. Because priority follows mount
//! order, mounting a node later never renames anything that was already there.

use std::collections::{HashMap, HashSet};

/// The hot lookup tables: a fast, seeded hash (exposed names are probed on every call).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use crate::codec::{MountPath, NamespaceCodec};
use crate::error::RouteError;
use crate::graph::{Health, NodeId, Topology};
use crate::path::{CanonicalId, CapabilityKind, NodePath};
use crate::policy::{AllowedBy, Decision, PolicyChain, Rule};

const KINDS: usize = 4;

/// One capability a node reported, as input to planning.
#[derive(Clone, Debug)]
pub struct CapabilityEntry {
    /// The capability's kind.
    pub kind: CapabilityKind,
    /// Its name, resource URI or URI template, as the node reports it.
    pub name: Arc<str>,
}

/// A compiled route: what a client sees and where it goes.
#[derive(Clone, Debug)]
pub struct Route {
    /// The exposed name, or exposed URI / URI template.
    pub exposed: Arc<str>,
    /// The capability's canonical id.
    pub id: CanonicalId,
    /// The owning node in the [`Topology`].
    pub node: NodeId,
    /// The policy decision of every node on the path.
    pub decision: Decision,
    /// For an allowed route: the explicit allow rules that let it through, outermost first
    /// (empty: no node on the path has an allow list).
    pub allowed_by: AllowedBy,
    /// Whether a scope rule on the path matches it: `decision` is then the verdict with
    /// scope rules left out, and a caller's own is [`PolicyChain::decide_for`]'s.
    pub scoped: bool,
}

/// A policy rule that matches none of the capabilities the tree has (a typo such as
/// `lab/analyse` for `lab/analyze` would otherwise be accepted in silence).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnmatchedRule {
    /// The node whose policy has the rule.
    pub node: NodePath,
    /// The rule (its kind and glob).
    pub rule: Rule,
    /// The existing canonical ids under the node closest to the glob (edit distance),
    /// nearest first, at most three.
    pub nearest: Vec<CanonicalId>,
    /// Nodes under the rule's node whose capabilities are not known (not connected yet, or
    /// down): the rule may match one of theirs once they are.
    pub unconnected: Vec<(NodePath, Health)>,
}

impl std::fmt::Display for UnmatchedRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy rule {} of ", self.rule)?;
        if self.node.is_root() {
            f.write_str("the root node")?;
        } else {
            write!(f, "node '{}'", self.node)?;
        }
        f.write_str(" matches no capability")?;
        if self.nearest.is_empty() {
            f.write_str(" (the node has no capabilities under it)")?;
        } else {
            let nearest: Vec<String> = self.nearest.iter().map(|id| format!("'{id}'")).collect();
            write!(f, "; nearest: {}", nearest.join(", "))?;
        }
        if !self.unconnected.is_empty() {
            let nodes: Vec<String> = self
                .unconnected
                .iter()
                .map(|(path, health)| match health {
                    Health::Down => format!("'{path}' (down)"),
                    _ => format!("'{path}' (not connected yet)"),
                })
                .collect();
            write!(
                f,
                "; not checked against {} whose capabilities are not known",
                nodes.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A collision that was resolved by renaming the later capability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCollision {
    /// The contested exposed name.
    pub exposed: String,
    /// The capability that kept it.
    pub kept: CanonicalId,
    /// The capability that was renamed.
    pub renamed: CanonicalId,
    /// Its new exposed name.
    pub renamed_to: String,
}

/// Every route of a tree, with lookup tables.
#[derive(Debug, Default, Clone)]
pub struct RoutePlan {
    routes: [Vec<Route>; KINDS],
    by_exposed: [FastMap<Arc<str>, usize>; KINDS],
    by_id: FastMap<CanonicalId, usize>,
    /// Tools' and prompts' canonical ids as text (`research/web/fetch`) → route index, so a
    /// caller may name a capability by its id without anything parsing it.
    by_id_text: [FastMap<Arc<str>, usize>; 2],
    /// Policy rules that match no capability.
    unmatched: Vec<UnmatchedRule>,
    /// For each template route (by index): the prefix its exposed form adds, "" if none.
    template_prefixes: Vec<String>,
    collisions: Vec<NameCollision>,
    /// Whether any route's decision depends on the caller's scopes.
    scoped: bool,
}

impl Route {
    /// The decision for a caller holding the scopes `granted` (none for a caller without an
    /// identity): [`Route::decision`] itself unless a scope rule on the path matches.
    pub fn decision_for<'a>(
        &'a self,
        topology: &Topology,
        granted: &[String],
    ) -> std::borrow::Cow<'a, Decision> {
        if !self.scoped || matches!(self.decision, Decision::Deny { .. }) {
            return std::borrow::Cow::Borrowed(&self.decision);
        }
        let mut chain = PolicyChain::new();
        for id in topology.path_ids(self.node) {
            let info = topology.node(id);
            chain.push(&info.path, &info.policy);
        }
        std::borrow::Cow::Owned(chain.decide_for(&self.id, granted))
    }
}

impl RoutePlan {
    /// Whether any route's decision depends on the caller's scopes (a policy on the tree has
    /// a scope rule that matches a capability).
    pub fn has_scoped(&self) -> bool {
        self.scoped
    }

    /// Routes of one kind in deterministic tree order (depth-first, children in mount order,
    /// a node's own capabilities in the order it reported them), denied ones included.
    pub fn routes(&self, kind: CapabilityKind) -> &[Route] {
        &self.routes[slot(kind)]
    }

    /// Exposed name/URI → route, by hash-table lookup (tools, prompts, resources, templates).
    pub fn lookup(&self, kind: CapabilityKind, exposed: &str) -> Option<&Route> {
        self.lookup_indexed(kind, exposed).map(|(_, route)| route)
    }

    /// Like [`lookup`](Self::lookup), with the route's index in [`routes`](Self::routes)
    /// (for tables a caller keeps beside the plan, one entry per route).
    pub fn lookup_indexed(&self, kind: CapabilityKind, exposed: &str) -> Option<(usize, &Route)> {
        let index = *self.by_exposed[slot(kind)].get(exposed)?;
        Some((index, self.routes[slot(kind)].get(index)?))
    }

    /// A tool or prompt by its exposed name, else by its canonical id as text
    /// (`research/web/fetch`); both are hash-table lookups. Other kinds: exposed only.
    pub fn lookup_name(&self, kind: CapabilityKind, name: &str) -> Option<(usize, &Route)> {
        self.lookup_indexed(kind, name).or_else(|| {
            let table = self.by_id_text.get(slot(kind))?;
            let index = *table.get(name)?;
            Some((index, self.routes[slot(kind)].get(index)?))
        })
    }

    /// Canonical id → route.
    pub fn by_id(&self, id: &CanonicalId) -> Option<&Route> {
        self.by_id_indexed(id).map(|(_, route)| route)
    }

    /// Like [`by_id`](Self::by_id), with the route's index in [`routes`](Self::routes).
    pub fn by_id_indexed(&self, id: &CanonicalId) -> Option<(usize, &Route)> {
        let index = *self.by_id.get(id)?;
        Some((index, self.routes[slot(id.kind)].get(index)?))
    }

    /// Maps a URI a client wants to read back to (owning node, the node's original URI):
    /// exact resource match first, else the longest node prefix `{scheme}://a/b/` that
    /// belongs to a node with templates (a matching template decides between nodes sharing
    /// that prefix), else an inline/root node that owns a template matching it, else None.
    pub fn resolve_uri(&self, uri: &str) -> Option<(NodeId, String)> {
        if let Some(route) = self.lookup(CapabilityKind::Resource, uri) {
            return Some((route.node, route.id.name.to_string()));
        }
        self.resolve_by_prefix(uri)
            .or_else(|| self.resolve_unprefixed(uri))
    }

    /// Collisions that were resolved by renaming (for diagnostics / warnings).
    pub fn collisions(&self) -> &[NameCollision] {
        &self.collisions
    }

    /// Policy rules that match none of the tree's capabilities, in tree order of their
    /// nodes (for warnings, and `canopy tree --check`).
    pub fn unmatched_rules(&self) -> &[UnmatchedRule] {
        &self.unmatched
    }

    fn templates(&self) -> impl Iterator<Item = (&Route, &str)> {
        self.routes[slot(CapabilityKind::ResourceTemplate)]
            .iter()
            .zip(self.template_prefixes.iter().map(String::as_str))
    }

    fn resolve_by_prefix(&self, uri: &str) -> Option<(NodeId, String)> {
        let under_prefix = |(_, prefix): &(&Route, &str)| {
            !prefix.is_empty() && uri.len() > prefix.len() && uri.starts_with(prefix)
        };
        let longest = self
            .templates()
            .filter(under_prefix)
            .map(|(_, p)| p.len())
            .max()?;
        let rest = uri.get(longest..)?;
        let owners: Vec<&Route> = self
            .templates()
            .filter(|t| under_prefix(t) && t.1.len() == longest)
            .map(|(route, _)| route)
            .collect();
        let owner = owners
            .iter()
            .find(|route| template_matches(&route.id.name, rest))
            .or(owners.first())?;
        Some((owner.node, rest.to_owned()))
    }

    fn resolve_unprefixed(&self, uri: &str) -> Option<(NodeId, String)> {
        self.templates()
            .find(|(route, prefix)| prefix.is_empty() && template_matches(&route.id.name, uri))
            .map(|(route, _)| (route.node, uri.to_owned()))
    }
}

/// A capability on its way to becoming a route.
struct Candidate {
    node: NodeId,
    id: CanonicalId,
    decision: Decision,
    allowed_by: AllowedBy,
    scoped: bool,
}

/// Compiles the routes of a whole topology. `capabilities` gives each node's own capabilities.
///
/// Collision rule (deterministic, stable when nodes are mounted *after* existing ones): the
/// route whose node was mounted first (for a tree built parent-first, depth-first, that is
/// the one first in tree order; within a node, report order) keeps its name, a later one
/// gets `encode_name_disambiguated`; if even that collides → [`RouteError::Collision`].
/// A capability a node reports twice is planned once.
pub fn plan_routes(
    topology: &Topology,
    codec: &NamespaceCodec,
    capabilities: &dyn Fn(NodeId) -> Vec<CapabilityEntry>,
) -> Result<RoutePlan, RouteError> {
    let candidates = gather(topology, capabilities);
    let mut plan = RoutePlan {
        unmatched: unmatched_rules(topology, &candidates),
        ..RoutePlan::default()
    };
    let exposed = assign_names(topology, codec, &candidates, &mut plan.collisions)?;
    for (candidate, exposed) in candidates.into_iter().zip(exposed) {
        let slot = slot(candidate.id.kind);
        let index = plan.routes[slot].len();
        if candidate.id.kind == CapabilityKind::ResourceTemplate {
            let prefix = exposed
                .strip_suffix(&*candidate.id.name)
                .unwrap_or_default();
            plan.template_prefixes.push(prefix.to_owned());
        }
        let exposed: Arc<str> = exposed.into();
        plan.by_exposed[slot].insert(Arc::clone(&exposed), index);
        plan.by_id.insert(candidate.id.clone(), index);
        if let Some(table) = plan.by_id_text.get_mut(slot) {
            table
                .entry(candidate.id.to_string().into())
                .or_insert(index);
        }
        plan.routes[slot].push(Route {
            exposed,
            id: candidate.id,
            node: candidate.node,
            decision: candidate.decision,
            allowed_by: candidate.allowed_by,
            scoped: candidate.scoped,
        });
        plan.scoped |= candidate.scoped;
    }
    // Kept until the next change: no spare capacity.
    for routes in &mut plan.routes {
        routes.shrink_to_fit();
    }
    plan.template_prefixes.shrink_to_fit();
    Ok(plan)
}

/// Every node's capabilities in tree order, with their policy decisions.
fn gather(
    topology: &Topology,
    capabilities: &dyn Fn(NodeId) -> Vec<CapabilityEntry>,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for node in topology.iter() {
        let path_ids = topology.path_ids(node);
        let mut chain = PolicyChain::new();
        for &id in &path_ids {
            let info = topology.node(id);
            chain.push(&info.path, &info.policy);
        }
        let mut seen = HashSet::new();
        for entry in capabilities(node) {
            if !seen.insert((entry.kind, Arc::clone(&entry.name))) {
                continue;
            }
            let id = CanonicalId::new(entry.kind, topology.node(node).path.clone(), entry.name);
            let (decision, allowed_by) = chain.decide_with_rules(&id);
            let scoped = chain.scoped(&id);
            candidates.push(Candidate {
                node,
                id,
                decision,
                allowed_by,
                scoped,
            });
        }
    }
    candidates
}

/// How many nearest ids an [`UnmatchedRule`] names.
const NEAREST: usize = 3;

/// Every policy rule that matches none of the capabilities under its node.
fn unmatched_rules(topology: &Topology, candidates: &[Candidate]) -> Vec<UnmatchedRule> {
    let mut unmatched = Vec::new();
    for node in topology.iter() {
        let info = topology.node(node);
        if info.policy.is_empty() {
            continue;
        }
        let under: Vec<(&CanonicalId, String)> = candidates
            .iter()
            .filter_map(|c| Some((&c.id, c.id.relative_to(&info.path)?)))
            .collect();
        for (kind, pattern, scopes) in info.policy.patterns() {
            if under
                .iter()
                .any(|(_, relative)| pattern.matches(relative, false))
            {
                continue;
            }
            let mut ranked: Vec<(usize, &CanonicalId)> = under
                .iter()
                .map(|(id, relative)| (strsim::levenshtein(&pattern.glob, relative), *id))
                .collect();
            // Stable: equally near ids keep tree order.
            ranked.sort_by_key(|(distance, _)| *distance);
            let mut nearest: Vec<CanonicalId> = Vec::new();
            for (_, id) in ranked {
                if nearest.len() == NEAREST {
                    break;
                }
                if !nearest.contains(id) {
                    nearest.push(id.clone());
                }
            }
            let unconnected = topology
                .iter()
                .into_iter()
                .map(|id| topology.node(id))
                .filter(|n| n.path.starts_with(&info.path))
                .filter(|n| matches!(n.health, Health::Unknown | Health::Down))
                .map(|n| (n.path.clone(), n.health))
                .collect();
            unmatched.push(UnmatchedRule {
                node: info.path.clone(),
                rule: Rule {
                    scopes: scopes.to_vec(),
                    ..Rule::new(kind, pattern.glob.clone())
                },
                nearest,
                unconnected,
            });
        }
    }
    unmatched
}

/// The exposed name of every candidate (same order), earlier-mounted nodes first.
fn assign_names(
    topology: &Topology,
    codec: &NamespaceCodec,
    candidates: &[Candidate],
    collisions: &mut Vec<NameCollision>,
) -> Result<Vec<String>, RouteError> {
    let mut priority: Vec<usize> = (0..candidates.len()).collect();
    // Stable sort: report order within a node is kept.
    priority.sort_by_key(|&i| candidates[i].node);
    let mut taken: [HashMap<String, usize>; KINDS] = Default::default();
    let mut exposed = vec![String::new(); candidates.len()];
    for i in priority {
        let candidate = &candidates[i];
        let mount = &topology.node(candidate.node).mount;
        let taken = &mut taken[slot(candidate.id.kind)];
        let mut name = encode(codec, mount, &candidate.id, false);
        if let Some(&holder) = taken.get(&name) {
            let renamed = encode(codec, mount, &candidate.id, true);
            if let Some(&other) = taken.get(&renamed) {
                return Err(RouteError::Collision {
                    exposed: renamed,
                    first: candidates[other].id.to_string(),
                    second: candidate.id.to_string(),
                });
            }
            collisions.push(NameCollision {
                exposed: name,
                kept: candidates[holder].id.clone(),
                renamed: candidate.id.clone(),
                renamed_to: renamed.clone(),
            });
            name = renamed;
        }
        taken.insert(name.clone(), i);
        exposed[i] = name;
    }
    Ok(exposed)
}

fn encode(codec: &NamespaceCodec, mount: &MountPath, id: &CanonicalId, dup: bool) -> String {
    match (id.kind, dup) {
        (CapabilityKind::Tool | CapabilityKind::Prompt, false) => {
            codec.encode_name(mount, &id.name)
        }
        (CapabilityKind::Tool | CapabilityKind::Prompt, true) => {
            codec.encode_name_disambiguated(mount, &id.name)
        }
        (CapabilityKind::Resource, false) => codec.encode_uri(mount, &id.name),
        (CapabilityKind::ResourceTemplate, false) => codec.encode_uri_template(mount, &id.name),
        (CapabilityKind::Resource | CapabilityKind::ResourceTemplate, true) => {
            codec.encode_uri_disambiguated(mount, &id.name)
        }
    }
}

fn slot(kind: CapabilityKind) -> usize {
    match kind {
        CapabilityKind::Tool => 0,
        CapabilityKind::Prompt => 1,
        CapabilityKind::Resource => 2,
        CapabilityKind::ResourceTemplate => 3,
    }
}

/// Whether `uri` is an expansion of the RFC 6570 `template`, treating every `{…}`
/// expression as "any text, possibly empty". Runs in O(parts × len) — no backtracking — so
/// hostile templates and URIs stay cheap.
fn template_matches(template: &str, uri: &str) -> bool {
    let mut reachable = vec![false; uri.len() + 1];
    reachable[0] = true;
    for part in template_parts(template) {
        match part {
            TemplatePart::Literal(literal) => {
                let mut next = vec![false; uri.len() + 1];
                for (at, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
                    if uri.get(at..).is_some_and(|rest| rest.starts_with(literal)) {
                        next[at + literal.len()] = true;
                    }
                }
                reachable = next;
            }
            TemplatePart::Expression => {
                let Some(first) = reachable.iter().position(|r| *r) else {
                    return false;
                };
                for (at, r) in reachable.iter_mut().enumerate().skip(first) {
                    *r = uri.is_char_boundary(at);
                }
            }
        }
    }
    reachable[uri.len()]
}

enum TemplatePart<'a> {
    Literal(&'a str),
    Expression,
}

/// Splits a template into literals and `{…}` expressions; an unclosed `{` is literal.
fn template_parts(template: &str) -> Vec<TemplatePart<'_>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        if open > 0 {
            parts.push(TemplatePart::Literal(&rest[..open]));
        }
        parts.push(TemplatePart::Expression);
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{LinkKind, NodeInfo};
    use crate::path::{NodeName, NodePath};
    use crate::policy::{Policy, Rule, RuleKind};

    use CapabilityKind::{Prompt, Resource, ResourceTemplate, Tool};

    struct Tree {
        topology: Topology,
        caps: HashMap<NodeId, Vec<CapabilityEntry>>,
    }

    impl Tree {
        fn new() -> Self {
            let root = NodeInfo::new(
                NodePath::root(),
                MountPath::root(),
                "router",
                LinkKind::Root,
            );
            Self {
                topology: Topology::new(root),
                caps: HashMap::new(),
            }
        }

        fn add(&mut self, parent: NodeId, name: &str, inline: bool) -> NodeId {
            let parent_info = self.topology.node(parent);
            let name = NodeName::new(name).expect("valid name");
            let info = NodeInfo::new(
                parent_info.path.child(name.clone()),
                parent_info.mount.child(name, inline),
                "server",
                LinkKind::InProcess,
            );
            self.topology.add_child(parent, info).expect("added")
        }

        fn cap(&mut self, node: NodeId, kind: CapabilityKind, name: &str) {
            let entry = CapabilityEntry {
                kind,
                name: name.into(),
            };
            self.caps.entry(node).or_default().push(entry);
        }

        fn plan_with(&self, codec: &NamespaceCodec) -> Result<RoutePlan, RouteError> {
            plan_routes(&self.topology, codec, &|id| {
                self.caps.get(&id).cloned().unwrap_or_default()
            })
        }

        fn plan(&self) -> RoutePlan {
            self.plan_with(&NamespaceCodec::default()).expect("planned")
        }
    }

    fn exposed(plan: &RoutePlan, kind: CapabilityKind) -> Vec<String> {
        plan.routes(kind)
            .iter()
            .map(|r| r.exposed.to_string())
            .collect()
    }

    fn path(s: &str) -> NodePath {
        NodePath::parse(s).expect("valid path")
    }

    #[test]
    fn names_follow_the_mounts() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let web = t.add(research, "web", false);
        let conf = t.add(root, "conf", true);
        t.cap(root, Tool, "status");
        t.cap(web, Tool, "fetch");
        t.cap(research, Tool, "search");
        t.cap(conf, Tool, "get_config");
        t.cap(web, Prompt, "summarize");
        let plan = t.plan();
        assert_eq!(
            exposed(&plan, Tool),
            [
                "status",
                "research__search",
                "research__web__fetch",
                "get_config"
            ]
        );
        assert_eq!(exposed(&plan, Prompt), ["research__web__summarize"]);
        let route = plan.lookup(Tool, "research__web__fetch").expect("found");
        assert_eq!(route.id.to_string(), "research/web/fetch");
        assert_eq!(route.node, web);
        assert_eq!(route.decision, Decision::Allow);
        let by_id = plan.by_id(&route.id).expect("found");
        assert_eq!(&*by_id.exposed, "research__web__fetch");
        assert!(plan.lookup(Prompt, "research__web__fetch").is_none());
        assert!(plan.collisions().is_empty());
    }

    #[test]
    fn inline_child_duplicating_its_parents_tool_is_renamed() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let conf = t.add(research, "conf", true);
        t.cap(research, Tool, "fetch");
        t.cap(conf, Tool, "fetch");
        let plan = t.plan();
        let codec = NamespaceCodec::default();
        let renamed = codec.encode_name_disambiguated(&t.topology.node(conf).mount, "fetch");
        assert!(renamed.starts_with("research_fetch___"), "{renamed}");
        assert_eq!(
            exposed(&plan, Tool),
            ["research__fetch".to_owned(), renamed.clone()]
        );
        assert_eq!(
            plan.collisions(),
            [NameCollision {
                exposed: "research__fetch".into(),
                kept: CanonicalId::new(Tool, path("research"), "fetch"),
                renamed: CanonicalId::new(Tool, path("research/conf"), "fetch"),
                renamed_to: renamed.clone(),
            }]
        );
        assert_eq!(plan.lookup(Tool, &renamed).map(|r| r.node), Some(conf));
    }

    #[test]
    fn earlier_mounted_node_keeps_its_name_even_if_later_in_tree_order() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let a = t.add(root, "a", true);
        let b = t.add(root, "b", true);
        t.cap(b, Tool, "t");
        let before = t.plan();
        assert_eq!(exposed(&before, Tool), ["t"]);
        let a2 = t.add(a, "a2", true);
        t.cap(a2, Tool, "t");
        let after = t.plan();
        // a2 comes first in tree order but was mounted after b.
        assert_eq!(after.lookup(Tool, "t").map(|r| r.node), Some(b));
        assert_eq!(after.routes(Tool)[0].node, a2);
    }

    #[test]
    fn near_duplicates_stay_apart() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let web = t.add(research, "web", false);
        t.cap(research, Tool, "web__fetch");
        t.cap(web, Tool, "fetch");
        t.cap(root, Tool, "a.b");
        t.cap(root, Tool, "a_b");
        t.cap(root, Tool, "a b");
        t.cap(root, Tool, "a_b"); // reported twice: planned once
        let plan = t.plan();
        let names = exposed(&plan, Tool);
        assert_eq!(names.len(), 5);
        assert_eq!(names[1], "a_b");
        assert_eq!(names[4], "research__web__fetch");
        let unique: HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), 5);
        assert!(plan.collisions().is_empty());

        let mcp = NamespaceCodec::new(crate::CodecOptions {
            style: crate::NameStyle::Mcp,
            ..Default::default()
        });
        let plan = t.plan_with(&mcp).expect("planned");
        assert_eq!(exposed(&plan, Tool)[0], "a.b");
    }

    #[test]
    fn decisions_apply_every_policy_on_the_path() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let db = t.add(root, "db", false);
        let shell = t.add(root, "shell", false);
        t.topology.node_mut(root).policy = Policy::new().ask("db/*write*").deny("shell/*");
        t.topology.node_mut(shell).policy = Policy::new().allow("*");
        t.cap(db, Tool, "query");
        t.cap(db, Tool, "write_rows");
        t.cap(shell, Tool, "run");
        let plan = t.plan();
        let decision = |name: &str| plan.lookup(Tool, name).map(|r| r.decision.clone());
        assert_eq!(decision("db__query"), Some(Decision::Allow));
        assert_eq!(
            decision("db__write_rows"),
            Some(Decision::Ask {
                by: vec![(
                    NodePath::root(),
                    Rule {
                        kind: RuleKind::Ask,
                        glob: "db/*write*".into(),
                        scopes: Vec::new(),
                    }
                )],
                on_unanswerable: crate::OnUnanswerable::Deny,
            })
        );
        assert_eq!(
            decision("shell__run"),
            Some(Decision::Deny {
                by: NodePath::root(),
                rule: Rule {
                    kind: RuleKind::Deny,
                    glob: "shell/*".into(),
                    scopes: Vec::new(),
                }
            })
        );
    }

    #[test]
    fn rules_that_match_nothing_name_the_nearest_ids() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let lab = t.add(root, "lab", false);
        let notes = t.add(root, "notes", false);
        for node in [root, lab, notes] {
            t.topology.node_mut(node).health = Health::Healthy;
        }
        t.topology.node_mut(root).policy = Policy::new()
            .ask("lab/analyse")
            .ask("notes/*")
            .deny("shell/**");
        t.topology.node_mut(notes).policy = Policy::new().allow("write_note");
        t.cap(lab, Tool, "analyze");
        t.cap(lab, Tool, "summarize");
        t.cap(notes, Tool, "read_notes");
        t.cap(notes, Tool, "write_note");
        let plan = t.plan();
        let unmatched = plan.unmatched_rules();
        assert_eq!(unmatched.len(), 2, "{unmatched:?}");
        assert_eq!(unmatched[0].node, NodePath::root());
        assert_eq!(
            unmatched[0].rule,
            Rule::new(RuleKind::Ask, "lab/analyse".into())
        );
        assert_eq!(
            unmatched[0].to_string(),
            "policy rule ask \"lab/analyse\" of the root node matches no capability; \
             nearest: 'lab/analyze', 'lab/summarize', 'notes/read_notes'"
        );
        assert_eq!(
            unmatched[1].to_string(),
            "policy rule deny \"shell/**\" of the root node matches no capability; \
             nearest: 'lab/analyze', 'lab/summarize', 'notes/read_notes'"
        );
        // The analyze tool is still asked about by nobody: the typo is what the warning says.
        assert_eq!(
            plan.lookup(Tool, "lab__analyze")
                .map(|r| r.decision.clone()),
            Some(Decision::Allow)
        );
    }

    #[test]
    fn unmatched_rules_say_which_nodes_were_not_checked() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let lab = t.add(research, "lab", false);
        t.topology.node_mut(root).health = Health::Healthy;
        t.topology.node_mut(research).health = Health::Healthy;
        t.topology.node_mut(lab).health = Health::Down;
        t.topology.node_mut(research).policy = Policy::new().ask("lab/analyze");
        let plan = t.plan();
        assert_eq!(
            plan.unmatched_rules()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "policy rule ask \"lab/analyze\" of node 'research' matches no capability \
              (the node has no capabilities under it); not checked against 'research/lab' \
              (down) whose capabilities are not known"
            ]
        );
        t.topology.node_mut(lab).health = Health::Unknown;
        t.cap(lab, Tool, "analyze");
        assert!(t.plan().unmatched_rules().is_empty());
    }

    #[test]
    fn canonical_ids_resolve_by_table_lookup() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let web = t.add(research, "web", false);
        let conf = t.add(root, "conf", true);
        t.cap(web, Tool, "search");
        t.cap(web, Prompt, "summarize");
        t.cap(conf, Tool, "get");
        t.cap(web, Resource, "mem://a");
        let plan = t.plan();
        let exposed = |kind, name: &str| plan.lookup_name(kind, name).map(|(_, r)| &*r.exposed);
        assert_eq!(
            exposed(Tool, "research/web/search"),
            Some("research__web__search")
        );
        assert_eq!(
            exposed(Tool, "research__web__search"),
            Some("research__web__search")
        );
        assert_eq!(exposed(Tool, "conf/get"), Some("get"));
        assert_eq!(
            exposed(Prompt, "research/web/summarize"),
            Some("research__web__summarize")
        );
        assert_eq!(exposed(Tool, "research/web/summarize"), None);
        assert_eq!(exposed(Tool, "research/search"), None);
        assert_eq!(exposed(Resource, "research/web/mem://a"), None);
    }

    #[test]
    fn resolves_resources_and_templates() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let research = t.add(root, "research", false);
        let web = t.add(research, "web", false);
        let conf = t.add(root, "conf", true);
        t.cap(web, Resource, "test://static-text");
        t.cap(web, ResourceTemplate, "file:///{path}");
        t.cap(research, ResourceTemplate, "notes://{id}");
        t.cap(conf, ResourceTemplate, "config://{section}/{key}");
        t.cap(root, Resource, "test://static-text");
        let plan = t.plan();
        assert_eq!(
            exposed(&plan, Resource),
            [
                "test://static-text",
                "canopy://research/web/test://static-text"
            ]
        );
        assert_eq!(
            exposed(&plan, ResourceTemplate),
            [
                "canopy://research/notes://{id}",
                "canopy://research/web/file:///{path}",
                "config://{section}/{key}",
            ]
        );
        let resolve = |uri: &str| plan.resolve_uri(uri);
        assert_eq!(
            resolve("canopy://research/web/test://static-text"),
            Some((web, "test://static-text".into()))
        );
        assert_eq!(
            resolve("test://static-text"),
            Some((root, "test://static-text".into()))
        );
        assert_eq!(
            resolve("canopy://research/web/file:///etc/hosts"),
            Some((web, "file:///etc/hosts".into()))
        );
        assert_eq!(
            resolve("canopy://research/notes://42"),
            Some((research, "notes://42".into()))
        );
        assert_eq!(
            resolve("config://net/port"),
            Some((conf, "config://net/port".into()))
        );
        assert_eq!(resolve("other://x"), None);
        assert_eq!(resolve("canopy://db/x"), None);
    }

    #[test]
    fn inline_resource_duplicates_are_renamed_and_resolvable() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let conf = t.add(root, "conf", true);
        t.cap(root, Resource, "mem://a");
        t.cap(conf, Resource, "mem://a");
        t.cap(root, ResourceTemplate, "mem://{x}");
        t.cap(conf, ResourceTemplate, "mem://{x}");
        let plan = t.plan();
        let renamed = plan.routes(Resource)[1].exposed.to_string();
        assert!(
            renamed.starts_with("canopy://~") && renamed.ends_with("/mem://a"),
            "{renamed}"
        );
        assert_eq!(plan.resolve_uri(&renamed), Some((conf, "mem://a".into())));
        assert_eq!(plan.resolve_uri("mem://a"), Some((root, "mem://a".into())));
        let template = plan.routes(ResourceTemplate)[1].exposed.replace("{x}", "b");
        assert_eq!(plan.resolve_uri(&template), Some((conf, "mem://b".into())));
        assert_eq!(plan.resolve_uri("mem://b"), Some((root, "mem://b".into())));
        assert_eq!(plan.collisions().len(), 2);
    }

    #[test]
    fn template_matching() {
        assert!(template_matches("file:///{path}", "file:///a/b"));
        assert!(template_matches("x://{a}/{b}", "x://1/2"));
        assert!(!template_matches("x://{a}/{b}", "y://1/2"));
        assert!(template_matches("x://{a}{?q}", "x://1?q=2"));
        assert!(template_matches("x://{a", "x://{a"));
        assert!(!template_matches("x://", "x://1"));
        assert!(template_matches("ü://{a}é", "ü://ßé"));
        let hostile = "{a}".repeat(200);
        assert!(template_matches(&hostile, &"z".repeat(5_000)));
    }

    #[test]
    fn colliding_disambiguation_is_an_error() {
        let mut t = Tree::new();
        let root = t.topology.root();
        let conf = t.add(root, "conf", true);
        let codec = NamespaceCodec::default();
        let squatted = codec.encode_uri_disambiguated(&t.topology.node(conf).mount, "mem://a");
        t.cap(root, Resource, &squatted);
        t.cap(root, Resource, "mem://a");
        t.cap(conf, Resource, "mem://a");
        let err = t.plan_with(&codec).expect_err("collision");
        assert_eq!(
            err.to_string(),
            format!(
                "exposed name '{squatted}' of conf/mem://a collides with {squatted}, \
                 also after disambiguation"
            )
        );
    }
}
