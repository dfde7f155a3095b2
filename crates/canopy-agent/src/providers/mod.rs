//! Model providers, each behind its own feature flag where it needs one.

pub mod sampling;
