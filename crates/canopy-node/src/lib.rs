//! Canopy's node runtime: compose a tree of MCP servers in Rust and serve it as one.
//!
//! A [`Tree`] is built from a root [`Node`]. Any rmcp [`ServerHandler`](rmcp::ServerHandler)
//! can be mounted as an in-process child and is called directly — no JSON, no channel hop —
//! through a compiled route table, so in-process depth costs almost nothing. Progress, logs,
//! elicitation and sampling from any depth reach the caller of the root call (a Rust host
//! through [`CallHandle`] events, an MCP client through the [`CanopyServer`] face), and
//! [`Policy`](canopy_topology::Policy) rules (`allow`/`deny`/`ask`) apply on the way.
//!
//! ```no_run
//! use canopy_node::{Node, Tree};
//! # #[derive(Clone)] struct Web; impl rmcp::ServerHandler for Web {}
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tree = Tree::builder(Node::new("hub").child(Node::new("research").child(Node::server("web", Web))))
//!     .build()
//!     .await?;
//! let mut call = tree.start_call("research__web__fetch", None);
//! while let Some(event) = call.next_event().await {
//!     println!("{}", event.to_json_line());
//! }
//! # Ok(()) }
//! ```

// Canopy relays sampling, logging and resources/subscribe for the revisions that still have
// them, so it uses rmcp's deprecated (SEP-2577) items on purpose.
#![allow(deprecated)]

mod arguments;
mod audit;
pub mod auth;
mod backend;
pub mod budget;
mod builder;
mod call;
mod caller;
mod error;
mod event;
mod local;
mod remote;
mod sampling;
mod serve;
mod server;
mod service;
mod tree;
pub mod treefile;
mod upstream;

pub use self::arguments::{Arguments, ArgumentsError};
pub use self::backend::{StartMode, SubtreeTool};
pub use self::budget::{Budget, BudgetExceeded, Limits};
pub use self::builder::{AgentDecl, AgentFactory, DEFAULT_PAGE_SIZE, Node, Setting, TreeBuilder};
pub use self::caller::{CALLER_META_KEY, Caller};
pub use self::error::{AgentError, BuildError, CallError, NoAgentFactory};
pub use self::event::{
    Answer, CallId, Event, EventKind, NodeState, PERMISSION_META_KEY, Question, QuestionKind,
    TreeEvents, Verdict,
};
#[allow(deprecated)]
pub use self::event::{Prompt, PromptAnswer, PromptKind};
pub use self::remote::{DEFAULT_TIMEOUT, HttpSpec, StdioSpec};
pub use self::sampling::SamplingHandler;
pub use self::serve::{HttpLimits, HttpOptions, HttpServer};
pub use self::server::{CanopyServer, DEFAULT_PARK_TIMEOUT};
pub use self::service::{NodeContext, NodeService};
pub use self::tree::{CallHandle, ToolRoute, Tree};
