//! `canopy schema tree-file`: the tree file's JSON Schema stays in step with the loader.
//! Every valid tree of the repository validates against it, a tree the loader refuses for
//! an unknown key does not, and each table of the schema has exactly the keys the loader
//! accepts (`canopy_node::treefile::keys`).

mod common;

use std::path::{Path, PathBuf};

use common::{run, stderr, stdout};
use serde_json::Value;

fn schema() -> Value {
    let output = run(&["schema", "tree-file"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "a draft 2020-12 schema"
    );
    jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema")
}

/// A tree file as JSON, the way taplo hands TOML to a JSON Schema.
fn as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the tree file reads");
    let table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
    serde_json::to_value(table).expect("TOML converts to JSON")
}

fn tree_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_valid_tree_validates() {
    let validator = validator();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = tree_files(&repo.join("tests/trees/valid"));
    files.extend(tree_files(&repo.join("examples/trees")));
    assert!(files.len() >= 10, "found only {files:?}");
    for file in files {
        let json = as_json(&file);
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn unknown_keys_and_mixed_kinds_do_not_validate() {
    let validator = validator();
    for (source, what) in [
        ("name = \"hub\"\ncolour = 1\n", "an unknown node key"),
        (
            "name = \"hub\"\n[[children]]\nname = \"db\"\ncomand = \"x\"\n",
            "a misspelt child key",
        ),
        (
            "name = \"hub\"\n[policy]\nallwo = []\n",
            "an unknown policy key",
        ),
        (
            "name = \"hub\"\n[[children]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h/mcp\"\n",
            "command with url",
        ),
        ("name = \"Hub\"\n", "an invalid name"),
        ("description = \"no name\"\n", "a missing name"),
        (
            "name = \"hub\"\n[agent]\nprovider = \"gpt\"\n",
            "an unknown provider",
        ),
    ] {
        let table: toml::Table = toml::from_str(source).expect("TOML");
        let json = serde_json::to_value(table).expect("JSON");
        assert!(!validator.is_valid(&json), "{what} validated: {source}");
    }
}

#[test]
fn every_table_has_exactly_the_keys_the_loader_accepts() {
    let schema = schema();
    let agent_schema = canopy_agent::schema();
    let agent_tables = agent_schema.tables();
    let tables = canopy_node::treefile::keys::TABLES
        .iter()
        .map(|(table, keys)| ((*table).to_owned(), keys.to_vec()))
        .chain(agent_tables);
    for (table, keys) in tables {
        let properties = schema["$defs"][&table]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("the schema has no $defs.{table}.properties"));
        let mut in_schema: Vec<&str> = properties.keys().map(String::as_str).collect();
        let mut accepted: Vec<&str> = keys;
        in_schema.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(
            in_schema, accepted,
            "$defs.{table}: the schema's keys differ from the loader's"
        );
        assert_eq!(
            schema["$defs"][&table]["additionalProperties"],
            Value::Bool(false),
            "$defs.{table} must refuse unknown keys, as the loader does"
        );
    }
    assert_eq!(
        schema["$defs"]["node"]["properties"]["protocol"]["enum"],
        serde_json::json!([
            "2024-11-05",
            "2025-03-26",
            "2025-06-18",
            "2025-11-25",
            "2026-07-28"
        ])
    );
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let output = run(&["schema", "tree-fil"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("tree-file"), "{}", stderr(&output));
}
