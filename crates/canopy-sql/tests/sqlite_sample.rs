//! The bundled sample database over stdio, driven by rmcp's client: every tool, resource,
//! prompt and completion, the refused write paths, truncation and the statement timeout.
#![allow(clippy::unwrap_used)]

mod common;

use common::{call, query, query_error, start_sample, text};
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, CompletionContext, GetPromptRequestParams,
    PaginatedRequestParams, ReadResourceRequestParams, Reference,
};
use serde_json::{Value, json};

#[tokio::test]
async fn tools_are_listed_with_output_schemas_and_read_only_hints() {
    let (client, _dir) = start_sample(&[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "describe_table",
            "explain",
            "list_tables",
            "query",
            "sample_rows"
        ]
    );
    for tool in &tools {
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
        assert_eq!(
            tool.annotations.as_ref().and_then(|a| a.read_only_hint),
            Some(true)
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn sample_database_tables_and_query_with_parameters() {
    let (client, _dir) = start_sample(&[]).await;
    let listed = call(&client, "list_tables", json!({})).await;
    let tables: Vec<(String, i64)> = listed.structured_content.unwrap()["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["row_estimate"].as_i64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names, ["customers", "order_items", "orders", "products"]);
    assert_eq!(tables[0].1, 500);
    assert_eq!(tables[2].1, 2000);
    assert_eq!(tables[3].1, 120);

    let result = call(
        &client,
        "query",
        json!({ "sql": "SELECT id, name FROM products WHERE id IN (?, ?) ORDER BY id", "params": [3, 5] }),
    )
    .await;
    let s = result.structured_content.clone().unwrap();
    assert_eq!(s["row_count"], 2);
    assert_eq!(s["truncated"], false);
    assert_eq!(s["rows"][0][0], 3);
    assert_eq!(s["columns"][1]["name"], "name");
    let t = text(&result);
    assert!(t.starts_with("| id | name"), "{t}");
    assert!(t.contains("(2 rows,"), "{t}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn values_render_faithfully() {
    let (client, _dir) = start_sample(&[]).await;
    let s = query(
        &client,
        "SELECT NULL AS n, 1.5 AS r, 9007199254740993 AS big, 'ünï \"q\"' AS t, x'00ff' AS b",
    )
    .await;
    assert_eq!(
        s["rows"][0],
        json!([null, 1.5, 9_007_199_254_740_993_i64, "ünï \"q\"", "\\x00ff"])
    );
    let types: Vec<&str> = s["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["NULL", "REAL", "INTEGER", "TEXT", "BLOB"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn describe_and_sample_rows() {
    let (client, _dir) = start_sample(&[]).await;
    let d = call(&client, "describe_table", json!({ "table": "order_items" })).await;
    let s = d.structured_content.unwrap();
    assert_eq!(s["primary_key"], json!(["order_id", "product_id"]));
    let fks: Vec<&str> = s["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["references_table"].as_str().unwrap())
        .collect();
    assert_eq!(fks.len(), 2);
    assert!(fks.contains(&"orders") && fks.contains(&"products"));
    assert_eq!(
        s["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["name"] == "order_items_product_id")
            .count(),
        1
    );
    let orders = call(&client, "describe_table", json!({ "table": "orders" }))
        .await
        .structured_content
        .unwrap();
    let coupon = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "coupon_code")
        .unwrap()
        .clone();
    assert_eq!(coupon["nullable"], true);
    assert_eq!(coupon["data_type"], "TEXT");

    let sample = call(
        &client,
        "sample_rows",
        json!({ "table": "customers", "limit": 3 }),
    )
    .await;
    let s = sample.structured_content.unwrap();
    assert_eq!(s["row_count"], 3);
    assert_eq!(s["columns"].as_array().unwrap().len(), 6);

    let missing = call(&client, "describe_table", json!({ "table": "order" })).await;
    assert_eq!(missing.is_error, Some(true));
    assert_eq!(
        text(&missing),
        "no table or view named 'order' (did you mean: order_items, orders?)"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn explain_shows_the_plan() {
    let (client, _dir) = start_sample(&[]).await;
    let r = call(
        &client,
        "explain",
        json!({ "sql": "SELECT * FROM orders WHERE customer_id = ?", "params": [7] }),
    )
    .await;
    assert_eq!(r.is_error, Some(false));
    let plan = r.structured_content.unwrap()["plan"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(plan.contains("USING INDEX orders_customer_id"), "{plan}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn every_write_path_is_refused() {
    let (client, dir) = start_sample(&[]).await;
    let read_only = "refused: this server is read-only, and the database rejected the statement (attempt to write a readonly database). Only queries that read data can run here.";
    for sql in [
        "INSERT INTO customers (id, name, email, country, segment, signed_up_at) VALUES (9999, 'x', 'x@x', 'DE', 'consumer', 'now')",
        "UPDATE products SET price = 0",
        "DELETE FROM orders",
        "CREATE TABLE evil (x)",
        "DROP TABLE orders",
        "ALTER TABLE orders ADD COLUMN evil TEXT",
        "CREATE INDEX evil ON orders(status)",
        "REPLACE INTO products (id, sku, name, category, price, stock) VALUES (1, 'x', 'x', 'x', 1, 1)",
    ] {
        assert_eq!(query_error(&client, sql).await, read_only, "{sql}");
    }
    for sql in [
        "SELECT 1; DELETE FROM orders",
        "ROLLBACK; VACUUM INTO '/tmp/canopy-evil.db'",
        "PRAGMA query_only = 0; DELETE FROM orders",
    ] {
        let e = query_error(&client, sql).await;
        assert!(
            e.starts_with("refused: send exactly one SQL statement per call"),
            "{sql}: {e}"
        );
    }
    let vacuum_target = dir.path().join("copy.db");
    let e = query_error(
        &client,
        &format!("VACUUM INTO '{}'", vacuum_target.display()),
    )
    .await;
    assert!(e.contains("cannot VACUUM from within a transaction"), "{e}");
    assert!(!vacuum_target.exists());
    let attached = dir.path().join("attached.db");
    let e = query_error(&client, &format!("ATTACH '{}' AS evil", attached.display())).await;
    assert!(
        e.contains("cannot ATTACH database within transaction") || e.contains("unable to open"),
        "{e}"
    );
    assert!(!attached.exists());
    // Still intact.
    assert_eq!(
        query(&client, "SELECT count(*) FROM orders").await["rows"][0][0],
        2000
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn large_results_are_truncated_with_a_note() {
    let (client, _dir) = start_sample(&[]).await;
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n";
    let r = call(&client, "query", json!({ "sql": sql, "max_rows": 250 })).await;
    let s = r.structured_content.clone().unwrap();
    assert_eq!(s["row_count"], 250);
    assert_eq!(s["truncated"], true);
    assert_eq!(s["rows"].as_array().unwrap().len(), 250);
    assert_eq!(s["rows"][249][0], 250);
    assert!(text(&r).ends_with(
        "Result truncated: showing the first 250 rows; the query returned more. Add a LIMIT, filter, or aggregate, or raise max_rows."
    ));
    // Asking for more than the server's cap (10,000 by default) gets the cap.
    let all = call(&client, "query", json!({ "sql": sql, "max_rows": 100000 })).await;
    let s = all.structured_content.unwrap();
    assert_eq!(s["row_count"], 10000);
    assert_eq!(s["row_limit"], 10000);
    assert_eq!(s["truncated"], true);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn statement_timeout_stops_the_statement() {
    let (client, _dir) = start_sample(&["--max-statement-timeout-ms", "60000"]).await;
    let sql =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
    let r = call(&client, "query", json!({ "sql": sql, "timeout_ms": 300 })).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        text(&r),
        "the statement was stopped after the 300 ms statement timeout. Narrow the query (filters, LIMIT, an index) or ask for a longer `timeout_ms` (the server allows at most 60000 ms)."
    );
    // The connection is usable afterwards.
    assert_eq!(query(&client, "SELECT 1 AS one").await["rows"][0][0], 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn resources_templates_and_pagination() {
    let (client, _dir) = start_sample(&["--page-size", "3"]).await;
    let first = client
        .list_resources(Some(PaginatedRequestParams::default()))
        .await
        .unwrap();
    let uris: Vec<&str> = first.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "sql://tables/main/customers",
            "sql://tables/main/order_items",
            "sql://tables/main/orders"
        ]
    );
    let cursor = first.next_cursor.clone();
    assert!(cursor.is_some());
    let second = client
        .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
        .await
        .unwrap();
    let uris: Vec<&str> = second.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["sql://tables/main/products"]);
    assert!(second.next_cursor.is_none());

    let templates = client.list_resource_templates(None).await.unwrap();
    assert_eq!(
        templates.resource_templates[0].uri_template,
        "sql://tables/{schema}/{table}"
    );

    let read = client
        .read_resource(ReadResourceRequestParams::new("sql://tables/main/orders"))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents {
        text, mime_type, ..
    } = &read.contents[0]
    else {
        panic!("expected text")
    };
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    let schema: Value = serde_json::from_str(text).unwrap();
    assert_eq!(schema["name"], "orders");
    assert_eq!(schema["row_estimate"], 2000);
    assert_eq!(schema["columns"][0]["name"], "id");
    assert_eq!(schema["columns"][0]["primary_key"], true);

    let missing = client
        .read_resource(ReadResourceRequestParams::new("sql://tables/main/nope"))
        .await;
    assert!(missing.is_err());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn prompts_and_completions() {
    let (client, _dir) = start_sample(&[]).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "summarize_table",
            "find_anomalies",
            "compare_segments",
            "explain_slow_query"
        ]
    );

    let mut args = serde_json::Map::new();
    args.insert("table".into(), json!("products"));
    args.insert("column".into(), json!("price"));
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("find_anomalies").with_arguments(args))
        .await
        .unwrap();
    let rmcp::model::ContentBlock::Text(t) = &prompt.messages[0].content else {
        panic!("expected text")
    };
    assert!(
        t.text
            .starts_with("Find anomalies in column price (NUMERIC) of the SQLite table products."),
        "{}",
        t.text
    );

    let mut bad = serde_json::Map::new();
    bad.insert("table".into(), json!("products"));
    bad.insert("column".into(), json!("nope"));
    let err = client
        .get_prompt(GetPromptRequestParams::new("find_anomalies").with_arguments(bad))
        .await;
    assert!(format!("{err:?}").contains("has no column 'nope'"));

    let tables = client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("summarize_table"),
            ArgumentInfo::new("table", "ord"),
        ))
        .await
        .unwrap();
    assert_eq!(tables.completion.values, ["order_items", "orders"]);
    let mut context = std::collections::HashMap::new();
    context.insert("table".to_string(), "orders".to_string());
    let columns = client
        .complete(
            CompleteRequestParams::new(
                Reference::for_prompt("find_anomalies"),
                ArgumentInfo::new("column", "s"),
            )
            .with_context(CompletionContext::with_arguments(context)),
        )
        .await
        .unwrap();
    assert_eq!(
        columns.completion.values,
        ["status", "shipping_country", "customer_id"]
    );
    let resource_tables = client
        .complete(CompleteRequestParams::new(
            Reference::for_resource("sql://tables/{schema}/{table}"),
            ArgumentInfo::new("table", "pro"),
        ))
        .await
        .unwrap();
    assert_eq!(resource_tables.completion.values, ["products"]);
    client.cancel().await.unwrap();
}
