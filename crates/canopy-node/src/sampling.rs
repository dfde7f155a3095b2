//! The host's model: how a tree answers the sampling requests (`sampling/createMessage`) of
//! its nodes when a Rust host made the call. Give one to
//! [`TreeBuilder::sampling`](crate::TreeBuilder::sampling); an MCP client calling through the
//! server face answers its own, and an agent node with a `sampling` provider asks whichever
//! of the two is above it.

use canopy_topology::NodePath;
use rmcp::{
    ErrorData as McpError,
    model::{CreateMessageRequestParams, CreateMessageResult},
};

/// Answers sampling requests for calls made by a Rust host (an MCP client answers its own).
pub trait SamplingHandler: Send + Sync + 'static {
    /// Runs the model on `params` for the node at `path`.
    fn create_message(
        &self,
        path: &NodePath,
        params: CreateMessageRequestParams,
    ) -> futures::future::BoxFuture<'static, Result<CreateMessageResult, McpError>>;
}
