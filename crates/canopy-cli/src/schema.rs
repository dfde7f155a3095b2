//! `canopy schema`: JSON Schemas (draft 2020-12) of Canopy's file formats, for editors.
//!
//! `tree-file` is the tree file's: `tree-file.schema.json` beside this module, with the
//! lists that the code owns (the known protocol revisions, the agent providers) filled in
//! from the code. `tests/schema_cli.rs` keeps it in step with the loader: every valid tree
//! of the repository validates against it, and its tables have exactly the keys the loader
//! accepts (`canopy_node::treefile::keys`).

use std::io::Write as _;

use clap::{Args, ValueEnum};
use rmcp::model::ProtocolVersion;

use crate::{Failure, Outcome, config::Json};

/// The schema as written; `enum: []` lists are filled by [`tree_file`].
const TREE_FILE: &str = include_str!("tree-file.schema.json");

/// Arguments of `canopy schema`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy schema tree-file > tree-file.schema.json
  # then, first line of a tree file (taplo / Even Better TOML):
  #:schema ./tree-file.schema.json

docs/tree-file.md (Editor support) shows how to wire it into taplo for every tree file.")]
pub(crate) struct SchemaArgs {
    /// Which file format.
    #[arg(value_enum, value_name = "FORMAT")]
    format: Format,
}

/// The formats with a schema.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// The tree file (TOML), as `canopy serve`, `tree`, `call`… read it.
    TreeFile,
}

/// Runs `canopy schema`.
pub(crate) fn run(args: &SchemaArgs) -> Outcome {
    let text = match args.format {
        Format::TreeFile => tree_file(),
    }
    .map_err(Failure::Failed)?;
    writeln!(std::io::stdout().lock(), "{text}")
        .map_err(|e| Failure::Failed(format!("canopy schema: cannot write the schema: {e}")))
}

/// The tree file's JSON Schema, as pretty JSON in the order it is written.
pub(crate) fn tree_file() -> Result<String, String> {
    let mut schema: Json = serde_json::from_str(TREE_FILE)
        .map_err(|e| format!("canopy schema: the built-in tree-file schema is not JSON: {e}"))?;
    let protocols = ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .map(|v| Json::String(v.as_str().to_owned()))
        .collect();
    let providers = canopy_agent::PROVIDERS
        .iter()
        .map(|p| Json::String((*p).to_owned()))
        .collect();
    for (keys, values) in [
        (
            ["$defs", "node", "properties", "protocol", "enum"],
            protocols,
        ),
        (
            ["$defs", "agent", "properties", "provider", "enum"],
            providers,
        ),
    ] {
        let slot = schema.get_mut(&keys).ok_or_else(|| {
            format!(
                "canopy schema: the built-in schema has no {}",
                keys.join(".")
            )
        })?;
        *slot = Json::Array(values);
    }
    serde_json::to_string_pretty(&schema).map_err(|e| format!("canopy schema: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_come_from_the_code() {
        let text = tree_file().expect("the schema builds");
        assert!(text.starts_with("{\n  \"$schema\""), "{text}");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            schema["$defs"]["node"]["properties"]["protocol"]["enum"][0],
            ProtocolVersion::KNOWN_VERSIONS[0].as_str()
        );
        assert_eq!(
            schema["$defs"]["agent"]["properties"]["provider"]["enum"],
            serde_json::json!(["openai", "anthropic", "sampling", "scripted"])
        );
    }
}
