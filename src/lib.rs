//! Canopy: hierarchical multi-agent systems on the Model Context Protocol.
//!
//! Every node of a Canopy tree is an MCP server to its parent and an MCP client to its
//! children. Build a tree with [`node::Tree::builder`], call tools through its root with
//! [`node::Tree::call_tool`] or [`node::Tree::start_call`] (which streams progress, logs and
//! prompts from any depth), and serve it to any MCP client with
//! [`node::Tree::serve_stdio`] or [`node::Tree::serve_http`].
//!
//! Leaves are ordinary rmcp servers. [`rmcp`] is re-exported with the features a leaf author
//! needs (`server`, `client`, `macros`, `schemars`, the stdio, child-process and Streamable
//! HTTP transports), so a crate that depends on `canopy` writes `use canopy::rmcp;` and
//! never has to match rmcp's version or features by hand. rmcp itself re-exports `serde`,
//! `serde_json` and `schemars` for the derives (`#[serde(crate = "rmcp::serde")]`,
//! `#[schemars(crate = "rmcp::schemars")]`).
//!
//! `docs/first-leaf.md` walks through writing a leaf, mounting it and calling it; the
//! guide's program is `examples/first_leaf.rs`, which the test suite runs.
//!
//! ```no_run
//! use canopy::node::{Node, Tree};
//! use canopy::rmcp;
//!
//! # #[derive(Clone)] struct Web; impl rmcp::ServerHandler for Web {}
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tree = Tree::builder(Node::new("hub").child(Node::server("web", Web)))
//!     .build()
//!     .await?;
//! let result = tree
//!     .call_tool("web__search", serde_json::json!({ "query": "rust" }))
//!     .await?;
//! println!("{:?}", result.content);
//! # Ok(()) }
//! ```
pub use canopy_agent as agent;
pub use canopy_node as node;
pub use canopy_topology as topology;
/// The official Rust MCP SDK, with the features a leaf author needs.
pub use rmcp;

/// The examples of `docs/topology-api.md`, run as doctests so the guide cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../docs/topology-api.md")]
pub struct TopologyGuide;
