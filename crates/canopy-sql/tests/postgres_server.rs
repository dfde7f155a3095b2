//! A real PostgreSQL server (started by scripts/setup/postgres.sh), driven through the binary
//! with rmcp's client: tools, resources, refused writes, timeouts, cancellation seen in
//! `pg_stat_activity`, progress, odd identifiers and faithful values.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{
    call, eventually, fresh_pg_database, pg_admin_url, pg_exec, query, query_error, start, text,
};
use rmcp::model::{CallToolRequestParams, ClientRequest, ReadResourceRequestParams, Request};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

const FIXTURES: &str = r#"
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Ünïcode tàble" (
    "Id" integer PRIMARY KEY,
    "näme" text NOT NULL,
    "with ""quotes""" text
);
INSERT INTO "Odd Schema"."Ünïcode tàble" VALUES (1, 'zoë ☃', 'a "b"'), (2, '日本語', NULL);
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE public.kinds (
    id serial PRIMARY KEY,
    n numeric(30, 10),
    big bigint,
    f double precision,
    flag boolean,
    ts timestamp,
    tstz timestamptz,
    d date,
    iv interval,
    doc jsonb,
    j json,
    tags text[],
    grid int[][],
    u uuid,
    bytes bytea,
    m mood,
    ip inet
);
COMMENT ON TABLE public.kinds IS 'one column of each kind';
INSERT INTO public.kinds (n, big, f, flag, ts, tstz, d, iv, doc, j, tags, grid, u, bytes, m, ip) VALUES
  (12345678901234567890.0123456789, 9223372036854775807, 1.5, true,
   '2024-02-29 13:14:15.5', '2024-02-29 13:14:15+02', '2024-02-29', '1 year 2 mons 3 days 04:05:06',
   '{"a": [1, 2, {"b": null}], "ü": "ß"}', '{"x": 1}', ARRAY['a', NULL, 'c"d'], '{{1,2},{3,4}}',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff', 'happy', '192.168.0.1/24'),
  (NULL, NULL, 'NaN', NULL, 'infinity', '-infinity', NULL, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL, NULL);
CREATE TABLE public.orders (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(10, 2));
CREATE INDEX orders_customer ON public.orders (customer);
INSERT INTO public.orders SELECT g, 'c' || (g % 10), g * 1.25 FROM generate_series(1, 1000) g;
ANALYZE;
"#;

async fn setup(name: &str) -> String {
    let url = fresh_pg_database(name).await;
    pg_exec(&url, FIXTURES).await;
    url
}

#[tokio::test]
async fn tables_resources_and_odd_identifiers() {
    let url = setup("resources").await;
    let client = start(&["--database", &url]).await;
    let listed = call(&client, "list_tables", json!({}))
        .await
        .structured_content
        .unwrap();
    let names: Vec<String> = listed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qualified_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "\"Odd Schema\".\"Ünïcode tàble\"",
            "public.kinds",
            "public.orders"
        ]
    );
    assert_eq!(listed["tables"][2]["row_estimate"], 1000);

    let resources = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "sql://tables/Odd%20Schema/%C3%9Cn%C3%AFcode%20t%C3%A0ble",
            "sql://tables/public/kinds",
            "sql://tables/public/orders"
        ]
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new(uris[0]))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!()
    };
    let schema: Value = serde_json::from_str(text).unwrap();
    let cols: Vec<&str> = schema["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Id", "näme", "with \"quotes\""]);
    assert_eq!(schema["primary_key"], json!(["Id"]));
    assert_eq!(schema["columns"][1]["nullable"], false);
    assert_eq!(schema["columns"][2]["nullable"], true);

    let described = call(&client, "describe_table", json!({ "table": "orders" }))
        .await
        .structured_content
        .unwrap();
    assert_eq!(described["columns"][2]["data_type"], "numeric(10,2)");
    let index_names: Vec<&str> = described["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(index_names, ["orders_customer", "orders_pkey"]);
    let kinds = call(&client, "describe_table", json!({ "table": "kinds" }))
        .await
        .structured_content
        .unwrap();
    assert_eq!(kinds["comment"], "one column of each kind");

    let odd = call(
        &client,
        "sample_rows",
        json!({ "table": "Ünïcode tàble", "schema": "Odd Schema" }),
    )
    .await;
    let s = odd.structured_content.unwrap();
    assert_eq!(
        s["rows"],
        json!([[1, "zoë ☃", "a \"b\""], [2, "日本語", null]])
    );
    let q = query(
        &client,
        "SELECT \"näme\" FROM \"Odd Schema\".\"Ünïcode tàble\" WHERE \"Id\" = 2",
    )
    .await;
    assert_eq!(q["rows"][0][0], "日本語");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn values_render_faithfully() {
    let url = setup("values").await;
    let client = start(&["--database", &url]).await;
    let s = query(&client, "SELECT n, big, f, flag, ts, tstz, d, iv, doc, j, tags, grid, u, bytes, m, ip FROM kinds ORDER BY id").await;
    assert_eq!(
        s["rows"][0],
        json!([
            "12345678901234567890.0123456789",
            9_223_372_036_854_775_807_i64,
            1.5,
            true,
            "2024-02-29T13:14:15.5",
            "2024-02-29T11:14:15Z",
            "2024-02-29",
            "1 year 2 mons 3 days 04:05:06",
            { "a": [1, 2, { "b": null }], "ü": "ß" },
            { "x": 1 },
            ["a", null, "c\"d"],
            [[1, 2], [3, 4]],
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "\\x00ff",
            "happy",
            "192.168.0.1/24"
        ])
    );
    assert_eq!(
        s["rows"][1],
        json!([
            null,
            null,
            "NaN",
            null,
            "infinity",
            "-infinity",
            null,
            null,
            null,
            null,
            [],
            null,
            null,
            null,
            null,
            null
        ])
    );
    let types: Vec<&str> = s["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "numeric",
            "int8",
            "float8",
            "bool",
            "timestamp",
            "timestamptz",
            "date",
            "interval",
            "jsonb",
            "json",
            "text[]",
            "int4[]",
            "uuid",
            "bytea",
            "mood",
            "inet"
        ]
    );
    // Parameters bind by JSON type; other types take a cast.
    let r = call(
        &client,
        "query",
        json!({ "sql": "SELECT count(*) FROM orders WHERE customer = $1 AND amount > $2 AND $3::date < now()", "params": ["c1", 100, "2020-01-01"] }),
    )
    .await;
    assert_eq!(r.structured_content.unwrap()["rows"][0][0], 92);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn every_write_path_is_refused() {
    let url = setup("writes").await;
    let client = start(&["--database", &url]).await;
    for (sql, expected) in [
        (
            "INSERT INTO orders VALUES (5000, 'x', 1)",
            "cannot execute INSERT in a read-only transaction",
        ),
        (
            "UPDATE orders SET amount = 0",
            "cannot execute UPDATE in a read-only transaction",
        ),
        (
            "DELETE FROM orders",
            "cannot execute DELETE in a read-only transaction",
        ),
        (
            "CREATE TABLE evil (x int)",
            "cannot execute CREATE TABLE in a read-only transaction",
        ),
        (
            "DROP TABLE orders",
            "cannot execute DROP TABLE in a read-only transaction",
        ),
        (
            "TRUNCATE orders",
            "cannot execute TRUNCATE TABLE in a read-only transaction",
        ),
        (
            "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d",
            "cannot execute SELECT in a read-only transaction",
        ),
        (
            "SELECT nextval('kinds_id_seq')",
            "cannot execute nextval() in a read-only transaction",
        ),
        (
            "COPY orders FROM STDIN",
            "cannot execute COPY FROM in a read-only transaction",
        ),
    ] {
        let e = query_error(&client, sql).await;
        assert_eq!(
            e,
            format!(
                "refused: this server is read-only, and the database rejected the statement ({expected}). Only queries that read data can run here."
            ),
            "{sql}"
        );
    }
    for sql in [
        "SELECT 1; DELETE FROM orders",
        "COMMIT; DELETE FROM orders",
        "ROLLBACK; SET default_transaction_read_only = off; DELETE FROM orders",
    ] {
        let e = query_error(&client, sql).await;
        assert_eq!(
            e,
            "refused: send exactly one SQL statement per call (cannot insert multiple commands into a prepared statement). Split the work into separate calls.",
            "{sql}"
        );
    }
    let e = query_error(
        &client,
        "COPY (SELECT 1) TO PROGRAM 'touch /tmp/canopy-sql-pwned'",
    )
    .await;
    assert!(
        e.contains("permission denied") || e.contains("must be superuser"),
        "{e}"
    );
    assert!(!std::path::Path::new("/tmp/canopy-sql-pwned").exists());
    // A statement that flips the transaction to read-write only affects itself.
    let _ = call(
        &client,
        "query",
        json!({ "sql": "SET TRANSACTION READ WRITE" }),
    )
    .await;
    assert!(
        query_error(&client, "DELETE FROM orders")
            .await
            .contains("read-only transaction")
    );
    assert_eq!(
        query(&client, "SELECT count(*) FROM orders").await["rows"][0][0],
        1000
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn privileged_logins_are_refused() {
    let admin = pg_admin_url();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_canopy-sql"))
        .args(["--database", &admin])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve as PostgreSQL role 'postgres': it is a superuser"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_read_only_role_is_set_per_transaction() {
    let url = setup("role").await;
    let db = url.rsplit('/').next().unwrap().to_string();
    let admin = common::with_database(&pg_admin_url(), &db);
    pg_exec(
        &admin,
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'canopy_reader') THEN CREATE ROLE canopy_reader NOLOGIN; END IF; END $$;
         GRANT canopy_reader TO canopy_test;
         GRANT USAGE ON SCHEMA public TO canopy_reader;
         GRANT SELECT ON public.orders TO canopy_reader;",
    )
    .await;
    let client = start(&["--database", &url, "--role", "canopy_reader"]).await;
    assert_eq!(
        query(&client, "SELECT current_user").await["rows"][0][0],
        "canopy_reader"
    );
    let e = query_error(&client, "SELECT * FROM kinds").await;
    assert!(e.contains("permission denied for table kinds"), "{e}");
    let tables = call(&client, "list_tables", json!({}))
        .await
        .structured_content
        .unwrap();
    assert_eq!(tables["tables"].as_array().unwrap().len(), 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn truncation_timeout_and_explain() {
    let url = setup("limits").await;
    let client = start(&["--database", &url, "--max-statement-timeout-ms", "60000"]).await;
    let r = call(
        &client,
        "query",
        json!({ "sql": "SELECT g FROM generate_series(1, 100000) g", "max_rows": 500 }),
    )
    .await;
    let s = r.structured_content.clone().unwrap();
    assert_eq!(
        (s["row_count"].as_u64(), s["truncated"].as_bool()),
        (Some(500), Some(true))
    );
    assert_eq!(s["rows"][499][0], 500);
    assert!(text(&r).ends_with("Result truncated: showing the first 500 rows; the query returned more. Add a LIMIT, filter, or aggregate, or raise max_rows."));
    // The pool is healthy after a truncated read.
    assert_eq!(
        query(&client, "SELECT count(*) FROM generate_series(1, 100000)").await["rows"][0][0],
        100000
    );

    let r = call(
        &client,
        "query",
        json!({ "sql": "SELECT pg_sleep(30)", "timeout_ms": 200 }),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        text(&r),
        "the statement was stopped after the 200 ms statement timeout. Narrow the query (filters, LIMIT, an index) or ask for a longer `timeout_ms` (the server allows at most 60000 ms)."
    );

    let plan = call(
        &client,
        "explain",
        json!({ "sql": "SELECT * FROM orders WHERE id = $1", "params": [5] }),
    )
    .await;
    let p = plan.structured_content.unwrap();
    assert!(
        p["plan"]
            .as_str()
            .unwrap()
            .contains("Index Scan using orders_pkey"),
        "{p}"
    );
    let analyzed = call(
        &client,
        "explain",
        json!({ "sql": "SELECT count(*) FROM orders", "analyze": true }),
    )
    .await;
    let a = analyzed.structured_content.unwrap();
    assert_eq!(a["analyzed"], true);
    assert!(a["plan"].as_str().unwrap().contains("actual time="), "{a}");
    let e = call(
        &client,
        "explain",
        json!({ "sql": "DELETE FROM orders", "analyze": true }),
    )
    .await;
    assert!(text(&e).contains("cannot execute DELETE in a read-only transaction"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn cancellation_stops_the_statement_on_the_server() {
    let url = setup("cancel").await;
    let client = start(&["--database", &url, "--progress-ms", "100"]).await;
    let marker = "SELECT pg_sleep(120) AS canopy_cancel_marker";
    let mut args = serde_json::Map::new();
    args.insert("sql".into(), json!(marker));
    let handle = client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(
                CallToolRequestParams::new("query").with_arguments(args),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let watcher = sqlx::PgPool::connect(&url).await.unwrap();
    let active = |pool: sqlx::PgPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%canopy_cancel_marker%' AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        n
    };
    assert!(
        eventually(Duration::from_secs(30), || {
            let w = watcher.clone();
            async move { active(w).await == 1 }
        })
        .await,
        "the statement never showed up in pg_stat_activity"
    );
    // Progress arrives while it runs: "started", then increasing steps.
    assert!(
        eventually(Duration::from_secs(30), || async {
            client.service().progress.lock().await.len() >= 2
        })
        .await
    );
    {
        let progress = client.service().progress.lock().await;
        assert_eq!(progress[0].progress, 0.0);
        assert_eq!(progress[0].message.as_deref(), Some("started"));
        assert!(progress.windows(2).all(|w| w[1].progress > w[0].progress));
        assert!(
            progress[1]
                .message
                .as_deref()
                .unwrap()
                .starts_with("running for ")
        );
    }
    handle.cancel(Some("test".into())).await.unwrap();
    assert!(
        eventually(Duration::from_secs(30), || {
            let w = watcher.clone();
            async move { active(w).await == 0 }
        })
        .await,
        "the statement was still running after the request was cancelled"
    );
    // The server is still serving.
    assert_eq!(query(&client, "SELECT 2 AS two").await["rows"][0][0], 2);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn created_tables_change_the_resource_list() {
    let url = setup("listchanged").await;
    let client = start(&["--database", &url, "--schema-poll-ms", "100"]).await;
    let before = client.list_all_resources().await.unwrap().len();
    pg_exec(&url, "CREATE TABLE public.brand_new (x int)").await;
    let seen = client.service().resource_list_changed.clone();
    assert!(
        eventually(Duration::from_secs(30), || {
            let s = seen.clone();
            async move { s.load(Ordering::SeqCst) >= 1 }
        })
        .await,
        "no notifications/resources/list_changed"
    );
    let after = client.list_all_resources().await.unwrap();
    assert_eq!(after.len(), before + 1);
    assert!(
        after
            .iter()
            .any(|r| r.uri == "sql://tables/public/brand_new")
    );
    client.cancel().await.unwrap();
}
