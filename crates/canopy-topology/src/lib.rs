//! Canopy's topology layer: node paths, canonical capability ids, the namespace codec,
//! per-node policies, the topology graph and route compilation.
//!
//! This crate does no I/O and has no async code. The runtime (`canopy-node`) feeds it the
//! tree's shape and every node's capabilities and gets back, in one pass, the exposed name
//! of every capability, the table that resolves exposed names back to canonical ids, and the
//! policy decision for each capability.

mod codec;
mod error;
mod graph;
mod path;
mod policy;
mod routes;

pub use self::codec::{CodecOptions, MountPath, NameStyle, NamespaceCodec};
pub use self::error::{NameError, PolicyError, RouteError};
pub use self::graph::{CapabilityCounts, Health, LinkKind, NodeId, NodeInfo, Topology, TopologyFormat};
pub use self::path::{CanonicalId, CapabilityKind, NodeName, NodePath};
pub use self::policy::{Decision, Policy, PolicyChain, Rule, RuleKind};
pub use self::routes::{CapabilityEntry, NameCollision, Route, RoutePlan, plan_routes};
