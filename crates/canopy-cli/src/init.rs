//! `canopy init`: scaffold a tree file and a Rust leaf crate that builds.
//!
//! The files are templates beside this module (`init/*.in`) with `{{root}}` (the tree's
//! name) and `{{leaf}}` (the leaf crate's name) filled in. Nothing is overwritten: when any
//! of the files exists, nothing is written at all.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use clap::Args;

use crate::{Failure, Outcome};

/// Arguments of `canopy init`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  canopy init my-tree                 a new folder my-tree/ with canopy.toml and leaf/
  canopy init                         the same in the current folder
  canopy init my-tree --name hub      the tree's root is named hub

Then:
  cd my-tree
  cargo build --manifest-path leaf/Cargo.toml
  canopy call canopy.toml hello__greet --args '{\"name\":\"world\"}'

Files written: canopy.toml (the tree file), tree-file.schema.json (for editor completion),
README.md, leaf/Cargo.toml, leaf/src/main.rs. Existing files are never overwritten: if any
of them exists, nothing is written (exit status 2).")]
pub(crate) struct InitArgs {
    /// The folder to scaffold in (created if missing) [default: the current folder].
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The tree's root name [default: from the folder's name, else `hub`].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// Runs `canopy init`.
pub(crate) fn run(args: &InitArgs) -> Outcome {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let root = match &args.name {
        Some(name) => {
            canopy_topology::NodeName::new(name).map_err(|error| {
                Failure::Usage(format!("canopy init: invalid --name '{name}': {error}"))
            })?;
            name.clone()
        }
        None => default_name(&dir),
    };
    let files = scaffold(&root)?;
    let existing: Vec<String> = files
        .iter()
        .map(|(path, _)| dir.join(path))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Failure::Usage(format!(
            "canopy init: refusing to overwrite {} (nothing was written; choose another \
             folder or move them away)",
            existing.join(", ")
        )));
    }
    for (path, contents) in &files {
        write_new(&dir.join(path), contents)?;
    }
    let shown = dir.display();
    println!(
        "Created the tree '{root}' in {shown}: canopy.toml, tree-file.schema.json, README.md, \
         leaf/Cargo.toml, leaf/src/main.rs\n\
         Next:\n  \
         cd {shown}\n  \
         cargo build --manifest-path leaf/Cargo.toml\n  \
         canopy call canopy.toml hello__greet --args '{{\"name\":\"world\"}}'"
    );
    Ok(())
}

/// The files to write, relative to the folder, with their contents.
fn scaffold(root: &str) -> Result<Vec<(&'static str, String)>, Failure> {
    let leaf = format!("{root}-leaf");
    let fill = |template: &str| {
        template
            .replace("{{root}}", root)
            .replace("{{leaf}}", &leaf)
    };
    let schema = crate::schema::tree_file().map_err(Failure::Failed)?;
    Ok(vec![
        ("canopy.toml", fill(include_str!("init/tree.toml.in"))),
        ("tree-file.schema.json", schema + "\n"),
        ("README.md", fill(include_str!("init/README.md.in"))),
        (
            "leaf/Cargo.toml",
            fill(include_str!("init/leaf_Cargo.toml.in")),
        ),
        (
            "leaf/src/main.rs",
            fill(include_str!("init/leaf_main.rs.in")),
        ),
    ])
}

/// A node name from the folder's name: lowercased, other characters made `-`, cut to 32;
/// `hub` when nothing usable is left.
fn default_name(dir: &Path) -> String {
    let base = std::path::absolute(dir)
        .ok()
        .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name: String = base
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .skip_while(|c| !c.is_ascii_lowercase())
        .take(32)
        .collect();
    while name.ends_with(['-', '_']) {
        name.pop();
    }
    if canopy_topology::NodeName::new(&name).is_ok() {
        name
    } else {
        "hub".to_owned()
    }
}

/// Creates `path` (and its folders), failing if it exists.
fn write_new(path: &Path, contents: &str) -> Result<(), Failure> {
    let failed = |error: std::io::Error| {
        Failure::Failed(format!("canopy init: {}: {error}", path.display()))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(contents.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_folder() {
        assert_eq!(default_name(Path::new("/tmp/My Tree")), "my-tree");
        assert_eq!(default_name(Path::new("/tmp/42-things")), "things");
        assert_eq!(default_name(Path::new("/tmp/___")), "hub");
    }

    #[test]
    fn templates_are_filled() {
        let files = scaffold("team").expect("scaffold");
        let tree = &files[0].1;
        assert!(tree.contains("name = \"team\""), "{tree}");
        assert!(!files.iter().any(|(_, text)| text.contains("{{")));
        let manifest = &files[3].1;
        assert!(manifest.contains("name = \"team-leaf\""), "{manifest}");
    }
}
