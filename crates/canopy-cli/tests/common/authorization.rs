//! The authorization server of the OAuth tests: `oidc-provider` from npm (installed by
//! scripts/setup/oauth.sh), configured by tests/oauth/authorization_server.mjs, on a free
//! loopback port; the child is killed when the value is dropped.

use std::{process::Stdio, time::Duration};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::http;

/// The authorization server, started on a free loopback port for `resources`.
pub struct AuthorizationServer {
    pub issuer: String,
    _child: tokio::process::Child,
}

impl AuthorizationServer {
    pub async fn start(resources: &[&str]) -> Self {
        Self::start_with(resources, &[]).await
    }

    /// With more of the script's settings (`OPAQUE_RESOURCES`, `ACCESS_TOKEN_TTL`,
    /// `SIGNING_KEY_FILE`).
    pub async fn start_with(resources: &[&str], settings: &[(&str, &str)]) -> Self {
        let node = std::env::var("CANOPY_NODE_BIN").unwrap_or_else(|_| {
            panic!("CANOPY_NODE_BIN is not set: run the tests with scripts/test.sh")
        });
        let provider = std::env::var("CANOPY_OIDC_PROVIDER").unwrap_or_else(|_| {
            panic!("CANOPY_OIDC_PROVIDER is not set: run the tests with scripts/test.sh")
        });
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/oauth/authorization_server.mjs");
        let mut child = tokio::process::Command::new(format!("{node}/node"))
            .arg(script)
            .env("CANOPY_OIDC_PROVIDER", provider)
            .env("RESOURCES", resources.join(","))
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts the authorization server");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("stderr") {
                if let Some(issuer) = line.strip_prefix("issuer ") {
                    return issuer.to_owned();
                }
            }
            panic!("the authorization server exited before listening")
        })
        .await
        .expect("the authorization server starts");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            issuer,
            _child: child,
        }
    }

    /// Revokes `token` (RFC 7009) as the client `ci` that got it.
    pub async fn revoke(&self, token: &str) {
        let response = http(
            "POST",
            &format!("{}/token/revocation", self.issuer),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", "Basic Y2k6Y2ktc2VjcmV0LTAxMjM0NTY3ODk="),
            ],
            &format!("token={token}&token_type_hint=access_token"),
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }

    /// A client-credentials access token for `resource` with `scope`.
    pub async fn token(&self, resource: &str, scope: &str) -> String {
        let body = format!(
            "grant_type=client_credentials&scope={}&resource={}",
            scope.replace(' ', "%20").replace(':', "%3A"),
            resource.replace(':', "%3A").replace('/', "%2F")
        );
        let response = http(
            "POST",
            &format!("{}/token", self.issuer),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                // ci:ci-secret-0123456789
                ("Authorization", "Basic Y2k6Y2ktc2VjcmV0LTAxMjM0NTY3ODk="),
            ],
            &body,
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body);
        let json: serde_json::Value = serde_json::from_str(&response.body).expect("JSON");
        json["access_token"].as_str().expect("a token").to_owned()
    }
}

/// The browser step of an authorization-code flow, headless: follows `authorization_url`
/// like a browser whose user signs in as `login` at the authorization server's own login
/// page and consents, and returns the URL the server redirects back to (`redirect_uri?code=…
/// &state=…&iss=…`), which is never fetched.
pub async fn sign_in(authorization_url: &str, login: &str, redirect_uri: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let mut response = browser
        .get(authorization_url)
        .send()
        .await
        .expect("the authorization endpoint answers");
    for _ in 0..20 {
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a redirect has a location");
            let next = response.url().join(location).expect("a URL");
            if next.as_str().starts_with(redirect_uri) {
                return next.to_string();
            }
            response = browser.get(next).send().await.expect("the page answers");
            continue;
        }
        let page_url = response.url().clone();
        let status = response.status();
        let page = response.text().await.expect("a page");
        assert_eq!(status, 200, "{page}");
        let marker = "name=\"prompt\" value=\"";
        let start = page
            .find(marker)
            .map(|i| i + marker.len())
            .unwrap_or_else(|| {
                panic!("a login or consent form: {page}");
            });
        let prompt = &page[start..start + page[start..].find('"').expect("a value")];
        let form = match prompt {
            "login" => format!("prompt=login&login={login}&password=any"),
            other => format!("prompt={other}"),
        };
        response = browser
            .post(page_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("the form is accepted");
    }
    panic!("the authorization server never redirected back to {redirect_uri}")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
