//! The crate's error types: one small enum per concern, each message naming the input that
//! failed.

/// A node name or node path that is not valid.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is not 1-32 of `[a-z0-9_-]` starting with a lowercase letter.
    #[error("invalid node name '{name}': {reason}")]
    InvalidNodeName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// A policy that cannot be compiled.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A glob that globset rejects.
    #[error("invalid policy glob '{glob}': {reason}")]
    InvalidGlob {
        /// The rejected glob.
        glob: String,
        /// globset's explanation.
        reason: String,
    },
}

/// A topology that cannot be built or routed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// Two children of one node share a name.
    #[error("duplicate child name '{name}' under node '{parent}'")]
    DuplicateChild {
        /// The parent's path.
        parent: String,
        /// The duplicated child name.
        name: String,
    },
    /// A child whose path is not `parent/<name>` (e.g. the root path).
    #[error("node path '{path}' is not a direct child of node '{parent}'")]
    NotAChild {
        /// The parent's path.
        parent: String,
        /// The path the child was given.
        path: String,
    },
    /// Two capabilities that still share an exposed name after disambiguation.
    #[error(
        "exposed name '{exposed}' of {second} collides with {first}, also after disambiguation"
    )]
    Collision {
        /// The contested exposed name.
        exposed: String,
        /// The canonical id that holds the name.
        first: String,
        /// The canonical id that could not get a name.
        second: String,
    },
}
