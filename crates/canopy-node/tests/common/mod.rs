//! What canopy-node's integration tests share, from `canopy-fixtures`: the demo servers they
//! mount as leaves of in-process trees, and the rmcp client that records what a served tree
//! sends it.
// Each test file uses a part of it.
#![allow(unused_imports)]

pub(crate) use canopy_fixtures::{Seen, TestClient, args, servers, text};
