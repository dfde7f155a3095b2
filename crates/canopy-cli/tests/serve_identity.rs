//! The caller's identity in a served tree: `canopy serve --http --auth-issuer` against a real
//! authorization server (oidc-provider, tests/oauth/authorization_server.mjs). Policies that
//! test the token's scopes (`require_scopes`, `allow_scopes` in trees/identity.toml) decide
//! what each caller sees and may call; children get the caller's claims in
//! `_meta["io.canopy/caller"]` and never the token; `--audit` logs every decision with the
//! subject.

mod common;

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{
    authorization::{AuthorizationServer, free_port},
    canopy_binary, client_with_token, leaf_server, lifecycles, tool_names, tree, wait_for_url,
};
use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, RequestMetaObject},
    service::RunningService,
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Calls `name` with `arguments` (and `meta`, when given): the result's text, or the error.
async fn call(
    client: &RunningService<RoleClient, ()>,
    name: &str,
    arguments: serde_json::Value,
    meta: Option<serde_json::Value>,
) -> Result<(String, bool), String> {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    if let Some(meta) = meta {
        params.meta = Some(RequestMetaObject::from(
            meta.as_object().cloned().expect("an object"),
        ));
    }
    match client.call_tool(params).await {
        Ok(result) => {
            let text = result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join("\n");
            Ok((text, result.is_error == Some(true)))
        }
        Err(error) => Err(error.to_string()),
    }
}

/// What a witness saw of a call through the tree.
async fn witnessed(
    client: &RunningService<RoleClient, ()>,
    witness: &str,
    meta: Option<serde_json::Value>,
) -> serde_json::Value {
    let (text, failed) = call(client, witness, serde_json::json!({}), meta)
        .await
        .expect("the witness answers");
    assert!(!failed, "{text}");
    serde_json::from_str(&text).expect("the witness answers JSON")
}

#[tokio::test]
async fn scopes_decide_what_a_caller_sees_and_calls_and_children_see_claims_not_tokens() {
    // The HTTP witness: a child over Streamable HTTP that tells what its requests carried.
    let mut witness = tokio::process::Command::new(leaf_server())
        .args(["witness", "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the witness starts");
    let witness_url = wait_for_url(&mut witness, "serving on").await;

    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let auth = AuthorizationServer::start(&[&resource]).await;
    let mut server = tokio::process::Command::new(canopy_binary())
        .arg("serve")
        .arg(tree("identity.toml"))
        .args(["--http", &format!("127.0.0.1:{port}"), "--audit"])
        .args(["--auth-issuer", &auth.issuer, "--auth-audience", &resource])
        .env("LEAF_SERVER", leaf_server())
        .env("WITNESS_URL", &witness_url)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("canopy starts");
    // Every stderr line is kept: the audit trail is read at the end.
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (announced, announce) = tokio::sync::oneshot::channel();
    {
        let log = Arc::clone(&log);
        let mut lines = BufReader::new(server.stderr.take().expect("piped")).lines();
        tokio::spawn(async move {
            let mut announced = Some(announced);
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("serving tree 'hub' at")
                    && let Some(tx) = announced.take()
                {
                    let _ = tx.send(());
                }
                log.lock().expect("log").push(line);
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(120), announce)
        .await
        .expect("canopy announces its address")
        .expect("canopy serves");

    let writer = auth.token(&resource, "notes:write").await;
    let reader = auth.token(&resource, "db:read").await;

    for lifecycle in lifecycles() {
        // A caller with notes:write: the lab (require_scopes db:read) is hidden and refused;
        // write_note is not asked (allow_scopes), although this client cannot answer prompts.
        let as_writer = client_with_token(&resource, &writer, lifecycle.clone()).await;
        let names = tool_names(&as_writer).await;
        assert!(
            names.contains(&"notes__write_note".to_owned())
                && names.contains(&"remote__witness".to_owned())
                && !names.iter().any(|n| n.starts_with("lab__")),
            "{names:?}"
        );
        let (text, failed) = call(
            &as_writer,
            "notes__write_note",
            serde_json::json!({"text": "hi"}),
            None,
        )
        .await
        .expect("allowed by scope");
        assert!(!failed && text.ends_with(" notes"), "{text}");
        let refused = call(
            &as_writer,
            "lab__was_cancelled",
            serde_json::json!({}),
            None,
        )
        .await
        .expect_err("denied without db:read");
        assert!(
            refused.contains("require_scopes 'lab/*' = db:read"),
            "{refused}"
        );

        // Children see who calls, as claims; never the token, never a claim the client forged.
        let forged = serde_json::json!({
            "io.canopy/caller": { "sub": "admin", "scope": "db:read notes:write" }
        });
        for (witness, meta) in [
            ("remote__witness", None),
            ("local__witness", None),
            ("remote__witness", Some(forged.clone())),
            ("local__witness", Some(forged)),
        ] {
            let seen = witnessed(&as_writer, witness, meta).await;
            let claims = &seen["meta"]["io.canopy/caller"];
            assert_eq!(claims["scope"], "notes:write", "{witness}: {seen}");
            assert_eq!(claims["iss"], auth.issuer.as_str(), "{witness}: {seen}");
            assert_eq!(claims["client_id"], "ci", "{witness}: {seen}");
            assert_ne!(claims["sub"], "admin", "{witness}: {seen}");
            assert!(seen["authorization"].is_null(), "{witness}: {seen}");
            assert!(
                !seen.to_string().contains(&writer),
                "{witness} saw the caller's token: {seen}"
            );
        }
        as_writer.cancel().await.expect("close");

        // A caller with db:read: the lab is there; write_note needs the user's approval,
        // which this client cannot give.
        let as_reader = client_with_token(&resource, &reader, lifecycle.clone()).await;
        let names = tool_names(&as_reader).await;
        assert!(
            names.contains(&"lab__was_cancelled".to_owned()),
            "{names:?}"
        );
        let (text, failed) = call(
            &as_reader,
            "lab__was_cancelled",
            serde_json::json!({}),
            None,
        )
        .await
        .expect("allowed with db:read");
        assert!(!failed, "{text}");
        let (text, failed) = call(
            &as_reader,
            "notes__write_note",
            serde_json::json!({"text": "no"}),
            None,
        )
        .await
        .expect("a tool result");
        assert!(
            failed && text.contains("needs the user's approval"),
            "{text}"
        );
        as_reader.cancel().await.expect("close");
    }

    // The audit trail names the subject and the verdicts.
    let _ = server.start_kill();
    let _ = server.wait().await;
    let log = log.lock().expect("log").join("\n");
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("canopy::audit"))
        .collect();
    let has = |verdict: &str, capability: &str| {
        audit
            .iter()
            .any(|l| l.contains(verdict) && l.contains(capability) && l.contains("client_id"))
    };
    assert!(has("allowed", "notes/write_note"), "{log}");
    assert!(has("denied", "lab/was_cancelled"), "{log}");
    assert!(has("denied_unasked", "notes/write_note"), "{log}");
    assert!(has("allowed", "remote/witness"), "{log}");
    assert!(
        !log.contains(&writer) && !log.contains(&reader),
        "a token was logged"
    );
}
