//! What the nodes offer: fetching each node's catalog, compiling the route plan and the
//! namespaced lists from all of them, and refreshing both when a node's lists change.

use std::{collections::HashMap, sync::Arc};

use canopy_topology::{
    CapabilityCounts, CapabilityEntry, CapabilityKind, LinkKind, NodeId, NodePath, Route,
    RoutePlan, UnmatchedRule, plan_routes,
};
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use super::{ListenNotice, NodeRt, RouteState, Tree, TreeInner, is_denied};
use crate::{
    backend::{Catalog, fetch_catalog},
    call::CallScope,
    error::BuildError,
};

impl TreeInner {
    /// Asks one node for its capabilities and stores them.
    pub(super) async fn refresh_catalog(&self, node: &NodeRt) -> Result<(), BuildError> {
        let Some(backend) = &node.backend else {
            return Ok(());
        };
        // A quiet discovery scope: nobody reads what a node sends while it lists its
        // capabilities, so an in-process node answers through the tree's shared discovery
        // peer (no slot or session is made for it).
        let mut scope = CallScope::quiet(None, Arc::clone(&self.host_caller));
        scope.discovery = true;
        let catalog =
            fetch_catalog(backend, &scope)
                .await
                .map_err(|source| BuildError::Catalog {
                    node: node.path.to_string(),
                    source,
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
            info.error = None;
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
    pub(super) fn recompile(&self) -> Result<(), BuildError> {
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
        self.count_visible(&plan);
        // One index per kind; the tools' serves both the exposed list and the own names.
        let tools = index_items(&catalogs, |c| &c.tools);
        let state = RouteState {
            tool_names: own_tool_names(&plan, &tools),
            tools: exposed_items(&plan, CapabilityKind::Tool, &tools),
            prompts: exposed_items(
                &plan,
                CapabilityKind::Prompt,
                &index_items(&catalogs, |c| &c.prompts),
            ),
            resources: exposed_items(
                &plan,
                CapabilityKind::Resource,
                &index_items(&catalogs, |c| &c.resources),
            ),
            templates: exposed_items(
                &plan,
                CapabilityKind::ResourceTemplate,
                &index_items(&catalogs, |c| &c.templates),
            ),
            plan,
        };
        self.routes.store(Arc::new(state));
        Ok(())
    }

    /// Sets each node's capability counts to what clients see of it (denied ones left out).
    fn count_visible(&self, plan: &RoutePlan) {
        let mut counts: HashMap<NodeId, CapabilityCounts> = HashMap::new();
        for kind in [
            CapabilityKind::Tool,
            CapabilityKind::Prompt,
            CapabilityKind::Resource,
            CapabilityKind::ResourceTemplate,
        ] {
            for route in plan.routes(kind) {
                if is_denied(&route.decision) {
                    continue;
                }
                let count = counts.entry(route.node).or_default();
                match kind {
                    CapabilityKind::Tool => count.tools += 1,
                    CapabilityKind::Prompt => count.prompts += 1,
                    CapabilityKind::Resource => count.resources += 1,
                    CapabilityKind::ResourceTemplate => count.resource_templates += 1,
                }
            }
        }
        let mut topology = self.topology.write().unwrap_or_else(|p| p.into_inner());
        for node in self.nodes.values().filter(|node| node.backend.is_some()) {
            topology.node_mut(node.id).counts = counts.get(&node.id).copied().unwrap_or_default();
        }
    }

    /// Re-reads a node's capabilities after it said they changed, and tells MCP clients.
    pub(super) async fn on_list_changed(self: Arc<Self>, path: NodePath) {
        let _guard = self.refreshing.lock().await;
        let Some(node) = self.node_at(&path) else {
            return;
        };
        let before = self.routes.load_full();
        if let Err(error) = self
            .refresh_catalog(node)
            .await
            .and_then(|()| self.recompile())
        {
            tracing::warn!(%path, %error, "could not refresh the node's capabilities");
            return;
        }
        self.announce_changes(&before).await;
    }

    /// Tells listen streams and connected clients that the lists changed since `before`.
    pub(super) async fn announce_changes(&self, before: &RouteState) {
        // Listen streams hear of the lists that changed; a change the node announced that
        // left the exposed lists as they were is passed on as all three (as sessions get it).
        let after = self.routes.load();
        for warning in new_warnings(&before.plan, &after.plan) {
            tracing::warn!(node = %warning.node, rule = %warning.rule.glob, "{warning}");
        }
        let (tools, prompts, resources) = (
            before.tools != after.tools,
            before.prompts != after.prompts,
            before.resources != after.resources || before.templates != after.templates,
        );
        let unseen = !(tools || prompts || resources);
        let _ = self.listen.send(ListenNotice::Lists {
            tools: tools || unseen,
            prompts: prompts || unseen,
            resources: resources || unseen,
        });
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
}

/// The unmatched rules of `after` that `before` did not have (the same rule whose
/// unconnected nodes changed counts as new: it says something else now).
fn new_warnings<'p>(before: &RoutePlan, after: &'p RoutePlan) -> Vec<&'p UnmatchedRule> {
    let same = |a: &UnmatchedRule, b: &UnmatchedRule| {
        a.node == b.node && a.rule == b.rule && a.unconnected == b.unconnected
    };
    // Few rules match nothing: a linear scan is enough.
    after
        .unmatched_rules()
        .iter()
        .filter(|warning| {
            !before
                .unmatched_rules()
                .iter()
                .any(|old| same(old, warning))
        })
        .collect()
}

/// One tool of the tree with its route, as [`Tree::tool_routes`] lists them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ToolRoute {
    /// The route: exposed name, canonical id, owning node, policy decision and the rules
    /// that decided it.
    pub route: Route,
    /// The tool as its node lists it, renamed to its exposed name (description, input
    /// schema, annotations…).
    pub tool: Tool,
}

impl Tree {
    /// Policy rules that match none of the tree's capabilities, as of the last route
    /// compilation (the build, or a child's list change), in tree order of their nodes.
    /// Each says the rule, its node, the nearest existing canonical ids, and which nodes
    /// could not be checked because they are not connected. A refresh logs the new ones
    /// with `tracing::warn!`; the build only records them here.
    pub fn policy_warnings(&self) -> Vec<UnmatchedRule> {
        self.inner.routes.load().plan.unmatched_rules().to_vec()
    }

    /// Every tool of the tree in tree order, denied ones included (their route says so),
    /// with the route that serves it.
    pub fn tool_routes(&self) -> Vec<ToolRoute> {
        let routes = self.inner.routes.load();
        routes
            .plan
            .routes(CapabilityKind::Tool)
            .iter()
            .filter_map(|route| {
                let node = self.inner.nodes.get(&route.node)?;
                let catalog = node.catalog.lock().unwrap_or_else(|p| p.into_inner());
                let mut tool = catalog
                    .tools
                    .iter()
                    .find(|tool| *tool.name == *route.id.name)?
                    .clone();
                tool.expose(&route.exposed);
                Some(ToolRoute {
                    route: route.clone(),
                    tool,
                })
            })
            .collect()
    }
}

/// A capability as a node lists it: keyed by its own name (or URI), renamable to the
/// exposed one.
/// An item of a namespaced list (a tool, prompt, resource or template).
pub(crate) trait Listed: Clone {
    /// The kind of capability it is.
    const KIND: CapabilityKind;
    /// Its name or URI (the exposed one, once exposed).
    fn key(&self) -> &str;
    fn expose(&mut self, exposed: &str);
}

impl TreeInner {
    /// The items of an exposed list a caller holding the scopes `granted` may see: all of
    /// them unless a scope rule makes a route's decision depend on the caller.
    pub(crate) fn visible_items<'a, T: Listed>(
        &self,
        routes: &RouteState,
        items: &'a [T],
        granted: &[String],
    ) -> std::borrow::Cow<'a, [T]> {
        if !routes.plan.has_scoped() {
            return std::borrow::Cow::Borrowed(items);
        }
        let visible = items
            .iter()
            .filter(|item| {
                routes
                    .plan
                    .lookup(T::KIND, item.key())
                    .is_none_or(|route| self.visible_to(route, granted))
            })
            .cloned()
            .collect();
        std::borrow::Cow::Owned(visible)
    }
}

impl Listed for Tool {
    const KIND: CapabilityKind = CapabilityKind::Tool;
    fn key(&self) -> &str {
        &self.name
    }
    fn expose(&mut self, exposed: &str) {
        self.name = exposed.to_owned().into();
    }
}

impl Listed for Prompt {
    const KIND: CapabilityKind = CapabilityKind::Prompt;
    fn key(&self) -> &str {
        &self.name
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.name);
    }
}

impl Listed for Resource {
    const KIND: CapabilityKind = CapabilityKind::Resource;
    fn key(&self) -> &str {
        &self.uri
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.uri);
    }
}

impl Listed for ResourceTemplate {
    const KIND: CapabilityKind = CapabilityKind::ResourceTemplate;
    fn key(&self) -> &str {
        &self.uri_template
    }
    fn expose(&mut self, exposed: &str) {
        exposed.clone_into(&mut self.uri_template);
    }
}

/// A kind's listed items by (owning node, the node's own name or URI).
type ItemIndex<'c, T> = HashMap<(NodeId, &'c str), &'c T>;

/// Indexes one kind of every node's catalog.
fn index_items<'c, T: Listed>(
    catalogs: &'c HashMap<NodeId, Catalog>,
    list: impl Fn(&'c Catalog) -> &'c Vec<T>,
) -> ItemIndex<'c, T> {
    catalogs
        .iter()
        .flat_map(|(id, catalog)| {
            list(catalog)
                .iter()
                .map(move |item| ((*id, item.key()), item))
        })
        .collect()
}

/// The owning node's own name of every tool route, in route order (see
/// [`RouteState::tool_names`]).
fn own_tool_names(
    plan: &RoutePlan,
    tools: &ItemIndex<'_, Tool>,
) -> Vec<std::borrow::Cow<'static, str>> {
    plan.routes(CapabilityKind::Tool)
        .iter()
        .map(|route| match tools.get(&(route.node, &*route.id.name)) {
            Some(tool) => tool.name.clone(),
            None => route.id.name.to_string().into(),
        })
        .collect()
}

/// The exposed list of one kind: every route that is not denied, in plan order, with the
/// node's item renamed to its exposed name.
fn exposed_items<T: Listed>(
    plan: &RoutePlan,
    kind: CapabilityKind,
    index: &ItemIndex<'_, T>,
) -> Vec<T> {
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
