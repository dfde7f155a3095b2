//! `canopy tree`: build the live tree and print its topology.

use std::path::PathBuf;

use canopy_topology::TopologyFormat;
use clap::{Args, ValueEnum};

use crate::{Failure, Outcome, load::build_tree, render::print_line};

/// Arguments of `canopy tree`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy tree hub.toml                       an indented tree with kinds, links and health
  canopy tree hub.toml --format dot | dot -Tsvg > hub.svg
  canopy tree hub.toml --format mermaid      paste into a Markdown ```mermaid block
  canopy tree hub.toml --format json | jq '.children[].path'
  canopy tree hub.toml --check               exit 2 if a policy rule matches nothing (CI)

The tree is built for real: children are launched or connected to, so health, protocol
revisions and capability counts are live. Counts are of what clients see (denied
capabilities left out). A policy rule that matches no capability is a warning on stderr,
with the nearest existing ids; --check makes it an error.")]
pub(crate) struct TreeArgs {
    /// The tree file (TOML).
    #[arg(value_name = "TREE")]
    pub(crate) tree: PathBuf,
    /// How the tree is built (`--strict`).
    #[command(flatten)]
    pub(crate) build: crate::load::BuildArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Exit with status 2 when a policy rule matches no capability (after printing).
    #[arg(long)]
    pub(crate) check: bool,
}

/// The renderings of a topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// An indented tree.
    Text,
    /// Graphviz DOT.
    Dot,
    /// Mermaid `graph TD`.
    Mermaid,
    /// Nested JSON.
    Json,
}

impl From<Format> for TopologyFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => TopologyFormat::Text,
            Format::Dot => TopologyFormat::Dot,
            Format::Mermaid => TopologyFormat::Mermaid,
            Format::Json => TopologyFormat::Json,
        }
    }
}

/// Runs `canopy tree`.
pub(crate) async fn run(args: TreeArgs) -> Outcome {
    let tree = build_tree(&args.tree, args.build).await?;
    // The topology shows what every child offers: lazy ones are started for it.
    tree.start_lazy().await;
    let rendered = tree.render(args.format.into());
    print_line(rendered.strip_suffix('\n').unwrap_or(&rendered));
    let unmatched = tree.policy_warnings().len();
    tree.shutdown().await;
    check_policies(args.check, unmatched)
}

/// `--check`: bad usage (exit 2) when `unmatched` policy rules match nothing (the rules
/// themselves were printed as warnings when the tree was built).
pub(crate) fn check_policies(check: bool, unmatched: usize) -> Outcome {
    if !check || unmatched == 0 {
        return Ok(());
    }
    let (rules, verb) = if unmatched == 1 {
        ("rule", "matches")
    } else {
        ("rules", "match")
    };
    Err(Failure::Usage(format!(
        "canopy: --check: {unmatched} policy {rules} {verb} no capability (see the warnings above)"
    )))
}
