//! Errors of building a tree and of calls made through it.

use canopy_topology::{NameError, PolicyError, RouteError};
use rmcp::ErrorData as McpError;

/// Why a tree could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A node's name is not a valid node name.
    #[error("invalid node name under '{parent}': {source}")]
    InvalidName {
        /// The parent's path (`""` for the root).
        parent: String,
        /// What is wrong with the name.
        source: NameError,
    },
    /// A node's policy has an invalid glob.
    #[error("invalid policy on node '{node}': {source}")]
    Policy {
        /// The node's path.
        node: String,
        /// The bad glob.
        source: PolicyError,
    },
    /// Duplicate sibling names, or exposed names that collide.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A node declares an agent (a tree file's `[agent]` table), and the agent could not be
    /// made: the program registered no agent factory
    /// ([`TreeBuilder::agents`](crate::TreeBuilder::agents)), or the factory refused the
    /// declaration.
    #[error("node '{node}' is an agent, but {source}")]
    Agent {
        /// The node's path.
        node: String,
        /// What went wrong ([`NoAgentFactory`](crate::NoAgentFactory), or the factory's own
        /// error).
        #[source]
        source: AgentError,
    },
    /// A node could not tell what it offers.
    #[error("node '{node}' failed to list its capabilities: {}", .source.message)]
    Catalog {
        /// The node's path.
        node: String,
        /// The error it gave (for a link that could not start, its message says why, with
        /// the tail of a launched child's stderr).
        #[source]
        source: McpError,
    },
}

/// What an agent factory's `Err` may be: any error, kept as the source of
/// [`BuildError::Agent`].
pub type AgentError = Box<dyn std::error::Error + Send + Sync>;

/// The program registered no agent factory, so a node declared as an agent cannot be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "this program cannot run agents (build the tree with TreeBuilder::agents, e.g. \
     canopy_agent::factory())"
)]
#[non_exhaustive]
pub struct NoAgentFactory;

/// A call through the tree failed with a protocol error (the JSON-RPC error an MCP client
/// would get). A tool that ran and failed is not an error: its result has `is_error` set.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} (code {})", .0.message, .0.code.0)]
pub struct CallError(pub McpError);

impl CallError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        self.0.code.0
    }

    /// The error message.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl From<McpError> for CallError {
    fn from(error: McpError) -> Self {
        Self(error)
    }
}
