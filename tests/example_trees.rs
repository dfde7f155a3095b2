//! Every tree file under `examples/trees/` loads (so the examples cannot rot), and the main
//! one builds into a live tree whose leaves answer.

mod common;

use std::path::Path;

use canopy::node::{Tree, treefile};

#[test]
fn every_example_tree_file_loads() {
    // remote.toml reads LAB_URL from the environment: give it one here. The trees for
    // installed binaries find theirs on PATH: the built ones, first.
    let search_path = path_with(installed_bin_dir());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trees");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/trees") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let source = std::fs::read_to_string(&path).expect("read");
            let env = |name: &str| match name {
                "LAB_URL" => Some("http://127.0.0.1:3001/mcp".to_owned()),
                "LEAF_SERVER" => Some("sh".to_owned()),
                "PATH" => search_path.to_str().map(str::to_owned),
                other => std::env::var(other).ok(),
            };
            let origin = path.file_name().and_then(|n| n.to_str()).unwrap_or("tree");
            let loader = treefile::Loader::new().agents(canopy::agent::schema());
            if let Err(error) = loader.parse(&source, origin, &dir, &env) {
                panic!("{error}");
            }
            loaded += 1;
        }
    }
    assert_eq!(loaded, 9);
}

#[tokio::test]
async fn the_main_example_tree_builds_and_answers() {
    let python = std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh"));
    assert!(Path::new(&python).exists());
    // The tree starts `cargo run --example leaf_server`: build it first so the children start fast.
    common::example_binary("leaf_server");
    let root =
        treefile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trees/research.toml"))
            .unwrap_or_else(|error| panic!("{error}"));
    let tree = Tree::builder(root).build().await.expect("the tree builds");
    let names: Vec<String> = tree.tools().iter().map(|t| t.name.to_string()).collect();
    for expected in [
        "research__web__search",
        "research__lab__analyze",
        "notes__write_note",
        "py__add",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} missing from {names:?}"
        );
    }
    let result = tree
        .call_tool(
            "py__add",
            serde_json::json!({"a": 1, "b": 2}).as_object().cloned(),
        )
        .await
        .expect("the Python leaf answers");
    assert_eq!(
        result.content[0].as_text().map(|t| t.text.as_str()),
        Some("3.0")
    );
    tree.shutdown().await;
}

/// `analyst.toml`: its scripted agent lists the sample shop's tables, queries it through the
/// `canopy-sql` child, and answers with the rows.
#[tokio::test]
async fn the_analyst_tree_answers_from_the_sample_database() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trees/analyst.toml");
    let root = treefile::Loader::new()
        .agents(canopy::agent::schema())
        .load(&path)
        .expect("analyst.toml loads");
    let tree = Tree::builder(root)
        .agents(canopy::agent::factory())
        .build()
        .await
        .expect("the tree builds");
    let mut task = serde_json::Map::new();
    task.insert("task".into(), "Which customers spent the most?".into());
    let result = tree.call_tool("run", Some(task)).await.expect("a result");
    let answer = result.content[0].as_text().expect("text").text.clone();
    assert!(
        answer.starts_with("The top customers by spending:") && answer.contains("Gustavo García"),
        "{answer}"
    );
    let summary = result.structured_content.expect("a summary");
    assert_eq!(summary["outcome"], "answered");
    assert_eq!(summary["toolCalls"], 2);
    tree.shutdown().await;
}

/// Builds the workspace's own binaries (`canopy`, `canopy-sql`) and the `leaf_server`
/// example, and puts them in a fresh folder, as `cargo install` would in `~/.cargo/bin`.
fn installed_bin_dir() -> &'static Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(install_binaries)
}

fn install_binaries() -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "canopy-cli", "-p", "canopy-sql"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building canopy and canopy-sql failed");
    let leaf_server = common::example_binary("leaf_server");
    let profile = leaf_server
        .parent()
        .and_then(|examples| examples.parent())
        .expect("target/<profile>")
        .to_owned();
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installed-bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).expect("bin dir");
    for (from, name) in [
        (profile.join("canopy"), "canopy"),
        (profile.join("canopy-sql"), "canopy-sql"),
        (leaf_server, "leaf_server"),
    ] {
        std::fs::copy(&from, bin.join(name))
            .unwrap_or_else(|error| panic!("copy {}: {error}", from.display()));
    }
    bin
}

/// `PATH` with `bin` first.
fn path_with(bin: &Path) -> std::ffi::OsString {
    std::env::join_paths(std::iter::once(bin.to_owned()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH")
}

/// `canopy call TREE TOOL --args JSON` with the installed binaries first on `PATH`, run from
/// a folder outside the checkout (so nothing can lean on `cargo` or the repository layout).
fn call_installed(bin: &Path, tree: &str, tool: &str, args: &str) -> std::process::Output {
    let path = path_with(bin);
    let tree = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/trees")
        .join(tree);
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installed-data");
    std::process::Command::new(bin.join("canopy"))
        .args(["call", &tree.to_string_lossy(), tool, "--args", args])
        .env("PATH", path)
        // canopy-sql creates its sample database in the user's data directory.
        .env("XDG_DATA_HOME", &data)
        .env("HOME", &data)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("canopy runs")
}

/// The trees for installed binaries work with nothing but those binaries on `PATH`.
#[test]
fn the_installed_binaries_trees_run_from_path() {
    let bin = installed_bin_dir();
    for (tree, tool, args, expected) in [
        (
            "research-installed.toml",
            "research__web__search",
            r#"{"query":"rust"}"#,
            "https://example.org/rust",
        ),
        (
            "research-installed.toml",
            "research__lab__analyze",
            r#"{"steps":2}"#,
            "analysis complete after 2 steps",
        ),
        (
            "sql-installed.toml",
            "shop__query",
            r#"{"sql":"SELECT count(*) AS n FROM customers"}"#,
            "| n ",
        ),
    ] {
        let output = call_installed(bin, tree, tool, args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{tree} {tool} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains(expected), "{tree} {tool}: {stdout}");
    }
    // The trees name bare commands, which only PATH can resolve.
    for tree in ["research-installed.toml", "sql-installed.toml"] {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/trees")
                .join(tree),
        )
        .expect("read");
        assert!(!text.contains("cargo\""), "{tree} runs cargo");
        assert!(
            !text.contains("cwd"),
            "{tree} depends on a working directory"
        );
        assert!(
            text.contains("cargo install --path"),
            "{tree} says how to install"
        );
    }
}
