//! `canopy init DIR`: the scaffolded leaf crate builds, and the scaffolded tree file answers
//! through it. The leaf is built with cargo `--offline` into this build's own target folder
//! (CARGO_TARGET_DIR), so its dependencies are the ones already compiled.

mod common;

use std::{path::Path, process::Command};

use common::{canopy_binary, run, stderr, stdout};

const FILES: [&str; 5] = [
    "canopy.toml",
    "tree-file.schema.json",
    "README.md",
    "leaf/Cargo.toml",
    "leaf/src/main.rs",
];

/// The target folder this test's `canopy` was built in (`<target>/<profile>/canopy`).
fn target_dir() -> std::path::PathBuf {
    canopy_binary()
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/canopy")
        .to_path_buf()
}

/// `canopy ARGS` run in `dir`, with the leaf's `cargo run` building into the shared target.
fn canopy_in(dir: &Path, args: &[&str]) -> std::process::Output {
    common::canopy(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .output()
        .expect("canopy runs")
}

#[test]
fn the_scaffold_builds_and_answers_through_its_leaf() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("my-tree");
    let output = run(&["init", &dir.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Created the tree 'my-tree'"),
        "{}",
        stdout(&output)
    );
    for file in FILES {
        assert!(dir.join(file).is_file(), "{file} was not written");
    }

    let built = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("leaf/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "the scaffolded leaf does not build:\n{}",
        stderr(&built)
    );

    let tree = canopy_in(&dir, &["tree", "canopy.toml"]);
    assert_eq!(tree.status.code(), Some(0), "{}", stderr(&tree));
    let text = stdout(&tree);
    assert!(
        text.lines()
            .any(|line| line.contains("hello") && line.contains("stdio")),
        "{text}"
    );

    let greet = canopy_in(
        &dir,
        &[
            "call",
            "canopy.toml",
            "hello__greet",
            "--args",
            r#"{"name":"world"}"#,
        ],
    );
    assert_eq!(greet.status.code(), Some(0), "{}", stderr(&greet));
    assert_eq!(stdout(&greet).trim(), "Hello, world!");

    let add = canopy_in(
        &dir,
        &[
            "call",
            "canopy.toml",
            "hello__add",
            "--args",
            r#"{"a":2,"b":3.5}"#,
        ],
    );
    assert_eq!(add.status.code(), Some(0), "{}", stderr(&add));
    assert_eq!(stdout(&add).trim(), "5.5");
}

#[test]
fn existing_files_are_never_overwritten() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path();
    std::fs::create_dir_all(dir.join("leaf")).expect("mkdir");
    std::fs::write(dir.join("leaf/Cargo.toml"), "mine").expect("write");
    let output = run(&["init", &dir.display().to_string(), "--name", "hub"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("canopy init: refusing to overwrite")
            && message.contains("leaf/Cargo.toml")
            && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("leaf/Cargo.toml")).expect("read"),
        "mine"
    );
    for file in FILES.iter().filter(|f| **f != "leaf/Cargo.toml") {
        assert!(!dir.join(file).exists(), "{file} was written");
    }
}

#[test]
fn an_invalid_name_is_a_usage_error() {
    let temp = tempfile::tempdir().expect("temp dir");
    let output = run(&[
        "init",
        &temp.path().display().to_string(),
        "--name",
        "Bad Name",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("canopy init: invalid --name 'Bad Name'"),
        "{}",
        stderr(&output)
    );
    assert!(!temp.path().join("canopy.toml").exists());
}
