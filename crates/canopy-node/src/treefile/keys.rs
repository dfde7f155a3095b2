//! The keys each table of a tree file accepts: the very lists the loader checks for unknown
//! keys, for tools that describe the format (the JSON Schema that `canopy schema tree-file`
//! prints is checked against them by a test, so it cannot fall behind the loader).
//!
//! ```
//! use canopy_node::treefile::keys;
//!
//! assert!(keys::NODE.contains(&"children"));
//! assert_eq!(keys::POLICY, ["allow", "ask", "deny", "require_scopes", "allow_scopes", "on_unanswerable"]);
//! let (table, _) = keys::TABLES[0];
//! assert_eq!(table, "node");
//! ```
//!
//! The `[agent]` table's keys are the registered schema's:
//! [`AgentSchema::tables`](super::AgentSchema::tables).

pub use super::read::{NODE_KEYS as NODE, POLICY_KEYS as POLICY};
pub use super::serve::{
    SERVE_AUTH_KEYS as SERVE_AUTH, SERVE_KEYS as SERVE, SERVE_LIMITS_KEYS as SERVE_LIMITS,
};

/// Every kind of table with fixed keys, by a short name, with its keys: `node` (the root and
/// every `[[children]]` entry), `policy`, `serve`, `serve_auth` and `serve_limits` (the
/// root's `[serve]`, `[serve.auth]` and `[serve.limits]`). (`env` and `headers` are free-form tables of strings.)
pub const TABLES: &[(&str, &[&str])] = &[
    ("node", NODE),
    ("policy", POLICY),
    ("serve", SERVE),
    ("serve_auth", SERVE_AUTH),
    ("serve_limits", SERVE_LIMITS),
];
