//! Canopy's test fixtures (dev-only, never published).
//!
//! - [`servers`]: small demo servers — ordinary rmcp `ServerHandler`s, nothing
//!   Canopy-specific — that Canopy's examples, tests and benchmarks mount as leaves;
//! - [`serve`]: serving one of them (or any rmcp handler) over stdio or Streamable HTTP, as
//!   the `leaf_server` and `conformance_server` examples do;
//! - [`client`]: an rmcp client that records what a served tree sends it (progress, logs,
//!   elicitations, sampling requests, list and resource changes), with helpers for tool
//!   arguments and results.
//!
//! The crate depends on rmcp and its companions only, never on `canopy-node` or
//! `canopy-topology`, so every Canopy crate can dev-depend on it.

pub mod client;
pub mod serve;
pub mod servers;

pub use client::{Seen, TestClient, args, text};
