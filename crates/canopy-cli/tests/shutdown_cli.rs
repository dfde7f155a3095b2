//! `canopy serve` stops cleanly on SIGTERM: it exits, and the child processes it started
//! are gone (no orphans left running).

mod common;

use std::{path::PathBuf, process::Stdio, time::Duration};

const TREE: &str = r#"
name = "hub"

[[children]]
name = "web"
command = "${PID_LEAF}"
args = ["web"]

[[children]]
name = "deep"

[[children.children]]
name = "lab"
command = "${PID_LEAF}"
args = ["lab"]
"#;

/// Whether process `pid` still runs (a zombie waiting for its new parent to reap it has
/// exited and does not count).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn serve_and_terminate(http: bool) {
    let dir = std::env::temp_dir().join(format!("canopy-shutdown-{}-{http}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tree = dir.join("tree.toml");
    std::fs::write(&tree, TREE).expect("tree");
    let pid_file = dir.join("pids");
    let _ = std::fs::remove_file(&pid_file);
    let pid_leaf =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bin/pid_then_leaf.sh");
    let mut command = tokio::process::Command::new(common::canopy_binary());
    command.arg("serve").arg(&tree);
    if http {
        command.args(["--http", "127.0.0.1:0"]);
    }
    let mut canopy = command
        .env("PID_LEAF", pid_leaf)
        .env("PID_FILE", &pid_file)
        .env("LEAF_SERVER", common::leaf_server())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy serve starts");
    // Both children start while the tree is built (eager), and write their PIDs.
    assert!(
        eventually(
            || std::fs::read_to_string(&pid_file).is_ok_and(|pids| pids.lines().count() == 2)
        )
        .await,
        "the children started"
    );
    let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
        .expect("pids")
        .lines()
        .map(|line| line.trim().parse().expect("a pid"))
        .collect();
    assert!(
        pids.iter().all(|pid| running(*pid)),
        "children run while canopy serves"
    );
    let mut open_stdin = None;
    if http {
        common::wait_for_url(&mut canopy, "http://").await;
    } else {
        // The tree is built and served once it answers `initialize`.
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#;
        let mut stdin = canopy.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{initialize}\n").as_bytes())
            .await
            .expect("write");
        stdin.flush().await.expect("flush");
        let mut lines = tokio::io::BufReader::new(canopy.stdout.take().expect("stdout")).lines();
        let answer = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("canopy answers initialize")
            .expect("read")
            .expect("a line");
        assert!(answer.contains("\"id\":1"), "{answer}");
        // Keep stdin open until the end (closing it would end the session before the signal).
        open_stdin = Some(stdin);
    }
    let canopy_pid = canopy.id().expect("a pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &canopy_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), canopy.wait())
        .await
        .expect("canopy exits on SIGTERM")
        .expect("wait");
    assert!(exit.success(), "canopy exits cleanly: {exit:?}");
    assert!(
        eventually(|| pids.iter().all(|pid| !running(*pid))).await,
        "children {pids:?} still run after canopy exited"
    );
    drop(open_stdin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_stops_stdio_serving_and_its_children() {
    serve_and_terminate(false).await;
}

#[tokio::test]
async fn sigterm_stops_http_serving_and_its_children() {
    serve_and_terminate(true).await;
}
