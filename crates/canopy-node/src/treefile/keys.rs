//! The keys each table of a tree file accepts: the very lists the loader checks for unknown
//! keys, for tools that describe the format (the JSON Schema that `canopy schema tree-file`
//! prints is checked against them by a test, so it cannot fall behind the loader).
//!
//! ```
//! use canopy_node::treefile::keys;
//!
//! assert!(keys::NODE.contains(&"children"));
//! assert_eq!(keys::POLICY, ["allow", "ask", "deny", "on_unanswerable"]);
//! let (table, _) = keys::TABLES[0];
//! assert_eq!(table, "node");
//! ```
//!
//! The `[agent]` table's keys are the registered schema's:
//! [`AgentSchema::tables`](super::AgentSchema::tables).

pub use super::read::{NODE_KEYS as NODE, POLICY_KEYS as POLICY};

/// Every kind of table with fixed keys, by a short name, with its keys: `node` (the root and
/// every `[[children]]` entry) and `policy`. (`env` and `headers` are free-form tables of
/// strings.)
pub const TABLES: &[(&str, &[&str])] = &[("node", NODE), ("policy", POLICY)];
