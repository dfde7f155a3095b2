//! `canopy serve --http --auth-issuer --auth-audience --auth-scope`: the served tree as an
//! OAuth 2.1 resource server, against a real authorization server on loopback
//! (`oidc-provider` from npm, installed by scripts/setup/oauth.sh and configured by
//! tests/oauth/authorization_server.mjs to issue JWT access tokens bound to an audience).

mod common;

use std::{process::Stdio, time::Duration};

use common::{
    authorization::{AuthorizationServer, free_port},
    canopy_binary, http, leaf_server, post_initialize, search_with_token, tree, wait_for_url,
};

const OTHER_RESOURCE: &str = "http://other.example/mcp";
/// `{"alg":"none","kid":"key-1"}` and `{"alg":"HS256",…}` over claims that would pass.
const ALG_NONE: &str =
    "eyJhbGciOiJub25lIiwia2lkIjoia2V5LTEifQ.eyJpc3MiOiJ4IiwiYXVkIjoieSIsImV4cCI6OTk5OTk5OTk5OX0.";
const ALG_HS256: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtleS0xIiwidHlwIjoiSldUIn0.eyJpc3MiOiJ4IiwiYXVkIjoieSIsImV4cCI6OTk5OTk5OTk5OX0.c2ln";

#[tokio::test]
async fn the_served_tree_is_an_oauth_resource_server() {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource, OTHER_RESOURCE]).await;
    let mut server = tokio::process::Command::new(canopy_binary())
        .arg("serve")
        .arg(tree("demo.toml"))
        .args(["--http", &format!("127.0.0.1:{port}")])
        .args(["--auth-issuer", &auth.issuer, "--auth-audience", &resource])
        .args(["--auth-scope", "notes:write"])
        .env("LEAF_SERVER", leaf_server())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy starts");
    let url = wait_for_url(&mut server, "serving tree 'hub' at").await;
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
