//! What `canopy bench` and the criterion benches (`benches/*.rs` of the root package) both
//! measure with, so that the two measure the same code:
//!
//! - [`fixtures`]: the in-process leaves ([`Echo`](fixtures::Echo), the progress and listing
//!   [`Leaf`](fixtures::Leaf), the handler called [directly](fixtures::DirectLeaf)), the
//!   [naive rmcp proxy chain](fixtures::NaiveChain), Canopy trees of any depth
//!   ([`tree_at_depth`](fixtures::tree_at_depth)) and the 10,000-node
//!   [`forest`](fixtures::forest), the `leaf_server` example as a stdio or
//!   [HTTP](fixtures::HttpLeafProcess) process, in-process HTTP servers, bare rmcp clients,
//!   and the callers the concurrent measurements clone;
//! - [`table`]: the summary table both print after a run.
//!
//! How to sample (warm-up, interleaved rounds, percentiles) is each side's own: `canopy bench`
//! times its rounds itself, criterion does for the benches.

pub mod fixtures;
pub mod table;
