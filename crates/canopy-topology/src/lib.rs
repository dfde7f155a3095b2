//! Canopy's topology layer: node paths, canonical capability ids, the namespace codec,
//! per-node policies, the topology graph and route compilation.
//!
//! This crate does no I/O and has no async code. The runtime (`canopy-node`) feeds it the
//! tree's shape and every node's capabilities and gets back, in one pass, the exposed name
//! of every capability, the table that resolves exposed names back to canonical ids, and the
//! policy decision for each capability.
//!
//! ```
//! use canopy_topology::{
//!     CapabilityEntry, CapabilityKind, LinkKind, MountPath, NamespaceCodec, NodeInfo, NodeName,
//!     NodePath, Topology, plan_routes,
//! };
//!
//! // hub → research → web, with `web` owning the tool `fetch`.
//! let mut topology = Topology::new(NodeInfo::new(
//!     NodePath::root(),
//!     MountPath::root(),
//!     "router",
//!     LinkKind::Root,
//! ));
//! let research = NodeName::new("research")?;
//! let research_path = NodePath::root().child(research.clone());
//! let research_mount = MountPath::root().child(research, false);
//! let research = topology.add_child(
//!     topology.root(),
//!     NodeInfo::new(research_path.clone(), research_mount.clone(), "router", LinkKind::InProcess),
//! )?;
//! let web = NodeName::new("web")?;
//! let web = topology.add_child(
//!     research,
//!     NodeInfo::new(research_path.child(web.clone()), research_mount.child(web, false), "server", LinkKind::Stdio),
//! )?;
//!
//! let plan = plan_routes(&topology, &NamespaceCodec::default(), &|node| {
//!     if node == web {
//!         vec![CapabilityEntry { kind: CapabilityKind::Tool, name: "fetch".into() }]
//!     } else {
//!         Vec::new()
//!     }
//! })?;
//! let route = plan.lookup(CapabilityKind::Tool, "research__web__fetch").ok_or("no route")?;
//! assert_eq!(route.id.to_string(), "research/web/fetch");
//! assert_eq!(route.node, web);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod error;
mod graph;
mod path;
mod policy;
mod routes;

pub use self::codec::{CodecOptions, MountPath, NameStyle, NamespaceCodec};
pub use self::error::{NameError, PolicyError, RouteError};
pub use self::graph::{
    CapabilityCounts, Health, LinkKind, NodeId, NodeInfo, Topology, TopologyFormat,
};
pub use self::path::{CanonicalId, CapabilityKind, NodeName, NodePath};
pub use self::policy::{AllowedBy, Decision, OnUnanswerable, Policy, PolicyChain, Rule, RuleKind};
pub use self::routes::{
    CapabilityEntry, NameCollision, Route, RoutePlan, UnmatchedRule, plan_routes,
};
