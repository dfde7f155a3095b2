//! From a tree file to a running tree, with the exit status the contract gives each failure.

use std::path::Path;

use canopy_node::{BuildError, Tree};

use crate::Failure;

/// How the commands that build a tree (`serve`, `tree`, `call`, `run`) build it.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct BuildArgs {
    /// Fail (exit 1) when a child cannot start, instead of starting without it (the child
    /// is then marked down, its tools are missing, and it is retried in the background).
    #[arg(long)]
    pub(crate) strict: bool,
}

/// Loads the tree file and builds the tree: every node started (but lazy ones), every
/// capability listed, `[agent]` tables made into agents (every provider of `canopy-agent`).
///
/// A file that does not load (unknown key, bad name, unreadable…) is bad usage (exit 2) and
/// its error is printed as the loader wrote it: `file:line:col: key: message`. A tree whose
/// description is wrong in a way only building finds (duplicate or colliding names, a bad
/// policy glob) is a bad tree file too. A child that cannot be reached is marked down and
/// the tree starts without it (a warning on stderr says why), unless `--strict` makes it a
/// failure (exit 1).
pub(crate) async fn build_tree(path: &Path, options: BuildArgs) -> Result<Tree, Failure> {
    build_loaded_tree(path, load_tree_file(path)?, options).await
}

/// [`build_tree`] of a tree file already read (`root` is its root node).
pub(crate) async fn build_loaded_tree(
    path: &Path,
    root: canopy_node::Node,
    options: BuildArgs,
) -> Result<Tree, Failure> {
    let tree = Tree::builder(root)
        .agents(canopy_agent::factory())
        .strict(options.strict)
        .build()
        .await
        .map_err(|error| build_failure(path, &error))?;
    crate::tools::warn_policies(path, &tree);
    Ok(tree)
}

/// Reads the tree file, `[agent]` tables checked against `canopy-agent`'s schema; a file that
/// does not load is bad usage (exit 2).
pub(crate) fn load_tree_file(path: &Path) -> Result<canopy_node::Node, Failure> {
    read_tree_file(path).map(|file| file.root)
}

/// [`load_tree_file`] with the file's `[serve]` table.
pub(crate) fn read_tree_file(path: &Path) -> Result<canopy_node::treefile::TreeFile, Failure> {
    canopy_node::treefile::Loader::new()
        .agents(canopy_agent::schema())
        .load_file(path)
        .map_err(|error| Failure::Usage(error.to_string()))
}

fn build_failure(path: &Path, error: &BuildError) -> Failure {
    let message = format!("{}: cannot build the tree: {error}", path.display());
    match error {
        BuildError::Catalog { .. } => Failure::Failed(message),
        _ => Failure::Usage(message),
    }
}
