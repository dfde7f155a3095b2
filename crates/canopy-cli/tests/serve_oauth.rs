//! `canopy serve --http --auth-issuer --auth-audience --auth-scope`: the served tree as an
//! OAuth 2.1 resource server, against a real authorization server on loopback
//! (`oidc-provider` from npm, installed by scripts/setup/oauth.sh and configured by
//! tests/oauth/authorization_server.mjs to issue JWT access tokens bound to an audience).

mod common;

use std::time::Duration;

use common::{
    authorization::{AuthorizationServer, free_port, sign_in},
    canopy_binary, client_with_token, http, leaf_server, post_initialize, search_with_token,
    serve_announced, tool_names, tree,
};

const OTHER_RESOURCE: &str = "http://other.example/mcp";
/// `{"alg":"none","kid":"key-1"}` and `{"alg":"HS256",…}` over claims that would pass.
const ALG_NONE: &str =
    "eyJhbGciOiJub25lIiwia2lkIjoia2V5LTEifQ.eyJpc3MiOiJ4IiwiYXVkIjoieSIsImV4cCI6OTk5OTk5OTk5OX0.";
const ALG_HS256: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJpc3MiOiJ4IiwiYXVkIjoieSIsImV4cCI6OTk5OTk5OTk5OX0.c2ln";

/// `canopy serve demo.toml` on `port` as a resource server of `issuer` with `flags`, and its
/// URL.
async fn serve(port: u16, issuer: &str, flags: &[&str]) -> (tokio::process::Child, String) {
    let demo = tree("demo.toml").display().to_string();
    let (http, audience) = (
        format!("127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/mcp"),
    );
    let args = [
        demo.as_str(),
        "--http",
        &http,
        "--auth-issuer",
        issuer,
        "--auth-audience",
        &audience,
    ];
    serve_announced(args.iter().chain(flags), &[]).await
}

/// An `initialize` POST with `token`: its status and its challenge.
async fn initialize_with(url: &str, token: &str) -> (u16, String, String) {
    let authorization = format!("Bearer {token}");
    let response = post_initialize(url, &[("Authorization", &authorization)]).await;
    let challenge = response
        .header("www-authenticate")
        .unwrap_or_default()
        .to_owned();
    (response.status, challenge, response.body)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test]
async fn the_served_tree_is_an_oauth_resource_server() {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource, OTHER_RESOURCE]).await;
    let (_server, url) = serve(port, &auth.issuer, &["--auth-scope", "notes:write"]).await;
    assert_eq!(url, resource);
    let started = std::time::Instant::now();
    let post = |authorization: Option<String>| {
        let url = url.clone();
        async move {
            let headers: Vec<(&str, &str)> = authorization
                .as_deref()
                .map(|value| ("Authorization", value))
                .into_iter()
                .collect();
            post_initialize(&url, &headers).await
        }
    };

    // The metadata, at the path-inserted and the root well-known URIs.
    let metadata_url = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
    for uri in [
        metadata_url.clone(),
        format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource"),
    ] {
        let response = http("GET", &uri, &[], "").await;
        assert_eq!(response.status, 200, "{uri}: {}", response.body);
        let metadata: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
        assert_eq!(metadata["resource"], resource.as_str());
        assert_eq!(metadata["authorization_servers"][0], auth.issuer.as_str());
        assert_eq!(
            metadata["scopes_supported"],
            serde_json::json!(["notes:write"])
        );
    }

    // No token: 401 naming the metadata and the scope.
    let response = post(None).await;
    assert_eq!(response.status, 401, "{}", response.body);
    let challenge = response.header("www-authenticate").expect("a challenge");
    assert_eq!(
        challenge,
        format!(r#"Bearer resource_metadata="{metadata_url}", scope="notes:write""#)
    );

    // Tokens that must not pass: 401 invalid_token, saying why.
    let other = auth.token(OTHER_RESOURCE, "notes:write").await;
    for (token, why) in [
        ("garbage".to_owned(), "not a JWT"),
        (ALG_NONE.to_owned(), "not a JWT with an accepted algorithm"),
        (ALG_HS256.to_owned(), "algorithm is not accepted"),
        (other, "for another resource"),
    ] {
        let response = post(Some(format!("Bearer {token}"))).await;
        assert_eq!(response.status, 401, "{why}: {}", response.body);
        let challenge = response.header("www-authenticate").expect("a challenge");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(challenge.contains(why), "{why}: {challenge}");
        assert!(response.body.contains(why), "{why}: {}", response.body);
    }

    // A valid token without the scope: 403 insufficient_scope (step-up), then with it: 200.
    let reader = auth.token(&resource, "db:read").await;
    let response = post(Some(format!("Bearer {reader}"))).await;
    assert_eq!(response.status, 403, "{}", response.body);
    let challenge = response.header("www-authenticate").expect("a challenge");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="notes:write""#), "{challenge}");
    let writer = auth.token(&resource, "notes:write").await;
    let response = post(Some(format!("Bearer {writer}"))).await;
    assert_eq!(response.status, 200, "{}", response.body);

    // rmcp's client with the token lists and calls, at both revision families.
    search_with_token(&url, &writer).await;

    // The authorization server rotates its key: a token under the new kid passes once the
    // keys are refetched (at most once per 10 s, counted from the last fetch at start).
    let rotation = http("POST", &format!("{}/rotate", auth.issuer), &[], "").await;
    assert_eq!(rotation.status, 204);
    let rotated = auth.token(&resource, "notes:write").await;
    if let Some(wait) = Duration::from_secs(11).checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let response = post(Some(format!("Bearer {rotated}"))).await;
    assert_eq!(
        response.status, 200,
        "a token of the rotated key: {}",
        response.body
    );
}

#[test]
fn an_unreachable_issuer_fails_before_the_tree_starts() {
    let port = free_port();
    let output = std::process::Command::new(canopy_binary())
        .arg("serve")
        .arg(tree("demo.toml"))
        .args(["--http", "127.0.0.1:0"])
        .args(["--auth-issuer", &format!("http://127.0.0.1:{port}")])
        .args(["--auth-audience", "http://127.0.0.1:3000/mcp"])
        .env("LEAF_SERVER", "/nonexistent/leaf")
        .output()
        .expect("canopy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "canopy: --auth-issuer: cannot discover the authorization server http://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

/// Tokens out of their time, or signed by the authorization server's key but naming another
/// issuer: the AS signs with a P-256 key the test generated and handed it in a file
/// (`SIGNING_KEY_FILE`), so the test can sign what oidc-provider never issues (a future
/// `nbf`, another `iss`) with the very key the JWKS publishes. Its access tokens live 2 s
/// (`ACCESS_TOKEN_TTL`); the server's leeway is 1 s (`--auth-leeway`).
#[tokio::test]
async fn expired_not_yet_valid_and_foreign_tokens_are_refused() {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .expect("a P-256 key");
    let dir = tempfile::tempdir().expect("a temp dir");
    let key_file = dir.path().join("signing-key.der");
    std::fs::write(&key_file, pkcs8.as_ref()).expect("the key file");
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start_with(
        &[&resource],
        &[
            ("ACCESS_TOKEN_TTL", "2"),
            ("SIGNING_KEY_FILE", key_file.to_str().expect("UTF-8")),
        ],
    )
    .await;
    let (_server, url) = serve(port, &auth.issuer, &["--auth-leeway", "1"]).await;

    // A token of the AS: valid, then (cached or not) refused once exp + leeway has passed.
    let token = auth.token(&resource, "notes:write").await;
    let issued = std::time::Instant::now();
    let (status, _, body) = initialize_with(&url, &token).await;
    assert_eq!(status, 200, "a fresh token: {body}");
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(issued.elapsed())).await;
    let (status, challenge, body) = initialize_with(&url, &token).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("the token has expired"), "{challenge}");

    // Tokens signed with the AS's own key (kid `key-file`) that it would never issue.
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("key-file".into());
    let sign =
        |claims: serde_json::Value| jsonwebtoken::encode(&header, &claims, &key).expect("signed");
    let now = unix_now();
    let good = serde_json::json!({
        "iss": auth.issuer, "aud": resource, "sub": "test", "client_id": "ci",
        "scope": "notes:write", "iat": now, "exp": now + 600,
    });
    // The control: this minting is accepted as it is.
    let (status, _, body) = initialize_with(&url, &sign(good.clone())).await;
    assert_eq!(status, 200, "a token signed with the AS's key: {body}");
    let mut future = good.clone();
    future["nbf"] = (now + 300).into();
    let mut foreign = good.clone();
    foreign["iss"] = "http://127.0.0.1:1/another-issuer".into();
    for (claims, why) in [
        (future, "the token is not valid yet"),
        (foreign, "the token is from another issuer"),
    ] {
        let (status, challenge, body) = initialize_with(&url, &sign(claims)).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert!(challenge.contains(why), "{why}: {challenge}");
        assert!(body.contains(why), "{why}: {body}");
    }
}

/// Opaque access tokens, checked at the AS's introspection endpoint as the client `rs`
/// (`--auth-client-id rs --auth-client-secret-file`): one for this resource passes (and is
/// cached), a revoked one is refused (at once when never seen; once the cache's second is
/// over when seen before), one for another resource is refused; JWTs still pass.
#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let jwt_resource = "http://jwt.example/mcp";
    let auth = AuthorizationServer::start_with(
        &[jwt_resource],
        &[("OPAQUE_RESOURCES", &format!("{resource},{OTHER_RESOURCE}"))],
    )
    .await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let secret = dir.path().join("rs-secret");
    std::fs::write(&secret, "rs-secret-0123456789\n").expect("the secret file");
    let secret = secret.to_str().expect("UTF-8");
    let (_server, url) = serve(
        port,
        &auth.issuer,
        &[
            "--auth-scope",
            "notes:write",
            "--auth-client-id",
            "rs",
            "--auth-client-secret-file",
            secret,
            "--auth-cache-secs",
            "1",
        ],
    )
    .await;

    let token = auth.token(&resource, "notes:write").await;
    assert_eq!(token.matches('.').count(), 0, "an opaque token: {token}");
    let (status, _, body) = initialize_with(&url, &token).await;
    assert_eq!(status, 200, "an opaque token for this resource: {body}");
    search_with_token(&url, &token).await;

    // Without the scope: 403, as for a JWT.
    let reader = auth.token(&resource, "db:read").await;
    let (status, challenge, body) = initialize_with(&url, &reader).await;
    assert_eq!(status, 403, "{body}");
    assert!(challenge.contains("insufficient_scope"), "{challenge}");

    // Revoked before its first use: refused at once.
    let revoked = auth.token(&resource, "notes:write").await;
    auth.revoke(&revoked).await;
    let (status, challenge, body) = initialize_with(&url, &revoked).await;
    assert_eq!(status, 401, "a revoked token: {body}");
    assert!(challenge.contains("the token is not active"), "{challenge}");

    // Revoked after it was used: refused once the cache has forgotten it (1 s here).
    auth.revoke(&token).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, challenge, body) = initialize_with(&url, &token).await;
    assert_eq!(status, 401, "a revoked token, seen before: {body}");
    assert!(challenge.contains("the token is not active"), "{challenge}");

    // For another resource: refused.
    let other = auth.token(OTHER_RESOURCE, "notes:write").await;
    let (status, challenge, body) = initialize_with(&url, &other).await;
    assert_eq!(status, 401, "an opaque token for another resource: {body}");
    assert!(challenge.contains("for another resource"), "{challenge}");

    // Garbage that is no JWT goes to introspection too, and is refused.
    let (status, challenge, _) = initialize_with(&url, "garbage").await;
    assert_eq!(status, 401);
    assert!(challenge.contains("the token is not active"), "{challenge}");
}

/// Load: 10,000 authenticated `tools/call` through the served tree, 200 at a time, with one
/// JWT of the AS (validated once, then found in the cache): every call answered, each with
/// its own arguments echoed back (`research__web__search` answers `no results for 'QUERY'`
/// for a query no page matches), within 120 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_authenticated_calls_lose_and_mix_up_nothing() {
    use rmcp::{model::CallToolRequestParams, service::ClientLifecycleMode};
    const CALLS: usize = 10_000;
    const CONCURRENT: usize = 200;
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource]).await;
    // One client, 200 calls at a time: more than the default per-client limit (128), so the
    // server is configured for this load.
    let (_server, url) = serve(
        port,
        &auth.issuer,
        &[
            "--auth-scope",
            "notes:write",
            "--max-concurrent-per-client",
            "256",
        ],
    )
    .await;
    let token = auth.token(&resource, "notes:write").await;
    let client = client_with_token(&url, &token, ClientLifecycleMode::Initialize).await;
    let started = std::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENT {
        let peer = client.peer().clone();
        workers.spawn(async move {
            let mut answered = 0;
            for call in (worker..CALLS).step_by(CONCURRENT) {
                // A query no page matches: the answer names it.
                let query = format!("zq{call}xj");
                let mut params = CallToolRequestParams::new("research__web__search");
                params.arguments = serde_json::json!({ "query": query }).as_object().cloned();
                let result = peer
                    .call_tool(params)
                    .await
                    .unwrap_or_else(|error| panic!("call {call}: {error}"));
                let text = result.content[0].as_text().map(|t| t.text.clone());
                assert_eq!(
                    text.as_deref(),
                    Some(format!("no results for '{query}'").as_str()),
                    "call {call} got another call's answer"
                );
                answered += 1;
            }
            answered
        });
    }
    let answered = tokio::time::timeout(Duration::from_secs(120), async {
        let mut answered = 0;
        while let Some(worker) = workers.join_next().await {
            answered += worker.expect("a worker finishes");
        }
        answered
    })
    .await
    .expect("10,000 calls within 120 s");
    assert_eq!(answered, CALLS);
    eprintln!(
        "{CALLS} authenticated calls, {CONCURRENT} at a time, in {:?}",
        started.elapsed()
    );
    client.cancel().await.expect("close");
}

/// The official Python SDK's OAuth client (`OAuthClientProvider`) runs the whole
/// authorization-code + PKCE flow against the served tree and the authorization server: the
/// 401 challenge, Protected Resource Metadata, AS discovery, dynamic client registration, the
/// authorization request (S256, `resource`), a headless sign-in and consent, the token
/// exchange; then lists and calls with the JWT it got, whose subject is the login.
#[tokio::test]
async fn the_python_sdks_oauth_client_signs_in_with_pkce_and_calls() {
    let python = std::env::var("CANOPY_PYTHON")
        .unwrap_or_else(|_| panic!("CANOPY_PYTHON is not set: run the tests with scripts/test.sh"));
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource]).await;
    let (_server, url) = serve(
        port,
        &auth.issuer,
        &["--auth-scope", "notes:write", "--audit"],
    )
    .await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth/python_pkce_client.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg(script)
            .args([url.as_str(), "alice"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client finishes")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ok registered "), "{stdout}");
    assert_eq!(lines[1], "ok pkce_and_resource", "{stdout}");
    // A JWT for this server (RFC 8707), for the login that signed in, with the scope the
    // server's challenge named.
    assert!(
        lines[2].starts_with(&format!("ok token sub=alice aud={resource} scope="))
            && lines[2].contains("notes:write"),
        "{stdout}"
    );
    assert_eq!(&lines[3..], ["ok list_tools", "ok call_tool"], "{stdout}");
}

/// rmcp's OAuth client (`OAuthState`, `AuthClient`) runs the same flow: the challenge of an
/// unauthenticated `initialize`, discovery from it, dynamic client registration, the
/// authorization URL (S256, `resource`), the headless sign-in, the callback (state and RFC
/// 9207 `iss` checked), the token exchange; then rmcp's Streamable HTTP client calls with
/// the token it keeps.
#[tokio::test]
async fn rmcps_oauth_client_signs_in_with_pkce_and_calls() {
    use base64::Engine as _;
    use rmcp::{
        ServiceExt,
        model::CallToolRequestParams,
        transport::{
            AuthClient, AuthorizationRequest, StreamableHttpClientTransport, auth::OAuthState,
            streamable_http_client::StreamableHttpClientTransportConfig,
        },
    };
    const REDIRECT: &str = "http://127.0.0.1:9/callback";
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource]).await;
    let (_server, url) = serve(port, &auth.issuer, &["--auth-scope", "notes:write"]).await;

    let challenge = post_initialize(&url, &[]).await;
    assert_eq!(challenge.status, 401, "{}", challenge.body);
    let challenge = challenge
        .header("www-authenticate")
        .expect("a challenge")
        .to_owned();
    let mut state = OAuthState::new(url.as_str(), None)
        .await
        .expect("an OAuth state for the server");
    state
        .start_authorization(
            AuthorizationRequest::new(REDIRECT)
                .with_client_name("canopy rmcp pkce test")
                .with_challenge(challenge),
        )
        .await
        .expect("discovery and registration");
    let authorization_url = state.get_authorization_url().await.expect("a URL");
    assert!(
        authorization_url.contains("code_challenge_method=S256"),
        "{authorization_url}"
    );
    assert!(
        authorization_url.contains("resource="),
        "{authorization_url}"
    );
    let callback = sign_in(&authorization_url, "bob", REDIRECT).await;
    state
        .handle_callback_url(&callback)
        .await
        .expect("the code is exchanged for a token");
    let manager = state.into_authorization_manager().expect("authorized");
    let token = manager.get_access_token().await.expect("a token");
    let claims = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .expect("base64url"),
    )
    .expect("JSON claims");
    assert_eq!(claims["sub"], "bob", "{claims}");
    assert_eq!(claims["aud"], resource.as_str(), "{claims}");
    assert!(
        claims["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|s| s == "notes:write")),
        "{claims}"
    );

    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest::Client::default(), manager),
        StreamableHttpClientTransportConfig::with_uri(url.as_str()),
    );
    let client = ().serve(transport).await.expect("rmcp connects with the token");
    let names = tool_names(&client).await;
    assert!(
        names.contains(&"research__web__search".to_owned()),
        "{names:?}"
    );
    let mut params = CallToolRequestParams::new("research__web__search");
    params.arguments = serde_json::json!({ "query": "rust" }).as_object().cloned();
    let result = client.call_tool(params).await.expect("tools/call");
    assert_eq!(
        result.content[0].as_text().map(|t| t.text.as_str()),
        Some("https://example.org/rust")
    );
    client.cancel().await.expect("close");
}

/// `--auth-introspect-all`: JWTs go to the introspection endpoint too, never verified here.
/// oidc-provider does not introspect its structured JWTs (RFC 7662 lets it refuse), so a JWT
/// that local verification accepts (as the other tests show) is refused, fail-closed, with
/// the authorization server's reason; an opaque token still passes.
#[tokio::test]
async fn introspect_all_sends_jwts_to_the_authorization_server() {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start_with(&[], &[("OPAQUE_RESOURCES", &resource)]).await;
    let jwt_port = free_port();
    let jwt_resource = format!("http://127.0.0.1:{jwt_port}/mcp");
    let jwt_auth = AuthorizationServer::start(&[&jwt_resource]).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let secret = dir.path().join("rs-secret");
    std::fs::write(&secret, "rs-secret-0123456789\n").expect("the secret file");
    let secret = secret.to_str().expect("UTF-8");
    let flags = [
        "--auth-scope",
        "notes:write",
        "--auth-client-id",
        "rs",
        "--auth-client-secret-file",
        secret,
        "--auth-introspect-all",
    ];
    let (_server, url) = serve(port, &auth.issuer, &flags).await;
    let opaque = auth.token(&resource, "notes:write").await;
    let (status, _, body) = initialize_with(&url, &opaque).await;
    assert_eq!(status, 200, "an opaque token, introspected: {body}");

    // A JWT of an AS whose introspection refuses JWTs: refused with its reason.
    let (_jwt_server, jwt_url) = serve(jwt_port, &jwt_auth.issuer, &flags).await;
    let jwt = jwt_auth.token(&jwt_resource, "notes:write").await;
    assert_eq!(jwt.matches('.').count(), 2, "a JWT: {jwt}");
    let (status, challenge, body) = initialize_with(&jwt_url, &jwt).await;
    assert_eq!(status, 401, "a JWT under --auth-introspect-all: {body}");
    assert!(
        challenge.contains("introspection answered 400 Bad Request unsupported_token_type"),
        "{challenge}"
    );
}

/// A secret file that cannot be read, or holds no secret, is bad usage: exit 2 naming the
/// file, before the issuer is contacted or any child starts.
#[test]
fn a_bad_introspection_secret_file_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").expect("writes");
    let missing = dir.path().join("missing");
    for (file, expected) in [(&missing, "cannot read"), (&empty, "holds no secret")] {
        let output = std::process::Command::new(canopy_binary())
            .arg("serve")
            .arg(tree("demo.toml"))
            .args(["--http", "127.0.0.1:0"])
            .args(["--auth-issuer", "http://127.0.0.1:9"])
            .args(["--auth-audience", "http://127.0.0.1:0/mcp"])
            .args(["--auth-client-id", "rs", "--auth-client-secret-file"])
            .arg(file)
            .env("LEAF_SERVER", leaf_server())
            .output()
            .expect("canopy runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--auth-client-secret-file") && stderr.contains(expected),
            "{stderr}"
        );
        assert!(
            stderr.contains(&file.display().to_string()),
            "names the file: {stderr}"
        );
    }
}

/// `--require-scope GLOB=SCOPE`: the root's `require_scopes` rule from the command line; a
/// token without the scope neither sees nor calls what the glob matches, one with it does.
#[tokio::test]
async fn require_scope_flags_hide_and_refuse_by_scope() {
    use rmcp::{model::CallToolRequestParams, service::ClientLifecycleMode};
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource]).await;
    let (_server, url) = serve(
        port,
        &auth.issuer,
        &["--require-scope", "research/**=db:read"],
    )
    .await;
    let tools_with = |scope: &'static str| {
        let (auth, resource, url) = (&auth, &resource, &url);
        async move {
            let token = auth.token(resource, scope).await;
            let client = client_with_token(url, &token, ClientLifecycleMode::Initialize).await;
            let names = tool_names(&client).await;
            let mut params = CallToolRequestParams::new("research__web__search");
            params.arguments = serde_json::json!({ "query": "rust" }).as_object().cloned();
            let called = client.call_tool(params).await;
            client.cancel().await.expect("close");
            (names, called)
        }
    };
    let (names, called) = tools_with("notes:write").await;
    assert!(
        !names.iter().any(|n| n.starts_with("research__")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("notes__")), "{names:?}");
    let refused = called.expect_err("refused without db:read").to_string();
    assert!(refused.contains("db:read"), "{refused}");
    let (names, called) = tools_with("db:read").await;
    assert!(
        names.contains(&"research__web__search".to_owned()),
        "{names:?}"
    );
    called.expect("called with db:read");
}
