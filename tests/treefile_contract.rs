//! The tree-file contract (the loader with canopy-agent's schema, as the `canopy` command
//! reads files), driven by the files under `tests/trees/`:
//!
//! - every `valid/NAME.toml` loads, and its outline (names, kinds, inline, nesting) is
//!   exactly `valid/NAME.tree`;
//! - every `invalid/NAME.toml` fails with exactly the message in `invalid/NAME.err`, where
//!   `{dir}` stands for the absolute path of the `invalid/` folder.
//!
//! Nothing is built, so no process is started and no server is contacted.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use canopy::node::{Node, treefile};

fn trees() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees")
}

/// The variables the tree files may use; `PATH` comes from the process so `sh` is found.
fn env(name: &str) -> Option<String> {
    match name {
        "CANOPY_TEST_TOKEN" => Some("secret".to_owned()),
        "CANOPY_TEST_PORT" => Some("3001".to_owned()),
        "PATH" => std::env::var("PATH").ok(),
        _ => None,
    }
}

/// The `.toml` files of one folder, sorted, with their file names.
fn tree_files(folder: &str) -> Vec<(String, PathBuf)> {
    let dir = trees().join(folder);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            (name, path)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tree files in {}", dir.display());
    files
}

fn parse_file(name: &str, path: &Path) -> Result<Node, treefile::TreeFileError> {
    let source = fs::read_to_string(path).expect("the tree file is readable");
    let dir = path.parent().expect("a folder");
    treefile::Loader::new()
        .agents(canopy::agent::schema())
        .parse(&source, name, dir, &env)
}

/// One line per node, indented by depth: `name (kind[, inline])`.
fn outline(node: &Node) -> String {
    fn walk(node: &Node, depth: usize, out: &mut String) {
        let inline = if node.is_inline() { ", inline" } else { "" };
        let indent = "  ".repeat(depth);
        let _ = writeln!(out, "{indent}{} ({}{inline})", node.name(), node.kind());
        for child in node.child_nodes() {
            walk(child, depth + 1, out);
        }
    }
    let mut out = String::new();
    walk(node, 0, &mut out);
    out
}

/// Reads the expectation file beside `path` (same name, extension `ext`).
fn expectation(path: &Path, ext: &str) -> String {
    let expected = path.with_extension(ext);
    fs::read_to_string(&expected)
        .unwrap_or_else(|err| panic!("{} needs {}: {err}", path.display(), expected.display()))
}

#[test]
fn every_valid_tree_file_loads_to_its_outline() {
    let mut checked = 0;
    for (name, path) in tree_files("valid") {
        let root = parse_file(&name, &path).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            outline(&root),
            expectation(&path, "tree"),
            "outline of {name}"
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} valid tree files");
}

#[test]
fn every_invalid_tree_file_fails_with_its_message() {
    let dir = trees().join("invalid");
    let mut failures = Vec::new();
    for (name, path) in tree_files("invalid") {
        let expected = expectation(&path, "err")
            .trim_end()
            .replace("{dir}", &dir.display().to_string());
        match parse_file(&name, &path) {
            Ok(root) => failures.push(format!(
                "{name}: loaded, but expected\n  {expected}\n  got {root:?}"
            )),
            Err(err) if err.to_string() == expected => {}
            Err(err) => failures.push(format!("{name}:\n  expected {expected}\n  got      {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expectation_file_has_its_tree_file() {
    for (folder, ext) in [("valid", "tree"), ("invalid", "err")] {
        for entry in fs::read_dir(trees().join(folder)).expect("the folder is listed") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == ext) {
                assert!(
                    path.with_extension("toml").is_file(),
                    "{} has no tree file beside it",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn errors_name_the_file_line_and_key() {
    let path = trees().join("invalid/unknown_key.toml");
    let err = parse_file("unknown_key.toml", &path).expect_err("an unknown key fails");
    assert_eq!(err.file, "unknown_key.toml");
    assert_eq!(err.line, Some(5));
    assert_eq!(err.column, Some(1));
    assert_eq!(err.key.as_deref(), Some("children[0].comand"));
    assert!(
        err.message
            .starts_with("unknown key 'comand' (expected one of: name,")
    );
}

#[test]
fn load_resolves_paths_against_the_file_folder_whatever_the_current_dir() {
    // A relative path to the file: `../bin/tiny-mcp` in it must resolve against
    // tests/trees/valid/, not against the test's current directory.
    let root = treefile::load(Path::new("tests/trees/valid/nested.toml")).expect("loads");
    assert_eq!(
        outline(&root),
        expectation(&trees().join("valid/nested.toml"), "tree")
    );
}

#[test]
fn load_names_a_file_it_cannot_read() {
    let err = treefile::load(Path::new("tests/trees/no-such-tree.toml")).expect_err("no file");
    assert_eq!(err.file, "tests/trees/no-such-tree.toml");
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with("tests/trees/no-such-tree.toml: cannot read the tree file: "),
        "{err}"
    );
}
