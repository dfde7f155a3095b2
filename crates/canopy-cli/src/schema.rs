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
use serde_json::Value;

use crate::{Failure, Outcome};

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
    let schema = match args.format {
        Format::TreeFile => tree_file(),
    }
    .map_err(Failure::Failed)?;
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| Failure::Failed(format!("canopy schema: {e}")))?;
    writeln!(std::io::stdout().lock(), "{text}")
        .map_err(|e| Failure::Failed(format!("canopy schema: cannot write the schema: {e}")))
}

/// The tree file's JSON Schema.
pub(crate) fn tree_file() -> Result<Value, String> {
    let mut schema: Value = serde_json::from_str(TREE_FILE)
        .map_err(|e| format!("canopy schema: the built-in tree-file schema is not JSON: {e}"))?;
    let protocols: Vec<Value> = ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .map(|v| Value::from(v.as_str()))
        .collect();
    let providers: Vec<Value> = canopy_node::treefile::PROVIDERS
        .iter()
        .map(|p| Value::from(*p))
        .collect();
    for (pointer, values) in [
        ("/$defs/node/properties/protocol/enum", protocols),
        ("/$defs/agent/properties/provider/enum", providers),
    ] {
        let slot = schema
            .pointer_mut(pointer)
            .ok_or_else(|| format!("canopy schema: the built-in schema has no {pointer}"))?;
        *slot = Value::Array(values);
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_come_from_the_code() {
        let schema = tree_file().expect("the schema builds");
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
