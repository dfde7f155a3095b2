//! `canopy serve --http` with its limits: the `--max-*` / `--*-timeout` flags and a tree
//! file's `[serve.limits]` (flags win), each refusal a clear status, and bad values usage
//! errors before anything starts.

mod common;

use common::{INITIALIZE, canopy, demo_with, http, leaf_server, serve_announced, tree};

/// `canopy serve FILE ARGS…` with the demo leaf, and its URL.
async fn serve(file: &std::path::Path, args: &[&str]) -> (tokio::process::Child, String) {
    let file = [file.as_os_str()];
    serve_announced(file.into_iter().chain(args.iter().map(|a| a.as_ref())), &[]).await
}

const JSON: [(&str, &str); 2] = [
    ("Content-Type", "application/json"),
    ("Accept", "application/json, text/event-stream"),
];

/// A ping nested `depth` levels deep (the message itself is the first level).
fn nested(depth: usize) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"a":{}1{}}}}}"#,
        "[".repeat(depth - 2),
        "]".repeat(depth - 2)
    )
}

#[tokio::test]
async fn the_flags_and_the_files_limits_apply_and_flags_win() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = demo_with(
        dir.path(),
        "limited.toml",
        "[serve]\nhttp = \"127.0.0.1:0\"\n[serve.limits]\nmax_json_depth = 6\nmax_body_bytes = 4096",
    );

    // The file's limits.
    let (_server, url) = serve(&file, &[]).await;
    let response = http("POST", &url, &JSON, &nested(8)).await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert!(
        response
            .body
            .contains("the message nests 8 levels deep; the limit is 6"),
        "{}",
        response.body
    );
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(5000)
    );
    let response = http("POST", &url, &JSON, &big).await;
    assert_eq!(response.status, 413, "{}", response.body);
    assert!(response.body.contains("4096 bytes"), "{}", response.body);
    let response = http("POST", &url, &JSON, INITIALIZE).await;
    assert_eq!(response.status, 200, "{}", response.body);

    // A flag over the file's value; the file's other limits stay.
    let (_server, url) = serve(&file, &["--max-json-depth", "16"]).await;
    let response = http("POST", &url, &JSON, &nested(8)).await;
    // Past the limits, rmcp answers (a ping outside a session).
    assert!(
        response.body.contains("Session ID is required"),
        "{}",
        response.body
    );
    let response = http("POST", &url, &JSON, &big).await;
    assert_eq!(response.status, 413, "{}", response.body);

    // Sessions per client, from a flag.
    let (_server, url) = serve(&file, &["--max-sessions-per-client", "1"]).await;
    let first = http("POST", &url, &JSON, INITIALIZE).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = http("POST", &url, &JSON, INITIALIZE).await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert!(second.header("retry-after").is_some(), "{second:?}");
    assert!(
        second.body.contains("this client has 1 sessions open"),
        "{}",
        second.body
    );
}

#[test]
fn bad_limits_are_usage_errors_before_anything_starts() {
    let demo = tree("demo.toml").display().to_string();
    for (args, expected) in [
        (
            vec!["--http", "127.0.0.1:0", "--max-sessions", "0"],
            "'0' is not a positive integer",
        ),
        (
            vec!["--http", "127.0.0.1:0", "--max-body-bytes", "lots"],
            "'lots' is not a positive integer",
        ),
        (
            vec!["--http", "127.0.0.1:0", "--header-timeout", "0"],
            "not a positive number of seconds",
        ),
        (vec!["--max-concurrent", "8"], "add --http ADDR"),
    ] {
        let output = canopy(&["serve", &demo])
            .args(&args)
            .env("LEAF_SERVER", leaf_server())
            .output()
            .expect("canopy runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    // A bad [serve.limits] value names its key and line.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "name = \"hub\"\n[serve]\nhttp = \"127.0.0.1:0\"\n[serve.limits]\nmax_sessions = 0\n",
    )
    .expect("writes");
    let output = canopy(&["serve"]).arg(&file).output().expect("canopy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("serve.limits.max_sessions") && stderr.contains("a positive integer"),
        "{stderr}"
    );
}
