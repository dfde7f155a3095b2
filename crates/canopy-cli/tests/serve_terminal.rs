//! `canopy serve` at a terminal (a real pty, made by util-linux `script`): it says what it
//! waits for, and Ctrl-C ends it at once over stdio as over HTTP. Errors are printed once.

mod common;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use common::{canopy_binary, leaf_server, stderr};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::{Child, Command},
};

/// `canopy ARGS` on a new pty (stdin, stdout and stderr all the terminal), through `script`.
/// What the terminal shows comes out on the child's stdout; bytes written to its stdin are
/// typed at the terminal (`\x03` is Ctrl-C).
fn on_a_terminal(args: &[&str]) -> Child {
    let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
    // `script` runs the line with `$SHELL -c`. `exec` makes canopy the terminal's foreground
    // process itself: dash (the /bin/sh a CI machine may have as its shell) would otherwise
    // stay between, take the Ctrl-C too and exit with status 130 whatever canopy did.
    let mut line = format!("exec {}", quote(&canopy_binary().display().to_string()));
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            &line,
            "/dev/null",
        ])
        .env("SHELL", "/bin/sh")
        .env("LEAF_SERVER", leaf_server())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux `script` runs (it makes the pty)")
}

/// Reads the terminal until `marker` shows (a hang guard, not a measurement), returning all
/// that was read.
async fn read_until(child: &mut Child, seen: &mut String, marker: &str) {
    let stdout = child.stdout.as_mut().expect("stdout piped");
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        let mut buffer = [0u8; 4096];
        while !seen.contains(marker) {
            let n = stdout.read(&mut buffer).await.expect("pty readable");
            if n == 0 {
                return false;
            }
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        true
    })
    .await;
    assert!(
        found == Ok(true),
        "the terminal never showed {marker:?}; it showed:\n{seen}"
    );
}

/// Types Ctrl-C and returns how long the server took to exit, and its status.
async fn ctrl_c(child: &mut Child) -> (Duration, Option<i32>) {
    let stdin = child.stdin.as_mut().expect("stdin piped");
    stdin.write_all(b"\x03").await.expect("type Ctrl-C");
    stdin.flush().await.expect("flush");
    let typed = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("canopy exits after Ctrl-C")
        .expect("wait");
    (typed.elapsed(), status.code())
}

/// The tree with a stdio leaf, so that shutting down has a child to close.
fn demo() -> String {
    common::tree("demo.toml").display().to_string()
}

#[tokio::test]
async fn stdio_says_what_it_waits_for_and_ctrl_c_ends_it_at_once() {
    let tree = demo();
    let mut child = on_a_terminal(&["serve", &tree]);
    let mut seen = String::new();
    read_until(&mut child, &mut seen, "Ctrl-C").await;
    for expected in [
        "canopy: serving tree 'hub'",
        "over stdio: it speaks MCP (JSON-RPC) on stdin/stdout and is waiting for a client",
        &format!("For Claude Desktop: canopy config claude {tree} --write"),
        &format!("To try it by hand: canopy connect -- canopy serve {tree}"),
        "Ctrl-C (or closing stdin) stops it.",
    ] {
        assert!(seen.contains(expected), "no {expected:?} in:\n{seen}");
    }
    let (took, code) = ctrl_c(&mut child).await;
    assert_eq!(code, Some(0), "{seen}");
    // Before the fix the runtime waited 5 s for the blocked read of the terminal; the bound
    // is generous for a loaded machine and still far below that.
    assert!(
        took < Duration::from_millis(2500),
        "canopy serve (stdio) took {took:?} to exit after Ctrl-C"
    );
}

#[tokio::test]
async fn http_shows_its_url_and_ctrl_c_ends_it_at_once() {
    let tree = demo();
    let mut child = on_a_terminal(&["serve", &tree, "--http", "127.0.0.1:0"]);
    let mut seen = String::new();
    read_until(&mut child, &mut seen, "Ctrl-C stops the server.").await;
    let url_line = seen
        .lines()
        .find(|line| line.contains("canopy: serving tree 'hub' at http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL line in:\n{seen}"));
    let url = &url_line[url_line.find("http://").expect("a URL")..].trim();
    assert!(url.ends_with("/mcp"), "{url_line}");
    assert!(
        seen.contains(&format!("Try it: canopy connect {url}")),
        "{seen}"
    );
    let (took, code) = ctrl_c(&mut child).await;
    assert_eq!(code, Some(0), "{seen}");
    assert!(
        took < Duration::from_millis(2500),
        "canopy serve --http took {took:?} to exit after Ctrl-C"
    );
}

#[test]
fn no_banner_when_stderr_is_not_a_terminal() {
    // stdin closed at once: the server ends; stderr (a pipe) has no banner.
    let output = common::run(&["serve", &demo()]);
    let text = stderr(&output);
    assert!(!text.contains("waiting for a client"), "{text}");
    assert!(!text.contains("Claude Desktop"), "{text}");
}

#[tokio::test]
async fn a_failed_call_is_reported_once_on_a_terminal() {
    let solo = tempfile::tempdir().expect("temp dir");
    let tree = solo.path().join("solo.toml");
    std::fs::write(&tree, "name = \"solo\"\n").expect("write");
    let mut child = on_a_terminal(&["call", &tree.display().to_string(), "nope"]);
    let mut seen = String::new();
    child
        .stdout
        .as_mut()
        .expect("stdout")
        .read_to_string(&mut seen)
        .await
        .expect("read the terminal");
    let status = child.wait().await.expect("wait");
    assert_eq!(status.code(), Some(1), "{seen}");
    assert_eq!(
        seen.matches("unknown tool 'nope'").count(),
        1,
        "the error is printed more than once:\n{seen}"
    );
}

#[test]
fn a_failed_call_is_reported_once_without_a_terminal() {
    let solo = tempfile::tempdir().expect("temp dir");
    let tree = solo.path().join("solo.toml");
    std::fs::write(&tree, "name = \"solo\"\n").expect("write");
    let output = common::run(&["call", &tree.display().to_string(), "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).matches("unknown tool 'nope'").count(),
        1,
        "{}",
        stderr(&output)
    );
}
