//! `canopy config claude`: the Claude Desktop `mcpServers` entry that serves a tree, printed
//! or merged into Claude Desktop's configuration file.
//!
//! The entry launches this very `canopy` binary (its absolute path) with `serve` and the tree
//! file's absolute path, under the tree's root name. `--write` keeps every other entry and
//! key of the file in the order they were (the file is read into an order-keeping [`Json`]),
//! and refuses to replace a different entry of the same name unless `--force`.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};

use crate::{Failure, Outcome};

/// Arguments of `canopy config`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy config claude hub.toml                 print the mcpServers entry
  canopy config claude hub.toml --write         add it to Claude Desktop's config file
  canopy config claude hub.toml --write --config ./claude_desktop_config.json")]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    client: Client,
}

/// The clients `canopy config` knows.
#[derive(Debug, Subcommand)]
enum Client {
    /// The Claude Desktop entry (`mcpServers`) that serves TREE over stdio.
    #[command(after_help = "\
Examples:
  canopy config claude hub.toml
  canopy config claude hub.toml --write
  canopy config claude hub.toml --write --name research --force

The entry is {\"command\": \"/abs/path/canopy\", \"args\": [\"serve\", \"/abs/path/hub.toml\"]},
named after the tree's root. Claude Desktop's config file: on macOS
~/Library/Application Support/Claude/claude_desktop_config.json, on Windows
%APPDATA%\\Claude\\claude_desktop_config.json, on Linux ~/.config/Claude/
claude_desktop_config.json. --write creates it if missing and keeps everything else in
it; an entry of the same name that differs is replaced only with --force. Restart Claude
Desktop afterwards.")]
    Claude(ClaudeArgs),
}

/// Arguments of `canopy config claude`.
#[derive(Debug, Args)]
struct ClaudeArgs {
    /// The tree file (TOML).
    #[arg(value_name = "TREE")]
    tree: PathBuf,
    /// Merge the entry into Claude Desktop's config file instead of printing it.
    #[arg(long)]
    write: bool,
    /// The config file to write [default: Claude Desktop's, for this OS].
    #[arg(long, value_name = "FILE", requires = "write")]
    config: Option<PathBuf>,
    /// Replace an existing, different entry of the same name.
    #[arg(long, requires = "write")]
    force: bool,
    /// The entry's name [default: the tree's root name].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// Runs `canopy config`.
pub(crate) fn run(args: &ConfigArgs) -> Outcome {
    match &args.client {
        Client::Claude(args) => claude(args),
    }
}

fn claude(args: &ClaudeArgs) -> Outcome {
    let root = crate::load::load_tree_file(&args.tree)?;
    let name = args.name.clone().unwrap_or_else(|| root.name().to_owned());
    let entry = entry(&args.tree)?;
    if !args.write {
        let snippet = Json::Object(vec![(
            "mcpServers".into(),
            Json::Object(vec![(name, entry)]),
        )]);
        println!("{}", pretty(&snippet)?);
        return Ok(());
    }
    let path = match &args.config {
        Some(path) => path.clone(),
        None => default_config_path()?,
    };
    let merged = merge(&path, &name, entry, args.force)?;
    match merged {
        Merged::Unchanged => println!(
            "{}: the entry '{name}' is already there, unchanged",
            path.display()
        ),
        Merged::Written { replaced } => {
            let verb = if replaced { "replaced" } else { "added" };
            println!(
                "{}: {verb} the entry '{name}' (restart Claude Desktop to load it)",
                path.display()
            );
        }
    }
    Ok(())
}

/// `{"command": "/abs/canopy", "args": ["serve", "/abs/tree.toml"]}`.
fn entry(tree: &Path) -> Result<Json, Failure> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| Failure::Failed(format!("canopy config: cannot locate canopy: {e}")))?;
    let tree = std::fs::canonicalize(tree)
        .map_err(|e| Failure::Usage(format!("canopy config: {}: {e}", tree.display())))?;
    Ok(Json::Object(vec![
        ("command".into(), Json::String(exe.display().to_string())),
        (
            "args".into(),
            Json::Array(vec![
                Json::String("serve".into()),
                Json::String(tree.display().to_string()),
            ]),
        ),
    ]))
}

/// Claude Desktop's `claude_desktop_config.json` for this OS.
fn default_config_path() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|dir| dir.join("Claude").join("claude_desktop_config.json"))
        .ok_or_else(|| {
            Failure::Usage(
                "canopy config: cannot tell where Claude Desktop's config file is (no home \
                 folder); pass --config FILE"
                    .into(),
            )
        })
}

/// What `--write` did.
#[derive(Debug, PartialEq)]
enum Merged {
    /// The same entry was already there: the file is untouched.
    Unchanged,
    /// The file was written.
    Written {
        /// Whether an entry of the same name was replaced (`--force`).
        replaced: bool,
    },
}

/// Puts `entry` under `mcpServers.name` in the JSON file at `path` (created if missing).
fn merge(path: &Path, name: &str, entry: Json, force: bool) -> Result<Merged, Failure> {
    let shown = path.display();
    let mut config = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Json::Object(Vec::new()),
        Ok(text) => serde_json::from_str::<Json>(&text).map_err(|e| {
            Failure::Failed(format!(
                "canopy config: {shown} is not valid JSON ({e}); fix it or pass another --config"
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Json::Object(Vec::new()),
        Err(e) => {
            return Err(Failure::Failed(format!(
                "canopy config: cannot read {shown}: {e}"
            )));
        }
    };
    let Json::Object(top) = &mut config else {
        return Err(Failure::Failed(format!(
            "canopy config: {shown} does not hold a JSON object; fix it or pass another --config"
        )));
    };
    if !top.iter().any(|(key, _)| key == "mcpServers") {
        top.push(("mcpServers".into(), Json::Object(Vec::new())));
    }
    let servers = top
        .iter_mut()
        .find(|(key, _)| key == "mcpServers")
        .map(|(_, value)| value);
    let Some(Json::Object(servers)) = servers else {
        return Err(Failure::Failed(format!(
            "canopy config: 'mcpServers' in {shown} is not a JSON object; fix it or pass \
             another --config"
        )));
    };
    let replaced = match servers.iter_mut().find(|(key, _)| key == name) {
        Some((_, existing)) if *existing == entry => return Ok(Merged::Unchanged),
        Some((_, existing)) => {
            if !force {
                return Err(Failure::Usage(format!(
                    "canopy config: {shown} already has a different entry '{name}':\n{}\n\
                     Pass --force to replace it, or --name NAME to add this one under another \
                     name.",
                    pretty(existing)?
                )));
            }
            *existing = entry;
            true
        }
        None => {
            servers.push((name.to_owned(), entry));
            false
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Failure::Failed(format!(
                "canopy config: cannot create {}: {e}",
                parent.display()
            ))
        })?;
    }
    std::fs::write(path, pretty(&config)? + "\n")
        .map_err(|e| Failure::Failed(format!("canopy config: cannot write {shown}: {e}")))?;
    Ok(Merged::Written { replaced })
}

fn pretty(value: &Json) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| Failure::Failed(format!("canopy config: {e}")))
}

/// A JSON value whose objects keep their keys in the order they were written, so that
/// rewriting a user's file changes nothing but the entry (the workspace's `serde_json` has
/// no `preserve_order`). `canopy schema` prints its schema in its written order with it too.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value under `keys` (object keys, one per level), if there is one.
    pub(crate) fn get_mut(&mut self, keys: &[&str]) -> Option<&mut Json> {
        let Some((first, rest)) = keys.split_first() else {
            return Some(self);
        };
        match self {
            Self::Object(entries) => entries
                .iter_mut()
                .find(|(key, _)| key == first)
                .and_then(|(_, value)| value.get_mut(rest)),
            _ => None,
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Number(n) => n.serialize(serializer),
            Self::String(s) => serializer.serialize_str(s),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;

        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries: Vec<(String, Json)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    // A repeated key: the last one wins, as in serde_json.
                    entries.retain(|(k, _)| *k != key);
                    entries.push((key, value));
                }
                Ok(Json::Object(entries))
            }
        }

        deserializer.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_their_order() {
        let text = r#"{"z":1,"a":{"y":[true,null,"s",-2,1.5],"b":{}}}"#;
        let json: Json = serde_json::from_str(text).expect("parses");
        assert_eq!(serde_json::to_string(&json).expect("prints"), text);
    }
}
