//! `canopy serve --http --auth-token-file`: only callers with one of the file's bearer tokens
//! reach the tree (rmcp's client with the token lists and calls; no token, a wrong one, or
//! another scheme get 401 with a `WWW-Authenticate: Bearer` challenge), and a bad token file
//! is refused before any child starts.

mod common;

use common::{
    canopy, demo_with, leaf_server, post_initialize, search_with_token, serve_announced, tree,
};
use rmcp::{
    service::{ClientLifecycleMode, ClientServiceExt},
    transport::StreamableHttpClientTransport,
};

const TOKEN: &str = "canopy-test-token-0123456789";

/// `canopy serve demo.toml --http 127.0.0.1:0 --auth-token-file FILE`, and its URL.
async fn serve_with_tokens(file: &std::path::Path) -> (tokio::process::Child, String) {
    let demo = tree("demo.toml");
    let args = [demo.as_os_str(), "--http".as_ref(), "127.0.0.1:0".as_ref()];
    serve_announced(
        args.into_iter()
            .chain(["--auth-token-file".as_ref(), file.as_os_str()]),
        &[],
    )
    .await
}

fn token_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("tokens.txt");
    std::fs::write(
        &path,
        format!("# who may call\nsomeone-else-0123456789\n\n{TOKEN}\n"),
    )
    .expect("writes");
    path
}

/// One raw `initialize` POST with an optional `Authorization` header: the status, the
/// `WWW-Authenticate` header and the body.
async fn post(url: &str, authorization: Option<&str>) -> (u16, Option<String>, String) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    let response = post_initialize(url, &headers).await;
    let challenge = response.header("www-authenticate").map(str::to_owned);
    (response.status, challenge, response.body)
}

#[tokio::test]
async fn only_callers_with_a_token_reach_the_tree() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (_server, url) = serve_with_tokens(&token_file(&dir)).await;

    let (status, challenge, body) = post(&url, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="canopy""#));
    assert!(body.contains("needs a bearer token"), "{body}");

    for wrong in [
        "Bearer canopy-test-token-012345678",
        "Bearer canopy-test-token-0123456789x",
        "Basic Y2Fub3B5OnRlc3Q=",
    ] {
        let (status, challenge, body) = post(&url, Some(wrong)).await;
        assert_eq!(status, 401, "{wrong}: {body}");
        let challenge = challenge.expect("a challenge");
        assert!(
            challenge.starts_with("Bearer realm=\"canopy\""),
            "{challenge}"
        );
        if wrong.starts_with("Bearer") {
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
        }
    }

    let (status, _, _) = post(&url, Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "the scheme is case-insensitive");

    // rmcp's client with the token lists and calls, at both revision families.
    search_with_token(&url, TOKEN).await;

    // Without the token, rmcp's client cannot even initialize.
    let refused = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.as_str()),
            ClientLifecycleMode::Initialize,
        )
        .await;
    assert!(refused.is_err(), "a client without a token was let in");
}

#[test]
fn a_bad_token_file_is_a_usage_error_before_anything_starts() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "# ops\nabc\n").expect("writes");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nobody yet\n").expect("writes");
    let missing = dir.path().join("missing.txt");
    for (file, expected) in [
        (
            &short,
            format!(
                "{}:2: a token must have at least 16 characters (this one has 3)",
                short.display()
            ),
        ),
        (
            &empty,
            format!("{}: no token (one token a line", empty.display()),
        ),
        (
            &missing,
            format!("cannot read the token file {}", missing.display()),
        ),
    ] {
        let output = canopy(&["serve", &tree("demo.toml").display().to_string()])
            .args(["--http", "127.0.0.1:0", "--auth-token-file"])
            .arg(file)
            // A tree whose children would fail: the file must be refused first.
            .env("LEAF_SERVER", "/nonexistent/leaf")
            .output()
            .expect("canopy runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("canopy: --auth-token-file: {expected}")),
            "{stderr}"
        );
        assert!(!stderr.contains("TOKEN"), "{stderr}");
    }
}

#[test]
fn the_token_file_needs_http() {
    // A good token file: the only mistake is the missing --http.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = token_file(&dir);
    let output = canopy(&["serve", &tree("demo.toml").display().to_string()])
        .arg("--auth-token-file")
        .arg(&file)
        .env("LEAF_SERVER", leaf_server())
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--http"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A tree file's `[serve]` and `[serve.auth]`: `canopy serve TREE` alone serves HTTP at the
/// file's address with the file's tokens (relative to the file); `--no-auth` drops them on
/// loopback; `--stdio` would serve stdio instead.
#[tokio::test]
async fn the_tree_files_serve_table_configures_http_and_tokens() {
    let dir = tempfile::tempdir().expect("a temp dir");
    token_file(&dir);
    let file = demo_with(
        dir.path(),
        "served.toml",
        "[serve]\nhttp = \"127.0.0.1:0\"\n[serve.auth]\ntoken_file = \"tokens.txt\"",
    );
    let start = |extra: &'static [&'static str]| {
        let args = [file.as_os_str()];
        serve_announced(
            args.into_iter().chain(extra.iter().map(|a| a.as_ref())),
            &[],
        )
    };
    let (_server, url) = start(&[]).await;
    let (status, _, body) = post(&url, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = post(&url, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{body}");

    let (_open, url) = start(&["--no-auth"]).await;
    let (status, _, body) = post(&url, None).await;
    assert_eq!(status, 200, "--no-auth on loopback: {body}");

    // Off loopback, the file's tokens satisfy the authentication rule; --no-auth does not.
    let output = canopy(&["serve"])
        .arg(&file)
        .args(["--http", "0.0.0.0:0", "--no-auth", "--allow-remote"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--no-auth is only for loopback"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `--auth-token-env NAME`, and `token_env` in a tree file's `[serve.auth]`: the tokens of an
/// environment variable (separated by commas or spaces); an unset variable is bad usage that
/// names it.
#[tokio::test]
async fn tokens_from_an_environment_variable() {
    const VAR: &str = "CANOPY_TEST_SERVE_TOKENS";
    let tokens = format!("someone-else-0123456789, {TOKEN}");
    let envs = [(VAR, tokens.as_str())];
    let demo = tree("demo.toml");
    let (_flag, url) = serve_announced(
        [
            demo.as_os_str(),
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--auth-token-env".as_ref(),
            VAR.as_ref(),
        ],
        &envs,
    )
    .await;
    let (status, _, body) = post(&url, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = post(&url, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{body}");

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = demo_with(
        dir.path(),
        "served.toml",
        &format!("[serve]\nhttp = \"127.0.0.1:0\"\n[serve.auth]\ntoken_env = \"{VAR}\""),
    );
    let (_file, url) = serve_announced([file.as_os_str()], &envs).await;
    let (status, _, body) = post(&url, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = post(&url, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{body}");

    let output = canopy(&["serve", &demo.display().to_string()])
        .args(["--http", "127.0.0.1:0", "--auth-token-env", VAR])
        .env_remove(VAR)
        .env("LEAF_SERVER", "/nonexistent/leaf")
        .output()
        .expect("canopy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "canopy: --auth-token-env: the environment variable {VAR} is not set"
        )),
        "{stderr}"
    );
}
