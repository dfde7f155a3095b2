//! Tree files: one TOML file that describes a whole tree — the root node, its children, how
//! each child is reached (a launched command or a Streamable HTTP URL), and the policies on
//! the way.
//!
//! [`load`] reads a file, expands `${VAR}` from the environment, resolves relative paths
//! against the file's folder, checks everything, and returns the root [`Node`]; nothing is
//! started until the node is built into a [`Tree`](crate::Tree). Every mistake is a
//! [`TreeFileError`] naming the file, the line and the key. The full reference is
//! `docs/tree-file.md`.
//!
//! ```
//! use std::path::Path;
//! use canopy_node::treefile::{self, TreeFileError};
//!
//! let source = r#"
//! name = "hub"
//!
//! [policy]
//! ask = ["search/*post*"]
//!
//! [[children]]
//! name = "search"
//! url = "http://127.0.0.1:3001/mcp"
//! headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }
//! "#;
//! let env = |name: &str| (name == "SEARCH_TOKEN").then(|| "secret".to_owned());
//! let root = treefile::parse(source, "hub.toml", Path::new("."), &env)?;
//! assert_eq!(root.name(), "hub");
//! assert_eq!(root.child_nodes()[0].kind(), "http");
//!
//! let error = treefile::parse("name = \"hub\"\ncolour = 1\n", "hub.toml", Path::new("."), &env)
//!     .unwrap_err();
//! assert!(error.to_string().starts_with("hub.toml:2:1: colour: unknown key 'colour'"));
//! # Ok::<(), TreeFileError>(())
//! ```

mod agent;
mod decl;
mod error;
mod expand;
pub mod keys;
mod paths;
mod position;
mod read;
mod serve;

use std::path::Path;

pub use self::agent::{AgentSchema, KeyKind};
pub use self::error::TreeFileError;
use self::read::Reader;
pub use self::serve::{ServeAuth, ServeLimits, ServeSettings};
/// Moved to the crate root (the building's own type); kept here for old paths.
pub use crate::AgentDecl;
use crate::Node;

/// Loads a tree file: reads it, expands `${VAR}` from the process environment, resolves
/// relative paths against the file's folder, validates, and returns the root [`Node`].
///
/// `[agent]` tables need a [`Loader`] with the agent crate's schema.
pub fn load(path: &Path) -> Result<Node, TreeFileError> {
    Loader::new().load(path)
}

/// The same from a string; `origin` names the file in messages, `base_dir` resolves relative
/// paths, `env` looks variables up (tests pass a closure over a map).
pub fn parse(
    source: &str,
    origin: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Node, TreeFileError> {
    Loader::new().parse(source, origin, base_dir, env)
}

/// A whole tree file: the root [`Node`] and how the file asks the tree to be served.
#[derive(Debug)]
#[non_exhaustive]
pub struct TreeFile {
    /// The root node, with its children.
    pub root: Node,
    /// The root's `[serve]` table (empty without one).
    pub serve: ServeSettings,
}

/// Reads tree files with what the program registers: the [`AgentSchema`] that `[agent]`
/// tables are checked against (a program that runs agents registers its agent crate's,
/// `canopy_agent::schema()`; without one an `[agent]` table is an error that says so).
///
/// ```no_run
/// # fn demo(schema: canopy_node::treefile::AgentSchema) -> Result<(), Box<dyn std::error::Error>> {
/// use canopy_node::treefile::Loader;
///
/// let root = Loader::new().agents(schema).load("team.toml".as_ref())?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Loader {
    agents: Option<AgentSchema>,
}

impl Loader {
    /// A loader that accepts no `[agent]` table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `[agent]` tables as `schema` describes them.
    pub fn agents(mut self, schema: AgentSchema) -> Self {
        self.agents = Some(schema);
        self
    }

    /// The agent schema registered, if any.
    pub fn agent_schema(&self) -> Option<&AgentSchema> {
        self.agents.as_ref()
    }

    /// Loads a tree file (see [`load`]); its `[serve]` table is checked and left out (see
    /// [`Loader::load_file`]).
    pub fn load(&self, path: &Path) -> Result<Node, TreeFileError> {
        self.load_file(path).map(|file| file.root)
    }

    /// Loads a tree file with its `[serve]` table (see [`load`]).
    pub fn load_file(&self, path: &Path) -> Result<TreeFile, TreeFileError> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|err| {
            TreeFileError::file(&origin, format!("cannot read the tree file: {err}"))
        })?;
        // Absolute, so that commands resolved against it still work from the child's cwd.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = absolute.parent().unwrap_or(Path::new("."));
        self.parse_file(&source, &origin, base_dir, &|name| std::env::var(name).ok())
    }

    /// Reads a tree file with its `[serve]` table from a string (see [`parse`]).
    pub fn parse_file(
        &self,
        source: &str,
        origin: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TreeFile, TreeFileError> {
        let mut decl = Reader::new(source, origin, base_dir, env, self.agents.as_ref()).read()?;
        let serve = std::mem::take(&mut decl.serve);
        Ok(TreeFile {
            root: decl.into_node(),
            serve,
        })
    }

    /// Reads a tree file from a string (see [`parse`]).
    pub fn parse(
        &self,
        source: &str,
        origin: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Node, TreeFileError> {
        self.parse_file(source, origin, base_dir, env)
            .map(|file| file.root)
    }
}
