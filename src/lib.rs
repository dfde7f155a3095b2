//! Canopy: hierarchical multi-agent systems on the Model Context Protocol.
pub use canopy_agent as agent;
pub use canopy_node as node;
pub use canopy_topology as topology;
