//! The docs say what is true: every file `docs/architecture.md` names exists, and the
//! README's sample output is what the quick-start example prints.

mod common;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The file names and folders a text names: `tree/routing.rs`, `crates/canopy-node/`,
/// `docs/cli.md`, `remote/`…
fn named_paths(text: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 6] = [".rs", ".md", ".toml", ".sh", ".json", ".py"];
    let mut names: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)))
        .map(|token| token.trim_end_matches('.'))
        .filter(|token| {
            let file = EXTENSIONS.iter().any(|ext| token.ends_with(ext));
            let folder = token.ends_with('/')
                && token.len() > 1
                && token[..token.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-' || c == '/');
            (file || folder) && !token.starts_with('/') && !token.starts_with('.')
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Where a named path can be: from the repository root, or inside a crate's sources (the
/// layer diagram names files within each crate's `src/`).
fn resolves(name: &str) -> Option<PathBuf> {
    let direct = root().join(name);
    if direct.exists() {
        return Some(direct);
    }
    let crates = std::fs::read_dir(root().join("crates")).ok()?;
    for krate in crates.flatten() {
        let src = krate.path().join("src");
        if src.join(name).exists() {
            return Some(src.join(name));
        }
        for module in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            if module.path().is_dir() && module.path().join(name).exists() {
                return Some(module.path().join(name));
            }
        }
    }
    None
}

#[test]
fn architecture_names_only_files_that_exist() {
    let text = std::fs::read_to_string(root().join("docs/architecture.md")).expect("read");
    let names = named_paths(&text);
    assert!(
        names.len() > 20,
        "the path scanner found too little: {names:?}"
    );
    for expected in [
        "tree/routing.rs",
        "crates/canopy-topology/src/codec.rs",
        "serve.rs",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} not seen in {names:?}"
        );
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| resolves(name).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names files that do not exist: {missing:?}"
    );
}

#[test]
fn the_path_scanner_catches_a_file_that_does_not_exist() {
    let names = named_paths("see `design.md` and `tree/mod.rs`, then docs/nothing-here.md.");
    assert_eq!(names, ["design.md", "docs/nothing-here.md", "tree/mod.rs"]);
    assert!(resolves("tree/mod.rs").is_some());
    assert!(resolves("design.md").is_none());
    assert!(resolves("docs/nothing-here.md").is_none());
}

/// Every line of the README's sample output (but the `…` that stands for the elided ones)
/// is a line `cargo run --example quickstart` prints, in the same order.
#[test]
fn the_readme_sample_output_is_what_quickstart_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let intro = "`quickstart` prints";
    let after = &readme[readme.find(intro).expect("the quick start's sample")..];
    let block = after
        .split("```\n")
        .nth(1)
        .expect("a code block after the sentence");
    let output = std::process::Command::new(common::example_binary("quickstart"))
        .output()
        .expect("quickstart runs");
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = printed.lines();
    let mut shown = 0;
    for line in block.lines().filter(|l| l.trim() != "…") {
        assert!(
            lines.any(|printed| printed == line),
            "README line {line:?} is not printed (in this order) by quickstart:\n{printed}"
        );
        shown += 1;
    }
    assert!(shown >= 5, "{block}");
}

/// `canopy run --help` describes the usage table `canopy run` prints: per-agent rows of its
/// own usage, these columns, and a total row.
#[test]
fn run_help_describes_the_usage_table_it_prints() {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "canopy-cli", "-p", "canopy-sql"])
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let profile = common::example_binary("quickstart")
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned();
    let canopy = profile.join("canopy");
    let help = std::process::Command::new(&canopy)
        .args(["run", "--help"])
        .output()
        .expect("canopy runs");
    let help = String::from_utf8_lossy(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let run = std::process::Command::new(&canopy)
        .args([
            "run",
            "examples/trees/analyst.toml",
            "Which customers spent the most?",
        ])
        .current_dir(root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("canopy runs");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let header: Vec<&str> = out
        .lines()
        .find(|line| line.starts_with("agent "))
        .unwrap_or_else(|| panic!("no usage table in:\n{out}"))
        .split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "agent",
            "model calls",
            "tool calls",
            "input tokens",
            "output tokens",
            "cost (USD)"
        ]
    );
    assert!(out.lines().any(|line| line.starts_with("total ")), "{out}");
    for phrase in [
        "one row per agent with what it used itself",
        "model calls, tool calls, input and output tokens, cost in USD",
        "a total row for the whole run",
    ] {
        assert!(
            help.contains(phrase),
            "`canopy run --help` does not say {phrase:?}:\n{help}"
        );
    }
    assert!(!help.contains("each including its descendants"), "{help}");
}
